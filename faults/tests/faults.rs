//! Fault tests with real processes (issue: "nothing is lost"). They need PostgreSQL
//! (`TEST_DATABASE_URL`), `redis-server` and the binaries (`cargo build --bins`), so they are
//! `#[ignore]`d in the plain `cargo test` and run by `.ci/run`:
//!
//!     cargo build --bins && TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!       cargo test -p mnemo-faults -- --ignored --test-threads=1 --nocapture

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mnemo_faults::*;

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .expect("fault tests need TEST_DATABASE_URL (PostgreSQL)")
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A stack named `name` on `database_url` with its ingress up (no worker yet), queueing on
/// `redis` under `queue` and sending through the Twilio stand-in, `extra` settings on top.
async fn stack_with_ingress(
    name: &str,
    database_url: &str,
    redis: &Redis,
    outside: &Outside,
    queue: &str,
    extra: &[(&str, &str)],
) -> Stack {
    let twilio = outside.twilio.uri();
    let mut settings = vec![
        ("REDIS_URL", redis.url.as_str()),
        ("QUEUE_NAME", queue),
        ("TWILIO_API_BASE", twilio.as_str()),
    ];
    settings.extend_from_slice(extra);
    let mut stack = Stack::new(name, database_url, env(&settings)).await;
    stack.start_ingress().await;
    stack
}

/// Watches messages a fault left unfinished from the moment a worker is up again: returns how
/// long each took to be answered (`processed`), or `None` for one still unanswered after 60 s.
fn watch_recovery(
    db: mnemo_shared::sea_orm::DatabaseConnection,
    sids: Vec<String>,
    up: Instant,
) -> tokio::task::JoinHandle<Vec<Option<Duration>>> {
    use mnemo_shared::sea_orm::{ConnectionTrait, Statement};
    tokio::spawn(async move {
        let mut answered: HashMap<String, Duration> = HashMap::new();
        while answered.len() < sids.len() && up.elapsed() < Duration::from_secs(60) {
            let list = sids
                .iter()
                .filter(|s| !answered.contains_key(*s))
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",");
            let rows = db
                .query_all_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT message_sid FROM interactions WHERE message_sid IN ({list}) \
                         AND status = 'processed'"
                    ),
                ))
                .await
                .unwrap_or_default();
            for row in rows {
                if let Ok(sid) = row.try_get::<String>("", "message_sid") {
                    answered.insert(sid, up.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sids.iter().map(|s| answered.get(s).copied()).collect()
    })
}

/// The messages not yet answered right now with one of `statuses` (SQL list).
async fn unfinished(stack: &Stack, statuses: &str) -> Vec<String> {
    use mnemo_shared::sea_orm::{ConnectionTrait, Statement};
    stack
        .db
        .query_all_raw(Statement::from_string(
            stack.db.get_database_backend(),
            format!(
                "SELECT message_sid FROM interactions WHERE direction = 'inbound' \
                 AND status IN ({statuses})"
            ),
        ))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.try_get::<String>("", "message_sid").ok())
        .collect()
}

/// Prints p50/max of the answer times; with `bound`, asserts every message was answered
/// within it.
fn recovery_report(what: &str, times: Vec<Option<Duration>>, bound: Option<Duration>) {
    let missing = times.iter().filter(|t| t.is_none()).count();
    assert_eq!(missing, 0, "{what}: {missing} affected message(s) unanswered after 60 s");
    let mut times: Vec<Duration> = times.into_iter().flatten().collect();
    times.sort();
    if times.is_empty() {
        println!("{what}: no message was in flight");
        return;
    }
    let p50 = times[times.len() / 2];
    let max = *times.last().unwrap();
    println!(
        "{what}: {} affected message(s) answered, recovery p50 {:.1} s, max {:.1} s (default settings)",
        times.len(),
        p50.as_secs_f64(),
        max.as_secs_f64()
    );
    if let Some(bound) = bound {
        assert!(
            max <= bound,
            "{what}: a message took {max:?} to be answered after a worker was up"
        );
    }
}

