//! `/openapi.json` and `/docs`: the document poem-openapi generates from the REST operations,
//! plus Twilio's two webhooks. They are plain poem handlers (they must see the raw form to
//! check Twilio's signature over every parameter), so their path items are added here by hand,
//! describing exactly what `webhook::receive` and `status_callback::receive` accept and answer.

use serde_json::{Value, json};

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// The `X-Twilio-Signature` header both webhooks take.
fn signature_header() -> Value {
    json!({
        "name": "X-Twilio-Signature",
        "in": "header",
        "required": false,
        "description": "Twilio's request signature (required when TWILIO_AUTH_TOKEN is set).",
        "schema": {"type": "string"}
    })
}

/// A POST Twilio signs (both webhooks): a form of `properties`, `required` among them and any
/// other string parameter allowed, no bearer token; `responses` plus the rejections both share.
fn signed_form_post(
    operation_id: &str,
    summary: &str,
    description: &str,
    required: &[&str],
    properties: Value,
    mut responses: Value,
) -> Value {
    for (status, why) in [
        ("413", "The body is over 64 KiB."),
        ("415", "The body is not `application/x-www-form-urlencoded`."),
        ("503", "The database is unavailable; Twilio retries."),
    ] {
        responses[status] = problem(why);
    }
    json!({
        "tags": ["Webhooks"],
        "summary": summary,
        "description": description,
        "operationId": operation_id,
        "security": [],
        "parameters": [signature_header()],
        "requestBody": {
            "required": true,
            "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": {"type": "string"}
            }}}
        },
        "responses": responses
    })
}

/// The inbound webhook's path item.
fn webhook_path() -> Value {
    let probe = |method: &str| {
        json!({
            "tags": ["Webhooks"],
            "summary": "Webhook URL check",
            "description": "Lets the Twilio console and load balancers check the webhook URL: an empty TwiML document.",
            "operationId": format!("twilio_webhook_probe_{method}"),
            "security": [],
            "responses": {"200": {
                "description": "An empty TwiML response.",
                "content": {"text/xml": {"schema": {"type": "string"}}}
            }}
        })
    };
    let post = signed_form_post(
        "twilio_webhook",
        "Twilio inbound-message webhook",
        "Called by Twilio for every WhatsApp message sent to mnemo. Signed with \
         `X-Twilio-Signature` (HMAC-SHA1 of the public URL and the sorted form parameters) \
         when `TWILIO_AUTH_TOKEN` is set; no bearer token. The message is committed in one \
         transaction (unique `MessageSid`: a duplicate creates nothing) and processed by the \
         worker; the answer is an empty TwiML document for new and duplicate messages alike.",
        &["MessageSid", "From"],
        json!({
            "MessageSid": {"type": "string", "description": "Twilio's message id; the idempotency key.", "example": "SM0123456789abcdef0123456789abcdef"},
            "From": {"type": "string", "description": "The sender, `whatsapp:+E164`.", "example": "whatsapp:+14155550123"},
            "To": {"type": "string", "example": "whatsapp:+14155238886"},
            "Body": {"type": "string", "example": "Dinner plan: pasta with Anna on Friday"},
            "ProfileName": {"type": "string", "example": "Ada"},
            "WaId": {"type": "string", "example": "14155550123"},
            "NumMedia": {"type": "string", "example": "0"},
            "MediaUrl0": {"type": "string", "description": "First attachment (fetched with Basic auth)."},
            "MediaContentType0": {"type": "string", "example": "image/jpeg"},
            "Latitude": {"type": "string"},
            "Longitude": {"type": "string"},
            "AccountSid": {"type": "string"}
        }),
        json!({
            "200": {
                "description": "Accepted (new or duplicate): an empty TwiML response.",
                "content": {"text/xml": {"schema": {"type": "string", "example": "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"}}}
            },
            "400": problem("The form lacks `MessageSid`/`From` or has an invalid value."),
            "403": problem("Missing or invalid `X-Twilio-Signature`; nothing stored.")
        }),
    );
    json!({"get": probe("get"), "head": probe("head"), "post": post})
}

