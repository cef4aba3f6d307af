//! Issue 15's findings, each reproduced against the real ingress: stored XSS through console
//! uploads (1), credentials in the log and the console cookie (2), CSRF and DNS rebinding (3),
//! a reshaped signed webhook (5), and `/metrics` (6). Findings 4 and 7 are in `media.rs`.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::harness::*;
use base64::Engine as _;
use serde_json::{Value, json};

/// A real 2×2 PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(2, 2, image::Rgb([200, 10, 10]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn send(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/console/api/send", &body).await
}

/// Finding 1: an upload that a browser would run is refused, and whatever is served from our
/// origin as media is inert (`nosniff`, `sandbox`, documents and unknown types as downloads).
#[tokio::test]
async fn console_uploads_cannot_become_pages_on_our_origin() {
    let app = TestApp::spawn_with(console_on(vec![])).await;
    app.twilio_accepts_messages().await;
    let html = b"<html><script>fetch('/console/api/dashboard')</script></html>";
    for (content_type, data, status) in [
        ("text/html", b64(html), 415),
        ("image/svg+xml", b64(b"<svg onload=alert(1)>"), 415),
        ("image/png\u{0}", b64(&png()), 415),
        ("", b64(&png()), 415),
        // The right label on the wrong bytes.
        ("image/png", b64(html), 422),
        ("application/pdf", b64(html), 422),
    ] {
        let res = send(
            &app,
            json!({"phone": "+14155550111", "file": {"content_type": content_type, "data": data}}),
        )
        .await;
        assert_eq!(res.status(), status, "{content_type:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);

    // A real photo is accepted and served inert.
    let res = send(
        &app,
        json!({"phone": "+14155550111", "text": "ok", "file": {"content_type": "image/png", "data": b64(&png())}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let sent: Value = res.json().await.unwrap();
    let url = sent["media_url"].as_str().unwrap();
    let path = url.trim_start_matches(&app.settings.public_base_url);
    let got = app.get(path).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert!(got.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));

    // A file written before types were checked (or by anything else) that claims HTML.
    let dir = std::path::Path::new(&app.settings.media_dir).join("console");
    let id = "0123456789abcdef0123456789abcdef";
    std::fs::write(dir.join(id), html).unwrap();
    std::fs::write(dir.join(format!("{id}.type")), "text/html").unwrap();
    let got = app.get(&format!("/console/media/{id}")).await;
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.headers()["content-disposition"], "attachment");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
}

/// Finding 1, stored media links: an object whose recorded type is HTML is served as a
/// download, never as a page.
#[tokio::test]
async fn media_links_never_serve_a_page() {
    let app = TestApp::spawn().await;
    let body = b"<html><script>alert(1)</script></html>";
    let sha = hex::encode(sha2::Sha256::digest(body));
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), body).unwrap();
    app.state
        .media
        .put(&mnemo_shared::media::storage_key(&sha), tmp.path(), "text/html")
        .await
        .unwrap();

    app.exec_with("INSERT INTO media_objects (id, sha256, size_bytes, content_type, storage_key, ref_count, created_at) \
             VALUES ($1, $2, $3, 'text/html', $4, 1, $5)",
            [
                uuid::Uuid::now_v7().into(),
                sha.clone().into(),
                (body.len() as i64).into(),
                mnemo_shared::media::storage_key(&sha).into(),
                chrono::Utc::now().into(),
            ]).await;
    let link = app.state.media.signed_url(&sha, "text/html").await;
    let path = link.trim_start_matches(&app.settings.public_base_url);
    let got = app.get(path).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.headers()["content-disposition"], "attachment");
}

use sha2::Digest as _;

/// Everything the process logs, for finding 2.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        struct W(Arc<Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || W(sink.clone()))
            .init();
        buf
    })
    .clone()
}

/// Finding 2: the console cookie is a signed, expiring session, not the token.
#[tokio::test]
async fn the_console_cookie_is_a_session_not_the_token() {
    const TOKEN: &str = "tok-9f8e7d6c5b4a-secret";
    let app = TestApp::spawn_with(console_on(vec![("API_TOKEN", TOKEN.into())])).await;
    let plain = no_redirects();
    let res = app.get_via(&plain, &format!("/console?token={TOKEN}"), None).await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!cookie.contains(TOKEN), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let res = app.get_via(&plain, "/console/api/dashboard", Some(&pair)).await;
    assert_eq!(res.status(), 200);
    // The raw token is no cookie; neither is a tampered session.
    for forged in [
        format!("mnemo_console={TOKEN}"),
        format!("{pair}0"),
        pair.replacen("mnemo_console=", "mnemo_console=9", 1),
    ] {
        let res = app.get_via(&plain, "/console/api/dashboard", Some(&forged)).await;
        assert_eq!(res.status(), 401, "{forged}");
    }
}

/// Finding 2: `?token=` never reaches the request log.
#[tokio::test]
async fn the_api_token_stays_out_of_the_log() {
    let log = captured_log();
    const TOKEN: &str = "tok-1a2b3c4d5e6f-secret";
    let app = TestApp::spawn_with(console_on(vec![("API_TOKEN", TOKEN.into())])).await;
    let plain = no_redirects();
    let res = app.get_via(&plain, &format!("/console/chat?token={TOKEN}"), None).await;
    assert_eq!(res.status(), 303);
    // The request line is logged (redacted), the token never.
    wait_for("the request line in the log", Duration::from_secs(10), || async {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        assert!(!text.contains(TOKEN), "the token reached the log:\n{text}");
        text.contains("/console/chat?token=")
    })
    .await;
}

