//! Test harness: the real ingress on 127.0.0.1:0 and a real worker, on SQLite + the database
//! queue by default, or on PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are
//! set (a fresh database and queue namespace per test). Twilio and Mem0 are wiremock servers.

#![allow(dead_code)]

pub mod s3;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mnemo_migration::{Migrator, MigratorTrait};
use mnemo_shared::config::Settings;
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use mnemo_worker::pipeline::Pipeline;
use tokio::sync::watch;
use wiremock::MockServer;

pub const ACCOUNT_SID: &str = "ACtest00000000000000000000000000";
pub const AUTH_TOKEN: &str = "test-auth-token";
pub const WA_NUMBER: &str = "whatsapp:+14155238886";

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
        Options {
            twilio: true,
            mem0: false,
            worker: true,
            redis: true,
            extra: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub state: mnemo_ingress::AppState,
    pub twilio: MockServer,
    pub mem0: MockServer,
    pub http: reqwest::Client,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A fresh database URL: a new PostgreSQL database on the test server, or a SQLite file.
async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    {
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
        set(
            "QUEUE_NAME",
            format!("mnemo-test:{}", uuid::Uuid::now_v7().simple()),
        );
        if let Some(redis) = std::env::var("TEST_REDIS_URL")
            .ok()
            .filter(|s| !s.is_empty() && opts.redis)
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

        let state = mnemo_ingress::prepare(settings.clone())
            .await
            .expect("prepare");
        Migrator::up(&state.db, None).await.expect("migrate");
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
            twilio,
            mem0,
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A REST request carrying `Authorization: Bearer <API_TOKEN>` when the app has one.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.url(path));
        match &self.settings.api_token {
            Some(t) => req.bearer_auth(t),
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
    pub async fn post_webhook(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = mnemo_shared::domain::signature::compute_signature(
            &format!("{}/webhook", self.settings.public_base_url),
            &owned,
            AUTH_TOKEN,
        );
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

    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    pub async fn scalar(&self, sql: &str) -> Option<String> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap()?;
        row.try_get_by_index::<Option<String>>(0).unwrap()
    }

    /// Runs one statement (tests use it to put rows into states a crash would leave).
    pub async fn exec(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap();
    }

    /// Polls until `sql` (a COUNT) reaches `want`, or panics after 15 s.
    pub async fn wait_count(&self, sql: &str, want: i64) {
        let start = Instant::now();
        loop {
            let n = self.count(sql).await;
            if n == want {
                return;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("timed out waiting for `{sql}` = {want} (last {n})");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
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
            mnemo_shared::clients::models::test_support::models_dir()
                .display()
                .to_string(),
        ),
    ]
}

impl TestApp {
    /// Waits until `/ready` reports the embedding model in `state`, or panics after 60 s.
    pub async fn wait_embeddings(&self, state: &str) {
        let start = Instant::now();
        loop {
            let body: serde_json::Value = self
                .http
                .get(self.url("/ready"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if body["models"]["embeddings"] == state {
                return;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("embeddings never became {state}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn new_sid() -> String {
    format!("SM{}", uuid::Uuid::now_v7().simple())
}
