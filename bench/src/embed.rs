//! Speed and memory of the local embeddings (issue 12, deliverable 6). Run by `bench/embed.sh`,
//! which starts the real binaries around these subcommands:
//!
//! - `mnemo-bench-embed single [notes=300]`
//!   loads the embedding model (settings from the environment as for the product:
//!   `MODELS_DIR`, `EMBED_MODEL`, `MODEL_THREADS`) and embeds single-sentence notes one at
//!   a time through the product's inference pool; prints the model load time and p50/p99.
//! - `mnemo-bench-embed pool [sentences=400]`
//!   embeds a pool of distinct sentences once and stores them in `bench_pool(text, vector)`
//!   of `DATABASE_URL`, for the SQL fill of `bench/embed.sh` (one real vector per text).
//! - `mnemo-bench-embed wait-vectors <n> [timeout_s=600]`
//!   polls `SELECT COUNT(*) FROM memory_embeddings` of `DATABASE_URL` until it reaches n and
//!   prints the elapsed time.
//! - `mnemo-bench-embed query <base_url> <api_token> <user> [requests=600]`
//!   sequential `GET /memories?user=…&query=…` over one keep-alive connection with varied
//!   wording; prints p50/p99/max.
//! - `mnemo-bench-embed twilio-stub <port>`
//!   answers every request like Twilio's `Messages.json` (201, a fresh SID), so the worker's
//!   replies stay on 127.0.0.1.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mnemo_shared::config::Settings;
use mnemo_shared::sea_orm::ConnectionTrait;
use mnemo_worker::pipeline::Pipeline;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SUBJECTS: &[&str] = &[
    "the plumber",
    "my sister",
    "the dentist",
    "our landlord",
    "the bank",
    "my manager",
    "the vet",
    "grandma",
    "the electrician",
    "the school",
    "my doctor",
    "the insurance agent",
    "the garage",
    "my neighbour",
    "the accountant",
    "the travel agent",
    "the gym",
    "the pharmacy",
    "my brother",
    "the kindergarten",
];
const ACTIONS: &[&str] = &[
    "call {} about the leaking kitchen sink",
    "{} said the invoice is due next Friday",
    "remember to send {} the signed contract",
    "{} recommended a Thai restaurant near the station",
    "pay {} before the end of the month",
    "ask {} whether the appointment moved to Tuesday",
    "{} needs the car keys back by Sunday",
    "book a table with {} for the anniversary dinner",
    "{} lent me a book about Roman history",
    "check with {} if the parcel arrived",
    "{} wants photos from the beach holiday",
    "buy a birthday present for {}",
    "{} changed the password of the wifi",
    "pick up the prescription that {} ordered",
    "{} is moving to Lisbon in September",
    "return the drill to {}",
    "{} asked about the tax refund paperwork",
    "the meeting with {} is at half past nine",
    "{} found a cheaper flight to Berlin",
    "send {} the recipe for lemon cake",
];

/// `n` distinct single-sentence notes (up to 400).
fn sentences(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    'outer: for (i, a) in ACTIONS.iter().enumerate() {
        for j in 0..SUBJECTS.len() {
            let s = SUBJECTS[(i * 7 + j) % SUBJECTS.len()];
            out.push(a.replace("{}", s));
            if out.len() >= n {
                break 'outer;
            }
        }
    }
    out
}

