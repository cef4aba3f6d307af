//! Pipeline scaling benchmark: webhook → worker → reply sent, with 1, 2 and 4 worker processes
//! on PostgreSQL + Redis. Twilio and Mem0 are local stand-ins answering every call after a fixed
//! latency (50 ms unless given), so a job is latency-bound (Mem0 lookup + add + event poll +
//! Twilio send ≈ 4 calls). Reports throughput, webhook-to-reply p50/p99, each process's peak
//! RSS and the machine's CPU per message. The burst sends two notes per user, so each user's
//! messages are handled in order (one after the other) and the users are what runs in parallel.
//!
//!   cargo build --release --bins && target/release/mnemo-bench-scaling [messages per worker=400] [latency ms=50]
//!
//! At 50 ms, four workers on a 2-core machine run out of CPU before they run out of latency
//! (the ingress, the workers, PostgreSQL, Redis, the stand-ins and the client share two cores);
//! a longer latency (e.g. 250 ms, nearer what Mem0 and Twilio answer in) measures scaling
//! where the workers, not the machine, are the bound. Each run prints the CPU the whole
//! machine spent per message, so the two bounds can be told apart.
//!
//! Needs `TEST_DATABASE_URL` (or BENCH_PG, default postgres://postgres@127.0.0.1:5432/postgres)
//! and `redis-server` on PATH. Run by `bench/scaling.sh`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mnemo_faults::*;

