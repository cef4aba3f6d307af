//! Outbound WhatsApp messages through Twilio's REST API (`Messages.json`).
//!
//! One attempt per call and a classified error: the job layer owns retries and records the
//! returned message SID, so a redelivered job can tell a sent reply from an unsent one. Twilio's
//! error JSON is turned into `"<code>: <message>"` so the stored error names the Twilio error code
//! (e.g. 21211, 21610, 63016) that explains it.

use serde::{Deserialize, Serialize};

use crate::clients::external::{ExternalError, Service};
use crate::config::{ExposeSecret, SecretString};

/// How much of an unparseable error body is kept in the error message.
const MAX_ERROR_BODY_CHARS: usize = 512;

/// Sends messages from one Twilio sender (`From`) with one account's credentials.
#[derive(Clone, Debug)]
pub struct TwilioClient {
    api_base: String,
    account_sid: String,
    auth_token: SecretString,
    from: String,
    http: reqwest::Client,
}

/// One message to send. At least one of `body`, `media_url` or `content_sid` must be set.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboundMessage<'a> {
    /// Recipient channel address, e.g. `whatsapp:+14155550123`.
    pub to: &'a str,
    /// Text, up to 1,600 characters (split longer replies before calling).
    pub body: Option<&'a str>,
    /// A public URL Twilio fetches; WhatsApp delivers one attachment per message.
    pub media_url: Option<&'a str>,
    /// Where Twilio posts delivery status updates for this message.
    pub status_callback: Option<&'a str>,
    /// An approved template (`HX…`), required outside WhatsApp's 24-hour session window.
    pub content_sid: Option<&'a str>,
    /// The template's variables as a JSON object string, e.g. `{"1":"Ada"}`.
    pub content_variables: Option<&'a str>,
}

/// What Twilio answered for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The message SID (`SM…`/`MM…`); status callbacks refer to it.
    pub sid: String,
    /// Initial status, usually `queued` (or `accepted` via a Messaging Service).
    #[serde(default)]
    pub status: String,
}

/// Twilio's error body: legacy `{code, message, more_info, status}` or RFC 9457
/// `{type, title, status, code, detail}`; every field optional.
#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
    detail: Option<String>,
    title: Option<String>,
}

impl TwilioClient {
    /// `api_base` is e.g. `https://api.twilio.com` (a trailing `/` is ignored); `from` is our
    /// sender, e.g. `whatsapp:+14155238886`. Timeouts are those configured on `http`.
    pub fn new(
        api_base: &str,
        account_sid: &str,
        auth_token: &str,
        from: &str,
        http: reqwest::Client,
    ) -> Self {
        TwilioClient {
            api_base: api_base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.into(),
            from: from.to_string(),
            http,
        }
    }

    /// Our sender address (`From`).
    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// The account this client sends for.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_base, self.account_sid)
    }

    /// Creates the message (one `POST`, no retries).
    ///
    /// Errors: transport failures and 408/425/429/5xx are transient (with `Retry-After` when
    /// given); other statuses are permanent with Twilio's `"<code>: <message>"`. A 2xx whose body
    /// cannot be read or parsed is reported as permanent, because Twilio has already accepted the
    /// message and a retry would send it twice.
    pub async fn send_message(
        &self,
        msg: &OutboundMessage<'_>,
    ) -> Result<SentMessage, ExternalError> {
        crate::monitoring::observed(Service::Twilio, async {
            if msg.body.is_none() && msg.media_url.is_none() && msg.content_sid.is_none() {
                return Err(ExternalError::Permanent {
                    service: Service::Twilio,
                    status: 0,
                    message:
                        "nothing to send: a message needs a body, a media URL or a content SID"
                            .to_string(),
                });
            }

            let mut form: Vec<(&str, &str)> = vec![("To", msg.to), ("From", &self.from)];
            let optional = [
                ("Body", msg.body),
                ("MediaUrl", msg.media_url),
                ("StatusCallback", msg.status_callback),
                ("ContentSid", msg.content_sid),
                ("ContentVariables", msg.content_variables),
            ];
            form.extend(optional.into_iter().filter_map(|(name, value)| value.map(|v| (name, v))));

            let response = self
                .http
                .post(self.messages_url())
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
                .send()
                .await
                .map_err(|err| ExternalError::from_reqwest(Service::Twilio, err))?;

            let status = response.status();
            if status.is_success() {
                return parse_sent(status.as_u16(), response).await;
            }
            Err(error_from_response(response).await)
        })
        .await
    }
}