const QUESTIONS: &[&str] = &[
    "what did {} say",
    "when do I need to call {}",
    "anything about {}",
    "what do I owe {}",
    "remind me what {} wanted",
    "did {} mention a restaurant",
    "what was the thing with {}",
    "notes about {}",
    "{} appointment",
    "what should I bring to {}",
];
const TOPICS: &[&str] = &[
    "the plumber",
    "my sister",
    "the dentist",
    "the landlord",
    "the bank",
    "my boss",
    "the vet",
    "grandma",
    "the electrician",
    "school",
    "the doctor",
    "insurance",
    "the garage",
    "the neighbour",
    "taxes",
    "flights",
    "the gym",
    "medicine",
    "my brother",
    "kindergarten",
    "sink repair",
    "the contract",
    "dinner plans",
    "Lisbon",
    "the drill",
    "wifi password",
    "birthday gift",
    "lemon cake",
    "Roman history book",
    "beach photos",
    "parcel delivery",
    "Berlin trip",
    "invoice",
    "car keys",
    "prescription",
    "anniversary",
    "meeting time",
    "tax refund",
    "Thai food",
    "the wedding",
    "C12",
    "oat milk",
    "pizza",
    "bicycle",
    "the tram",
    "a new sofa",
    "the passport",
    "running shoes",
    "the garden",
    "the piano lessons",
];

fn questions(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let q = QUESTIONS[i % QUESTIONS.len()];
            let t = TOPICS[(i / QUESTIONS.len() + i * 3) % TOPICS.len()];
            q.replace("{}", t)
        })
        .collect()
}

fn settings() -> (Arc<Settings>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.entry("DATABASE_URL".into())
        .or_insert_with(|| format!("sqlite://{}/embed.db?mode=rwc", dir.path().display()));
    env.insert("LOCAL_MODELS".into(), "required".into());
    let s = Settings::from_map(&env).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    (Arc::new(s), dir)
}

async fn pipeline() -> (Pipeline, Duration, String, tempfile::TempDir) {
    let (settings, dir) = settings();
    let db = mnemo_shared::store::db::connect(&settings).await.expect("database");
    mnemo_migration::migrate_up(&db).await.expect("migrate");
    let pipeline = Pipeline::new(db, settings);
    let load = Instant::now();
    if let Err(e) = pipeline.models.wait_ready(Duration::from_secs(600)).await {
        eprintln!("models: {e}");
        std::process::exit(2);
    }
    let load = load.elapsed();
    let model = pipeline.engine.embeddings.model_id().expect("an embedding model");
    (pipeline, load, model, dir)
}