/// Finding 3: another site can neither post to the console nor read the API by rebinding
/// its name to 127.0.0.1 (zero-settings mode: no token).
#[tokio::test]
async fn other_sites_cannot_use_the_open_api() {
    let app = TestApp::spawn_with(Options {
        twilio: false,
        extra: vec![("CONSOLE_ENABLED", "true".into()), ("ALLOWED_HOSTS", "mnemo.internal".into())],
        ..Options::default()
    })
    .await;
    // DNS rebinding: our address under the attacker's name.
    let res = app
        .http
        .get(app.url("/memories/list"))
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);
    for host in ["localhost", "mnemo.internal:8080"] {
        let res =
            app.http.get(app.url("/memories/list")).header("host", host).send().await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
    // CSRF: a simple cross-site POST, a JSON one from another origin, a plain-text one.
    let body = r#"{"phone": "+14155550112", "text": "sent by evil.example"}"#;
    for (content_type, origin, status) in [
        ("text/plain", Some("http://evil.example"), 403),
        ("application/json", Some("http://evil.example"), 403),
        ("application/json", Some("null"), 403),
        ("text/plain", None, 415),
        ("application/x-www-form-urlencoded", None, 415),
    ] {
        let mut req = app
            .http
            .post(app.url("/console/api/send"))
            .header("content-type", content_type)
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), status, "{content_type} from {origin:?}");
    }
    let res = app
        .http
        .post(app.url("/memories"))
        .header("content-type", "text/plain")
        .header("origin", "http://evil.example")
        .body(r#"{"user": "+14155550112", "kind": "text", "text": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);
    // Our own page (same origin) still works.
    let res = app
        .http
        .post(app.url("/console/api/send"))
        .header("content-type", "application/json")
        .header("origin", app.base.as_str())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Finding 5: moving `MessageType`+value into `MessageSid`'s value keeps Twilio's signature
/// valid; the strict format refuses it, so it is not stored as a second message.
#[tokio::test]
async fn a_reshaped_signed_webhook_is_refused() {
    let app = TestApp::without_worker().await;
    let sid = new_sid();
    let original: Vec<(String, String)> = text_message(&sid, "whatsapp:+14155550113", "hi")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let url = format!("{}/webhook", app.settings.public_base_url);
    let sig = twilio_signature(&url, &original);
    assert_eq!(app.post_form("/webhook", Some(&sig), &original).await.status(), 200);

    let reshaped: Vec<(String, String)> = original
        .iter()
        .filter(|(k, _)| k != "MessageType")
        .map(|(k, v)| match k.as_str() {
            "MessageSid" => (k.clone(), format!("{v}MessageTypetext")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    assert_eq!(
        twilio_signature(&url, &reshaped),
        sig,
        "the reshaped form carries the original signature"
    );
    assert_eq!(app.post_form("/webhook", Some(&sig), &reshaped).await.status(), 400);

    // Another account's message, and a repeated key, signed: refused as well.
    let other: Vec<(String, String)> = text_message(&new_sid(), "whatsapp:+14155550113", "x")
        .into_iter()
        .map(|(k, v)| match k {
            "AccountSid" => (k.to_string(), "AC00000000000000000000000000000000".to_string()),
            _ => (k.to_string(), v.to_string()),
        })
        .collect();
    let s = twilio_signature(&url, &other);
    assert_eq!(app.post_form("/webhook", Some(&s), &other).await.status(), 400);
    let mut repeated: Vec<(String, String)> =
        text_message(&new_sid(), "whatsapp:+14155550113", "x")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    repeated.push(("Body".into(), "again".into()));
    let s = twilio_signature(&url, &repeated);
    assert_eq!(app.post_form("/webhook", Some(&s), &repeated).await.status(), 400);

    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 1);
}

fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Finding 6: `/metrics` needs `METRICS_TOKEN` when set (below: and a scrape does not query
/// the database more than once per 10 s).
#[tokio::test]
async fn metrics_need_their_token() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        extra: vec![("METRICS_TOKEN", "scrape-me".into())],
        ..Options::default()
    })
    .await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    let with_token =
        |token: &'static str| app.http.get(app.url("/metrics")).bearer_auth(token).send();
    let res = with_token("wrong").await.unwrap();
    assert_eq!(res.status(), 401);
    let res = with_token("scrape-me").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("mnemo_queue_depth"));
}

#[tokio::test]
async fn metrics_scrapes_spare_the_database() {
    let app = TestApp::without_worker().await;
    let scrape = || async {
        let res = app.get("/metrics").await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let before = gauge(&scrape().await, "mnemo_queue_depth");
    for i in 0..3 {
        let sid = new_sid();
        let body = format!("note {i}");
        let res = app.post_webhook(&text_message(&sid, "whatsapp:+14155550114", &body)).await;
        assert_eq!(res.status(), 200);
    }
    app.wait_count("SELECT COUNT(*) FROM interactions WHERE status = 'received'", 3).await;
    // Within 10 s of the last query: the cached figure, not a new query.
    assert_eq!(gauge(&scrape().await, "mnemo_queue_depth"), before);
}
