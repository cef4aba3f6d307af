//! A Twilio media stand-in for `bench/media_rss.sh`: every `GET /…` answers with `size` bytes
//! of pseudo-random data (seeded by the path, so every URL is a distinct file and nothing is
//! deduplicated), sent in 64 KiB chunks at `rate` MiB/s so a file stays in flight for a while.
//! HTTP/1.1 with `Content-Length`, one request per connection.
//!
//! Usage: `mnemo-bench-media-server <port> [size_bytes=16777216] [rate_mib_per_s=4] [content_type=video/mp4]`

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8098);
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16 * 1024 * 1024);
    let rate: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let content_type = args.get(4).cloned().unwrap_or_else(|| "video/mp4".into());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    eprintln!("media stand-in on 127.0.0.1:{port}: {size} bytes at {rate} MiB/s");
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let content_type = content_type.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut seed: u64 = path
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            if sock.write_all(header.as_bytes()).await.is_err() {
                return;
            }
            const CHUNK: usize = 64 * 1024;
            let pause = Duration::from_secs_f64(CHUNK as f64 / (rate * 1024.0 * 1024.0));
            let mut chunk = vec![0u8; CHUNK];
            let mut left = size;
            while left > 0 {
                let n = left.min(CHUNK);
                for b in chunk[..n].iter_mut() {
                    // xorshift64
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *b = seed as u8;
                }
                if sock.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                left -= n;
                tokio::time::sleep(pause).await;
            }
            let _ = sock.shutdown().await;
        });
    }
}
