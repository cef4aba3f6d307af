//! The chat simulator's server side: send (Twilio-shaped, signed, posted to our own
//! `/webhook`), the conversation for polling, and the uploaded media at a Twilio-like URL.

use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mnemo_shared::config::ExposeSecret;
use mnemo_shared::domain::inbound::normalize_phone;
use mnemo_shared::domain::signature::compute_signature;
use mnemo_shared::media::types;
use mnemo_shared::store::entities::interaction;
use mnemo_shared::store::{interactions, users};
use poem::web::{Data, Json, Path, Query};
use poem::{Body, Request, Response, handler};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

/// The `To` number when Twilio is not configured (Twilio's WhatsApp sandbox number).
const SANDBOX_NUMBER: &str = "whatsapp:+14155238886";
const CONSOLE_ACCOUNT_SID: &str = "ACconsole0000000000000000000000000";
/// How many messages of a conversation the page gets (the newest).
pub const MESSAGES_LIMIT: i64 = 200;

#[derive(Debug, Deserialize)]
pub struct SendRequest {
    pub phone: String,
    #[serde(default)]
    pub text: String,
    pub file: Option<Upload>,
    pub profile_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Upload {
    pub content_type: String,
    /// The bytes, base64 (a `data:` URL is accepted too).
    pub data: String,
}

#[derive(Debug, Serialize)]
pub struct SendResult {
    pub message_sid: String,
    pub phone: String,
    /// The `/webhook` response status (200 when accepted).
    pub webhook_status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client")
    })
}

fn media_dir(state: &AppState) -> PathBuf {
    PathBuf::from(&state.settings.media_dir).join("console")
}

/// `POST /console/api/send`: JSON `{phone, text, file?: {content_type, data}}`.
#[handler]
pub async fn send(
    req: &Request,
    body: Body,
    state: Data<&AppState>,
) -> Result<Json<SendResult>, ApiError> {
    let settings = &state.settings;
    let limit =
        (settings.max_media_bytes as usize).saturating_mul(4).div_ceil(3).saturating_add(64 * 1024);
    let bytes =
        body.into_bytes_limit(limit).await.map_err(|e| ApiError::unreadable_body(e, limit))?;
    let input: SendRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("expected JSON {{phone, text, file?}}: {e}")))?;
    let phone = normalize_phone(&input.phone).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "`phone` must be an E.164 number such as +14155550123, got {:?}",
            input.phone
        ))
    })?;
    let text = input.text.trim().to_string();
    let mut media: Option<(String, String)> = None;
    if let Some(file) = &input.file {
        let content_type = file.content_type.trim().to_ascii_lowercase();
        // Served back from this origin: only what WhatsApp carries (issue 15, stored XSS).
        if types::accepted(&content_type).is_none()
            || content_type.len() > 127
            || content_type.bytes().any(|b| b.is_ascii_control())
        {
            return Err(ApiError::UnsupportedMediaType(
                "`file.content_type` must be a type WhatsApp carries: an image (JPEG, PNG, \
                 WebP, GIF), audio, video (MP4, 3GP, WebM), a PDF or office document, or a vCard"
                    .into(),
            ));
        }
        let data = file.data.split_once(";base64,").map(|(_, d)| d).unwrap_or(&file.data);
        let raw = STANDARD
            .decode(data.trim())
            .map_err(|e| ApiError::Unprocessable(format!("`file.data` is not base64: {e}")))?;
        if raw.is_empty() {
            return Err(ApiError::Unprocessable("`file.data` is empty".into()));
        }
        if raw.len() as u64 > settings.max_media_bytes {
            return Err(ApiError::PayloadTooLarge(settings.max_media_bytes as usize));
        }
        if !types::bytes_match(&content_type, &raw[..raw.len().min(64)]) {
            return Err(ApiError::Unprocessable(format!(
                "`file.data` is not a {} file",
                mnemo_shared::media::essence(&content_type)
            )));
        }
        let id = Uuid::new_v4().simple().to_string();
        let dir = media_dir(&state);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| ApiError::Internal(format!("console media dir: {e}")))?;
        tokio::fs::write(dir.join(format!("{id}.type")), &content_type)
            .await
            .map_err(|e| ApiError::Internal(format!("console media: {e}")))?;
        tokio::fs::write(dir.join(&id), &raw)
            .await
            .map_err(|e| ApiError::Internal(format!("console media: {e}")))?;
        let url = format!("{}/console/media/{id}", settings.public_base_url);
        media = Some((url, content_type));
    }
    if text.is_empty() && media.is_none() {
        return Err(ApiError::Unprocessable("send some `text` or a `file`".into()));
    }

    let form = twilio_form(&state, &phone, &text, media.as_ref(), input.profile_name.as_deref());
    let sid =
        form.iter().find(|(k, _)| k == "MessageSid").map(|(_, v)| v.clone()).unwrap_or_default();
    // Our own listener (the address this request came in on), so the real path is exercised.
    let local = req.local_addr().as_socket_addr().copied().unwrap_or(settings.bind_addr);
    let mut post = client()
        .post(format!("http://{local}/webhook"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish());
    if let Some(twilio) = &settings.twilio {
        let url = format!("{}/webhook", settings.public_base_url);
        post = post.header(
            "X-Twilio-Signature",
            compute_signature(&url, &form, twilio.auth_token.expose_secret()),
        );
    }
    let res = post
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("posting to /webhook failed: {e}")))?;
    let status = res.status();
    if !status.is_success() {
        let detail = res.text().await.unwrap_or_default();
        return Err(ApiError::Unavailable(format!("/webhook answered {status}: {detail}")));
    }
    Ok(Json(SendResult {
        message_sid: sid,
        phone,
        webhook_status: status.as_u16(),
        media_url: media.map(|(u, _)| u),
    }))
}

