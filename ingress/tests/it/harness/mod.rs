//! Test harness: the real ingress on 127.0.0.1:0 and a real worker, on SQLite + the database
//! queue by default, or on PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are
//! set (a fresh database and queue namespace per test). Twilio and Mem0 are wiremock servers.

#![allow(dead_code)]

pub mod s3;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemo_shared::config::{ExposeSecret, Settings};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use mnemo_worker::pipeline::Pipeline;
use tokio::sync::watch;
use wiremock::MockServer;

pub const ACCOUNT_SID: &str = "ACtest00000000000000000000000000";
pub const AUTH_TOKEN: &str = "test-auth-token";
pub const WA_NUMBER: &str = "whatsapp:+14155238886";
/// How many outbound messages went out (`sent`).
pub const SENT: &str =
    "SELECT COUNT(*) FROM interactions WHERE direction = 'outbound' AND status = 'sent'";

pub struct Options {
    pub twilio: bool,
    pub mem0: bool,
    pub worker: bool,
    /// Use Redis when `TEST_REDIS_URL` is set (false: the database's own queue).
    pub redis: bool,
    pub extra: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options { twilio: true, mem0: false, worker: true, redis: true, extra: Vec::new() }
    }
}

impl Options {
    /// The defaults with these settings added.
    pub fn env(extra: Vec<(&'static str, String)>) -> Options {
        Options { extra, ..Options::default() }
    }
}

/// The defaults with the console on (`CONSOLE_ENABLED=true`) and these settings added.
pub fn console_on(extra: Vec<(&'static str, String)>) -> Options {
    let mut env = vec![("CONSOLE_ENABLED", "true".to_string())];
    env.extend(extra);
    Options::env(env)
}

pub struct TestApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub state: mnemo_ingress::AppState,
    pub twilio: OffRuntime<MockServer>,
    pub mem0: OffRuntime<MockServer>,
    pub http: reqwest::Client,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A value that is dropped on a thread of its own, outside the test's runtime.
///
/// For wiremock's `MockServer`, whose `Drop` verifies the mocks' expectations with
/// `futures::executor::block_on`. Inside a tokio task that block_on polls tokio's `RwLock`
/// with the task's cooperative budget: once a test has spent that budget (the slowloris test
/// does, polling hundreds of sockets in one go), the lock answers `Pending` and wakes itself
/// until the task yields, which it never does while blocked in `Drop`, so the drop spins for
/// ever. On a plain thread there is no budget. A failed expectation still fails the test: the
/// thread's panic is carried over (unless the test is already panicking).
pub struct OffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> OffRuntime<T> {
    pub fn new(value: T) -> Self {
        OffRuntime(Some(value))
    }
}

impl<T: Send + 'static> Deref for OffRuntime<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else { return };
        let dropped = std::thread::spawn(move || drop(value)).join();
        if let Err(panic) = dropped
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// A fresh database URL: a new PostgreSQL database on the test server, or a SQLite file.
async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty()) {
        Some(admin) => {
            let name = format!("mnemo_test_{}", uuid::Uuid::now_v7().simple());
            let db = mnemo_shared::store::db::connect_url(&admin, 2)
                .await
                .expect("TEST_DATABASE_URL must be reachable");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let _ = db.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}/mnemo.db?mode=rwc", dir.display()),
    }
}

