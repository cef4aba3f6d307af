//! Interactions submitted through the REST API (`POST /memories`) rather than the webhook.
//!
//! A media submission is recorded exactly like a WhatsApp message: its `raw` parameters carry
//! `NumMedia`, `MediaUrl0` and `MediaContentType0` as Twilio would send them, so the worker runs
//! the same pipeline. Two differences are spelled out here so the pipeline can honour them:
//!
//! - **Uploaded bytes** (`media_base64`) travel as a `data:<type>;base64,<bytes>` URL in
//!   `MediaUrl0` — self-contained in the row, deleted with it, no extra table. The media step
//!   must decode such a URL with [`decode_data_url`] instead of fetching it.
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
        assert_eq!(
            decode_data_url(&url),
            Some(("image/png".to_string(), b"\x89PNG\r\n".to_vec()))
        );
        assert_eq!(decode_data_url("https://api.twilio.com/x"), None);
        assert_eq!(decode_data_url("data:image/png,plain"), None);
        assert_eq!(decode_data_url("data:image/png;base64,@@"), None);
    }

    #[test]
    fn labels_come_from_raw() {
        assert_eq!(labels(None), json!([]));
        assert_eq!(labels(Some(&json!({"Body": "x"}))), json!([]));
        assert_eq!(
            labels(Some(&json!({"Labels": ["a", 1, "b"]}))),
            json!(["a", "b"])
        );
    }
}
