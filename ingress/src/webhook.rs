//! `POST /webhook`: Twilio's inbound-message webhook.
//!
//! Order matters: size cap (413) → form decode → signature over every received param (403,
//! nothing stored) → typed parse (400) → ONE transaction (user upsert + interaction insert,
//! unique MessageSid) → enqueue only for a new row → empty TwiML, for new and duplicate alike.
//! A failed enqueue after the commit is logged and left to the sweeper: the message is safe.

use crate::group_commit::Ingested;
use chrono::Utc;
use mnemo_shared::config::ExposeSecret;
use mnemo_shared::domain::inbound;
use mnemo_shared::domain::phone_tz::zone_for_phone;
use mnemo_shared::domain::signature;
use mnemo_shared::store::db::NewInbound;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tracing::{info, warn};

use crate::problem::ApiError;
use crate::state::AppState;

/// Twilio's bodies are a few KiB; anything past this is not a Twilio webhook.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

pub fn twiml_ok() -> Response {
    Response::builder().status(StatusCode::OK).content_type("text/xml").body(EMPTY_TWIML)
}

/// `GET`/`HEAD /webhook`: lets the Twilio console (and load balancers) validate the URL.
#[handler]
pub async fn probe() -> Response {
    twiml_ok()
}

/// Reads a form body under the size cap and checks Twilio's signature; shared with the
/// status-callback webhook.
pub async fn signed_form(
    req: &Request,
    body: Body,
    state: &AppState,
) -> Result<Vec<(String, String)>, ApiError> {
    if let Some(len) = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > MAX_WEBHOOK_BYTES as u64
    {
        return Err(ApiError::PayloadTooLarge(MAX_WEBHOOK_BYTES));
    }
    let content_type = req.content_type().unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(
            "expected application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = body
        .into_bytes_limit(MAX_WEBHOOK_BYTES)
        .await
        .map_err(|e| ApiError::unreadable_body(e, MAX_WEBHOOK_BYTES))?;
    let params: Vec<(String, String)> =
        form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();

    if let Some(twilio) = &state.settings.twilio {
        let given =
            req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        // The original URI: poem strips prefixes of nested routes from `uri()`.
        let path_and_query = req.original_uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let url = format!("{}{}", state.settings.public_base_url, path_and_query);
        if given.is_empty()
            || !signature::is_valid(&url, &params, given, twilio.auth_token.expose_secret())
        {
            warn!(url = %url, "rejected webhook: missing or invalid X-Twilio-Signature");
            return Err(ApiError::Forbidden("missing or invalid X-Twilio-Signature".into()));
        }
    }
    Ok(params)
}

#[handler]
pub async fn receive(
    req: &Request,
    body: Body,
    state: Data<&AppState>,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let result = accept(req, body, &state).await;
    let outcome = match &result {
        Ok(o) => *o,
        Err(e) => e.outcome(),
    };
    metrics::counter!("mnemo_webhook_requests_total", "outcome" => outcome).increment(1);
    metrics::histogram!("mnemo_webhook_duration_seconds").record(started.elapsed().as_secs_f64());
    result.map(|_| twiml_ok())
}

/// Records the message; `Ok` names the outcome for metrics (`accepted`, `duplicate`,
/// `accepted_unqueued`).
async fn accept(req: &Request, body: Body, state: &AppState) -> Result<&'static str, ApiError> {
    let mut params = signed_form(req, body, state).await?;
    // PostgreSQL text cannot hold NUL; no WhatsApp message means one, so it is dropped (after
    // the signature, which covers the bytes as sent).
    for (_, v) in params.iter_mut().filter(|(_, v)| v.contains('\0')) {
        *v = v.replace('\0', "");
    }
    let account = state.settings.twilio.as_ref().map(|t| t.account_sid.as_str());
    let msg = inbound::parse_webhook(&params, account)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let settings = &state.settings;
    let new = NewInbound {
        timezone: zone_for_phone(&msg.phone, settings.default_timezone).name().to_string(),
        kind: msg.kind().to_string(),
        phone: msg.phone.clone(),
        wa_id: msg.wa_id.clone(),
        display_name: msg.profile_name.clone(),
        message_sid: msg.message_sid.clone(),
        body: msg.body.clone(),
        replied_to_sid: msg.replied_to_sid.clone(),
        raw: msg.raw.clone(),
        received_at: Utc::now(),
    };
    let message_sid = new.message_sid.clone();
    let kind = new.kind.clone();
    match state.ingest.ingest(new).await? {
        Ingested::New { queued: true } => {
            info!(message_sid = %message_sid, kind = %kind, "message accepted");
            Ok("accepted")
        }
        // Committed but not queued: the sweeper re-enqueues it (the batch logged why).
        Ingested::New { queued: false } => Ok("accepted_unqueued"),
        Ingested::Duplicate => {
            info!(message_sid = %message_sid, "duplicate webhook ignored");
            Ok("duplicate")
        }
    }
}