pub fn uses_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|s| !s.is_empty())
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// The whole app, with Twilio accepting every message it is asked to send.
    pub async fn replying() -> TestApp {
        let app = Self::spawn().await;
        app.twilio_accepts_messages().await;
        app
    }

    /// The ingress alone: messages are recorded and queued, nothing processes them.
    pub async fn without_worker() -> TestApp {
        Self::spawn_with(Options { worker: false, ..Options::default() }).await
    }

    /// No Twilio credentials: replies are recorded as `dry_run`, and signatures not checked.
    pub async fn without_twilio() -> TestApp {
        Self::spawn_with(Options { twilio: false, ..Options::default() }).await
    }

    /// The defaults with these settings added.
    pub async fn with_env(extra: Vec<(&'static str, String)>) -> TestApp {
        Self::spawn_with(Options::env(extra)).await
    }

    /// Mem0 (the wiremock stand-in) as the memory engine.
    pub async fn with_mem0() -> TestApp {
        Self::spawn_with(Options { mem0: true, ..Options::default() }).await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let twilio = MockServer::start().await;
        let mem0 = MockServer::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let database_url = fresh_database(dir.path()).await;

        let mut env: HashMap<String, String> = HashMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_string(), v);
        };
        set("BIND_ADDR", addr.to_string());
        set("DATABASE_URL", database_url);
        set("MEDIA_DIR", dir.path().join("media").display().to_string());
        set("EMBEDDED_WORKER", "false".into());
        set("JOB_RETRY_BASE_MS", "20".into());
        set("JOB_RETRY_MAX_SECS", "1".into());
        set("JOB_MAX_ATTEMPTS", "4".into());
        set("SWEEP_INTERVAL_SECS", "3600".into());
        set("SWEEP_AFTER_SECS", "3600".into());
        set("WORKER_CONCURRENCY", "8".into());
        // Tests that use the real models opt in (`with_models`); the rest answer lexically.
        set("LOCAL_MODELS", "off".into());
        // No test reaches the real hub: a model missing in `auto` fails to fetch at once
        // (connection refused) unless the test serves a hub of its own.
        set("HF_ENDPOINT", "http://127.0.0.1:9".into());
        set("QUEUE_NAME", format!("mnemo-test:{}", uuid::Uuid::now_v7().simple()));
        if let Some(redis) =
            std::env::var("TEST_REDIS_URL").ok().filter(|s| !s.is_empty() && opts.redis)
        {
            set("REDIS_URL", redis);
        }
        if opts.twilio {
            set("TWILIO_ACCOUNT_SID", ACCOUNT_SID.into());
            set("TWILIO_AUTH_TOKEN", AUTH_TOKEN.into());
            set("TWILIO_WHATSAPP_NUMBER", WA_NUMBER.into());
            set("TWILIO_API_BASE", twilio.uri());
        }
        if opts.mem0 {
            set("MEM0_API_KEY", "m0-test-key".into());
            set("MEM0_API_BASE", mem0.uri());
        }
        for (k, v) in opts.extra {
            set(k, v);
        }
        let settings = Arc::new(Settings::from_map(&env).expect("test settings"));

        let state = mnemo_ingress::prepare(settings.clone()).await.expect("prepare");
        mnemo_migration::migrate_up(&state.db).await.expect("migrate");
        let (tx, rx) = watch::channel(false);
        tokio::spawn(mnemo_ingress::serve(listener, state.clone(), rx.clone()));
        if opts.worker {
            let pipeline = Pipeline::new(state.db.clone(), settings.clone());
            let queue = state.queue.clone();
            let mut rx = rx.clone();
            tokio::spawn(mnemo_worker::run(pipeline, queue, async move {
                let _ = rx.wait_for(|s| *s).await;
            }));
        }
        TestApp {
            base: format!("http://{addr}"),
            db: state.db.clone(),
            settings,
            state,
            twilio: OffRuntime::new(twilio),
            mem0: OffRuntime::new(mem0),
            http: reqwest::Client::new(),
            shutdown: tx,
            _dir: dir,
        }
    }

    /// Twilio's Messages resource: create answers 201 with a fresh SID for every send, list
    /// answers with what was created (the shared wire-format stand-in).
    pub async fn twilio_accepts_messages(&self) -> mnemo_faults::twilio::TwilioMessages {
        mnemo_faults::twilio::mount_messages(&self.twilio, ACCOUNT_SID, Duration::ZERO).await
    }

    /// Twilio's create-message call only (no list to reconcile against), answering 201 with a
    /// fresh SID after `delay`: a slow Twilio widens every race window.
    pub async fn twilio_accepts_slowly(&self, delay: Duration) {
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(format!(
                "/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
            )))
            .respond_with(move |_: &wiremock::Request| {
                wiremock::ResponseTemplate::new(201)
                    .set_body_json(serde_json::json!({"sid": new_sid(), "status": "queued"}))
                    .set_delay(delay)
            })
            .mount(&self.twilio)
            .await;
    }

    /// Mem0's list of memories (`POST /v3/memories/`) answers that nothing is stored yet (for
    /// this interaction or any other).
    pub async fn mem0_holds_nothing_yet(&self) {
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/v3/memories/"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"count": 0, "next": null, "previous": null, "results": []}),
            ))
            .mount(&self.mem0)
            .await;
    }

    /// Mem0 answers the next add (`POST /v3/memories/add/`) with `event`, and that event,
    /// when polled, as done: the memory `mem0_id` holding `text`.
    pub async fn mem0_adds_next(&self, event: &str, mem0_id: &str, text: &str) {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, ResponseTemplate};
        Mock::given(method("POST"))
            .and(path("/v3/memories/add/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"event_id": event, "status": "PENDING"})),
            )
            .up_to_n_times(1)
            .mount(&self.mem0)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/event/{event}/")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": event, "event_type": "ADD", "status": "SUCCEEDED",
                "results": [{"id": mem0_id, "data": {"memory": text}, "event": "ADD"}]
            })))
            .mount(&self.mem0)
            .await;
    }

    /// Form fields of every message sent (`POST`) to the Twilio stand-in.
    pub async fn sent_messages(&self) -> Vec<HashMap<String, String>> {
        self.twilio
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method == wiremock::http::Method::POST)
            .filter(|r| r.url.path().ends_with("/Messages.json"))
            .map(|r| form_urlencoded::parse(&r.body).into_owned().collect())
            .collect()
    }

    /// The JSON bodies Mem0 (the wiremock stand-in) was sent to add memories
    /// (`POST /v3/memories/add/`), in order.
    pub async fn mem0_adds(&self) -> Vec<serde_json::Value> {
        requests_at(&self.mem0, "/v3/memories/add/")
            .await
            .iter()
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A REST request carrying `Authorization: Bearer <API_TOKEN>` when the app has one.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.url(path));
        match &self.settings.api_token {
            Some(t) => req.bearer_auth(t.expose_secret()),
            None => req,
        }
    }

    /// A user as the webhook would create it (no interactions); returns its id.
    pub async fn insert_user(&self, phone: &str, timezone: &str) -> uuid::Uuid {
        let id = uuid::Uuid::now_v7();
        let now = chrono::Utc::now();
        self.db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "INSERT INTO users (id, phone, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
                [id.into(), phone.into(), timezone.into(), now.into()],
            ))
            .await
            .unwrap();
        id
    }

    /// Posts a webhook signed exactly as Twilio signs it.
    pub async fn post_webhook<K: AsRef<str>, V: AsRef<str>>(
        &self,
        params: &[(K, V)],
    ) -> reqwest::Response {
        let owned: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
        let sig = twilio_signature(&format!("{}/webhook", self.settings.public_base_url), &owned);
        self.post_form("/webhook", Some(&sig), &owned).await
    }

    /// Posts a form to `path` with the given `X-Twilio-Signature` (none when `None`).
    pub async fn post_form(
        &self,
        path: &str,
        signature: Option<&str>,
        form: &[(String, String)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(sig) = signature {
            req = req.header("X-Twilio-Signature", sig);
        }
        req.send().await.unwrap()
    }

    /// The first row `sql` returns, if any.
    async fn first_row(&self, sql: &str) -> Option<QueryResult> {
        let stmt = Statement::from_string(self.db.get_database_backend(), sql.to_string());
        self.db.query_one_raw(stmt).await.unwrap()
    }

    /// The number in the first column of the one row `sql` returns (`SELECT COUNT(*) …`).
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self.first_row(sql).await.expect("a row");
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// The text in the first column of the first row, if there is one and it is not NULL.
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        let row = self.first_row(sql).await?;
        row.try_get_by_index::<Option<String>>(0).unwrap()
    }

    /// The text of the one memory (the first, if there are more).
    pub async fn memory_text(&self) -> Option<String> {
        self.scalar("SELECT text FROM memories").await
    }

    /// Where the local media store keeps the bytes of the one stored object
    /// (`MEDIA_DIR/sha256/ab/abcdef…`).
    pub async fn stored_object(&self) -> std::path::PathBuf {
        let sha = self.scalar("SELECT sha256 FROM media_objects").await.expect("a stored object");
        std::path::Path::new(&self.settings.media_dir).join("sha256").join(&sha[..2]).join(&sha)
    }

    /// Runs one statement (tests use it to put rows into states a crash would leave).
    pub async fn exec(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(self.db.get_database_backend(), sql.to_string()))
            .await
            .unwrap();
    }

    /// Runs one statement with `$N` values bound (rows in states a test needs).
    pub async fn exec_with(&self, sql: &str, values: impl IntoIterator<Item = Value>) {
        let stmt = Statement::from_sql_and_values(self.db.get_database_backend(), sql, values);
        self.db.execute_raw(stmt).await.unwrap();
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// `POST path` with the API's bearer token (as `call` sends it) and `body` as JSON.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.api(reqwest::Method::POST, path).json(body).send().await.unwrap()
    }

    /// `GET path` through `client` (such as `no_redirects()`), sending `cookie` when given.
    pub async fn get_via(
        &self,
        client: &reqwest::Client,
        path: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = client.get(self.url(path));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send().await.unwrap()
    }

    /// `method path` with the API's bearer token and no body.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.api(method, path).send().await.unwrap()
    }

    /// `GET path` with the API's bearer token (as `call` sends it), its body parsed as JSON.
    pub async fn api_json(&self, path: &str) -> serde_json::Value {
        self.call(reqwest::Method::GET, path).await.json().await.unwrap()
    }

    /// `POST path` with no body and no credentials.
    /// `POST path` of `body` as `content_type`, without credentials.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let req = self.http.post(self.url(path)).header("content-type", content_type);
        req.body(body).send().await.unwrap()
    }

    pub async fn post_empty(&self, path: &str) -> reqwest::Response {
        self.http.post(self.url(path)).send().await.unwrap()
    }

    /// Posts a signed text message from `from` (asserting Twilio gets a 200) and returns its
    /// MessageSid.
    pub async fn send_text(&self, from: &str, body: &str) -> String {
        let sid = new_sid();
        let res = self.post_webhook(&text_message(&sid, from, body)).await;
        assert_eq!(res.status(), 200, "webhook for {body:?}");
        sid
    }

    /// The text of the reply recorded for the inbound `sid`, if there is one yet.
    pub async fn reply_body(&self, sid: &str) -> Option<String> {
        self.scalar(&format!(
            "SELECT o.body FROM interactions o JOIN interactions i ON o.reply_to = i.id \
             WHERE i.message_sid = '{sid}' AND o.purpose = 'reply'"
        ))
        .await
    }

    /// `column` (any SQL expression giving text) of the interaction with MessageSid `sid`, if
    /// there is one and it is not NULL.
    pub async fn interaction_field(&self, sid: &str, column: &str) -> Option<String> {
        self.scalar(&format!("SELECT {column} FROM interactions WHERE message_sid = '{sid}'")).await
    }

    /// The transcript recorded on the inbound `sid`, if any.
    pub async fn transcript_of(&self, sid: &str) -> Option<String> {
        self.interaction_field(sid, "transcript").await
    }

    /// The raw request recorded with the interaction `sid`, as text.
    pub async fn raw_of(&self, sid: &str) -> String {
        self.interaction_field(sid, "CAST(raw AS TEXT)").await.expect("a raw request")
    }

    /// How many times the interaction `sid` was attempted.
    pub async fn attempts_of(&self, sid: &str) -> i64 {
        self.count(&format!(
            "SELECT CAST(attempts AS BIGINT) FROM interactions WHERE message_sid = '{sid}'"
        ))
        .await
    }

    /// Waits up to `within` until the reply to the inbound `sid` went out (sent, or dry-run
    /// without Twilio) and returns its text.
    pub async fn reply_to(&self, sid: &str, within: Duration) -> String {
        wait_for_some(&format!("a reply to {sid}"), within, || async {
            self.scalar(&format!(
                "SELECT o.body FROM interactions o JOIN interactions i ON o.reply_to = i.id \
                 WHERE i.message_sid = '{sid}' AND o.purpose = 'reply' \
                 AND o.status IN ('sent', 'dry_run')"
            ))
            .await
        })
        .await
    }

    /// Sends `text` from `from` and returns mnemo's reply once it went out (45 s at most:
    /// under parallel load a queue may wake a worker only at its heartbeat).
    pub async fn say_from(&self, from: &str, text: &str) -> String {
        let sid = self.send_text(from, text).await;
        self.reply_to(&sid, Duration::from_secs(45)).await
    }

    /// Waits until `n` outbound messages are `sent` (panics after 15 s).
    pub async fn wait_sent(&self, n: i64) {
        self.wait_count(SENT, n).await
    }

    /// Waits until the inbound `sid` is in `status` (panics after 15 s).
    pub async fn wait_status(&self, sid: &str, status: &str) {
        self.wait_count(
            &format!(
                "SELECT COUNT(*) FROM interactions WHERE message_sid = '{sid}' AND status = '{status}'"
            ),
            1,
        )
        .await
    }

    /// Polls until `sql` (a COUNT) reaches `want`, or panics after 15 s.
    pub async fn wait_count(&self, sql: &str, want: i64) {
        let last = std::cell::Cell::new(None);
        let reached = try_wait_for(Duration::from_secs(15), || async {
            let n = self.count(sql).await;
            last.set(Some(n));
            (n == want).then_some(())
        })
        .await;
        if reached.is_none() {
            panic!("timed out waiting for `{sql}` = {want} (last {:?})", last.get());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A text message as Twilio posts it.
pub fn text_message<'a>(sid: &'a str, from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "Test User"),
        ("MessageType", "text"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", WA_NUMBER),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", from),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// Settings that give an app the real embedding model (installed once per checkout from the
/// pinned wheels, see `mnemo_shared::clients::models::test_support`).
pub fn with_models() -> Vec<(&'static str, String)> {
    vec![
        ("LOCAL_MODELS", "auto".into()),
        (
            "MODELS_DIR",
            mnemo_shared::clients::models::test_support::models_dir().display().to_string(),
        ),
    ]
}

impl TestApp {
    /// Waits until `/ready` reports the embedding model in `state`, or panics after 60 s.
    pub async fn wait_embeddings(&self, state: &str) {
        let last = std::cell::RefCell::new(serde_json::Value::Null);
        let ready = try_wait_for(Duration::from_secs(60), || async {
            let body: serde_json::Value = self.get("/ready").await.json().await.unwrap();
            let done = body["models"]["embeddings"] == state;
            *last.borrow_mut() = body;
            done.then_some(())
        })
        .await;
        if ready.is_none() {
            panic!("embeddings never became {state}: {}", last.borrow());
        }
    }
}

/// The chat-completions stand-in (`POST /v1/chat/completions`) answers `content` to every
/// prompt that contains `prompt_part`.
pub async fn chat_model_answers(server: &MockServer, prompt_part: &str, content: &str) {
    use wiremock::matchers::{body_string_contains, method, path};
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains(prompt_part))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
        })))
        .mount(server)
        .await;
}