/// The form Twilio would post for this message.
pub fn twilio_form(
    state: &AppState,
    phone: &str,
    text: &str,
    media: Option<&(String, String)>,
    profile_name: Option<&str>,
) -> Vec<(String, String)> {
    let settings = &state.settings;
    let id = Uuid::new_v4().simple().to_string();
    let sid = if media.is_some() { format!("MM{id}") } else { format!("SM{id}") };
    let (account, to) = match &settings.twilio {
        Some(t) => (t.account_sid.clone(), t.whatsapp_number.clone()),
        None => (CONSOLE_ACCOUNT_SID.to_string(), SANDBOX_NUMBER.to_string()),
    };
    let to = if to.starts_with("whatsapp:") { to } else { format!("whatsapp:{to}") };
    let message_type = match media {
        Some((_, ct)) if ct.starts_with("image/") => "image",
        Some((_, ct)) if ct.starts_with("audio/") => "audio",
        Some((_, ct)) if ct.starts_with("video/") => "video",
        Some(_) => "document",
        None => "text",
    };
    let mut form: Vec<(String, String)> = vec![
        ("SmsMessageSid".into(), sid.clone()),
        ("NumMedia".into(), if media.is_some() { "1" } else { "0" }.into()),
        ("ProfileName".into(), profile_name.unwrap_or("Console").to_string()),
        ("MessageType".into(), message_type.into()),
        ("SmsSid".into(), sid.clone()),
        ("WaId".into(), phone.trim_start_matches('+').to_string()),
        ("SmsStatus".into(), "received".into()),
        ("Body".into(), text.to_string()),
        ("To".into(), to),
        ("NumSegments".into(), "1".into()),
        ("ReferralNumMedia".into(), "0".into()),
        ("MessageSid".into(), sid),
        ("AccountSid".into(), account),
        ("From".into(), format!("whatsapp:{phone}")),
        ("ApiVersion".into(), "2010-04-01".into()),
    ];
    if let Some((url, ct)) = media {
        form.push(("MediaUrl0".into(), url.clone()));
        form.push(("MediaContentType0".into(), ct.clone()));
    }
    form
}