const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let per_worker: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(400);
    let latency_ms: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let latency = Duration::from_millis(latency_ms);
    let admin = std::env::var("BENCH_PG")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut base_rate = None;
    for workers in [1usize, 2, 4] {
        let n = per_worker * workers;
        let tmp =
            std::env::temp_dir().join(format!("mnemo-scaling-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&tmp).unwrap();
        let redis = Redis::start(&tmp);
        let outside = Outside::start_with_latency(latency).await;
        let env: Vec<(String, String)> = [
            ("REDIS_URL", redis.url.as_str()),
            ("QUEUE_NAME", "bench:scaling"),
            ("TWILIO_API_BASE", &outside.twilio.uri()),
            ("MEM0_API_KEY", "m0-bench"),
            ("MEM0_API_BASE", &outside.mem0.uri()),
            ("WORKER_CONCURRENCY", &CONCURRENCY.to_string()),
            ("RUST_LOG", "warn"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut stack = Stack::new(&format!("scaling-{workers}"), &admin, env).await;
        stack.start_ingress().await;
        for _ in 0..workers {
            stack.start_worker();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Two notes per user, sent back to back: each user's pair is handled in order, while
        // the users (more of them as the load grows) run in parallel.
        let hooks = signed_webhooks(&stack.base, n, (n / 2).max(1));
        let mut sent_at: HashMap<usize, Instant> = HashMap::new();
        let http = reqwest::Client::new();
        let url = format!("{}/webhook", stack.base);
        let cpu_before = machine_cpu();
        let start = Instant::now();
        // Post at a steady pace well above the ideal rate, so the workers are never starved.
        {
            use futures::StreamExt;
            let results: Vec<(usize, Instant)> =
                futures::stream::iter(hooks.into_iter().enumerate())
                    .map(|(i, (_, sig, body))| {
                        let http = http.clone();
                        let url = url.clone();
                        async move {
                            let t = Instant::now();
                            let r = http
                                .post(&url)
                                .header("content-type", "application/x-www-form-urlencoded")
                                .header("x-twilio-signature", sig)
                                .body(body)
                                .send()
                                .await;
                            assert!(
                                r.map(|r| r.status().is_success()).unwrap_or(false),
                                "webhook refused"
                            );
                            (i, t)
                        }
                    })
                    .buffer_unordered(32)
                    .collect()
                    .await;
            sent_at.extend(results);
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let got = outside.messages.count();
            if got >= n || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cpu = machine_cpu().since(&cpu_before);
        let replies: Vec<(String, Instant)> = outside
            .messages
            .created()
            .into_iter()
            .map(|c| (c.form.get("Body").cloned().unwrap_or_default(), c.at))
            .collect();
        let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000, 3).unwrap();
        let mut last = start;
        for (body, at) in &replies {
            if let Some(i) = note_index(body)
                && let Some(t0) = sent_at.get(&i)
            {
                hist.record(at.duration_since(*t0).as_millis().max(1) as u64).ok();
                last = last.max(*at);
            }
        }
        let elapsed = last.duration_since(start).as_secs_f64();
        let rate = replies.len() as f64 / elapsed;
        let ideal = (workers * CONCURRENCY) as f64 / (4.0 * latency.as_secs_f64());
        let speedup = base_rate.map(|b: f64| rate / b).unwrap_or(1.0);
        if workers == 1 {
            base_rate = Some(rate);
        }
        let rss = stack
            .peak_rss_mib()
            .into_iter()
            .map(|(name, mb)| format!("{name} {mb:.1} MiB"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "workers={workers} messages={n} replies={} in {elapsed:.1}s: {rate:.1} msg/s \
             (latency-bound ideal {ideal:.0}/s, {:.0}%; ×{speedup:.2} vs 1 worker); \
             webhook→reply under the burst (queueing included) p50 {} ms, p99 {} ms; peak RSS: {rss}; \
             machine CPU {:.0}% busy, {:.1} ms of CPU per message (all processes)",
            replies.len(),
            100.0 * rate / ideal,
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            100.0 * cpu.busy_share(),
            cpu.busy_ms() / n.max(1) as f64,
        );
        let paced = paced_latency(&stack.base, &outside, ideal * 0.5).await;
        println!(
            "workers={workers} paced at {:.0} msg/s (half the ideal) for 4 s: webhook→reply p50 {} ms, \
             p99 {} ms (the reply reaches the Twilio stand-in after three {latency_ms} ms calls: {} ms is the floor)",
            ideal * 0.5,
            paced.value_at_quantile(0.5),
            paced.value_at_quantile(0.99),
            3 * latency_ms,
        );
        drop(stack);
        drop(redis);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

/// The machine's CPU time so far, from `/proc/stat` (clock ticks of 10 ms).
struct CpuTicks {
    busy: u64,
    total: u64,
}

fn machine_cpu() -> CpuTicks {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
    let idle = at(3) + at(4);
    let total: u64 = ticks.iter().take(8).sum();
    CpuTicks { busy: total - idle, total }
}

impl CpuTicks {
    fn since(&self, before: &CpuTicks) -> CpuTicks {
        CpuTicks {
            busy: self.busy.saturating_sub(before.busy),
            total: self.total.saturating_sub(before.total),
        }
    }
    fn busy_share(&self) -> f64 {
        self.busy as f64 / self.total.max(1) as f64
    }
    fn busy_ms(&self) -> f64 {
        self.busy as f64 * 10.0
    }
}

/// Webhook-to-reply latency without a backlog: posts at a steady `rate` for 4 s, each
/// webhook on its own task so a slow answer never delays the next tick.
async fn paced_latency(base: &str, outside: &Outside, rate: f64) -> Histogram<u64> {
    let n = (rate * 4.0).max(1.0) as usize;
    let hooks = signed_webhooks(base, n, 200);
    let before = outside.messages.count();
    let http = reqwest::Client::new();
    let url = format!("{base}/webhook");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut sent_at: HashMap<usize, Instant> = HashMap::new();
    let mut posts = Vec::with_capacity(n);
    for (i, (_, sig, body)) in hooks.into_iter().enumerate() {
        tick.tick().await;
        sent_at.insert(i, Instant::now());
        let (http, url) = (http.clone(), url.clone());
        posts.push(tokio::spawn(async move {
            http.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }));
    }
    for p in posts {
        assert!(p.await.unwrap_or(false), "webhook refused");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while outside.messages.count() < before + n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000, 3).unwrap();
    for c in outside.messages.created().into_iter().skip(before) {
        let body = c.form.get("Body").cloned().unwrap_or_default();
        if let Some(t0) = note_index(&body).and_then(|i| sent_at.get(&i)) {
            hist.record(c.at.duration_since(*t0).as_millis().max(1) as u64).ok();
        }
    }
    hist
}

/// The message number in a reply ("… fault test note 12: water the plants …").
fn note_index(body: &str) -> Option<usize> {
    let at = body.find("note ")? + 5;
    let digits: String = body[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}