impl TwilioClient {
    /// The most recent messages (newest first, one page of up to `page_size`) from our sender
    /// to `to` (`GET Messages.json?To=&From=&PageSize=`). Used to find out whether a send that
    /// was interrupted before its SID was recorded actually reached Twilio.
    pub async fn recent_messages_to(
        &self,
        to: &str,
        page_size: u32,
    ) -> Result<Vec<ListedMessage>, ExternalError> {
        crate::monitoring::observed(Service::Twilio, async {
            let page_size = page_size.clamp(1, 1000).to_string();
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("To", to)
                .append_pair("From", &self.from)
                .append_pair("PageSize", &page_size)
                .finish();
            let response = self
                .http
                .get(format!("{}?{query}", self.messages_url()))
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|err| ExternalError::from_reqwest(Service::Twilio, err))?;
            let status = response.status();
            if !status.is_success() {
                return Err(error_from_response(response).await);
            }
            let page: MessagePage = response.json().await.map_err(|err| {
                ExternalError::from_status(
                    Service::Twilio,
                    status.as_u16(),
                    format!("the message list could not be read: {err}"),
                    None,
                )
            })?;
            Ok(page.messages)
        })
        .await
    }
}

/// One page of Twilio's message list (`{"messages": [...], "page", "page_size", …}`).
#[derive(Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<ListedMessage>,
}

/// The fields of a listed message that tell whether it is one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedMessage {
    pub sid: String,
    pub to: Option<String>,
    pub body: Option<String>,
    /// RFC 2822, e.g. `Thu, 21 Nov 2026 09:14:03 +0000`.
    pub date_created: Option<String>,
}

impl ListedMessage {
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let raw = self.date_created.as_deref()?;
        chrono::DateTime::parse_from_rfc2822(raw).ok().map(|t| t.with_timezone(&chrono::Utc))
    }
}

async fn parse_sent(
    status: u16,
    response: reqwest::Response,
) -> Result<SentMessage, ExternalError> {
    let accepted_but = |what: String| ExternalError::Permanent {
        service: Service::Twilio,
        status,
        message: format!("message accepted (HTTP {status}) but {what}"),
    };
    let body = response
        .bytes()
        .await
        .map_err(|err| accepted_but(format!("the response could not be read: {err}")))?;
    let sent: SentMessage = serde_json::from_slice(&body)
        .map_err(|err| accepted_but(format!("the response is not a message: {err}")))?;
    if sent.sid.is_empty() {
        return Err(accepted_but("the response has no message sid".to_string()));
    }
    tracing::debug!(sid = %sent.sid, status = %sent.status, "twilio message created");
    Ok(sent)
}

async fn error_from_response(response: reqwest::Response) -> ExternalError {
    let status = response.status().as_u16();
    let retry_after = crate::clients::external::retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    ExternalError::from_status(Service::Twilio, status, error_message(&body), retry_after)
}