/// `GET /console/media/{id}`: an uploaded file, as Twilio serves media.
#[handler]
pub async fn serve_media(
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> Result<Response, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("no such console media".into()));
    }
    let dir = media_dir(&state);
    let bytes = tokio::fs::read(dir.join(&id))
        .await
        .map_err(|_| ApiError::NotFound("no such console media".into()))?;
    let content_type = tokio::fs::read_to_string(dir.join(format!("{id}.type")))
        .await
        .unwrap_or_else(|_| "application/octet-stream".into());
    // Files written before types were checked may claim anything: served by `serving_headers`.
    let (content_type, disposition) = types::serving_headers(content_type.trim());
    Ok(Response::builder()
        .content_type(content_type)
        .header("cache-control", "private, max-age=3600")
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", types::SANDBOX_CSP)
        .header("Content-Disposition", disposition)
        .body(bytes))
}

#[derive(Debug, Deserialize)]
pub struct MessagesQuery {
    pub phone: String,
    /// Only messages recorded after this instant (RFC 3339).
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub id: Uuid,
    /// `inbound` (from the phone) | `outbound` (mnemo's reply).
    pub direction: String,
    pub kind: String,
    pub body: String,
    pub transcript: Option<String>,
    pub status: String,
    /// The photo or recording: the console URL for inbound, `media_url` for replies.
    pub media_url: Option<String>,
    pub media_content_type: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Conversation {
    pub phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The user's IANA zone: the page shows every time in it, as the replies do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Oldest first (newest last), at most [`MESSAGES_LIMIT`].
    pub messages: Vec<ChatMessage>,
}

fn raw_str(raw: &Option<serde_json::Value>, key: &str) -> Option<String> {
    match raw.as_ref()?.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// The zone a user's replies are written in (see the pipeline): theirs when it parses, else
/// `DEFAULT_TIMEZONE`.
fn zone_name(stored: &str, fallback: chrono_tz::Tz) -> String {
    stored.parse::<chrono_tz::Tz>().unwrap_or(fallback).name().to_string()
}

/// `GET /console/api/messages?phone=&after=`.
#[handler]
pub async fn messages(
    Query(q): Query<MessagesQuery>,
    state: Data<&AppState>,
) -> Result<Json<Conversation>, ApiError> {
    let phone = normalize_phone(&q.phone).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "`phone` must be an E.164 number such as +14155550123, got {:?}",
            q.phone
        ))
    })?;
    let after = match q.after.as_deref().filter(|s| !s.is_empty()) {
        Some(a) => Some(
            DateTime::parse_from_rfc3339(a)
                .map_err(|e| ApiError::Unprocessable(format!("`after` must be RFC 3339: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let db = &state.db;
    let Some(u) = users::find_by_phone(db, &phone).await? else {
        return Ok(Json(Conversation { phone, user_id: None, timezone: None, messages: vec![] }));
    };
    let mut rows = interactions::conversation(db, u.id, after, MESSAGES_LIMIT).await?;
    rows.reverse();
    let messages = rows
        .into_iter()
        .map(|r| {
            let (media_url, media_content_type) = if r.direction == interaction::Direction::Inbound
            {
                (raw_str(&r.raw, "MediaUrl0"), raw_str(&r.raw, "MediaContentType0"))
            } else {
                (r.media_url.clone(), None)
            };
            ChatMessage {
                id: r.id,
                direction: r.direction.to_string(),
                kind: r.kind.to_string(),
                body: r.body,
                transcript: r.transcript,
                status: r.status.to_string(),
                media_url,
                media_content_type,
                occurred_at: r.occurred_at,
                created_at: r.created_at,
            }
        })
        .collect();
    Ok(Json(Conversation {
        phone,
        user_id: Some(u.id),
        timezone: Some(zone_name(&u.timezone, state.settings.default_timezone)),
        messages,
    }))
}
