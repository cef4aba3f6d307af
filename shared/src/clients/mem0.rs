//! Client for the Mem0 platform API (v3), used for semantic recall only: our database stays the
//! source of truth for memories, times and listings (DESIGN §1).
//!
//! Why it is shaped like this:
//! - **v3 endpoints.** The v1/v2 add, search and list endpoints are deprecated; v3 wants the entity id
//!   (`user_id`) *inside* `filters` for search and list, and a top-level `user_id` there is a 400.
//!   Single-memory delete and the event endpoint stay on v1, as Mem0 documents them.
//! - **Adds are asynchronous.** `POST /v3/memories/add/` with `infer=true` answers
//!   `{event_id, status: "PENDING"}`: nothing is stored yet. [`Mem0Client::add`] returns an
//!   [`AddOutcome`] saying so, and [`Mem0Client::wait_event`] polls `/v1/event/{id}/` until the event
//!   ends. A `SUCCEEDED` event with no results is a success: Mem0 dropped the input as a
//!   near-duplicate of something it already holds.
//! - **Every add is keyed by its interaction.** The add carries `metadata.interaction_id`, so a job
//!   retried after a lost response or a poll timeout first calls
//!   [`Mem0Client::find_by_interaction`] and adopts what the earlier attempt stored instead of adding
//!   twice (DESIGN §7, exactly-once effects).
//! - **No retries here** apart from the event polling: every failure is returned as an
//!   [`ExternalError`] classified transient or permanent, and the job layer decides.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clients::external::{ExternalError, Service};
use crate::config::{ExposeSecret, SecretString};

/// Default pause between two polls of an add event.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Default time to wait for an add event to finish before giving up (transiently).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(60);

/// Mem0 returns at most this many memories per list page (the v3 maximum is 200; 100 is the default).
const LIST_PAGE_SIZE: u32 = 100;
/// Longest error message kept from a response body.
const MAX_MESSAGE_CHARS: usize = 512;

/// One memory as Mem0 stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mem0Memory {
    pub id: String,
    pub memory: String,
}

/// One search result, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mem0Hit {
    pub id: String,
    pub memory: String,
    /// Mem0's combined relevance score (0–1).
    pub score: f64,
    /// The metadata stored with the memory (`interaction_id`, `kind`, `occurred_at`, …); `null` when absent.
    pub metadata: Value,
    pub created_at: Option<String>,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Queued: call [`Mem0Client::wait_event`] with this id to learn the memories.
    Pending { event_id: String },
    /// Stored synchronously (`infer=false`); may be empty.
    Done { memories: Vec<Mem0Memory> },
}

/// One thing to remember for one user, from one interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AddRequest {
    /// Mem0 entity id; we use our user id.
    pub user_id: String,
    /// The text (a note, a voice note's transcript, a photo's caption). May be empty when
    /// `image_data_url` is set.
    pub text: String,
    /// A `data:image/…;base64,…` URL sent as a multimodal message part (Mem0 cannot fetch
    /// Twilio's authenticated media URLs). Requires `infer = true`: Mem0 rejects structured
    /// content with `infer=false`.
    pub image_data_url: Option<String>,
    /// Our interaction id: the idempotency key, stored as `metadata.interaction_id`.
    pub interaction_id: String,
    /// `text`, `image`, `audio`…, stored as `metadata.kind`.
    pub kind: String,
    /// When the user sent it; stored as `metadata.occurred_at` (RFC 3339) and sent as `timestamp`
    /// (Unix seconds) so Mem0's `created_at` is backdated to it.
    pub occurred_at: DateTime<Utc>,
    /// More metadata keys (labels, …). The three keys above win over any of the same name.
    pub extra_metadata: Map<String, Value>,
    /// Let Mem0 extract facts (default `true`); `false` stores the text verbatim and synchronously.
    pub infer: bool,
}

impl AddRequest {
    pub fn new(
        user_id: impl Into<String>,
        interaction_id: impl Into<String>,
        kind: impl Into<String>,
        text: impl Into<String>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        AddRequest {
            user_id: user_id.into(),
            text: text.into(),
            image_data_url: None,
            interaction_id: interaction_id.into(),
            kind: kind.into(),
            occurred_at,
            extra_metadata: Map::new(),
            infer: true,
        }
    }

    pub fn with_image(mut self, data_url: impl Into<String>) -> Self {
        self.image_data_url = Some(data_url.into());
        self
    }

    pub fn with_infer(mut self, infer: bool) -> Self {
        self.infer = infer;
        self
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra_metadata.insert(key.into(), value);
        self
    }

    /// The `metadata` object sent to Mem0.
    pub fn metadata(&self) -> Value {
        let mut map = self.extra_metadata.clone();
        map.insert("interaction_id".into(), json!(self.interaction_id));
        map.insert("kind".into(), json!(self.kind));
        map.insert("occurred_at".into(), json!(rfc3339(self.occurred_at)));
        Value::Object(map)
    }

