//! The body of `POST /memories`, read with one copy of it in memory at most.
//!
//! A media memory's `media_base64` can be ~33 MB of JSON. The generic JSON payload held the
//! body, a parsed document, a clone of it and the typed value (four copies), then the decoded
//! bytes and a `data:` URL of them in `interactions.raw`. Here the body is read once under the
//! cap, deserialised in place (the base64 string borrowed from it, not copied), and the base64
//! is decoded in 48 KiB steps straight into a staging file while its SHA-256 is computed; the
//! body is freed before the handler runs. Peak memory is about the body's size (measured in
//! the README's security section). The handler stores the file under its hash and records a
//! reference to it (`api_submission::stored_ref`), never the bytes.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use tokio::io::AsyncReadExt as _;

use base64::Engine as _;
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use mnemo_shared::media::types;
use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::memories::{NewMemory, NewMemoryKind};
use crate::problem::ApiError;
use crate::state::AppState;

/// Uploaded bytes, decoded into the staging folder.
#[derive(Debug)]
pub struct Staged {
    pub file: tempfile::NamedTempFile,
    pub sha256: String,
    pub size: u64,
    /// Checked against the bytes (`media::types`).
    pub content_type: String,
}

/// The parsed request: the fields (with `media_base64` left out), the decoded upload, and the
/// fingerprint `Idempotency-Key` compares.
pub struct MemoryBody {
    pub value: NewMemory,
    pub upload: Option<Staged>,
    pub fingerprint: String,
}

/// The wire form, borrowing the (large) base64 string from the body.
#[derive(Deserialize)]
struct Wire<'a> {
    user: String,
    kind: NewMemoryKind,
    text: Option<String>,
    media_url: Option<String>,
    #[serde(default, borrow, deserialize_with = "borrowed_str")]
    media_base64: Option<Cow<'a, str>>,
    content_type: Option<String>,
    labels: Option<Vec<String>>,
    occurred_at: Option<DateTime<Utc>>,
}

/// A string borrowed from the body when it has no escapes (serde's own `Cow<str>` inside an
/// `Option` always copies).
fn borrowed_str<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Borrowing;
    impl<'de> serde::de::Visitor<'de> for Borrowing {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    struct Str<'a>(Cow<'a, str>);
    impl<'de> Deserialize<'de> for Str<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(Borrowing).map(Str)
        }
    }
    Ok(Option::<Str<'de>>::deserialize(d)?.map(|s| s.0))
}

impl Payload for MemoryBody {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<NewMemory> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        NewMemory::schema_ref()
    }

    fn register(registry: &mut Registry) {
        NewMemory::register(registry);
    }
}

/// The cap for the body: room for a base64 upload of `MAX_MEDIA_BYTES` and its fields.
pub fn body_limit(max_media_bytes: u64) -> usize {
    (max_media_bytes as usize).saturating_mul(4) / 3 + 64 * 1024
}

impl ParsePayload for MemoryBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let state = request
            .data::<AppState>()
            .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
        let max_media = state.settings.max_media_bytes;
        let limit = body_limit(max_media);
        // One buffer of the announced size, filled in place: collecting the body's chunks and
        // then joining them would hold it twice.
        let announced = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        if announced.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge(limit).into());
        }
        let mut bytes: Vec<u8> = Vec::with_capacity(announced.unwrap_or(64 * 1024) + 64);
        body.take()?
            .into_async_read()
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if bytes.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit).into());
        }
        if bytes.is_empty() {
            return Err(ApiError::BadRequest("the request body is empty".into()).into());
        }
        let staging = state.media.staging_dir();
        // Parsing and decoding megabytes is CPU and disk work: off the async threads.
        let parsed = tokio::task::spawn_blocking(move || parse(&bytes, max_media, staging))
            .await
            .map_err(|e| ApiError::Internal(format!("body task: {e}")))??;
        Ok(parsed)
    }
}

impl_apirequest_for_payload!(MemoryBody);

fn parse(bytes: &[u8], max_media_bytes: u64, staging: PathBuf) -> Result<MemoryBody, ApiError> {
    let wire: Wire<'_> = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed request body: {e}")))?;
    let mut value = NewMemory {
        user: wire.user,
        kind: wire.kind,
        text: wire.text,
        media_url: wire.media_url,
        media_base64: None,
        content_type: wire.content_type,
        labels: wire.labels,
        occurred_at: wire.occurred_at,
    };
    let mut base64 = wire.media_base64;
    // A `data:` URL given as `media_url` is an upload too.
    if base64.is_none()
        && value.kind != NewMemoryKind::Text
        && let Some(url) = value.media_url.take_if(|u| u.trim_start().starts_with("data:"))
    {
        base64 = Some(Cow::Owned(url.trim().to_string()));
    }
    super::memories::check_fields(&value, base64.is_some())?;
    let upload = match base64.as_deref() {
        Some(b64) if value.kind != NewMemoryKind::Text => {
            Some(stage(b64, &value, max_media_bytes, &staging)?)
        }
        _ => None,
    };
    let fingerprint = super::idempotency::fingerprint(&serde_json::json!({
        "user": value.user,
        "kind": value.kind.as_str(),
        "text": value.text,
        "media_url": value.media_url,
        "media_sha256": upload.as_ref().map(|u| u.sha256.clone()),
        "content_type": value.content_type,
        "labels": value.labels,
        "occurred_at": value.occurred_at.map(|t| t.to_rfc3339()),
    }));
    Ok(MemoryBody { value, upload, fingerprint })
}

