//! The inbound WhatsApp message as a typed value, parsed once at the webhook edge.
//!
//! Twilio posts a flat form of string parameters and adds new ones without notice. Parsing turns
//! the handful the pipeline relies on into checked fields (a sender we can key a user on, a message
//! id we can deduplicate on, media and location) and keeps every received parameter in `raw`, so
//! nothing Twilio sent is lost even if we only learn later that we need it. Only the identity
//! fields are strict; optional extras are read tolerantly so an odd field never loses a message.

use crate::domain::phone::Phone;
use serde::{Deserialize, Serialize};

/// Twilio never sends more than 10 media items per message; anything above is ignored.
pub const MAX_MEDIA: usize = 10;

/// One inbound message, as Twilio described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// `MessageSid` (`SM…`/`MM…`): the idempotency key of the whole ingestion.
    pub message_sid: String,
    pub account_sid: Option<String>,
    /// The channel address as received, e.g. `whatsapp:+14155550123`.
    pub from: String,
    /// The sender's E.164 number, e.g. `+14155550123`.
    pub phone: String,
    /// Our number as addressed, e.g. `whatsapp:+14155238886`.
    pub to: Option<String>,
    /// Text of the message; empty for media-only messages.
    pub body: String,
    pub profile_name: Option<String>,
    pub wa_id: Option<String>,
    pub media: Vec<InboundMedia>,
    pub location: Option<Location>,
    /// Twilio's `MessageType` (`text`, `image`, `audio`, `interactive`, …) when sent.
    pub message_type: Option<String>,
    /// `OriginalRepliedMessageSid`: the message this one replies to (quotes), when the user
    /// replied to one. Read tolerantly: a value that is not SID-shaped is dropped, never the
    /// message.
    pub replied_to_sid: Option<String>,
    /// Every received parameter: string values, a repeated name becomes an array of strings.
    pub raw: serde_json::Value,
}

/// One media attachment (`MediaUrlN` / `MediaContentTypeN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMedia {
    pub url: String,
    /// As sent by Twilio, e.g. `image/jpeg`, `audio/ogg`; `application/octet-stream` when absent.
    pub content_type: String,
}

/// A shared location (`Latitude`, `Longitude`, `Address`, `Label`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub address: Option<String>,
    pub label: Option<String>,
}

/// Why a webhook form is not an inbound message we can accept.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("missing required parameter `{0}`")]
    Missing(&'static str),
    #[error("invalid parameter `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl InboundMessage {
    /// What the message is, for storage and routing: `"image"`, `"audio"`, `"video"` or
    /// `"document"` by the first attachment's content type, else `"location"` for a shared
    /// location, else `"text"`.
    pub fn kind(&self) -> &'static str {
        if let Some(media) = self.media.first() {
            return crate::media::kind_of(&media.content_type);
        }
        if self.location.is_some() { "location" } else { "text" }
    }
}

/// Parses a webhook form that passed the signature check, strictly.
///
/// Twilio's signature covers the names and values concatenated without separators, so a
/// captured request can be reshaped (a value moved into its neighbour's) without breaking it.
/// What the signature cannot pin down, the format does: every name appears once,
/// `MessageSid` (and `SmsSid`/`SmsMessageSid` when present) is `SM`/`MM` + 32 lowercase hex
/// digits, and `AccountSid`, when `account_sid` is configured, is exactly that account.
pub fn parse_webhook(
    params: &[(String, String)],
    account_sid: Option<&str>,
) -> Result<InboundMessage, InboundError> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    for (name, _) in params {
        if !seen.insert(name.as_str()) {
            return Err(InboundError::Invalid {
                field: "form",
                reason: format!("`{}` is given more than once", truncate(name, 40)),
            });
        }
    }
    for field in ["MessageSid", "SmsSid", "SmsMessageSid"] {
        if let Some(v) = first(params, field)
            && !is_twilio_message_sid(v)
        {
            return Err(InboundError::Invalid {
                field: match field {
                    "MessageSid" => "MessageSid",
                    "SmsSid" => "SmsSid",
                    _ => "SmsMessageSid",
                },
                reason: "expected SM or MM followed by 32 lowercase hex digits".into(),
            });
        }
    }
    if let Some(expected) = account_sid
        && first(params, "AccountSid") != Some(expected)
    {
        return Err(InboundError::Invalid {
            field: "AccountSid",
            reason: "not this server's Twilio account".into(),
        });
    }
    parse(params)
}

