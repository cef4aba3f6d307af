//! Webhook load generator: pre-signs N unique Twilio text webhooks (distinct MessageSids over a
//! pool of senders), then posts them over C keep-alive connections as fast as the ingress
//! answers, and prints throughput and latency percentiles. Run by `bench/webhook.sh`, which
//! starts the ingress on PostgreSQL + Redis and runs pgbench with the same writes beside it.
//!
//! Usage: `mnemo-bench-webhook <base_url> <auth_token> [requests=20000] [connections=64] [senders=1000]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: mnemo-bench-webhook <base_url> <auth_token> [requests] [connections] [senders]"
        );
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    let token = args[2].clone();
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let conns: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    let senders: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let url = format!("{base}/webhook");
    let run = uuid::Uuid::now_v7().simple().to_string();

    // Pre-sign every request so the generator spends no CPU on HMAC while measuring.
    let requests: Vec<(String, String)> = (0..n)
        .map(|i| {
            let sid = format!("SM{}{:012}", &run[..20], i);
            let from = format!("whatsapp:+1415555{:04}", i % senders);
            let params: Vec<(String, String)> = vec![
                ("MessageSid".into(), sid.clone()),
                ("SmsMessageSid".into(), sid.clone()),
                ("AccountSid".into(), "ACbench0000000000000000000000000".into()),
                ("From".into(), from),
                ("To".into(), "whatsapp:+14155238886".into()),
                (
                    "Body".into(),
                    format!("benchmark note number {i}: buy oat milk and call the plumber"),
                ),
                ("NumMedia".into(), "0".into()),
                ("ProfileName".into(), "Bench".into()),
                ("ApiVersion".into(), "2010-04-01".into()),
            ];
            let sig = mnemo_shared::domain::signature::compute_signature(&url, &params, &token);
            let body: String = form_encode(&params);
            (sig, body)
        })
        .collect();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = client.clone();
        let requests = requests.clone();
        let next = next.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                let (sig, body) = &requests[i];
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", sig)
                    .body(body.clone())
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                hist.record(t.elapsed().as_micros().max(1) as u64).ok();
            }
            (hist, errors)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.expect("task");
        hist.add(h).unwrap();
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "webhook: {n} requests, {conns} connections, {:.1}s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {errors}",
        elapsed,
        n as f64 / elapsed,
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
    );
    if errors > 0 {
        std::process::exit(1);
    }
}

fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}