    /// The `messages` array: the text as a plain user message, then the image as a content part.
    fn messages(&self) -> Vec<Value> {
        let mut messages = Vec::with_capacity(2);
        if !self.text.trim().is_empty() {
            messages.push(json!({"role": "user", "content": self.text}));
        }
        if let Some(url) = &self.image_data_url {
            messages.push(json!({
                "role": "user",
                "content": {"type": "image_url", "image_url": {"url": url}},
            }));
        }
        messages
    }
}

/// Mem0 platform client. Cheap to clone (the HTTP client is shared).
#[derive(Clone, Debug)]
pub struct Mem0Client {
    base: String,
    api_key: SecretString,
    http: reqwest::Client,
    poll_interval: Duration,
    poll_timeout: Duration,
}

impl Mem0Client {
    /// `api_base` such as `https://api.mem0.ai` (a trailing slash is ignored).
    pub fn new(api_base: &str, api_key: &str, http: reqwest::Client) -> Self {
        Mem0Client {
            base: api_base.trim_end_matches('/').to_string(),
            api_key: api_key.into(),
            http,
            poll_interval: DEFAULT_POLL_INTERVAL,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
        }
    }

    /// How often and how long [`Mem0Client::wait_event`] polls.
    pub fn with_polling(mut self, interval: Duration, timeout: Duration) -> Self {
        self.poll_interval = interval;
        self.poll_timeout = timeout;
        self
    }

    /// `POST /v3/memories/add/`.
    pub async fn add(&self, req: &AddRequest) -> Result<AddOutcome, ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let messages = req.messages();
            if messages.is_empty() {
                return Err(permanent(0, "nothing to add: empty text and no image".into()));
            }
            let body = json!({
                "messages": messages,
                "user_id": req.user_id,
                "metadata": req.metadata(),
                "timestamp": req.occurred_at.timestamp(),
                "infer": req.infer,
            });
            let rb = self.request(Method::POST, "/v3/memories/add/")?.json(&body);
            let (status, value) = self.call_json(rb).await?;
            let outcome = parse_add_response(status, value)?;
            match &outcome {
                AddOutcome::Pending { event_id } => {
                    tracing::debug!(interaction_id = %req.interaction_id, %event_id, "mem0 add queued");
                }
                AddOutcome::Done { memories } => {
                    tracing::debug!(interaction_id = %req.interaction_id, count = memories.len(), "mem0 add stored");
                }
            }
            Ok(outcome)
        })
        .await
    }

    /// Polls `GET /v1/event/{event_id}/` (now, then every poll interval) until the event ends.
    ///
    /// `SUCCEEDED` → the memories it added (possibly none: a near-duplicate was dropped).
    /// `FAILED` → permanent error carrying the event's `error`. Still pending at the timeout →
    /// transient error (the job retries; [`Mem0Client::find_by_interaction`] then finds the memories
    /// if the event finished meanwhile). Transient HTTP errors while polling are waited out until
    /// the timeout; permanent ones (e.g. 404 unknown event) end the wait at once.
    pub async fn wait_event(&self, event_id: &str) -> Result<Vec<Mem0Memory>, ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let path = format!("/v1/event/{}/", encode_segment(event_id));
            let deadline = tokio::time::Instant::now() + self.poll_timeout;
            loop {
                let (last_seen, pause) = match self.get_event(&path).await {
                    Ok((status, event)) => match event.status.to_ascii_uppercase().as_str() {
                        "SUCCEEDED" => {
                            let memories = memories_from_results(event.results);
                            tracing::debug!(%event_id, count = memories.len(), "mem0 event succeeded");
                            return Ok(memories);
                        }
                        "FAILED" => {
                            let message = event
                                .error
                                .as_ref()
                                .and_then(readable)
                                .unwrap_or_else(|| "no error given".to_string());
                            return Err(permanent(
                                status,
                                format!("add event {event_id} failed: {message}"),
                            ));
                        }
                        // PENDING, RUNNING, or a state we do not know yet: keep waiting.
                        other => (format!("status {other}"), self.poll_interval),
                    },
                    Err(e) if e.is_transient() => {
                        let pause = e
                            .retry_after()
                            .map_or(self.poll_interval, |after| after.max(self.poll_interval));
                        (e.to_string(), pause)
                    }
                    Err(e) => return Err(e),
                };
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(ExternalError::Transient {
                        service: Service::Mem0,
                        message: format!(
                            "add event {event_id} not finished after {:?} ({last_seen})",
                            self.poll_timeout
                        ),
                        retry_after: None,
                        status: None,
                    });
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
            }
        })
        .await
    }

    /// The memories an earlier add for this interaction stored (`POST /v3/memories/`, first page of
    /// 100, filtered by user and `metadata.interaction_id`).
    pub async fn find_by_interaction(
        &self,
        user_id: &str,
        interaction_id: &str,
    ) -> Result<Vec<Mem0Memory>, ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let body = json!({
                "filters": {"AND": [
                    {"user_id": user_id},
                    {"metadata": {"interaction_id": interaction_id}},
                ]},
            });
            let path = format!("/v3/memories/?page=1&page_size={LIST_PAGE_SIZE}");
            let rb = self.request(Method::POST, &path)?.json(&body);
            let (_, value) = self.call_json(rb).await?;
            Ok(memories_from_results(results_of(value)))
        })
        .await
    }

    /// Semantic search over one user's memories (`POST /v3/memories/search/`), optionally limited to
    /// memories created (i.e. occurred, since adds are backdated) in the half-open `[start, end)`.
    /// `top_k` is clamped to Mem0's 1–1000.
    pub async fn search(
        &self,
        user_id: &str,
        query: &str,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
        top_k: u32,
    ) -> Result<Vec<Mem0Hit>, ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let mut clauses = vec![json!({"user_id": user_id})];
            if let Some((start, end)) = range {
                clauses.push(json!({"created_at": {"gte": rfc3339(start), "lt": rfc3339(end)}}));
            }
            let body = json!({
                "query": query,
                "top_k": top_k.clamp(1, 1000),
                "filters": {"AND": clauses},
            });
            let rb = self.request(Method::POST, "/v3/memories/search/")?.json(&body);
            let (_, value) = self.call_json(rb).await?;
            Ok(results_of(value).into_iter().filter_map(hit_from).collect())
        })
        .await
    }

    /// `DELETE /v1/memories/{memory_id}/`; a memory already gone (404) counts as deleted.
    pub async fn delete(&self, memory_id: &str) -> Result<(), ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let path = format!("/v1/memories/{}/", encode_segment(memory_id));
            let resp = self.send(self.request(Method::DELETE, &path)?).await?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            if status == StatusCode::NOT_FOUND {
                tracing::debug!(%memory_id, "mem0 memory already deleted");
                return Ok(());
            }
            Err(error_from_response(resp).await)
        })
        .await
    }

    /// `PUT /v1/memories/{memory_id}/` with the new `text` (a correction); false when Mem0 no
    /// longer has the memory (404), so the caller can add it afresh.
    pub async fn update(&self, memory_id: &str, text: &str) -> Result<bool, ExternalError> {
        crate::monitoring::observed(Service::Mem0, async {
            let path = format!("/v1/memories/{}/", encode_segment(memory_id));
            let rb = self.request(Method::PUT, &path)?.json(&json!({"text": text}));
            let resp = self.send(rb).await?;
            let status = resp.status();
            if status.is_success() {
                return Ok(true);
            }
            if status == StatusCode::NOT_FOUND {
                tracing::debug!(%memory_id, "mem0 memory to update is gone");
                return Ok(false);
            }
            Err(error_from_response(resp).await)
        })
        .await
    }

    async fn get_event(&self, path: &str) -> Result<(u16, Event), ExternalError> {
        let (status, value) = self.call_json(self.request(Method::GET, path)?).await?;
        Ok((status, parse_event(status, value)?))
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ExternalError> {
        let mut auth = HeaderValue::from_str(&format!("Token {}", self.api_key.expose_secret()))
            .map_err(|_| {
                permanent(0, "the Mem0 API key contains characters not allowed in a header".into())
            })?;
        auth.set_sensitive(true);
        Ok(self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json"))
    }

    async fn send(&self, rb: RequestBuilder) -> Result<Response, ExternalError> {
        rb.send().await.map_err(|e| ExternalError::from_reqwest(Service::Mem0, e))
    }

    /// Sends, turns a non-2xx into an error and reads a 2xx body as JSON.
    async fn call_json(&self, rb: RequestBuilder) -> Result<(u16, Value), ExternalError> {
        let resp = self.send(rb).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(error_from_response(resp).await);
        }
        let text = resp.text().await.map_err(|e| ExternalError::from_reqwest(Service::Mem0, e))?;
        let value = serde_json::from_str(&text).map_err(|e| {
            permanent(
                status.as_u16(),
                format!("unreadable response ({e}): {}", truncate(&text, 200)),
            )
        })?;
        Ok((status.as_u16(), value))
    }
}