/// `^(SM|MM)[0-9a-f]{32}$`: the form of Twilio's message SIDs.
pub fn is_twilio_message_sid(sid: &str) -> bool {
    sid.len() == 34
        && (sid.starts_with("SM") || sid.starts_with("MM"))
        && sid[2..].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The attachments and shared location of a recorded message's parameters, read tolerantly:
/// no identity field is needed (the worker reads them back from `interactions.raw`, which for
/// REST submissions has neither `MessageSid` nor `From`).
pub fn attachments(params: &[(String, String)]) -> (Vec<InboundMedia>, Option<Location>) {
    (parse_media(params), parse_location(params).ok().flatten())
}

/// Parses Twilio's decoded webhook form (repeated names allowed) into an [`InboundMessage`].
///
/// Required: `MessageSid` (1–64 of `[A-Za-z0-9_-]`) and `From` (`whatsapp:+<E.164>` or
/// `+<E.164>`); each may appear more than once only with the same value. `Latitude`/`Longitude`,
/// when present, must both be present and be finite coordinates in range. Everything else is
/// optional; for other repeated names the first value is used.
pub fn parse(params: &[(String, String)]) -> Result<InboundMessage, InboundError> {
    let message_sid = single(params, "MessageSid")?.ok_or(InboundError::Missing("MessageSid"))?;
    if !is_valid_sid(message_sid) {
        return Err(InboundError::Invalid {
            field: "MessageSid",
            reason: "expected 1–64 characters of A–Z, a–z, 0–9, `_` or `-`".to_string(),
        });
    }

    let from = single(params, "From")?.ok_or(InboundError::Missing("From"))?;
    let phone = normalize_phone(from).ok_or_else(|| InboundError::Invalid {
        field: "From",
        reason: "expected `whatsapp:+<country code><number>` or `+<country code><number>` \
                 (E.164: 7–15 digits, no spaces)"
            .to_string(),
    })?;

    Ok(InboundMessage {
        message_sid: message_sid.to_string(),
        account_sid: optional(params, "AccountSid"),
        from: from.to_string(),
        phone,
        to: optional(params, "To"),
        body: first(params, "Body").unwrap_or_default().to_string(),
        profile_name: optional(params, "ProfileName"),
        wa_id: optional(params, "WaId"),
        media: parse_media(params),
        location: parse_location(params)?,
        message_type: optional(params, "MessageType"),
        replied_to_sid: optional(params, "OriginalRepliedMessageSid")
            .filter(|sid| is_valid_sid(sid)),
        raw: raw_json(params),
    })
}

/// The E.164 number in `+14155550123` or `whatsapp:+14155550123`, as `+14155550123`
/// (see [`Phone::parse`]).
pub fn normalize_phone(input: &str) -> Option<String> {
    Phone::parse(input).ok().map(Phone::into_string)
}

fn is_valid_sid(sid: &str) -> bool {
    (1..=64).contains(&sid.len())
        && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn values<'a>(params: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    params.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The first value, trimmed; `None` when absent or blank.
fn optional(params: &[(String, String)], name: &str) -> Option<String> {
    first(params, name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// The one value of an identity field: blank counts as absent, conflicting repeats are refused.
fn single<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, InboundError> {
    let mut found: Option<&str> = None;
    for value in values(params, name) {
        match found {
            None => found = Some(value),
            Some(earlier) if earlier == value => {}
            Some(_) => {
                return Err(InboundError::Invalid {
                    field: name,
                    reason: "given more than once with different values".to_string(),
                });
            }
        }
    }
    Ok(found.filter(|v| !v.trim().is_empty()))
}

/// `MediaUrlN`/`MediaContentTypeN` for N below `NumMedia` (at most [`MAX_MEDIA`]); when
/// `NumMedia` is missing or not a number, every `MediaUrl0`…`MediaUrl9` present. Blank URLs are
/// skipped.
fn parse_media(params: &[(String, String)]) -> Vec<InboundMedia> {
    let count = first(params, "NumMedia")
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map_or(MAX_MEDIA, |n| usize::try_from(n).unwrap_or(MAX_MEDIA).min(MAX_MEDIA));
    (0..count)
        .filter_map(|i| {
            let url = first(params, &format!("MediaUrl{i}"))?.trim();
            if url.is_empty() {
                return None;
            }
            let content_type = first(params, &format!("MediaContentType{i}"))
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or("application/octet-stream");
            Some(InboundMedia { url: url.to_string(), content_type: content_type.to_string() })
        })
        .collect()
}

fn parse_location(params: &[(String, String)]) -> Result<Option<Location>, InboundError> {
    let latitude = coordinate(params, "Latitude", 90.0)?;
    let longitude = coordinate(params, "Longitude", 180.0)?;
    match (latitude, longitude) {
        (None, None) => Ok(None),
        (Some(latitude), Some(longitude)) => Ok(Some(Location {
            latitude,
            longitude,
            address: optional(params, "Address"),
            label: optional(params, "Label"),
        })),
        (Some(_), None) => Err(InboundError::Invalid {
            field: "Longitude",
            reason: "missing while `Latitude` is present".to_string(),
        }),
        (None, Some(_)) => Err(InboundError::Invalid {
            field: "Latitude",
            reason: "missing while `Longitude` is present".to_string(),
        }),
    }
}

fn coordinate(
    params: &[(String, String)],
    field: &'static str,
    limit: f64,
) -> Result<Option<f64>, InboundError> {
    let Some(text) = first(params, field).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value: f64 = text.parse().map_err(|_| InboundError::Invalid {
        field,
        reason: format!("`{}` is not a number", truncate(text, 32)),
    })?;
    if !value.is_finite() || !(-limit..=limit).contains(&value) {
        return Err(InboundError::Invalid {
            field,
            reason: format!("must be a finite number between -{limit} and {limit}"),
        });
    }
    Ok(Some(value))
}

fn truncate(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// Every parameter as a JSON object; a name given more than once becomes an array (in order).
fn raw_json(params: &[(String, String)]) -> serde_json::Value {
    use serde_json::{Map, Value};
    let mut map = Map::new();
    for (name, value) in params {
        let value = Value::String(value.clone());
        match map.get_mut(name) {
            None => {
                map.insert(name.clone(), value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let earlier = existing.take();
                *existing = Value::Array(vec![earlier, value]);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const SID: &str = "SM0123456789abcdef0123456789abcdef";

    fn text_form() -> Vec<(String, String)> {
        form(&[
            ("SmsMessageSid", SID),
            ("NumMedia", "0"),
            ("ProfileName", "Ada"),
            ("SmsSid", SID),
            ("WaId", "14155550123"),
            ("SmsStatus", "received"),
            ("Body", "Dinner plan: pasta on Friday"),
            ("To", "whatsapp:+14155238886"),
            ("NumSegments", "1"),
            ("ReferralNumMedia", "0"),
            ("MessageSid", SID),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "whatsapp:+14155550123"),
            ("ApiVersion", "2010-04-01"),
            ("MessageType", "text"),
        ])
    }

    fn with(mut base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        base.extend(form(extra));
        base
    }

    fn without(base: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
        base.into_iter().filter(|(k, _)| k != name).collect()
    }

    fn assert_invalid(params: &[(String, String)], expected_field: &str) {
        match parse(params) {
            Err(InboundError::Invalid { field, .. }) => assert_eq!(field, expected_field),
            other => panic!("expected Invalid({expected_field}), got {other:?}"),
        }
    }

    #[test]
    fn parses_a_text_message() {
        let msg = parse(&text_form()).expect("valid");
        assert_eq!(msg.message_sid, SID);
        assert_eq!(msg.account_sid.as_deref(), Some("AC0123456789abcdef0123456789abcdef"));
        assert_eq!(msg.from, "whatsapp:+14155550123");
        assert_eq!(msg.phone, "+14155550123");
        assert_eq!(msg.to.as_deref(), Some("whatsapp:+14155238886"));
        assert_eq!(msg.body, "Dinner plan: pasta on Friday");
        assert_eq!(msg.profile_name.as_deref(), Some("Ada"));
        assert_eq!(msg.wa_id.as_deref(), Some("14155550123"));
        assert_eq!(msg.message_type.as_deref(), Some("text"));
        assert!(msg.media.is_empty());
        assert!(msg.location.is_none());
        assert_eq!(msg.kind(), "text");
    }

    #[test]
    fn a_reply_names_the_message_it_quotes() {
        let quoted = "MM0123456789abcdef0123456789abcdef";
        let msg = parse(&with(
            text_form(),
            &[
                ("OriginalRepliedMessageSid", quoted),
                ("OriginalRepliedMessageSender", "whatsapp:+14155238886"),
            ],
        ))
        .expect("valid");
        assert_eq!(msg.replied_to_sid.as_deref(), Some(quoted));
        assert_eq!(parse(&text_form()).unwrap().replied_to_sid, None);
        // Blank or odd values are dropped; the message itself is kept.
        for odd in ["", "  ", "MM 12", "<script>"] {
            let msg = parse(&with(text_form(), &[("OriginalRepliedMessageSid", odd)]))
                .expect("still a message");
            assert_eq!(msg.replied_to_sid, None, "{odd:?}");
        }
    }

    #[test]
    fn accepts_a_minimal_sms_style_form() {
        let msg = parse(&form(&[("MessageSid", "SM1"), ("From", "+447700900123")])).expect("valid");
        assert_eq!(msg.phone, "+447700900123");
        assert_eq!(msg.from, "+447700900123");
        assert_eq!(msg.body, "");
        assert_eq!(msg.account_sid, None);
        assert_eq!(msg.to, None);
        assert_eq!(msg.profile_name, None);
        assert_eq!(msg.kind(), "text");
    }

    #[test]
    fn raw_keeps_every_param_and_repeats_as_arrays() {
        let params =
            with(text_form(), &[("FutureParam", "x"), ("Tag", "a"), ("Tag", "b"), ("Tag", "c")]);
        let msg = parse(&params).expect("valid");
        let raw = msg.raw.as_object().expect("object");
        assert_eq!(raw.len(), text_form().len() + 2);
        assert_eq!(raw["SmsStatus"], json!("received"));
        assert_eq!(raw["FutureParam"], json!("x"));
        assert_eq!(raw["Tag"], json!(["a", "b", "c"]));
        assert_eq!(raw["MessageSid"], json!(SID));
    }

    #[test]
    fn missing_required_params() {
        for name in ["MessageSid", "From"] {
            match parse(&without(text_form(), name)) {
                Err(InboundError::Missing(missing)) => assert_eq!(missing, name),
                other => panic!("expected Missing({name}), got {other:?}"),
            }
            let blank = with(without(text_form(), name), &[(name, "  ")]);
            assert!(matches!(parse(&blank), Err(InboundError::Missing(_))));
        }
        let err = parse(&[]).expect_err("empty form");
        assert_eq!(err.to_string(), "missing required parameter `MessageSid`");
    }

    #[test]
    fn message_sid_is_checked() {
        for bad in ["SM 123", "SM/../x", "SM123;", "ßM123", &"S".repeat(65)] {
            let params = with(without(text_form(), "MessageSid"), &[("MessageSid", bad)]);
            assert_invalid(&params, "MessageSid");
        }
        for good in ["SM1", "MM_abc-DEF", &"a".repeat(64)] {
            let params = with(without(text_form(), "MessageSid"), &[("MessageSid", good)]);
            assert_eq!(parse(&params).expect("valid").message_sid, good);
        }
    }

    #[test]
    fn webhook_forms_are_strict_after_the_signature() {
        let ok = parse_webhook(&text_form(), Some("AC0123456789abcdef0123456789abcdef"));
        assert_eq!(ok.expect("valid").message_sid, SID);
        assert!(parse_webhook(&text_form(), None).is_ok());
        // The reshaped form of issue 15: `MessageType`+value moved into `MessageSid`'s value.
        let reshaped: Vec<(String, String)> = text_form()
            .into_iter()
            .filter(|(k, _)| k != "MessageType")
            .map(
                |(k, v)| {
                    if k == "MessageSid" { (k, format!("{v}MessageTypetext")) } else { (k, v) }
                },
            )
            .collect();
        assert!(parse(&reshaped).is_ok(), "the lenient parser takes it");
        match parse_webhook(&reshaped, None) {
            Err(InboundError::Invalid { field, .. }) => assert_eq!(field, "MessageSid"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "SM1",
            "MM_abc-DEF",
            "SM0123456789ABCDEF0123456789abcdef",
            "XX0123456789abcdef0123456789abcdef",
        ] {
            let params = with(without(text_form(), "MessageSid"), &[("MessageSid", bad)]);
            assert!(parse_webhook(&params, None).is_err(), "{bad}");
        }
        let sms = with(without(text_form(), "SmsSid"), &[("SmsSid", "SM1")]);
        assert!(parse_webhook(&sms, None).is_err());
        // Another account's request, or none named, when ours is configured.
        assert!(parse_webhook(&text_form(), Some("AC00000000000000000000000000000000")).is_err());
        assert!(parse_webhook(&without(text_form(), "AccountSid"), Some("AC0")).is_err());
        // Any repeated name, even with the same value.
        assert!(parse_webhook(&with(text_form(), &[("Body", "x")]), None).is_err());
        assert!(parse_webhook(&with(text_form(), &[("MessageSid", SID)]), None).is_err());
    }

    #[test]
    fn conflicting_identity_repeats_are_refused() {
        assert_invalid(&with(text_form(), &[("MessageSid", "SM999")]), "MessageSid");
        assert_invalid(&with(text_form(), &[("From", "whatsapp:+14155550999")]), "From");
        // An identical repeat is harmless.
        let same = with(text_form(), &[("MessageSid", SID), ("From", "whatsapp:+14155550123")]);
        assert_eq!(parse(&same).expect("valid").phone, "+14155550123");
    }

    #[test]
    fn from_must_be_e164() {
        for bad in [
            "14155550123",
            "whatsapp:14155550123",
            "whatsapp:+1 415 555 0123",
            "+1-415-555-0123",
            "+123456",
            "+1234567890123456",
            "+04155550123",
            "messenger:+14155550123",
            "WhatsApp:+14155550123",
            "whatsapp:+",
            " +14155550123",
            "+١٤١٥٥٥٥٠١٢٣",
        ] {
            let params = with(without(text_form(), "From"), &[("From", bad)]);
            assert_invalid(&params, "From");
        }
        let err = parse(&with(without(text_form(), "From"), &[("From", "12")])).expect_err("bad");
        assert!(err.to_string().starts_with("invalid parameter `From`: expected"), "{err}");
    }

    #[test]
    fn normalize_phone_forms() {
        assert_eq!(normalize_phone("+14155550123").as_deref(), Some("+14155550123"));
        assert_eq!(normalize_phone("whatsapp:+14155550123").as_deref(), Some("+14155550123"));
        assert_eq!(normalize_phone("+1234567").as_deref(), Some("+1234567"));
        assert_eq!(normalize_phone("+123456789012345").as_deref(), Some("+123456789012345"));
        for bad in [
            "",
            "+",
            "whatsapp:",
            "14155550123",
            " 14155550123",
            "+14155550123 ",
            "+1415555012a",
            "+1234567890123456",
            "0190f3a2-7c1e-7000-8000-000000000000",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_media_and_kind() {
        let params = with(
            without(text_form(), "NumMedia"),
            &[
                ("NumMedia", "2"),
                (
                    "MediaUrl0",
                    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                ),
                ("MediaContentType0", "image/jpeg"),
                (
                    "MediaUrl1",
                    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
                ),
                ("MediaContentType1", "application/pdf"),
                // Beyond NumMedia: ignored.
                ("MediaUrl2", "https://api.twilio.com/x"),
            ],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(
            msg.media,
            vec![
                InboundMedia {
                    url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
                        .into(),
                    content_type: "image/jpeg".into(),
                },
                InboundMedia {
                    url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2"
                        .into(),
                    content_type: "application/pdf".into(),
                },
            ]
        );
        assert_eq!(msg.kind(), "image");
    }

    #[test]
    fn kind_by_first_content_type() {
        for (content_type, kind) in [
            ("image/png", "image"),
            ("audio/ogg", "audio"),
            ("audio/ogg; codecs=opus", "audio"),
            ("Audio/OGG", "audio"),
            ("video/mp4", "video"),
            ("application/pdf", "document"),
            ("text/vcard", "document"),
            ("", "document"),
        ] {
            let params = with(
                text_form(),
                &[("MediaUrl0", "https://api.twilio.com/m"), ("MediaContentType0", content_type)],
            );
            let params = with(without(params, "NumMedia"), &[("NumMedia", "1")]);
            let msg = parse(&params).expect("valid");
            assert_eq!(msg.kind(), kind, "{content_type:?}");
        }
    }

    #[test]
    fn missing_content_type_defaults_to_octet_stream() {
        let params = with(
            without(text_form(), "NumMedia"),
            &[("NumMedia", "1"), ("MediaUrl0", "https://api.twilio.com/m")],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(msg.media[0].content_type, "application/octet-stream");
        assert_eq!(msg.kind(), "document");
    }

    #[test]
    fn media_without_num_media_is_scanned() {
        let params = with(
            without(text_form(), "NumMedia"),
            &[
                ("MediaUrl0", "https://api.twilio.com/a"),
                ("MediaContentType0", "audio/ogg"),
                ("MediaUrl1", "https://api.twilio.com/b"),
                ("MediaContentType1", "image/jpeg"),
            ],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(msg.media.len(), 2);
        assert_eq!(msg.kind(), "audio");

        // A non-numeric NumMedia is treated like a missing one.
        let params = with(without(params, "NumMedia"), &[("NumMedia", "lots")]);
        assert_eq!(parse(&params).expect("valid").media.len(), 2);
    }

    #[test]
    fn huge_num_media_is_capped() {
        let mut params = without(text_form(), "NumMedia");
        params.push(("NumMedia".into(), "18446744073709551615".into()));
        for i in 0..15 {
            params.push((format!("MediaUrl{i}"), format!("https://api.twilio.com/{i}")));
            params.push((format!("MediaContentType{i}"), "image/jpeg".into()));
        }
        assert_eq!(parse(&params).expect("valid").media.len(), MAX_MEDIA);

        let mut params = without(params, "NumMedia");
        params.push(("NumMedia".into(), "99999999999999999999999999".into()));
        assert_eq!(parse(&params).expect("valid").media.len(), MAX_MEDIA);
    }

    #[test]
    fn num_media_larger_than_given_urls_is_tolerated() {
        let params = with(
            without(text_form(), "NumMedia"),
            &[("NumMedia", "3"), ("MediaUrl1", "https://api.twilio.com/b"), ("MediaUrl0", " ")],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(msg.media.len(), 1);
        assert_eq!(msg.media[0].url, "https://api.twilio.com/b");
    }

    #[test]
    fn parses_location() {
        let params = with(
            text_form(),
            &[
                ("Latitude", "52.5200"),
                ("Longitude", "-13.405"),
                ("Address", "Alexanderplatz, Berlin"),
                ("Label", "Meeting point"),
            ],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(
            msg.location,
            Some(Location {
                latitude: 52.52,
                longitude: -13.405,
                address: Some("Alexanderplatz, Berlin".into()),
                label: Some("Meeting point".into()),
            })
        );
        assert_eq!(msg.kind(), "location");

        let bare = with(text_form(), &[("Latitude", "-90"), ("Longitude", "180")]);
        let location = parse(&bare).expect("valid").location.expect("location");
        assert_eq!((location.latitude, location.longitude), (-90.0, 180.0));
        assert_eq!(location.address, None);

        // Blank coordinates count as absent.
        let blank = with(text_form(), &[("Latitude", ""), ("Longitude", " ")]);
        assert_eq!(parse(&blank).expect("valid").location, None);
    }

    #[test]
    fn bad_location_is_refused() {
        for (lat, lon, field) in [
            ("abc", "1", "Latitude"),
            ("1", "east", "Longitude"),
            ("NaN", "1", "Latitude"),
            ("1", "inf", "Longitude"),
            ("90.0001", "1", "Latitude"),
            ("1", "-180.5", "Longitude"),
        ] {
            let params = with(text_form(), &[("Latitude", lat), ("Longitude", lon)]);
            assert_invalid(&params, field);
        }
        assert_invalid(&with(text_form(), &[("Latitude", "1")]), "Longitude");
        assert_invalid(&with(text_form(), &[("Longitude", "1")]), "Latitude");
    }

    #[test]
    fn media_wins_over_location_for_kind() {
        let params = with(
            text_form(),
            &[
                ("MediaUrl0", "https://api.twilio.com/a"),
                ("MediaContentType0", "video/mp4"),
                ("Latitude", "1"),
                ("Longitude", "2"),
            ],
        );
        let params = with(without(params, "NumMedia"), &[("NumMedia", "1")]);
        assert_eq!(parse(&params).expect("valid").kind(), "video");
    }

    #[test]
    fn blank_optionals_are_none_and_body_is_kept_verbatim() {
        let params = with(
            without(without(without(text_form(), "ProfileName"), "WaId"), "Body"),
            &[("ProfileName", " "), ("WaId", ""), ("Body", "  spaced  ")],
        );
        let msg = parse(&params).expect("valid");
        assert_eq!(msg.profile_name, None);
        assert_eq!(msg.wa_id, None);
        assert_eq!(msg.body, "  spaced  ");
    }

    #[test]
    fn round_trips_through_json() {
        let msg =
            parse(&with(text_form(), &[("Latitude", "1.5"), ("Longitude", "2.5")])).expect("valid");
        let json = serde_json::to_string(&msg).expect("serialize");
        let back: InboundMessage = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, msg);
    }
}
