//! The web console's API (issue 8): send → signed form → `/webhook` → stored and answered;
//! conversation polling; the dashboard's JSON; off when disabled; the API token when set.

use std::time::Duration;

use crate::harness::{TestApp, console_on, no_redirects, try_wait_for};
use base64::Engine as _;
use serde_json::{Value, json};

async fn send(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/console/api/send", &body).await
}

/// Polls the conversation until it holds `want` messages (15 s at most).
async fn conversation(app: &TestApp, phone: &str, want: usize) -> Value {
    let last = std::cell::RefCell::new(Value::Null);
    let reached = try_wait_for(Duration::from_secs(15), || async {
        let res = app
            .call(
                reqwest::Method::GET,
                &format!("/console/api/messages?phone={}", phone.replace('+', "%2B")),
            )
            .await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let n = v["messages"].as_array().unwrap().len();
        *last.borrow_mut() = v.clone();
        (n >= want).then_some(v)
    })
    .await;
    reached
        .unwrap_or_else(|| panic!("conversation never reached {want} messages: {}", last.borrow()))
}

#[tokio::test]
async fn text_goes_through_the_signed_webhook_and_is_answered() {
    // Twilio configured: the webhook checks X-Twilio-Signature, so the console must sign.
    let app = TestApp::spawn_with(console_on(vec![])).await;
    app.twilio_accepts_messages().await;
    let res =
        send(&app, json!({"phone": "+14155550101", "text": "Parked on level 3, spot 42"})).await;
    assert_eq!(res.status(), 200);
    let sent: Value = res.json().await.unwrap();
    let sid = sent["message_sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(sent["phone"], "+14155550101");
    assert_eq!(sent["webhook_status"], 200);

    app.wait_count(
        &format!(
            "SELECT COUNT(*) FROM interactions WHERE message_sid = '{sid}' \
             AND direction = 'inbound' AND kind = 'text' AND body = 'Parked on level 3, spot 42'"
        ),
        1,
    )
    .await;
    let conv = conversation(&app, "+14155550101", 2).await;
    // The page shows times in the user's zone (inferred from +1 415), as the replies do.
    assert_eq!(conv["timezone"], "America/Los_Angeles");
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["direction"], "inbound");
    assert_eq!(msgs[0]["body"], "Parked on level 3, spot 42");
    assert_eq!(msgs[1]["direction"], "outbound");
    assert!(msgs[1]["body"].as_str().unwrap().contains("Parked on level 3"), "{}", msgs[1]);
    // The reply went to Twilio for this number (the outbound row is recorded before the send).
    app.wait_sent(1).await;
    let out = app.sent_messages().await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["To"], "whatsapp:+14155550101");

    // `after` returns only what was recorded later.
    let first_at = msgs[0]["created_at"].as_str().unwrap();
    let later = app
        .api_json(&format!(
            "/console/api/messages?phone=%2B14155550101&after={}",
            first_at.replace('+', "%2B")
        ))
        .await;
    let later = later["messages"].as_array().unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0]["direction"], "outbound");
}