fn permanent(status: u16, message: String) -> ExternalError {
    ExternalError::Permanent { service: Service::Mem0, status, message }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One path segment, percent-encoded.
fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Like [`ExternalError::from_response`], but with a readable message from Mem0's error bodies.
async fn error_from_response(resp: Response) -> ExternalError {
    let status = resp.status().as_u16();
    let retry_after = crate::clients::external::retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    ExternalError::from_status(Service::Mem0, status, error_message(&body), retry_after)
}

/// The message of a Mem0 error body: `{"error"}`, `{"error","details"}`, `{"message"}` or
/// `{"detail"}` (a string or FastAPI's list of `{msg}`); otherwise the body itself.
fn error_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "empty response body".to_string();
    }
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) {
        let main =
            ["error", "message", "detail"].iter().find_map(|k| map.get(*k).and_then(readable));
        let details = map.get("details").and_then(readable);
        let message = match (main, details) {
            (Some(m), Some(d)) if m != d => Some(format!("{m}: {d}")),
            (Some(m), _) => Some(m),
            (None, d) => d,
        };
        if let Some(message) = message {
            return truncate(&message, MAX_MESSAGE_CHARS);
        }
    }
    truncate(body, MAX_MESSAGE_CHARS)
}

/// A human-readable string from an error-ish JSON value.
fn readable(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(readable).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(map) => {
            if map.is_empty() {
                return None;
            }
            ["message", "error", "detail", "msg"]
                .iter()
                .find_map(|k| map.get(*k).and_then(readable))
                .or_else(|| Some(value.to_string()))
        }
        other => Some(other.to_string()),
    }
}