/// Replies per message body: every message answered, duplicates counted.
async fn reply_counts(outside: &Outside) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in outside.sent().await {
        let body = m.get("Body").cloned().unwrap_or_default();
        *counts.entry(body).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real processes on PostgreSQL + Redis: run by .ci/run"]
async fn killing_workers_loses_nothing() {
    let tmp = tempdir();
    let redis = Redis::start(&tmp);
    let outside = Outside::start().await;
    // Everything else at its default: the lease, heartbeat, sweeper and attempts.
    let mut stack =
        stack_with_ingress("kill", &admin_url(), &redis, &outside, "faults:kill", &[]).await;
    stack.start_worker();
    stack.start_worker();

    const N: i64 = 500;
    let hooks = signed_webhooks(&stack.base, N as usize, 50);
    let base = stack.base.clone();
    let burst = tokio::spawn(async move { post_all(&base, hooks, 16).await });

    // Kill worker 0 with SIGKILL twice while the burst is being processed.
    let mut kills = 0;
    let mut watches = Vec::new();
    let mut backlog_watches = Vec::new();
    let start = Instant::now();
    while kills < 2 && start.elapsed() < Duration::from_secs(120) {
        let done = stack.inbound_with_status("processed").await;
        if (kills == 0 && done >= 100) || (kills == 1 && done >= 300) {
            stack.kill_worker(0);
            // In flight on the killed worker (and, conservatively, on the other one); the
            // queued backlog is reported too.
            let affected = unfinished(&stack, "'processing'").await;
            let backlog = unfinished(&stack, "'received'").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stack.restart_worker(0);
            // Measured from the restart (the other worker was up all along: stricter still).
            let processing = stack.inbound_with_status("processing").await;
            println!("kill {}: {processing} message(s) in flight", kills + 1);
            let up = Instant::now();
            watches.push(watch_recovery(stack.db.clone(), affected, up));
            backlog_watches.push(watch_recovery(stack.db.clone(), backlog, up));
            kills += 1;
            println!("killed worker 0 (kill {kills}) at {done} processed");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kills, 2, "the burst ended before both kills");
    assert_eq!(burst.await.unwrap(), N as usize, "every webhook answered 200");

    let processed = stack.wait_processed(N, Duration::from_secs(120)).await;
    assert_eq!(processed, N, "every message processed");
    let mut times = Vec::new();
    for w in watches {
        times.extend(w.await.unwrap());
    }
    recovery_report("kill test, in flight at the kill", times, Some(Duration::from_secs(30)));
    let mut times = Vec::new();
    for w in backlog_watches {
        times.extend(w.await.unwrap());
    }
    recovery_report("kill test, queued at the kill", times, None);
    assert_eq!(
        stack.count("SELECT COUNT(*) FROM interactions WHERE direction = 'inbound'").await,
        N
    );
    assert_eq!(stack.count("SELECT COUNT(*) FROM memories").await, N, "exactly one memory each");
    assert_eq!(stack.count("SELECT COUNT(DISTINCT interaction_id) FROM memories").await, N);
    assert_eq!(
        stack
            .count(
                "SELECT COUNT(*) FROM interactions WHERE direction = 'outbound' AND status = 'sent'"
            )
            .await,
        N
    );
    let counts = reply_counts(&outside).await;
    let total: usize = counts.values().sum();
    let duplicates = total - counts.len();
    println!(
        "kill test: {N} messages, {total} replies sent, {duplicates} duplicate(s) over 2 kills"
    );
    assert_eq!(counts.len(), N as usize, "every message answered");
    assert!(duplicates <= 2, "at most one duplicate reply per kill, got {duplicates}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real processes on PostgreSQL + Redis: run by .ci/run"]
async fn redis_flushall_mid_burst_loses_nothing() {
    let tmp = tempdir();
    let redis = Redis::start(&tmp);
    let outside = Outside::start().await;
    // Everything else at its default: the sweeper's interval and age.
    let mut stack =
        stack_with_ingress("flushall", &admin_url(), &redis, &outside, "faults:flush", &[]).await;
    stack.start_worker();

    const N: i64 = 300;
    let hooks = signed_webhooks(&stack.base, N as usize, 30);
    let (first, second) = hooks.split_at(150);
    let (first, second) = (first.to_vec(), second.to_vec());
    let base = stack.base.clone();
    assert_eq!(post_all(&base, first, 16).await, 150);
    // Redis loses everything: queued jobs, idempotency keys, worker registrations.
    redis.flushall();
    let flushed = Instant::now();
    let affected = unfinished(&stack, "'received', 'processing'").await;
    println!("FLUSHALL after 150 webhooks: {} unanswered", affected.len());
    let watch = watch_recovery(stack.db.clone(), affected, flushed);
    assert_eq!(post_all(&base, second, 16).await, 150);

    let processed = stack.wait_processed(N, Duration::from_secs(120)).await;
    assert_eq!(processed, N, "the sweeper re-enqueued what Redis lost");
    recovery_report(
        "flushall test, unanswered at the FLUSHALL",
        watch.await.unwrap(),
        Some(Duration::from_secs(30)),
    );
    assert_eq!(stack.count("SELECT COUNT(*) FROM memories").await, N);
    let counts = reply_counts(&outside).await;
    assert_eq!(counts.len(), N as usize);
    println!("flushall test: {N} messages processed, {} replies", counts.values().sum::<usize>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real processes on PostgreSQL + Redis: run by .ci/run"]
async fn mem0_down_for_30_seconds_loses_nothing() {
    let tmp = tempdir();
    let redis = Redis::start(&tmp);
    let outside = Outside::start().await;
    let mut stack = stack_with_ingress(
        "mem0-down",
        &admin_url(),
        &redis,
        &outside,
        "faults:mem0",
        &[
            ("MEM0_API_KEY", "m0-faults"),
            ("MEM0_API_BASE", &outside.mem0.uri()),
            ("WORKER_CONCURRENCY", "16"),
            ("JOB_MAX_ATTEMPTS", "12"),
            ("JOB_RETRY_BASE_MS", "500"),
            ("JOB_RETRY_MAX_SECS", "5"),
            ("JOB_LEASE_SECS", "15"),
        ],
    )
    .await;
    stack.start_worker();

    outside.mem0_down.store(true, Ordering::SeqCst);
    const N: i64 = 50;
    let hooks = signed_webhooks(&stack.base, N as usize, 10);
    assert_eq!(post_all(&stack.base, hooks, 8).await, N as usize);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        stack.inbound_with_status("processed").await,
        0,
        "nothing can finish while Mem0 is down"
    );
    outside.mem0_down.store(false, Ordering::SeqCst);
    println!("Mem0 back after 30 s");

    let processed = stack.wait_processed(N, Duration::from_secs(90)).await;
    assert_eq!(processed, N, "every message processed after Mem0 recovered");
    assert_eq!(stack.count("SELECT COUNT(*) FROM memories WHERE mem0_id IS NOT NULL").await, N);
    assert_eq!(stack.count("SELECT COUNT(*) FROM interactions WHERE status = 'failed'").await, 0);
    assert_eq!(outside.mem0_adds.load(Ordering::SeqCst), N as usize, "one add per message");
    assert_eq!(reply_counts(&outside).await.len(), N as usize);
}

/// A throwaway PostgreSQL cluster of our own, so restarting it disturbs nobody.
struct PrivatePostgres {
    data: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start(dir: &std::path::Path) -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .max()
            .unwrap();
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let pg = PrivatePostgres { data, bin, port };
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status().unwrap();
        pg.as_postgres(&format!(
            "{}/initdb -D {} -A trust -U postgres >/dev/null",
            pg.bin.display(),
            pg.data.display()
        ));
        pg.ctl("start");
        pg
    }

    fn as_postgres(&self, cmd: &str) {
        let status =
            Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", cmd]).status().unwrap();
        assert!(status.success(), "{cmd}");
    }

    fn ctl(&self, action: &str) {
        let extra = if action == "start" {
            format!(
                "-w -o '-p {} -k /tmp -c listen_addresses=127.0.0.1' -l {}/log",
                self.port,
                self.data.display()
            )
        } else {
            "-w -m fast".to_string()
        };
        self.as_postgres(&format!(
            "{}/pg_ctl -D {} {action} {extra} >/dev/null",
            self.bin.display(),
            self.data.display()
        ));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args([
                "postgres",
                "-s",
                "/bin/sh",
                "-c",
                &format!(
                    "{}/pg_ctl -D {} stop -m immediate >/dev/null 2>&1",
                    self.bin.display(),
                    self.data.display()
                ),
            ])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real processes on PostgreSQL + Redis: run by .ci/run"]
async fn postgres_restart_gives_503_then_recovers() {
    let tmp = tempdir();
    let pg = PrivatePostgres::start(&tmp);
    let redis = Redis::start(&tmp);
    let outside = Outside::start().await;
    let mut stack =
        stack_with_ingress("pg-restart", &pg.url(), &redis, &outside, "faults:pg", &[]).await;
    stack.start_worker();
    let http = reqwest::Client::new();
    let hooks = signed_webhooks(&stack.base, 3, 1);
    let post = |i: usize| {
        let (_, sig, body) = hooks[i].clone();
        let http = http.clone();
        let url = format!("{}/webhook", stack.base);
        async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", sig)
                .body(body)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(post(0).await, 200);

    let _ = stack.db.clone().close().await;
    pg.ctl("stop");
    println!("PostgreSQL stopped");
    assert_eq!(post(1).await, 503, "webhook refuses while the database is down");
    let ready = http.get(format!("{}/ready", stack.base)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let health = http.get(format!("{}/health", stack.base)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the process itself is alive");

    pg.ctl("start");
    println!("PostgreSQL started again");
    let start = Instant::now();
    let mut status = 0;
    while start.elapsed() < Duration::from_secs(30) {
        status = post(1).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(status, 200, "the ingress recovered by itself");
    assert_eq!(
        http.get(format!("{}/ready", stack.base)).send().await.unwrap().status().as_u16(),
        200
    );
    println!("recovered after {:?}", start.elapsed());
    // The message refused during the outage was accepted on retry and processed.
    let db = mnemo_shared::store::db::connect_url(&stack.env[0].1, 2).await.unwrap();
    stack.db = db;
    assert_eq!(stack.wait_processed(2, Duration::from_secs(60)).await, 2);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mnemo-faults-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
