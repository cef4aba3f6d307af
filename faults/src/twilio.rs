//! A stand-in for Twilio's Messages API in its wire format (`../shared/reference/external-apis.md`
//! §1.5): `POST …/Messages.json` creates a message (201 with the message JSON, a fresh `SM…` SID)
//! and `GET …/Messages.json?To=&From=&PageSize=` lists what was created, newest first, in
//! Twilio's page shape. The list is what a worker checks after an interrupted send, so the
//! stand-in keeps every created message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One message the stand-in accepted.
#[derive(Debug, Clone)]
pub struct Created {
    /// The form fields as posted (`To`, `From`, `Body`, `MediaUrl`, …).
    pub form: HashMap<String, String>,
    /// The message JSON it answered with (and lists).
    pub message: Value,
    /// When the request arrived.
    pub at: Instant,
}

/// The messages created so far; clones share them.
#[derive(Clone, Default)]
pub struct TwilioMessages {
    created: Arc<Mutex<Vec<Created>>>,
}

impl TwilioMessages {
    pub fn created(&self) -> Vec<Created> {
        self.created.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.created.lock().map(|c| c.len()).unwrap_or_default()
    }

    fn push(&self, created: Created) {
        if let Ok(mut c) = self.created.lock() {
            c.push(created);
        }
    }

    /// Twilio's list page: messages matching the `To`/`From` filters, newest first.
    fn page(&self, req: &Request, uri: &str) -> Value {
        let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let page_size = query
            .get("PageSize")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(50)
            .clamp(1, 1000);
        let wanted = |m: &Value, field: &str, param: &str| match query.get(param) {
            Some(v) => m[field].as_str() == Some(v.as_str()),
            None => true,
        };
        let messages: Vec<Value> = self
            .created()
            .into_iter()
            .rev()
            .map(|c| c.message)
            .filter(|m| wanted(m, "to", "To") && wanted(m, "from", "From"))
            .take(page_size)
            .collect();
        json!({
            "messages": messages,
            "page": 0,
            "page_size": page_size,
            "start": 0,
            "end": messages.len().saturating_sub(1),
            "uri": uri,
            "first_page_uri": uri,
            "next_page_uri": null,
            "previous_page_uri": null,
        })
    }
}

/// Mounts create and list on `server` for `account_sid`; every answer comes after `latency`.
pub async fn mount_messages(
    server: &MockServer,
    account_sid: &str,
    latency: Duration,
) -> TwilioMessages {
    let messages = TwilioMessages::default();
    let resource = format!("/2010-04-01/Accounts/{account_sid}/Messages.json");
    {
        let messages = messages.clone();
        let account_sid = account_sid.to_string();
        Mock::given(method("POST"))
            .and(path(resource.clone()))
            .respond_with(move |req: &Request| {
                let form: HashMap<String, String> =
                    form_urlencoded::parse(&req.body).into_owned().collect();
                let sid = format!("SM{}", uuid::Uuid::now_v7().simple());
                let now = chrono::Utc::now().to_rfc2822();
                let field = |name: &str| form.get(name).cloned().map_or(Value::Null, Value::from);
                let message = json!({
                    "sid": sid,
                    "account_sid": account_sid,
                    "messaging_service_sid": null,
                    "from": field("From"),
                    "to": field("To"),
                    "body": form.get("Body").cloned().unwrap_or_default(),
                    "status": "queued",
                    "direction": "outbound-api",
                    "num_media": if form.contains_key("MediaUrl") { "1" } else { "0" },
                    "num_segments": "1",
                    "error_code": null,
                    "error_message": null,
                    "price": null,
                    "price_unit": "USD",
                    "api_version": "2010-04-01",
                    "date_created": now,
                    "date_updated": now,
                    "date_sent": null,
                    "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"),
                    "subresource_uris": {
                        "media": format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json")
                    },
                });
                messages.push(Created {
                    form,
                    message: message.clone(),
                    at: Instant::now(),
                });
                ResponseTemplate::new(201)
                    .set_delay(latency)
                    .set_body_json(message)
            })
            .mount(server)
            .await;
    }
    {
        let messages = messages.clone();
        Mock::given(method("GET"))
            .and(path(resource.clone()))
            .respond_with(move |req: &Request| {
                ResponseTemplate::new(200)
                    .set_delay(latency)
                    .set_body_json(messages.page(req, &resource))
            })
            .mount(server)
            .await;
    }
    messages
}
