//! REST latency probe: sends N sequential GETs to each given path over one keep-alive
//! connection (after a warm-up) and prints p50/p99/max per path. Run by `bench/api.sh`.
//!
//! Usage: `mnemo-bench-api <base_url> <api_token> <requests> <path>...`

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: mnemo-bench-api <base_url> <api_token> <requests> <path>...");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    let token = args[2].clone();
    let n: usize = args[3].parse().expect("requests must be a number");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    println!("{:<60} {:>9} {:>9} {:>9}", "path", "p50 ms", "p99 ms", "max ms");
    for path in &args[4..] {
        let url = format!("{base}{path}");
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
        for i in 0..(n + 20) {
            let start = Instant::now();
            let res = client.get(&url).bearer_auth(&token).send().await.expect("request");
            let status = res.status();
            let body = res.bytes().await.expect("body");
            let took = start.elapsed().as_micros() as u64;
            if !status.is_success() {
                eprintln!("{path}: {status} {}", String::from_utf8_lossy(&body));
                std::process::exit(1);
            }
            if i >= 20 {
                hist.record(took.max(1)).expect("record");
            }
        }
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:<60} {:>9.2} {:>9.2} {:>9.2}",
            path,
            ms(0.5),
            ms(0.99),
            hist.max() as f64 / 1000.0
        );
    }
}