/// `"<code>: <message>"` from Twilio's error JSON, else the start of the body.
fn error_message(body: &str) -> String {
    if let Ok(error) = serde_json::from_str::<TwilioErrorBody>(body) {
        let code = match error.code {
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let text = [error.message, error.detail, error.title]
            .into_iter()
            .flatten()
            .find(|t| !t.trim().is_empty());
        match (code, text) {
            (Some(code), Some(text)) => return format!("{code}: {text}"),
            (Some(code), None) => return format!("Twilio error {code}"),
            (None, Some(text)) => return text,
            (None, None) => {}
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "empty response body".to_string();
    }
    trimmed.chars().take(MAX_ERROR_BODY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "s3cr3t-token";
    const FROM: &str = "whatsapp:+14155238886";
    const TO: &str = "whatsapp:+14155550123";
    const MESSAGES_PATH: &str =
        "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

    fn client(server: &MockServer) -> TwilioClient {
        // A trailing slash on the base must not produce `//2010-04-01`.
        TwilioClient::new(&format!("{}/", server.uri()), SID, TOKEN, FROM, reqwest::Client::new())
    }

    fn basic_auth() -> String {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
        format!("Basic {credentials}")
    }

    fn text(body: &str) -> OutboundMessage<'_> {
        OutboundMessage { to: TO, body: Some(body), ..OutboundMessage::default() }
    }

    fn created() -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM0123456789abcdef0123456789abcdef",
            "account_sid": SID,
            "status": "queued",
            "to": TO,
            "from": FROM,
            "body": "hi",
            "num_media": "0",
            "error_code": null,
        }))
    }

    async fn mock(server: &MockServer, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .and(header("authorization", basic_auth().as_str()))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(response)
            .expect(1)
            .mount(server)
            .await;
    }

    /// The error sending "hi" comes to when Twilio answers `response` (asked exactly once).
    async fn send_hi_answered(response: ResponseTemplate) -> ExternalError {
        let server = MockServer::start().await;
        mock(&server, response).await;
        client(&server).send_message(&text("hi")).await.expect_err("an error")
    }

    async fn sent_form(server: &MockServer) -> Vec<(String, String)> {
        let requests = server.received_requests().await.expect("recording on");
        assert_eq!(requests.len(), 1);
        form_urlencoded::parse(&requests[0].body).into_owned().collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn lists_recent_messages_to_a_recipient() {
        let server = MockServer::start().await;
        // Twilio's page shape (api.v2010.account.message list), trimmed to two messages.
        let page = serde_json::json!({
            "end": 1, "first_page_uri": "/2010-04-01/Accounts/AC…/Messages.json?To=…&PageSize=50&Page=0",
            "next_page_uri": null, "page": 0, "page_size": 50, "previous_page_uri": null,
            "start": 0, "uri": "/2010-04-01/Accounts/AC…/Messages.json?To=…&PageSize=50&Page=0",
            "messages": [
                {"sid": "SMbbbb", "to": "whatsapp:+14155550123", "from": FROM,
                 "body": "Saved ✅", "status": "delivered", "direction": "outbound-api",
                 "date_created": "Sat, 21 Nov 2026 09:14:03 +0000", "date_sent": "Sat, 21 Nov 2026 09:14:04 +0000",
                 "num_media": "0", "num_segments": "1", "error_code": null, "price": null},
                {"sid": "SMaaaa", "to": "whatsapp:+14155550123", "from": FROM,
                 "body": null, "status": "queued", "direction": "outbound-api",
                 "date_created": "Sat, 21 Nov 2026 09:13:59 +0000", "date_sent": null}
            ]
        });
        Mock::given(method("GET"))
            .and(path(MESSAGES_PATH))
            .and(wiremock::matchers::query_param("To", "whatsapp:+14155550123"))
            .and(wiremock::matchers::query_param("From", FROM))
            .and(wiremock::matchers::query_param("PageSize", "50"))
            .and(header("authorization", basic_auth().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .expect(1)
            .mount(&server)
            .await;

        let listed =
            client(&server).recent_messages_to("whatsapp:+14155550123", 50).await.expect("listed");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].sid, "SMbbbb");
        assert_eq!(listed[0].body.as_deref(), Some("Saved ✅"));
        assert_eq!(
            listed[0].created_at().map(|t| t.to_rfc3339()),
            Some("2026-11-21T09:14:03+00:00".to_string())
        );
        assert_eq!(listed[1].body, None);
    }

    #[tokio::test]
    async fn an_unavailable_list_is_an_error_not_an_empty_list() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
                "code": 20404, "message": "The requested resource was not found", "status": 404
            })))
            .mount(&server)
            .await;
        let err =
            client(&server).recent_messages_to("whatsapp:+14155550123", 50).await.expect_err("404");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("20404"), "{err}");
    }

    #[tokio::test]
    async fn sends_a_text_message() {
        let server = MockServer::start().await;
        mock(&server, created()).await;

        let sent = client(&server)
            .send_message(&text("Kept it: *pasta on Friday* & more ✓"))
            .await
            .expect("sent");
        assert_eq!(
            sent,
            SentMessage {
                sid: "SM0123456789abcdef0123456789abcdef".into(),
                status: "queued".into()
            }
        );
        assert_eq!(
            sent_form(&server).await,
            pairs(&[("To", TO), ("From", FROM), ("Body", "Kept it: *pasta on Friday* & more ✓")])
        );
    }

    #[tokio::test]
    async fn sends_every_optional_field() {
        let server = MockServer::start().await;
        mock(
            &server,
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "sid": "MM1", "status": "accepted"
            })),
        )
        .await;

        let msg = OutboundMessage {
            to: TO,
            body: Some("Your photo"),
            media_url: Some("https://mnemo.example.com/media/abc?sig=1&x=2"),
            status_callback: Some("https://mnemo.example.com/webhook/status"),
            content_sid: Some("HX0123"),
            content_variables: Some(r#"{"1":"Ada"}"#),
        };
        let sent = client(&server).send_message(&msg).await.expect("sent");
        assert_eq!(sent.sid, "MM1");
        assert_eq!(sent.status, "accepted");
        assert_eq!(
            sent_form(&server).await,
            pairs(&[
                ("To", TO),
                ("From", FROM),
                ("Body", "Your photo"),
                ("MediaUrl", "https://mnemo.example.com/media/abc?sig=1&x=2"),
                ("StatusCallback", "https://mnemo.example.com/webhook/status"),
                ("ContentSid", "HX0123"),
                ("ContentVariables", r#"{"1":"Ada"}"#),
            ])
        );
    }

    #[tokio::test]
    async fn template_only_message_omits_body() {
        let server = MockServer::start().await;
        mock(&server, created()).await;
        let msg =
            OutboundMessage { to: TO, content_sid: Some("HX0123"), ..OutboundMessage::default() };
        client(&server).send_message(&msg).await.expect("sent");
        assert_eq!(
            sent_form(&server).await,
            pairs(&[("To", TO), ("From", FROM), ("ContentSid", "HX0123")])
        );
    }

    #[tokio::test]
    async fn empty_message_is_refused_without_a_request() {
        let server = MockServer::start().await;
        let msg = OutboundMessage { to: TO, ..OutboundMessage::default() };
        let err = client(&server).send_message(&msg).await.expect_err("refused");
        assert!(!err.is_transient());
        assert!(server.received_requests().await.expect("recording on").is_empty());
    }

    #[tokio::test]
    async fn twilio_400_is_permanent_with_code() {
        let err = send_hi_answered(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211,
            "message": "The 'To' number whatsapp:+1 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400
        })))
        .await;
        match &err {
            ExternalError::Permanent { service, status, message } => {
                assert_eq!(*service, Service::Twilio);
                assert_eq!(*status, 400);
                assert_eq!(
                    message,
                    "21211: The 'To' number whatsapp:+1 is not a valid phone number."
                );
            }
            other => panic!("expected permanent, got {other:?}"),
        }
        assert_eq!(err.retry_after(), None);
        assert!(err.to_string().contains("21211"), "{err}");
    }

    #[tokio::test]
    async fn auth_failure_is_permanent() {
        let err = send_hi_answered(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": 20003, "message": "Authenticate", "status": 401
        })))
        .await;
        assert!(!err.is_transient());
        assert!(err.to_string().contains("20003: Authenticate"), "{err}");
    }

    #[tokio::test]
    async fn rate_limit_is_transient_with_retry_after() {
        let err = send_hi_answered(
            ResponseTemplate::new(429).insert_header("Retry-After", "7").set_body_json(
                serde_json::json!({
                    "code": 20429, "message": "Too Many Requests", "status": 429
                }),
            ),
        )
        .await;
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
        assert!(err.to_string().contains("20429: Too Many Requests"), "{err}");
    }

    #[tokio::test]
    async fn unavailable_is_transient() {
        let err = send_hi_answered(
            ResponseTemplate::new(503).set_body_string("<html>upstream down</html>"),
        )
        .await;
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), None);
        assert!(err.to_string().contains("upstream down"), "{err}");
    }

    #[tokio::test]
    async fn connection_failure_is_transient() {
        // A port nobody listens on (wiremock's pooled servers keep answering after a drop).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let client = TwilioClient::new(&base, SID, TOKEN, FROM, reqwest::Client::new());
        let err = client.send_message(&text("hi")).await.expect_err("refused");
        assert!(err.is_transient(), "{err:?}");
    }

    #[tokio::test]
    async fn unparseable_success_is_permanent() {
        let err = send_hi_answered(ResponseTemplate::new(201).set_body_string("not json")).await;
        assert!(!err.is_transient());
        assert!(err.to_string().contains("accepted (HTTP 201)"), "{err}");
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            error_message(
                r#"{"code":"21610","message":"Attempt to send to unsubscribed recipient"}"#
            ),
            "21610: Attempt to send to unsubscribed recipient"
        );
        assert_eq!(
            error_message(
                r#"{"type":"https://www.twilio.com/docs/errors/20001","title":"Bad request","status":400,"code":20001,"detail":"Missing To"}"#
            ),
            "20001: Missing To"
        );
        assert_eq!(error_message(r#"{"code":30007}"#), "Twilio error 30007");
        assert_eq!(error_message(r#"{"message":"nope"}"#), "nope");
        assert_eq!(error_message(""), "empty response body");
        assert_eq!(error_message(&"x".repeat(2000)).len(), MAX_ERROR_BODY_CHARS);
        assert_eq!(error_message(r#"{"unrelated":true}"#), r#"{"unrelated":true}"#);
    }

    #[test]
    fn debug_redacts_the_token() {
        let client =
            TwilioClient::new("https://api.twilio.com", SID, TOKEN, FROM, reqwest::Client::new());
        let debug = format!("{client:?}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("auth_token: SecretBox<str>([REDACTED])"), "{debug}");
    }
}