#[tokio::test]
async fn photo_is_served_at_a_twilio_like_url_and_posted_as_media() {
    let app = TestApp::spawn_with(console_on(vec![])).await;
    app.twilio_accepts_messages().await;
    // PNG's signature, then filler: uploads must be what their type says.
    let mut bytes: Vec<u8> = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    let data = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let res = send(
        &app,
        json!({"phone": "+14155550102", "text": "my bike",
               "file": {"content_type": "image/png", "data": data}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let sent: Value = res.json().await.unwrap();
    let sid = sent["message_sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("MM"), "{sid}");
    let url = sent["media_url"].as_str().unwrap().to_string();
    let prefix = format!("{}/console/media/", app.settings.public_base_url);
    assert!(url.starts_with(&prefix), "{url}");

    // The media URL answers with the bytes and type (the path on our own listener).
    let path = url.trim_start_matches(&app.settings.public_base_url);
    let got = app.get(path).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
    // Unknown ids are 404s.
    let missing = app.get("/console/media/00000000000000000000000000000000").await;
    assert_eq!(missing.status(), 404);

    app.wait_count(
        &format!(
            "SELECT COUNT(*) FROM interactions WHERE message_sid = '{sid}' AND kind = 'image'"
        ),
        1,
    )
    .await;
    let conv = conversation(&app, "+14155550102", 1).await;
    let m = &conv["messages"][0];
    assert_eq!(m["kind"], "image");
    assert_eq!(m["media_url"], url.as_str());
    assert_eq!(m["media_content_type"], "image/png");
}

#[tokio::test]
async fn dashboard_json_has_the_totals() {
    let app = TestApp::spawn_with(console_on(vec![])).await;
    app.twilio_accepts_messages().await;
    for (phone, text) in [
        ("+14155550103", "Lunch with Ana on Friday"),
        ("+14155550103", "The router password is hunter2"),
        ("+14155550104", "Dentist at 9"),
    ] {
        assert_eq!(send(&app, json!({"phone": phone, "text": text})).await.status(), 200);
    }
    app.wait_count("SELECT COUNT(*) FROM interactions WHERE direction = 'outbound'", 3).await;
    app.wait_count("SELECT COUNT(*) FROM memories", 3).await;
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = 'processed' \
         AND processed_at IS NOT NULL",
        3,
    )
    .await;
    let d = app.api_json("/console/api/dashboard").await;
    assert_eq!(d["summary"]["users"], 2);
    assert_eq!(d["summary"]["interactions"]["total"], 6);
    assert_eq!(d["summary"]["interactions"]["by_direction"]["inbound"], 3);
    assert_eq!(d["summary"]["memories"]["total"], 3);
    let by_day: i64 =
        d["memories_by_day"].as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum();
    assert_eq!(by_day, 3);
    let day = d["memories_by_day"][0]["day"].as_str().unwrap();
    assert_eq!(day.len(), 10, "{day}");
    assert_eq!(d["jobs"]["by_status"]["processed"], 3);
    assert_eq!(d["jobs"]["latency_samples"], 3);
    assert_eq!(d["latest"].as_array().unwrap().len(), 6);
    assert_eq!(d["users"][0]["phone"], "+14155550103");
    assert_eq!(d["users"][0]["interactions"], 4);

    // Drill-down.
    let u = app.api_json("/console/api/dashboard?user=%2B14155550104").await;
    assert_eq!(u["phone"], "+14155550104");
    assert_eq!(u["summary"]["interactions"]["total"], 2);
    assert_eq!(u["summary"]["memories"]["total"], 1);
    assert_eq!(u["latest"].as_array().unwrap().len(), 2);

    // The pages themselves.
    for (path, marker) in [("/console", "memory-chart"), ("/console/chat", "/console/api/send")] {
        let res = app.call(reqwest::Method::GET, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(res.text().await.unwrap().contains(marker), "{path}");
    }
}

/// A text memory of `user` at `at`, through REST.
async fn memory_at(app: &TestApp, user: &str, at: &str) {
    let body =
        json!({"user": user, "kind": "text", "text": format!("note at {at}"), "occurred_at": at});
    let res = app.post_json("/memories", &body).await;
    assert_eq!(res.status(), 201, "{at}");
}

fn days(d: &Value) -> Vec<(String, i64)> {
    d["memories_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["day"].as_str().unwrap().to_string(), r["count"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn dashboard_days_are_local_days_of_its_zone() {
    // Everyone: the server's DEFAULT_TIMEZONE; one user: theirs.
    let app =
        TestApp::spawn_with(console_on(vec![("DEFAULT_TIMEZONE", "America/Los_Angeles".into())]))
            .await;
    app.insert_user("+14155550106", "America/Los_Angeles").await;
    app.insert_user("+919812345678", "Asia/Kolkata").await;
    for at in [
        // Sat 7 March 23:30 PST (UTC: the 8th).
        "2026-03-08T07:30:00Z",
        // Sun 8 March 01:30 PST, just before the clocks go forward at 10:00 UTC.
        "2026-03-08T09:30:00Z",
        // Mon 9 March 00:30 PDT (with PST's offset it would still be the 8th).
        "2026-03-09T07:30:00Z",
    ] {
        memory_at(&app, "+14155550106", at).await;
    }
    // Mon 9 March 01:30 in Kolkata (UTC: the 8th; Los Angeles: the 8th).
    memory_at(&app, "+919812345678", "2026-03-08T20:00:00Z").await;
    let get = |q: &'static str| {
        let app = &app;
        async move {
            let res = app.call(reqwest::Method::GET, &format!("/console/api/dashboard{q}")).await;
            assert_eq!(res.status(), 200, "{q}");
            res.json::<Value>().await.unwrap()
        }
    };
    let all = get("").await;
    assert_eq!(all["timezone"], "America/Los_Angeles");
    assert_eq!(
        days(&all),
        vec![
            ("2026-03-07".to_string(), 1),
            ("2026-03-08".to_string(), 2),
            ("2026-03-09".to_string(), 1)
        ]
    );
    let india = get("?user=%2B919812345678").await;
    assert_eq!(india["timezone"], "Asia/Kolkata");
    assert_eq!(days(&india), vec![("2026-03-09".to_string(), 1)]);
    let none = TestApp::spawn_with(console_on(vec![])).await;
    let empty = none.api_json("/console/api/dashboard").await;
    assert_eq!(empty["timezone"], "UTC");
    assert!(days(&empty).is_empty());
}

#[tokio::test]
async fn both_pages_load_the_shared_script() {
    let app = TestApp::spawn_with(console_on(vec![])).await;
    let res = app.call(reqwest::Method::GET, "/console/console.js").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let js = res.text().await.unwrap();
    assert!(js.contains("window.mnemoConsole") && js.contains("timeZone"));
    for page in ["/console", "/console/chat"] {
        let html = app.call(reqwest::Method::GET, page).await.text().await.unwrap();
        assert!(html.contains(r#"<script src="/console/console.js">"#), "{page}");
        assert!(html.contains("mnemoConsole.format("), "{page}");
    }
}

#[tokio::test]
async fn bad_sends_are_rejected_before_the_webhook() {
    let app = TestApp::spawn_with(console_on(vec![("MAX_MEDIA_BYTES", "100".into())])).await;
    let cases = [
        (json!({"phone": "hello", "text": "x"}), 422),
        (json!({"phone": "+14155550105", "text": "  "}), 422),
        (
            json!({"phone": "+14155550105", "file": {"content_type": "image/png", "data": "!!"}}),
            422,
        ),
        (
            json!({"phone": "+14155550105", "file": {"content_type": "image/png",
                   "data": base64::engine::general_purpose::STANDARD.encode([7u8; 101])}}),
            413,
        ),
    ];
    for (body, status) in cases {
        let res = send(&app, body.clone()).await;
        assert_eq!(res.status(), status, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);
}

#[tokio::test]
async fn disabled_console_is_not_mounted() {
    let app = TestApp::with_env(vec![("CONSOLE_ENABLED", "false".into())]).await;
    assert!(!app.settings.console_enabled);
    for path in [
        "/console",
        "/console/chat",
        "/console/api/dashboard",
        "/console/api/messages?phone=%2B14155550106",
        "/console/media/00000000000000000000000000000000",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = send(&app, json!({"phone": "+14155550106", "text": "hi"})).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn api_token_guards_the_console() {
    let app = TestApp::spawn_with(console_on(vec![("API_TOKEN", "s3cret; token".into())])).await;
    let plain = no_redirects();
    for path in ["/console", "/console/chat", "/console/api/dashboard"] {
        let res = app.get_via(&plain, path, None).await;
        assert_eq!(res.status(), 401, "{path}");
        let res = app.get_via(&plain, path, Some("mnemo_console=wrong")).await;
        assert_eq!(res.status(), 401, "{path}");
        // The Bearer header works (app.api adds it).
        let res = app.call(reqwest::Method::GET, path).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = plain
        .post(app.url("/console/api/send"))
        .json(&json!({"phone": "+14155550107", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A wrong ?token= is refused; the right one sets the cookie and drops the token.
    let res = app.get_via(&plain, "/console/chat?token=nope", None).await;
    assert_eq!(res.status(), 401);
    let res = app.get_via(&plain, "/console/chat?token=s3cret%3B%20token", None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/console/chat");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/console"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let res =
        app.get_via(&plain, "/console/api/dashboard", Some(&format!("other=1; {pair}"))).await;
    assert_eq!(res.status(), 200);
    let res = plain
        .post(app.url("/console/api/send"))
        .header("cookie", pair)
        .json(&json!({"phone": "+14155550107", "text": "hello from the cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_count("SELECT COUNT(*) FROM interactions WHERE body = 'hello from the cookie'", 1)
        .await;
    // The media route stays reachable for the worker (unguessable ids): 404, not 401.
    let res = app.get_via(&plain, "/console/media/00000000000000000000000000000000", None).await;
    assert_eq!(res.status(), 404);
}