/// The `X-Twilio-Signature` Twilio would send for these form parameters posted to `url`,
/// signed with the test auth token.
pub fn twilio_signature(url: &str, params: &[(String, String)]) -> String {
    mnemo_shared::domain::signature::compute_signature(url, params, AUTH_TOKEN)
}

/// The requests a wiremock `server` received for exactly `path`, in order.
pub async fn requests_at(server: &MockServer, path: &str) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == path).collect()
}

/// The text at `pointer` (a JSON pointer such as `/memory/id`) in each element of the JSON
/// array `list`; panics if `list` is no array or an element has no text there.
pub fn texts_at<'a>(list: &'a serde_json::Value, pointer: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e.pointer(pointer).and_then(serde_json::Value::as_str).unwrap())
        .collect()
}

/// An HTTP client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn new_sid() -> String {
    format!("SM{}", uuid::Uuid::now_v7().simple())
}

/// How often the waits below look again.
const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it gives `Some`, and returns that; `None` once `deadline` has passed
/// (the caller panics with what it saw). The one wait of the tests: a test that needs
/// something to have happened waits for that condition, never for a fixed time.
pub async fn try_wait_for<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it holds; panics naming `what` once `deadline` has passed.
pub async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_some(what, deadline, || {
        let f = check();
        async move { f.await.then_some(()) }
    })
    .await
}

/// Polls `check` until it gives `Some`, and returns that; panics naming `what` once
/// `deadline` has passed.
pub async fn wait_for_some<T, F, Fut>(what: &str, deadline: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match try_wait_for(deadline, check).await {
        Some(v) => v,
        None => panic!("timed out after {deadline:?} waiting for {what}"),
    }
}

/// Checks that `check` holds throughout `period`, polling, and panics naming `what` the first
/// time it does not. For what must *not* happen (a second reply, a job nobody queued): there is
/// no event to wait for, so watching for the period is the assertion itself.
pub async fn assert_stays<F, Fut>(what: &str, period: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        assert!(check().await, "{what} stopped holding after {:?}", start.elapsed());
        if start.elapsed() > period {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