/// The list in a response: `{"results": [...]}` (v3) or a bare array (older shapes).
fn results_of(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(items)) => items,
            Some(Value::Object(inner)) => results_of(Value::Object(inner)),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[derive(Deserialize)]
struct RawItem {
    id: Option<String>,
    memory: Option<String>,
    data: Option<RawData>,
    event: Option<String>,
}

#[derive(Deserialize)]
struct RawData {
    memory: Option<String>,
}

/// Memories from result items shaped `{id, data: {memory}, event}` or `{id, memory, event}`.
/// Items whose event says nothing was stored (`DELETE`, `NOOP`, `NONE`) are skipped.
fn memories_from_results(items: Vec<Value>) -> Vec<Mem0Memory> {
    items
        .into_iter()
        .filter_map(|item| {
            let Ok(RawItem { id: Some(id), memory, data, event }) =
                serde_json::from_value::<RawItem>(item)
            else {
                tracing::warn!("mem0 result item without a readable id skipped");
                return None;
            };
            if let Some(event) = &event
                && matches!(event.to_ascii_uppercase().as_str(), "DELETE" | "NOOP" | "NONE")
            {
                return None;
            }
            let memory = data.and_then(|d| d.memory).or(memory).unwrap_or_default();
            Some(Mem0Memory { id, memory })
        })
        .collect()
}

#[derive(Deserialize)]
struct RawHit {
    id: Option<String>,
    memory: Option<String>,
    score: Option<f64>,
    metadata: Option<Value>,
    created_at: Option<Value>,
}

fn hit_from(item: Value) -> Option<Mem0Hit> {
    let Ok(RawHit { id: Some(id), memory, score, metadata, created_at }) =
        serde_json::from_value::<RawHit>(item)
    else {
        tracing::warn!("mem0 search hit without a readable id skipped");
        return None;
    };
    Some(Mem0Hit {
        id,
        memory: memory.unwrap_or_default(),
        score: score.unwrap_or(0.0),
        metadata: metadata.unwrap_or(Value::Null),
        created_at: created_at.and_then(|v| v.as_str().map(str::to_string)),
    })
}

fn parse_add_response(status: u16, value: Value) -> Result<AddOutcome, ExternalError> {
    // A bare array is the v1 shape: a list of queued events or of stored results.
    let value = match value {
        Value::Array(mut items) => {
            let first_is_event = items.first().is_some_and(|i| i.get("event_id").is_some());
            if first_is_event { items.swap_remove(0) } else { json!({"results": items}) }
        }
        other => other,
    };
    let Value::Object(map) = value else {
        return Err(permanent(status, format!("unexpected add response: {value}")));
    };
    if map.get("results").is_some_and(Value::is_array) {
        return Ok(AddOutcome::Done {
            memories: memories_from_results(results_of(Value::Object(map))),
        });
    }
    let state = map.get("status").and_then(Value::as_str).unwrap_or_default();
    if state.eq_ignore_ascii_case("FAILED") {
        let message = map
            .get("error")
            .or_else(|| map.get("message"))
            .and_then(readable)
            .unwrap_or_else(|| "no error given".to_string());
        return Err(permanent(status, format!("add failed: {message}")));
    }
    if let Some(event_id) = map.get("event_id").and_then(Value::as_str) {
        return Ok(AddOutcome::Pending { event_id: event_id.to_string() });
    }
    Err(permanent(
        status,
        format!(
            "add response has neither event_id nor results: {}",
            truncate(&Value::Object(map).to_string(), 200)
        ),
    ))
}

struct Event {
    status: String,
    results: Vec<Value>,
    error: Option<Value>,
}

