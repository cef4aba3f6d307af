//! A stack of real processes for fault tests: `mnemo-ingress` and N `mnemo-worker` binaries on
//! a fresh PostgreSQL database and a private `redis-server`, with Twilio and Mem0 replaced by
//! local wire-format stand-ins whose failures the test controls.
//!
//! The binaries come from the same target directory as the test (`cargo build --bins` first;
//! `.ci/run` does). Process output goes to `target/faults/<name>/`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod twilio;

use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const ACCOUNT_SID: &str = "ACfaults000000000000000000000000";
pub const AUTH_TOKEN: &str = "faults-token";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn bin_dir() -> PathBuf {
    // A test runs from target/<profile>/deps/, a bench binary from target/<profile>/.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.ends_with("deps") { dir.parent().unwrap().to_path_buf() } else { dir.to_path_buf() }
}

pub fn binary(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --bins` before the fault tests",
        p.display()
    );
    p
}

/// A private redis-server on a free port (so FLUSHALL hurts nobody else).
pub struct Redis {
    child: Child,
    pub url: String,
}

impl Redis {
    pub fn start(dir: &std::path::Path) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let url = format!("redis://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis { child, url }
    }

    pub fn flushall(&self) {
        let port = self.url.rsplit(':').next().unwrap();
        let out =
            Command::new("redis-cli").args(["-p", port, "FLUSHALL"]).output().expect("redis-cli");
        assert!(out.status.success());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Twilio and Mem0 stand-ins speaking their wire formats; Mem0 can be made to fail.
pub struct Outside {
    pub twilio: MockServer,
    pub mem0: MockServer,
    pub mem0_down: Arc<AtomicBool>,
    pub mem0_adds: Arc<AtomicUsize>,
    /// Every message created through the Twilio stand-in, with the moment it arrived.
    pub messages: twilio::TwilioMessages,
}

impl Outside {
    pub async fn start() -> Outside {
        Self::start_with_latency(Duration::ZERO).await
    }

    /// Stand-ins that answer every call after `latency` (the scaling benchmark uses 50 ms).
    pub async fn start_with_latency(latency: Duration) -> Outside {
        let twilio = MockServer::start().await;
        let messages = twilio::mount_messages(&twilio, ACCOUNT_SID, latency).await;

        let mem0 = MockServer::start().await;
        let down = Arc::new(AtomicBool::new(false));
        let adds = Arc::new(AtomicUsize::new(0));
        mount_mem0(&mem0, "POST", path("/v3/memories/"), &down, move |_| {
            ResponseTemplate::new(200).set_delay(latency).set_body_json(
                serde_json::json!({"count": 0, "next": null, "previous": null, "results": []}),
            )
        })
        .await;
        let counted = adds.clone();
        mount_mem0(&mem0, "POST", path("/v3/memories/add/"), &down, move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_delay(latency).set_body_json(serde_json::json!({
                "event_id": uuid::Uuid::now_v7().to_string(), "status": "PENDING"
            }))
        })
        .await;
        let event_path = path_regex(r"^/v1/event/[0-9a-f-]+/$");
        mount_mem0(&mem0, "GET", event_path, &down, move |req| {
            let event =
                req.url.path().trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
            ResponseTemplate::new(200).set_delay(latency).set_body_json(serde_json::json!({
                "id": event, "event_type": "ADD", "status": "SUCCEEDED",
                "results": [{"id": event, "data": {"memory": "stored"}, "event": "ADD"}]
            }))
        })
        .await;
        Outside { twilio, mem0, mem0_down: down, mem0_adds: adds, messages }
    }

    /// Every message sent through the Twilio stand-in, as form fields.
    pub async fn sent(&self) -> Vec<HashMap<String, String>> {
        self.messages.created().into_iter().map(|c| c.form).collect()
    }
}

/// Mounts a Mem0 route on `server` that answers with `respond`, or 503 while `down` is set.
async fn mount_mem0(
    server: &MockServer,
    verb: &str,
    route: impl Match + 'static,
    down: &Arc<AtomicBool>,
    respond: impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static,
) {
    let down = down.clone();
    Mock::given(method(verb))
        .and(route)
        .respond_with(move |req: &Request| {
            if down.load(Ordering::SeqCst) {
                return ResponseTemplate::new(503)
                    .set_body_json(serde_json::json!({"detail": "unavailable"}));
            }
            respond(req)
        })
        .mount(server)
        .await;
}

/// The processes and the database of one fault test.
pub struct Stack {
    pub name: String,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub base: String,
    pub db: DatabaseConnection,
    pub ingress: Option<Child>,
    pub workers: Vec<Option<Child>>,
    started: usize,
}

impl Stack {
    /// A fresh database on `TEST_DATABASE_URL`'s server, migrated; nothing started yet.
    pub async fn new(name: &str, database_admin_url: &str, env: Vec<(String, String)>) -> Stack {
        let dir = bin_dir().parent().unwrap().join("faults").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db_name = format!("mnemo_test_faults_{}", uuid::Uuid::now_v7().simple());
        let admin = mnemo_shared::store::db::connect_url(database_admin_url, 1)
            .await
            .expect("TEST_DATABASE_URL must be reachable");
        admin.execute_unprepared(&format!("CREATE DATABASE {db_name}")).await.unwrap();
        let _ = admin.close().await;
        let base_url = database_admin_url.rsplit_once('/').unwrap().0;
        let database_url = format!("{base_url}/{db_name}");
        let port = free_port();
        let mut full = vec![
            ("DATABASE_URL".to_string(), database_url.clone()),
            ("BIND_ADDR".into(), format!("127.0.0.1:{port}")),
            ("PUBLIC_BASE_URL".into(), format!("http://127.0.0.1:{port}")),
            ("EMBEDDED_WORKER".into(), "false".into()),
            ("TWILIO_ACCOUNT_SID".into(), ACCOUNT_SID.into()),
            ("TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into()),
            ("TWILIO_WHATSAPP_NUMBER".into(), "whatsapp:+14155238886".into()),
            ("MEDIA_DIR".into(), dir.join("media").display().to_string()),
            ("RUST_LOG".into(), "info".into()),
            ("LOG_FORMAT".into(), "json".into()),
        ];
        full.extend(env);
        let migrate = Command::new(binary("mnemo-migrate"))
            .arg("up")
            .envs(full.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(
            migrate.status.success(),
            "mnemo-migrate up failed: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        let db = mnemo_shared::store::db::connect_url(&database_url, 4).await.unwrap();
        Stack {
            name: name.into(),
            dir,
            env: full,
            base: format!("http://127.0.0.1:{port}"),
            db,
            ingress: None,
            workers: Vec::new(),
            started: 0,
        }
    }

    fn spawn(&mut self, bin: &str) -> Child {
        self.started += 1;
        let log =
            std::fs::File::create(self.dir.join(format!("{bin}-{}.log", self.started))).unwrap();
        Command::new(binary(bin))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("TEST_DATABASE_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    pub async fn start_ingress(&mut self) {
        let child = self.spawn("mnemo-ingress");
        self.ingress = Some(child);
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "ingress did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Peak resident memory (VmHWM, MiB) of the ingress and each running worker.
    pub fn peak_rss_mib(&self) -> Vec<(String, f64)> {
        let read = |pid: u32| -> f64 {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
                .map(|kb| kb / 1024.0)
                .unwrap_or(0.0)
        };
        let mut out = Vec::new();
        if let Some(c) = &self.ingress {
            out.push(("ingress".to_string(), read(c.id())));
        }
        for (i, w) in self.workers.iter().enumerate() {
            if let Some(c) = w {
                out.push((format!("worker-{i}"), read(c.id())));
            }
        }
        out
    }

    pub fn start_worker(&mut self) -> usize {
        let child = self.spawn("mnemo-worker");
        self.workers.push(Some(child));
        self.workers.len() - 1
    }

    /// SIGKILL: no graceful shutdown, in-flight jobs abandoned mid-step.
    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut c) = self.workers[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart_worker(&mut self, i: usize) {
        self.kill_worker(i);
        let child = self.spawn("mnemo-worker");
        self.workers[i] = Some(child);
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    }

    /// How many inbound messages are in `status` (`received`, `processing`, `processed`, …).
    pub async fn inbound_with_status(&self, status: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = '{status}'"
        ))
        .await
    }

    /// Waits until every inbound message is processed (or `limit` passes), returning the count.
    pub async fn wait_processed(&self, want: i64, limit: Duration) -> i64 {
        let start = Instant::now();
        loop {
            let n = self.inbound_with_status("processed").await;
            if n >= want || start.elapsed() > limit {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for c in self.workers.iter_mut().flatten().chain(self.ingress.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Pre-signed text webhooks, `n` of them from `senders` different numbers.
pub fn signed_webhooks(base: &str, n: usize, senders: usize) -> Vec<(String, String, String)> {
    let url = format!("{base}/webhook");
    let run = uuid::Uuid::now_v7().simple().to_string();
    (0..n)
        .map(|i| {
            let sid = format!("SM{}{:012}", &run[..20], i);
            let params: Vec<(String, String)> = vec![
                ("MessageSid".into(), sid.clone()),
                ("AccountSid".into(), ACCOUNT_SID.into()),
                ("From".into(), format!("whatsapp:+1415555{:04}", i % senders)),
                ("To".into(), "whatsapp:+14155238886".into()),
                ("Body".into(), format!("fault test note {i}: water the plants")),
                ("NumMedia".into(), "0".into()),
            ];
            let sig = mnemo_shared::domain::signature::compute_signature(&url, &params, AUTH_TOKEN);
            let body =
                form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            (sid, sig, body)
        })
        .collect()
}

/// Posts the webhooks with `concurrency` connections; calls `on_sent(k)` after each k-th
/// success so a test can inject faults mid-burst. Retries a refused post (like a proxy would).
pub async fn post_all(
    base: &str,
    hooks: Vec<(String, String, String)>,
    concurrency: usize,
) -> usize {
    use futures::StreamExt;
    let http = reqwest::Client::new();
    let url = format!("{base}/webhook");
    let ok = Arc::new(AtomicUsize::new(0));
    futures::stream::iter(hooks)
        .for_each_concurrent(concurrency, |(_, sig, body)| {
            let http = http.clone();
            let url = url.clone();
            let ok = ok.clone();
            async move {
                for _ in 0..50 {
                    let r = http
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("x-twilio-signature", &sig)
                        .body(body.clone())
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().is_success()
                    {
                        ok.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
        .await;
    ok.load(Ordering::SeqCst)
}