/// CPU time of this process so far (user + system), in seconds: what a note costs on one
/// core, whatever else the machine is running.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned();
    match arg(0).as_deref() {
        Some("single") => {
            let n: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(300);
            let (p, load, model, _dir) = pipeline().await;
            let notes = sentences(400);
            // Warm-up: first calls allocate buffers.
            for s in notes.iter().take(5) {
                p.engine.embeddings.passages(vec![s.clone()]).await.expect("embed");
            }
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let start = Instant::now();
            let cpu0 = cpu_secs();
            for i in 0..n {
                let t = Instant::now();
                p.engine
                    .embeddings
                    .passages(vec![notes[i % notes.len()].clone()])
                    .await
                    .expect("embed")
                    .expect("model ready");
                h.record(t.elapsed().as_micros().max(1) as u64).ok();
            }
            let cpu = (cpu_secs() - cpu0) / n as f64 * 1000.0;
            println!(
                "embed-one: model {model} load {:.0} ms; {n} notes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, CPU {cpu:.2} ms/note, {:.1} notes/s",
                load.as_secs_f64() * 1000.0,
                ms(&h, 0.5),
                ms(&h, 0.99),
                h.max() as f64 / 1000.0,
                n as f64 / start.elapsed().as_secs_f64()
            );
        }
        Some("pool") => {
            let n: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(400);
            let (p, _load, model, _dir) = pipeline().await;
            let db = &p.db;
            db.execute_unprepared(
                "DROP TABLE IF EXISTS bench_pool; \
                 CREATE TABLE bench_pool (n int PRIMARY KEY, text text NOT NULL, vector bytea NOT NULL)",
            )
            .await
            .expect("create bench_pool");
            let texts = sentences(n);
            let t = Instant::now();
            for (c, chunk) in texts.chunks(16).enumerate() {
                let vecs = p
                    .engine
                    .embeddings
                    .passages(chunk.to_vec())
                    .await
                    .expect("embed")
                    .expect("model ready");
                for (k, (text, v)) in chunk.iter().zip(vecs).enumerate() {
                    db.execute_raw(mnemo_shared::store::db::stmt(
                        db,
                        "INSERT INTO bench_pool (n, text, vector) VALUES ($1, $2, $3)",
                        vec![
                            ((c * 16 + k) as i32).into(),
                            text.clone().into(),
                            mnemo_shared::memory::vectors::encode(&v).into(),
                        ],
                    ))
                    .await
                    .expect("insert pool");
                }
            }
            println!(
                "pool: {} sentences embedded with {model} in {:.1}s",
                texts.len(),
                t.elapsed().as_secs_f64()
            );
            println!("model={model}");
        }
        Some("wait-vectors") => {
            let n: i64 = arg(1).and_then(|s| s.parse().ok()).expect("n");
            let timeout = Duration::from_secs(arg(2).and_then(|s| s.parse().ok()).unwrap_or(600));
            let (settings, _dir) = settings();
            let db = mnemo_shared::store::db::connect(&settings).await.expect("database");
            let t = Instant::now();
            loop {
                let row = db
                    .query_one_raw(mnemo_shared::store::db::stmt(
                        &db,
                        "SELECT COUNT(*) AS n FROM memory_embeddings",
                        vec![],
                    ))
                    .await
                    .expect("count");
                let have: i64 = row.map(|r| r.try_get("", "n").expect("n")).unwrap_or(0);
                if have >= n {
                    println!("vectors: {have} after {:.2}s", t.elapsed().as_secs_f64());
                    return;
                }
                if t.elapsed() > timeout {
                    println!(
                        "vectors: only {have} of {n} after {:.0}s (timeout)",
                        t.elapsed().as_secs_f64()
                    );
                    std::process::exit(1);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Some("query") => {
            let base = arg(1).expect("base_url");
            let token = arg(2).expect("api_token");
            let user = arg(3).expect("user");
            let n: usize = arg(4).and_then(|s| s.parse().ok()).unwrap_or(600);
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let qs = questions(n);
            let url = |q: &str| {
                format!(
                    "{}/memories?{}",
                    base.trim_end_matches('/'),
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("user", &user)
                        .append_pair("query", q)
                        .finish()
                )
            };
            // Warm-up (loads the user's vectors into the process cache).
            for q in qs.iter().take(10) {
                let r = client.get(url(q)).bearer_auth(&token).send().await.expect("send");
                assert!(r.status().is_success(), "status {}", r.status());
                let _ = r.bytes().await;
            }
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut errors = 0;
            let mut hits = 0usize;
            for q in &qs {
                let t = Instant::now();
                match client.get(url(q)).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                            && v["items"].as_array().is_some_and(|a| !a.is_empty())
                        {
                            hits += 1;
                        }
                    }
                    _ => errors += 1,
                }
                h.record(t.elapsed().as_micros().max(1) as u64).ok();
            }
            println!(
                "query: {n} sequential GET /memories?query=, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {hits} with results, errors {errors}",
                ms(&h, 0.5),
                ms(&h, 0.99),
                h.max() as f64 / 1000.0
            );
        }
        Some("twilio-stub") => {
            let port: u16 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(8097);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
            let mut next = 0u64;
            loop {
                let (mut sock, _) = listener.accept().await.expect("accept");
                next += 1;
                let sid = format!("SM{:032x}", next);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let mut have = Vec::new();
                    // Read the headers and the body (Content-Length) before answering.
                    loop {
                        let Ok(k) = sock.read(&mut buf).await else {
                            return;
                        };
                        if k == 0 {
                            return;
                        }
                        have.extend_from_slice(&buf[..k]);
                        if let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
                            let len: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            if have.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let body = format!(r#"{{"sid":"{sid}","status":"queued"}}"#);
                    let resp = format!(
                        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        }
        _ => {
            eprintln!("usage: mnemo-bench-embed single|pool|wait-vectors|query|twilio-stub …");
            std::process::exit(2);
        }
    }
}