fn parse_event(status: u16, value: Value) -> Result<Event, ExternalError> {
    let Value::Object(mut map) = value else {
        return Err(permanent(status, format!("unexpected event response: {value}")));
    };
    let Some(state) = map.get("status").and_then(Value::as_str).map(str::to_string) else {
        return Err(permanent(status, "event response without a status".into()));
    };
    let results = map.remove("results").map(results_of).unwrap_or_default();
    Ok(Event { status: state, results, error: map.remove("error") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use wiremock::matchers::{body_partial_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const KEY: &str = "m0-test-key";

    fn client(server: &MockServer) -> Mem0Client {
        Mem0Client::new(&format!("{}/", server.uri()), KEY, reqwest::Client::new())
            .with_polling(Duration::from_millis(10), Duration::from_secs(5))
    }

    fn occurred() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 12, 9, 14, 0).unwrap()
    }

    fn note() -> AddRequest {
        AddRequest::new("user-1", "int-1", "text", "Dinner plan: lasagne on Friday", occurred())
    }

    fn authed(m: &'static str, p: &'static str) -> wiremock::MockBuilder {
        Mock::given(method(m))
            .and(path(p))
            .and(header("authorization", "Token m0-test-key"))
            .and(header("accept", "application/json"))
    }

    /// A stand-in answering `m p` (with our key) with `response`, as often as asked.
    async fn stand_in(m: &'static str, p: &'static str, response: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        authed(m, p).respond_with(response).mount(&server).await;
        server
    }

    /// [`stand_in`] that must be asked exactly once (checked when it is dropped).
    async fn stand_in_once(
        m: &'static str,
        p: &'static str,
        response: ResponseTemplate,
    ) -> MockServer {
        let server = MockServer::start().await;
        answer_once(&server, authed(m, p), response).await;
        server
    }

    /// Mounts `mock` (an [`authed`] request, maybe narrowed) on `server`, answering `response`
    /// to exactly one request (checked when the server is dropped).
    async fn answer_once(
        server: &MockServer,
        mock: wiremock::MockBuilder,
        response: ResponseTemplate,
    ) {
        mock.respond_with(response).expect(1).mount(server).await;
    }

    /// Mounts `mock` like [`answer_once`], but it answers only the first request: a later one
    /// falls through to the mocks mounted after it.
    async fn answer_first_once(
        server: &MockServer,
        mock: wiremock::MockBuilder,
        response: ResponseTemplate,
    ) {
        mock.respond_with(response).up_to_n_times(1).expect(1).mount(server).await;
    }

    /// A `status` answer with this JSON body.
    fn json_reply(status: u16, body: Value) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(body)
    }

    /// Mem0's answer about a memory id it does not (or no longer) know.
    fn memory_not_found() -> ResponseTemplate {
        json_reply(404, json!({"error": "Memory not found!"}))
    }

    /// The error adding [`note`] comes to when Mem0 answers `response`.
    async fn add_answered(response: ResponseTemplate) -> ExternalError {
        let server = stand_in("POST", "/v3/memories/add/", response).await;
        client(&server).add(&note()).await.unwrap_err()
    }

    async fn only_request_body(server: &MockServer) -> Value {
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests[0].body_json().unwrap()
    }

    /// The body the client sends to add `req` (Mem0 answers that it is pending).
    async fn body_sent_to_add(req: &AddRequest) -> Value {
        let server = stand_in(
            "POST",
            "/v3/memories/add/",
            json_reply(200, json!({"event_id": "e", "status": "PENDING"})),
        )
        .await;
        client(&server).add(req).await.unwrap();
        only_request_body(&server).await
    }

    #[tokio::test]
    async fn async_add_then_event_polling_until_succeeded() {
        let server = MockServer::start().await;
        answer_once(
            &server,
            authed("POST", "/v3/memories/add/")
                .and(header("content-type", "application/json"))
                .and(body_partial_json(json!({
                    "messages": [{"role": "user", "content": "Dinner plan: lasagne on Friday"}],
                    "user_id": "user-1",
                    "metadata": {
                        "interaction_id": "int-1",
                        "kind": "text",
                        "occurred_at": "2026-11-12T09:14:00Z",
                    },
                    "timestamp": 1794474840,
                    "infer": true,
                }))),
            json_reply(200, json!({"event_id": "ev-1", "status": "PENDING"})),
        )
        .await;
        answer_first_once(
            &server,
            authed("GET", "/v1/event/ev-1/"),
            json_reply(200, json!({"id": "ev-1", "status": "PENDING"})),
        )
        .await;
        answer_first_once(
            &server,
            authed("GET", "/v1/event/ev-1/"),
            json_reply(200, json!({"id": "ev-1", "status": "RUNNING", "results": null})),
        )
        .await;
        answer_once(
            &server,
            authed("GET", "/v1/event/ev-1/"),
            json_reply(200, json!({
                "id": "ev-1",
                "event_type": "ADD",
                "status": "SUCCEEDED",
                "results": [
                    {"id": "m-1", "data": {"memory": "Plans lasagne for Friday dinner"}, "event": "ADD"},
                    {"id": "m-2", "memory": "Cooks on Fridays", "event": "ADD"},
                ],
                "error": null,
            })),
        )
        .await;

        let c = client(&server);
        let outcome = c.add(&note()).await.unwrap();
        let AddOutcome::Pending { event_id } = outcome else {
            panic!("expected pending, got {outcome:?}");
        };
        assert_eq!(event_id, "ev-1");
        let memories = c.wait_event(&event_id).await.unwrap();
        assert_eq!(
            memories,
            vec![
                Mem0Memory { id: "m-1".into(), memory: "Plans lasagne for Friday dinner".into() },
                Mem0Memory { id: "m-2".into(), memory: "Cooks on Fridays".into() },
            ]
        );
    }

    #[tokio::test]
    async fn sync_add_returns_results() {
        let server = MockServer::start().await;
        answer_once(
            &server,
            authed("POST", "/v3/memories/add/").and(body_partial_json(json!({"infer": false}))),
            json_reply(200, json!({
                "message": "ok",
                "results": [
                    {"id": "m-9", "data": {"memory": "Dinner plan: lasagne on Friday"}, "event": "ADD"},
                    {"id": "m-old", "data": {"memory": "stale"}, "event": "DELETE"},
                ],
            })),
        )
        .await;
        let outcome = client(&server).add(&note().with_infer(false)).await.unwrap();
        assert_eq!(
            outcome,
            AddOutcome::Done {
                memories: vec![Mem0Memory {
                    id: "m-9".into(),
                    memory: "Dinner plan: lasagne on Friday".into()
                }]
            }
        );
    }

    #[tokio::test]
    async fn metadata_extras_are_kept_but_do_not_override_the_key() {
        let req = note()
            .with_metadata("labels", json!(["food"]))
            .with_metadata("interaction_id", json!("spoofed"));
        let body = body_sent_to_add(&req).await;
        assert_eq!(
            body["metadata"],
            json!({
                "labels": ["food"],
                "interaction_id": "int-1",
                "kind": "text",
                "occurred_at": "2026-11-12T09:14:00Z",
            })
        );
    }

    #[tokio::test]
    async fn image_is_sent_as_an_image_url_content_part() {
        let server = MockServer::start().await;
        let data_url = "data:image/jpeg;base64,/9j/4AAQSkZJRg==";
        answer_once(
            &server,
            authed("POST", "/v3/memories/add/").and(body_partial_json(json!({
                "messages": [
                    {"role": "user", "content": "my new haircut"},
                    {"role": "user", "content": {"type": "image_url", "image_url": {"url": data_url}}},
                ],
            }))),
            json_reply(200, json!({"event_id": "ev-i", "status": "PENDING"})),
        )
        .await;
        let req = AddRequest::new("user-1", "int-7", "image", "my new haircut", occurred())
            .with_image(data_url);
        let outcome = client(&server).add(&req).await.unwrap();
        assert_eq!(outcome, AddOutcome::Pending { event_id: "ev-i".into() });
        let body = only_request_body(&server).await;
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": "my new haircut"},
                {"role": "user", "content": {"type": "image_url", "image_url": {"url": data_url}}},
            ])
        );
        assert_eq!(body["metadata"]["kind"], "image");
    }

    #[tokio::test]
    async fn image_without_text_sends_only_the_image_part() {
        let req = AddRequest::new("u", "i", "image", "  ", occurred())
            .with_image("data:image/png;base64,AA==");
        let body = body_sent_to_add(&req).await;
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}}])
        );
    }

    #[tokio::test]
    async fn empty_add_is_refused_without_a_request() {
        let server = MockServer::start().await;
        let req = AddRequest::new("u", "i", "text", "", occurred());
        let err = client(&server).add(&req).await.unwrap_err();
        assert!(!err.is_transient());
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn succeeded_event_with_no_results_is_an_empty_success() {
        let server = stand_in_once(
            "GET",
            "/v1/event/ev-dup/",
            json_reply(200, json!({"id": "ev-dup", "status": "SUCCEEDED", "results": []})),
        )
        .await;
        let memories = client(&server).wait_event("ev-dup").await.unwrap();
        assert!(memories.is_empty());
    }

    #[tokio::test]
    async fn failed_event_is_permanent_with_its_error() {
        let server = stand_in_once(
            "GET",
            "/v1/event/ev-bad/",
            json_reply(
                200,
                json!({
                    "id": "ev-bad",
                    "status": "FAILED",
                    "results": [],
                    "error": "LLM extraction failed",
                }),
            ),
        )
        .await;
        let err = client(&server).wait_event("ev-bad").await.unwrap_err();
        match err {
            ExternalError::Permanent { service, message, .. } => {
                assert_eq!(service, Service::Mem0);
                assert!(message.contains("LLM extraction failed"), "{message}");
            }
            other => panic!("expected permanent, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn event_still_pending_at_the_timeout_is_transient() {
        let server = stand_in(
            "GET",
            "/v1/event/ev-slow/",
            json_reply(200, json!({"id": "ev-slow", "status": "PENDING"})),
        )
        .await;
        let c = Mem0Client::new(&server.uri(), KEY, reqwest::Client::new())
            .with_polling(Duration::from_millis(20), Duration::from_millis(120));
        let started = std::time::Instant::now();
        let err = c.wait_event("ev-slow").await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(err.is_transient(), "{err:?}");
        assert!(err.to_string().contains("ev-slow"), "{err}");
        assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        let polls = server.received_requests().await.unwrap().len();
        assert!(polls >= 2, "only {polls} polls");
    }

    #[tokio::test]
    async fn transient_errors_while_polling_are_waited_out() {
        let server = MockServer::start().await;
        answer_first_once(
            &server,
            authed("GET", "/v1/event/ev-flaky/"),
            ResponseTemplate::new(502).set_body_string("bad gateway"),
        )
        .await;
        answer_once(
            &server,
            authed("GET", "/v1/event/ev-flaky/"),
            json_reply(
                200,
                json!({
                    "status": "SUCCEEDED",
                    "results": [{"id": "m-3", "memory": "x", "event": "ADD"}],
                }),
            ),
        )
        .await;
        let memories = client(&server).wait_event("ev-flaky").await.unwrap();
        assert_eq!(memories.len(), 1);
    }

    #[tokio::test]
    async fn unknown_event_is_permanent_at_once() {
        let server = stand_in_once(
            "GET",
            "/v1/event/nope/",
            json_reply(
                404,
                json!({
                    "error": "Event not found or you don't have permission to access it."
                }),
            ),
        )
        .await;
        let err = client(&server).wait_event("nope").await.unwrap_err();
        match err {
            ExternalError::Permanent { status, message, .. } => {
                assert_eq!(status, 404);
                assert_eq!(message, "Event not found or you don't have permission to access it.");
            }
            other => panic!("expected permanent, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn find_by_interaction_filters_by_user_and_metadata() {
        let server = MockServer::start().await;
        let filters = json!({"AND": [
            {"user_id": "user-1"},
            {"metadata": {"interaction_id": "int-1"}},
        ]});
        answer_once(
            &server,
            authed("POST", "/v3/memories/")
                .and(query_param("page", "1"))
                .and(query_param("page_size", "100"))
                .and(body_partial_json(json!({"filters": filters}))),
            json_reply(
                200,
                json!({
                    "count": 1,
                    "next": null,
                    "previous": null,
                    "results": [{
                        "id": "m-1",
                        "memory": "Plans lasagne for Friday dinner",
                        "user_id": "user-1",
                        "metadata": {"interaction_id": "int-1", "kind": "text"},
                    }],
                }),
            ),
        )
        .await;
        let found = client(&server).find_by_interaction("user-1", "int-1").await.unwrap();
        assert_eq!(
            found,
            vec![Mem0Memory { id: "m-1".into(), memory: "Plans lasagne for Friday dinner".into() }]
        );
        assert_eq!(only_request_body(&server).await, json!({"filters": filters}));
    }

    #[tokio::test]
    async fn find_by_interaction_with_nothing_found() {
        let server = stand_in_once(
            "POST",
            "/v3/memories/",
            json_reply(
                200,
                json!({
                    "count": 0, "next": null, "previous": null, "results": [],
                }),
            ),
        )
        .await;
        let found = client(&server).find_by_interaction("u", "i").await.unwrap();
        assert!(found.is_empty());
    }

    #[tokio::test]
    async fn search_with_a_time_range() {
        let server = MockServer::start().await;
        answer_once(
            &server,
            authed("POST", "/v3/memories/search/")
                .and(body_partial_json(json!({"query": "dinner", "top_k": 5}))),
            json_reply(
                200,
                json!({
                    "results": [
                        {
                            "id": "m-1",
                            "memory": "Plans lasagne for Friday dinner",
                            "score": 0.82,
                            "score_breakdown": {"semantic": 0.7, "bm25": 0.1, "entity": 0.02},
                            "user_id": "user-1",
                            "metadata": {"interaction_id": "int-1", "kind": "text"},
                            "created_at": "2026-11-12T09:14:00Z",
                        },
                        {"id": "m-2", "memory": "Cooks on Fridays", "score": 0.4},
                    ],
                }),
            ),
        )
        .await;
        let start = Utc.with_ymd_and_hms(2026, 11, 9, 23, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 11, 16, 23, 0, 0).unwrap();
        let hits = client(&server).search("user-1", "dinner", Some((start, end)), 5).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].id, "m-1");
        assert_eq!(hits[0].memory, "Plans lasagne for Friday dinner");
        assert!((hits[0].score - 0.82).abs() < 1e-9);
        assert_eq!(hits[0].metadata["interaction_id"], "int-1");
        assert_eq!(hits[0].created_at.as_deref(), Some("2026-11-12T09:14:00Z"));
        assert_eq!(hits[1].metadata, Value::Null);
        assert_eq!(hits[1].created_at, None);
        assert_eq!(
            only_request_body(&server).await,
            json!({
                "query": "dinner",
                "top_k": 5,
                "filters": {"AND": [
                    {"user_id": "user-1"},
                    {"created_at": {"gte": "2026-11-09T23:00:00Z", "lt": "2026-11-16T23:00:00Z"}},
                ]},
            })
        );
    }

    #[tokio::test]
    async fn search_without_a_range_scopes_to_the_user_only() {
        let server =
            stand_in_once("POST", "/v3/memories/search/", json_reply(200, json!({"results": []})))
                .await;
        let hits = client(&server).search("user-1", "haircut", None, 10).await.unwrap();
        assert!(hits.is_empty());
        assert_eq!(
            only_request_body(&server).await,
            json!({
                "query": "haircut",
                "top_k": 10,
                "filters": {"AND": [{"user_id": "user-1"}]},
            })
        );
    }

    #[tokio::test]
    async fn delete_succeeds_and_404_counts_as_gone() {
        let server = stand_in_once(
            "DELETE",
            "/v1/memories/m-1/",
            json_reply(200, json!({"message": "Memory deleted successfully!"})),
        )
        .await;
        answer_once(&server, authed("DELETE", "/v1/memories/m-gone/"), memory_not_found()).await;
        answer_once(
            &server,
            authed("DELETE", "/v1/memories/not-a-uuid/"),
            json_reply(
                400,
                json!({
                    "error": "memory_id should be a valid UUID"
                }),
            ),
        )
        .await;
        let c = client(&server);
        c.delete("m-1").await.unwrap();
        c.delete("m-gone").await.unwrap();
        let err = c.delete("not-a-uuid").await.unwrap_err();
        assert!(!err.is_transient());
        assert!(err.to_string().contains("memory_id should be a valid UUID"), "{err}");
    }

    #[tokio::test]
    async fn service_unavailable_is_transient_with_retry_after() {
        let server = stand_in(
            "POST",
            "/v3/memories/search/",
            ResponseTemplate::new(503)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"detail": "Service temporarily unavailable"})),
        )
        .await;
        let err = client(&server).search("u", "q", None, 10).await.unwrap_err();
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.to_string().contains("Service temporarily unavailable"), "{err}");
    }

    #[tokio::test]
    async fn rate_limit_is_transient() {
        let err = add_answered(json_reply(429, json!({"detail": "Rate limit exceeded"}))).await;
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn client_errors_are_permanent_with_a_readable_message() {
        let cases = [
            (
                400,
                json!({"error": "Filters are required and cannot be empty."}),
                "Filters are required and cannot be empty.",
            ),
            (
                400,
                json!({"error": "400 Bad Request", "details": {"message": "Invalid input data. messages is required"}}),
                "400 Bad Request: Invalid input data. messages is required",
            ),
            (
                400,
                json!({"message": "One of the filters: app_id, user_id, agent_id, run_id is required!"}),
                "One of the filters: app_id, user_id, agent_id, run_id is required!",
            ),
            (
                401,
                json!({"detail": "Invalid API key. Please check your key."}),
                "Invalid API key. Please check your key.",
            ),
            (
                422,
                json!({"detail": [{"loc": ["body", "query"], "msg": "field required", "type": "missing"}]}),
                "field required",
            ),
        ];
        for (status, body, expected) in cases {
            let err = add_answered(json_reply(status, body.clone())).await;
            match err {
                ExternalError::Permanent { service, status: got, message } => {
                    assert_eq!(service, Service::Mem0);
                    assert_eq!(got, status);
                    assert_eq!(message, expected, "body {body}");
                }
                other => panic!("expected permanent for {body}, got {other:?}"),
            }
        }
    }

    #[test]
    fn error_message_falls_back_to_the_body() {
        assert_eq!(error_message(""), "empty response body");
        assert_eq!(error_message("<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_message(r#"{"weird": 1}"#), r#"{"weird": 1}"#);
        assert_eq!(error_message(r#"{"error": {"code": "x", "message": "nested"}}"#), "nested");
        assert_eq!(error_message(&"x".repeat(2000)).len(), MAX_MESSAGE_CHARS);
    }

    #[tokio::test]
    async fn unreadable_success_body_is_permanent() {
        let err = add_answered(ResponseTemplate::new(200).set_body_string("not json")).await;
        assert!(!err.is_transient(), "{err:?}");
    }

    #[tokio::test]
    async fn unreachable_server_is_transient() {
        // A port that was just free: nothing listens there (wiremock pools its servers, so a
        // dropped MockServer would still answer).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = Mem0Client::new(&format!("http://127.0.0.1:{port}"), KEY, reqwest::Client::new());
        let err = c.search("u", "q", None, 10).await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
    }

    #[test]
    fn result_items_of_both_shapes_are_read_and_unusable_ones_skipped() {
        let items = vec![
            json!({"id": "a", "data": {"memory": "one"}, "event": "ADD"}),
            json!({"id": "b", "memory": "two", "event": "add"}),
            json!({"id": "c", "memory": "three"}),
            json!({"id": "d", "memory": "four", "event": "NOOP"}),
            json!({"memory": "no id"}),
            json!({"id": 42, "memory": "numeric id"}),
            json!("not an object"),
        ];
        let ids: Vec<String> = memories_from_results(items)
            .into_iter()
            .map(|m| format!("{}={}", m.id, m.memory))
            .collect();
        assert_eq!(ids, ["a=one", "b=two", "c=three"]);
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment() {
        assert_eq!(
            encode_segment("0193f3c4-7a1b-7c2d-8e9f-0a1b2c3d4e5f"),
            "0193f3c4-7a1b-7c2d-8e9f-0a1b2c3d4e5f"
        );
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let c = Mem0Client::new("https://api.mem0.ai/", KEY, reqwest::Client::new());
        let shown = format!("{c:?}");
        assert!(!shown.contains(KEY));
        assert!(shown.contains("https://api.mem0.ai\""), "{shown}");
    }
    #[tokio::test]
    async fn update_puts_the_text_and_404_says_gone() {
        let server = MockServer::start().await;
        answer_once(
            &server,
            authed("PUT", "/v1/memories/m-1/")
                .and(header("content-type", "application/json"))
                .and(body_partial_json(json!({"text": "Parking: level 4"}))),
            json_reply(200, json!({"id": "m-1", "memory": "Parking: level 4"})),
        )
        .await;
        answer_once(&server, authed("PUT", "/v1/memories/m-gone/"), memory_not_found()).await;
        answer_once(
            &server,
            authed("PUT", "/v1/memories/m-busy/"),
            json_reply(503, json!({"detail": "busy"})),
        )
        .await;
        let c = client(&server);
        assert!(c.update("m-1", "Parking: level 4").await.unwrap());
        assert!(!c.update("m-gone", "x").await.unwrap());
        let err = c.update("m-busy", "x").await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
}