/// Decodes `b64` (plain base64 or a `data:…;base64,` URL) into a staging file, hashing it, and
/// checks its type against its bytes.
fn stage(
    b64: &str,
    req: &NewMemory,
    max_media_bytes: u64,
    staging: &std::path::Path,
) -> Result<Staged, ApiError> {
    let b64 = b64.trim();
    let (declared, data) = match b64.strip_prefix("data:") {
        Some(rest) => {
            let (meta, data) = rest.split_once(',').ok_or_else(|| {
                ApiError::Unprocessable("`media_base64` is a malformed data: URL".into())
            })?;
            let meta = meta.strip_suffix(";base64").ok_or_else(|| {
                ApiError::Unprocessable("`media_base64` data: URL is not base64".into())
            })?;
            (Some(meta.to_string()).filter(|m| !m.is_empty()), data)
        }
        None => (None, b64),
    };
    let significant = data.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u64;
    if significant / 4 * 3 > max_media_bytes + 3 {
        return Err(ApiError::PayloadTooLarge(max_media_bytes as usize));
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let invalid = |e: base64::DecodeError| {
        ApiError::Unprocessable(format!("`media_base64` is not valid base64: {e}"))
    };
    let io = |e: std::io::Error| ApiError::Internal(format!("media staging: {e}"));

    std::fs::create_dir_all(staging).map_err(io)?;
    let file = tempfile::Builder::new().prefix("upload-").tempfile_in(staging).map_err(io)?;
    let mut out =
        std::io::BufWriter::with_capacity(64 * 1024, file.as_file().try_clone().map_err(io)?);
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::new();
    let mut size: u64 = 0;
    // 64 KiB of base64 characters (a multiple of 4) → 48 KiB of bytes per step.
    const STEP: usize = 64 * 1024;
    let mut chunk: Vec<u8> = Vec::with_capacity(STEP);
    let mut flush = |chunk: &mut Vec<u8>, last: bool| -> Result<(), ApiError> {
        if chunk.is_empty() {
            return Ok(());
        }
        debug_assert!(last || chunk.len().is_multiple_of(4));
        let decoded = engine.decode(&chunk[..]).map_err(invalid)?;
        chunk.clear();
        if head.len() < 64 {
            head.extend_from_slice(&decoded[..decoded.len().min(64 - head.len())]);
        }
        size += decoded.len() as u64;
        hasher.update(&decoded);
        out.write_all(&decoded).map_err(io)
    };
    for b in data.bytes().filter(|b| !b.is_ascii_whitespace()) {
        chunk.push(b);
        if chunk.len() == STEP {
            flush(&mut chunk, false)?;
        }
    }
    flush(&mut chunk, true)?;

    out.flush().map_err(io)?;
    drop(out);
    if size == 0 {
        return Err(ApiError::Unprocessable("`media_base64` is empty".into()));
    }
    if size > max_media_bytes {
        return Err(ApiError::PayloadTooLarge(max_media_bytes as usize));
    }
    let content_type = match req.content_type.clone().or(declared) {
        Some(ct) => super::memories::checked_content_type(req.kind, &ct)?,
        None => super::memories::sniff(&head)
            .filter(|ct| ct.starts_with(req.kind.as_str()))
            .ok_or_else(|| {
                ApiError::Unprocessable(
                    "give `content_type` for these bytes (not a recognisable format)".into(),
                )
            })?
            .to_string(),
    };
    if types::accepted(&content_type).is_none() {
        return Err(ApiError::Unprocessable(format!(
            "`content_type` {content_type} is not a type WhatsApp carries (JPEG, PNG, WebP or \
             GIF images; Ogg, MP3, MP4/AAC, AMR, WebM or WAV audio)"
        )));
    }
    if !types::bytes_match(&content_type, &head) {
        return Err(ApiError::Unprocessable(format!(
            "`media_base64` is not a {} file",
            mnemo_shared::media::essence(&content_type)
        )));
    }
    Ok(Staged { file, sha256: hex::encode(hasher.finalize()), size, content_type })
}
