//! Interactions submitted through the REST API (`POST /memories`) rather than the webhook.
//!
//! A media submission is recorded exactly like a WhatsApp message: its `raw` parameters carry
//! `NumMedia`, `MediaUrl0` and `MediaContentType0` as Twilio would send them, so the worker runs
//! the same pipeline. Two differences are spelled out here so the pipeline can honour them:
//!
//! - **Uploaded bytes** (`media_base64`) are stored by the ingress under their SHA-256 before
//!   the row is written, and `MediaUrl0` holds a reference to them, [`stored_ref`]
//!   (`stored:sha256:<hex>`), never the bytes. The media step reads such a reference back from
//!   the store ([`stored_sha256`]) and then links, counts and enriches the object exactly as
//!   a download. (Rows written before that kept a `data:` URL, still read by the downloader.)
//! - **`media_url`** of a submission is fetched from any public address (not only Twilio's
//!   media server): `raw.Source` = `api` tells the media step so.
//! - **Labels** given by the client are kept in `raw.Labels`; [`labels`] returns them for the
//!   memory the worker creates.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use uuid::Uuid;

/// `raw.Source` of an API submission.
pub const SOURCE_KEY: &str = "Source";
pub const SOURCE_API: &str = "api";
/// `raw.Labels`: a JSON array of strings.
pub const LABELS_KEY: &str = "Labels";

/// The MessageSid-like key of an API submission (unique, never a Twilio SID).
pub fn message_sid(interaction_id: Uuid) -> String {
    format!("api:{interaction_id}")
}

/// The labels a submission asked for (an empty array for webhook messages).
pub fn labels(raw: Option<&Value>) -> Value {
    let list: Vec<Value> = raw
        .and_then(|r| r.get(LABELS_KEY))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|v| v.is_string()).cloned().collect())
        .unwrap_or_default();
    Value::Array(list)
}

/// The `MediaUrl0` of an upload stored under `sha256`.
pub fn stored_ref(sha256: &str) -> String {
    format!("stored:sha256:{sha256}")
}

/// The hash in a [`stored_ref`]; `None` for anything else.
pub fn stored_sha256(url: &str) -> Option<&str> {
    url.strip_prefix("stored:sha256:").filter(|h| crate::media::is_sha256_hex(h))
}

/// Was this message submitted through the REST API (`raw.Source`)?
pub fn is_submission(raw: Option<&Value>) -> bool {
    raw.and_then(|r| r.get(SOURCE_KEY)).and_then(Value::as_str) == Some(SOURCE_API)
}

/// `data:<content_type>;base64,<bytes>`.
pub fn data_url(content_type: &str, bytes: &[u8]) -> String {
    format!("data:{content_type};base64,{}", STANDARD.encode(bytes))
}

/// The content type and bytes of a `data:…;base64,…` URL; `None` for anything else.
pub fn decode_data_url(url: &str) -> Option<(String, Vec<u8>)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let content_type = meta.strip_suffix(";base64")?;
    let bytes = STANDARD.decode(data).ok()?;
    let content_type = if content_type.is_empty() {
        "application/octet-stream".to_string()
    } else {
        content_type.to_string()
    };
    Some((content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_urls_round_trip() {
        let url = data_url("image/png", b"\x89PNG\r\n");
        assert!(url.starts_with("data:image/png;base64,"));
        assert_eq!(decode_data_url(&url), Some(("image/png".to_string(), b"\x89PNG\r\n".to_vec())));
        assert_eq!(decode_data_url("https://api.twilio.com/x"), None);
        assert_eq!(decode_data_url("data:image/png,plain"), None);
        assert_eq!(decode_data_url("data:image/png;base64,@@"), None);
    }

    #[test]
    fn stored_refs_round_trip() {
        let h = "ab".repeat(32);
        assert_eq!(stored_sha256(&stored_ref(&h)), Some(h.as_str()));
        assert_eq!(stored_sha256("stored:sha256:../../etc/passwd"), None);
        assert_eq!(stored_sha256("https://api.twilio.com/x"), None);
        assert!(is_submission(Some(&json!({"Source": "api"}))));
        assert!(!is_submission(Some(&json!({"MessageSid": "SM1"}))));
    }

    #[test]
    fn labels_come_from_raw() {
        assert_eq!(labels(None), json!([]));
        assert_eq!(labels(Some(&json!({"Body": "x"}))), json!([]));
        assert_eq!(labels(Some(&json!({"Labels": ["a", 1, "b"]}))), json!(["a", "b"]));
    }
}