/// The status callback's path item: Twilio posts the delivery status of each reply we sent
/// (the `StatusCallback` of every send).
fn status_path() -> Value {
    let post = signed_form_post(
        "twilio_status_callback",
        "Twilio delivery-status callback",
        "Called by Twilio as a reply mnemo sent moves through `queued`, `sent`, \
         `delivered`, `read`, or ends `failed`/`undelivered`. Signed like the inbound webhook; \
         no bearer token. The reply's status only moves forward, so late or repeated callbacks \
         change nothing; a status mnemo does not track, or a `MessageSid` it never sent, is \
         answered 200 too (and logged), so Twilio does not retry what can never match.",
        &["MessageSid", "MessageStatus"],
        json!({
            "MessageSid": {"type": "string", "description": "The SID Twilio gave our reply when it was sent (`SmsSid` is read when this is missing).", "example": "SM0123456789abcdef0123456789abcdef"},
            "MessageStatus": {"type": "string", "description": "`queued`, `sending`, `sent`, `delivered`, `read`, `failed`, `undelivered`, `canceled` (`SmsStatus` is read when this is missing).", "example": "delivered"},
            "ErrorCode": {"type": "string", "description": "Twilio's error code when the message failed.", "example": "63016"},
            "ChannelStatusMessage": {"type": "string", "description": "WhatsApp's reason, kept as the reply's error."},
            "ErrorMessage": {"type": "string"},
            "AccountSid": {"type": "string"},
            "From": {"type": "string", "example": "whatsapp:+14155238886"},
            "To": {"type": "string", "example": "whatsapp:+14155550123"}
        }),
        json!({
            "200": {"description": "Applied, or ignored as late, repeated or unknown: an empty body."},
            "400": problem("The form lacks `MessageSid` or `MessageStatus`."),
            "403": problem("Missing or invalid `X-Twilio-Signature`; nothing changed.")
        }),
    );
    json!({"post": post})
}

/// The generated document with Twilio's webhooks added.
pub fn document(generated: &str) -> String {
    let mut doc: Value = match serde_json::from_str(generated) {
        Ok(v) => v,
        Err(_) => return generated.to_string(),
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.insert("/webhook".into(), webhook_path());
        paths.insert("/webhook/status".into(), status_path());
    }
    if let Some(tags) = doc.get_mut("tags").and_then(Value::as_array_mut) {
        tags.push(json!({"name": "Webhooks", "description": "Called by Twilio; signed, no bearer token."}));
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| generated.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_is_added() {
        let doc = document(r#"{"openapi":"3.0.0","paths":{"/health":{}},"tags":[]}"#);
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert!(v["paths"]["/health"].is_object());
        assert_eq!(v["paths"]["/webhook"]["post"]["operationId"], "twilio_webhook");
        assert_eq!(v["paths"]["/webhook/status"]["post"]["operationId"], "twilio_status_callback");
        assert_eq!(v["tags"][0]["name"], "Webhooks");
    }
}

/// The methods each documented path template answers, for the `Allow` header of a 405.
#[derive(Clone, Debug, Default)]
pub struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    pub fn from_document(doc: &str) -> Self {
        let mut out = Vec::new();
        if let Ok(v) = serde_json::from_str::<Value>(doc)
            && let Some(paths) = v.get("paths").and_then(Value::as_object)
        {
            for (template, item) in paths {
                let mut methods: Vec<String> = item
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                methods.sort();
                methods.dedup();
                let segments = template.split('/').map(str::to_string).collect();
                out.push((segments, methods.join(", ")));
            }
        }
        AllowedMethods(out)
    }

    /// The `Allow` value for a request path, if it matches a documented template.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        let given: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == given.len()
                    && template.iter().zip(&given).all(|(t, g)| {
                        (t.starts_with('{') && t.ends_with('}') && !g.is_empty()) || t == g
                    })
            })
            .map(|(_, methods)| methods.as_str())
    }
}

#[cfg(test)]
mod allow_tests {
    use super::*;

    #[test]
    fn allow_by_template() {
        let doc = document(
            r#"{"paths":{"/memories":{"get":{},"post":{}},"/memories/{id}":{"get":{},"delete":{}}},"tags":[]}"#,
        );
        let a = AllowedMethods::from_document(&doc);
        assert_eq!(a.for_path("/memories"), Some("GET, POST"));
        assert_eq!(a.for_path("/memories/abc"), Some("DELETE, GET"));
        assert_eq!(a.for_path("/webhook"), Some("GET, HEAD, POST"));
        assert_eq!(
            serde_json::from_str::<Value>(&doc).unwrap()["paths"]["/webhook"]["get"]["operationId"],
            "twilio_webhook_probe_get"
        );
        assert_eq!(a.for_path("/memories/"), None);
        assert_eq!(a.for_path("/nope"), None);
    }
}
