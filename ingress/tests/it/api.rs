//! The REST API end to end on the real ingress (and worker): every endpoint, auth, problem+json
//! errors, idempotency keys, keyset pagination under concurrent inserts and isolation between
//! users. Runs on SQLite by default and on PostgreSQL + Redis with TEST_DATABASE_URL /
//! TEST_REDIS_URL.

use std::collections::HashSet;
use std::time::Duration;

use crate::harness::*;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

const ALICE: &str = "+14155550123";
const BOB: &str = "+447700900123";
const TOKEN: &str = "test-api-token";

fn opts(token: bool) -> Options {
    Options {
        twilio: false,
        extra: if token { vec![("API_TOKEN", TOKEN.to_string())] } else { vec![] },
        ..Options::default()
    }
}

async fn app() -> TestApp {
    TestApp::spawn_with(opts(true)).await
}

async fn json_of(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ct, body)
}

/// Asserts a problem+json response with this status.
async fn assert_problem(res: reqwest::Response, status: u16) -> Value {
    let (got, ct, body) = json_of(res).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(ct, "application/problem+json", "{body}");
    assert_eq!(body["status"], status, "{body}");
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    body
}

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, _, body) = json_of(app.post_json("/memories", &body).await).await;
    (status, body)
}

async fn note(app: &TestApp, user: &str, text: &str, extra: Value) -> Value {
    let mut body = json!({"user": user, "kind": "text", "text": text});
    if let Value::Object(map) = extra {
        for (k, v) in map {
            body[k] = v;
        }
    }
    let (status, memory) = create(app, body).await;
    assert_eq!(status, 201, "{memory}");
    memory
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let (status, _, body) = json_of(app.call(Method::GET, path).await).await;
    (status, body)
}

#[tokio::test]
async fn text_memory_lifecycle() {
    let app = app().await;
    let alice = app.insert_user(ALICE, "America/Los_Angeles").await;

    let m = note(
        &app,
        &format!("whatsapp:{ALICE}"),
        "Dinner plan: pasta with Anna on Friday",
        json!({"labels": ["food", " plans ", "food"], "occurred_at": "2026-11-02T18:30:00Z"}),
    )
    .await;
    assert_eq!(m["user_id"], alice.to_string());
    assert_eq!(m["kind"], "text");
    assert_eq!(m["labels"], json!(["food", "plans"]));
    assert_eq!(m["mem0_id"], Value::Null);
    assert!(m["created_at"].is_string());
    let occurred =
        chrono::DateTime::parse_from_rfc3339(m["occurred_at"].as_str().unwrap()).unwrap();
    assert_eq!(occurred.to_rfc3339(), "2026-11-02T18:30:00+00:00");
    let id = m["id"].as_str().unwrap().to_string();
    let interaction_id = m["interaction_id"].as_str().unwrap().to_string();

    // The source interaction is recorded, already processed (no job, no reply).
    assert_eq!(
        app.interaction_field(&format!("api:{interaction_id}"), "status").await.as_deref(),
        Some("processed")
    );

    let (status, mut got) = get(&app, &format!("/memories/{id}")).await;
    assert_eq!(status, 200);
    // The memory as created, and the texts it had before corrections: none yet.
    assert_eq!(got.as_object_mut().unwrap().remove("versions"), Some(json!([])));
    assert_eq!(got, m);
    let (status, got) = get(&app, &format!("/memories/{id}?user={alice}")).await;
    assert_eq!((status, &got["id"]), (200, &m["id"]));

    // Search, with and without a range, by user id and by number.
    let (status, found) =
        get(&app, &format!("/memories?user={alice}&query=what%20did%20I%20plan%20for%20dinner"))
            .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["query"], "what did I plan for dinner");
    assert_eq!(found["items"][0]["memory"]["id"], m["id"]);
    assert!(found["items"][0]["score"].is_number());
    assert_eq!(found["items"][0]["interaction"]["id"], m["interaction_id"]);
    assert_eq!(found["items"][0]["interaction"]["direction"], "inbound");
    let (status, found) = get(
        &app,
        "/memories?user=%2B14155550123&query=dinner&start=2026-11-01T00:00:00Z&end=2026-11-03T00:00:00Z",
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["range"]["label"], "custom");
    let (_, found) = get(&app, "/memories?user=%2B14155550123&query=dinner&range=today").await;
    assert_eq!(found["range"]["label"], "today");
    assert_eq!(found["items"], json!([]), "the memory is from November 2nd");

    // Delete: gone from the API and the database; the message stays.
    let res = app.call(Method::DELETE, &format!("/memories/{id}")).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.call(Method::GET, &format!("/memories/{id}")).await, 404).await;
    assert_problem(app.call(Method::DELETE, &format!("/memories/{id}")).await, 404).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM memory_labels").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 1);
}

#[tokio::test]
async fn media_is_queued_and_processed_by_the_worker() {
    let app = app().await;
    app.insert_user(ALICE, "UTC").await;
    let jpeg = base64::engine::general_purpose::STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 0, 16]);
    let (status, queued) = create(
        &app,
        json!({"user": ALICE, "kind": "image", "text": "new haircut", "media_base64": jpeg,
               "labels": ["me"], "occurred_at": "2026-11-10T09:00:00Z"}),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "received");
    let iid = queued["interaction_id"].as_str().unwrap().to_string();

    // The worker runs the same pipeline as for WhatsApp media and creates the memory.
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = 'processed'",
        1,
    )
    .await;
    let (status, page) = get(&app, "/memories/list?user=%2B14155550123").await;
    assert_eq!(status, 200);
    let m = &page["items"][0];
    assert_eq!(m["kind"], "image");
    assert_eq!(m["interaction_id"], iid.as_str());
    assert_eq!(m["labels"], json!(["me"]));
    assert!(m["text"].as_str().unwrap().contains("new haircut"), "{m}");
    assert!(m["occurred_at"].as_str().unwrap().starts_with("2026-11-10T09:00:00"));
    // The bytes are stored once under their hash; the interaction keeps a reference to them
    // in MediaUrl0, like a Twilio media URL.
    let raw = app.raw_of(&format!("api:{iid}")).await;
    assert!(raw.contains("stored:sha256:"), "{raw}");
    assert!(!raw.contains("/9j/4AAQ"), "{raw}");
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
    assert!(raw.contains("\"NumMedia\":\"1\"") || raw.contains("\"NumMedia\": \"1\""), "{raw}");

    let (status, queued) = create(
        &app,
        json!({"user": ALICE, "kind": "audio", "media_url": "https://example.com/note.ogg"}),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let raw = app
        .scalar("SELECT CAST(raw AS TEXT) FROM interactions WHERE kind = 'audio'")
        .await
        .unwrap();
    assert!(raw.contains("https://example.com/note.ogg") && raw.contains("audio/ogg"), "{raw}");
}

#[tokio::test]
async fn invalid_media_is_refused() {
    let app = TestApp::spawn_with(Options {
        extra: vec![("API_TOKEN", TOKEN.into()), ("MAX_MEDIA_BYTES", "1024".into())],
        twilio: false,
        ..Options::default()
    })
    .await;
    app.insert_user(ALICE, "UTC").await;
    for (body, status) in [
        (json!({"user": ALICE, "kind": "image", "media_base64": "%%% not base64"}), 422),
        (json!({"user": ALICE, "kind": "image", "media_base64": "aGVsbG8gd29ybGQ="}), 422),
        (
            json!({"user": ALICE, "kind": "image", "media_base64": "aGVsbG8=", "content_type": "audio/ogg"}),
            422,
        ),
        (json!({"user": ALICE, "kind": "image"}), 422),
        (json!({"user": ALICE, "kind": "image", "media_url": "file:///etc/passwd"}), 422),
        (
            json!({"user": ALICE, "kind": "image", "media_url": "https://x.test/a", "media_base64": "aGVsbG8="}),
            422,
        ),
        (json!({"user": ALICE, "kind": "text", "text": "  "}), 422),
        (json!({"user": ALICE, "kind": "text", "text": "x", "labels": [""]}), 422),
        (json!({"user": "nobody", "kind": "text", "text": "x"}), 422),
        (json!({"user": "+19999999999", "kind": "text", "text": "x"}), 404),
        (
            json!({"user": ALICE, "kind": "image", "content_type": "image/png",
                   "media_base64": base64::engine::general_purpose::STANDARD.encode(vec![0u8; 2048])}),
            413,
        ),
    ] {
        let res = app.post_json("/memories", &body).await;
        assert_problem(res, status).await;
    }
    // A body far past the cap is refused while reading it.
    let huge = json!({"user": ALICE, "kind": "image", "media_base64": "A".repeat(200_000)});
    let res = app.post_json("/memories", &huge).await;
    assert_problem(res, 413).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);
}

#[tokio::test]
async fn framework_errors_are_problems() {
    let app = app().await;
    app.insert_user(ALICE, "UTC").await;
    for (body, content_type, status) in [
        ("{not json", "application/json", 400),
        (r#"{"user": ["x"], "kind": "text"}"#, "application/json", 400),
        (r#"{"kind": "text", "text": "x"}"#, "application/json", 400),
        (r#"{"user": "+14155550123", "kind": "video", "text": "x"}"#, "application/json", 400),
        (
            r#"{"user": "+14155550123", "kind": "text", "text": "x", "occurred_at": "yesterday"}"#,
            "application/json",
            400,
        ),
        ("", "application/json", 400),
        ("user=x", "text/plain", 415),
    ] {
        let res = app
            .api(Method::POST, "/memories")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(res, status).await;
    }
    for path in [
        "/memories/list?limit=abc",
        "/memories/list?limit=0",
        "/memories/list?limit=1000",
        "/memories/list?start=not-a-date",
        "/memories/not-a-uuid",
        "/memories?user=%2B14155550123",
    ] {
        assert_problem(app.call(Method::GET, path).await, 400).await;
    }
    for path in [
        "/memories/list?cursor=garbage",
        "/memories/list?kind=poem",
        "/memories/list?range=someday",
        "/memories/list?range=today&start=2026-01-01T00:00:00Z",
        "/memories?user=%2B14155550123&query=%20",
        "/users/not-a-user",
    ] {
        assert_problem(app.call(Method::GET, path).await, 422).await;
    }
    assert_problem(app.call(Method::GET, "/nope").await, 404).await;
    let res = app.call(Method::PUT, "/memories").await;
    assert_eq!(res.headers()["allow"], "GET, POST");
    assert_problem(res, 405).await;
}

#[tokio::test]
async fn bearer_token_guards_every_rest_endpoint() {
    let app = app().await;
    let alice = app.insert_user(ALICE, "UTC").await;
    let memory = note(&app, ALICE, "guarded", json!({})).await;
    let mid = memory["id"].as_str().unwrap();
    let rest = [
        (Method::POST, "/memories".to_string()),
        (Method::GET, "/memories?user=%2B14155550123&query=x".into()),
        (Method::GET, "/memories/list".into()),
        (Method::GET, format!("/memories/{mid}")),
        (Method::DELETE, format!("/memories/{mid}")),
        (Method::GET, "/interactions/recent".into()),
        (Method::GET, "/analytics/summary".into()),
        (Method::GET, "/users".into()),
        (Method::GET, format!("/users/{alice}")),
    ];
    for (method, path) in &rest {
        for auth in [None, Some("Bearer wrong"), Some(TOKEN), Some("Basic dGVzdA==")] {
            let mut req = app.http.request(method.clone(), app.url(path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let body = assert_problem(req.send().await.unwrap(), 401).await;
            assert!(body["detail"].as_str().unwrap().contains("Bearer"));
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    // With the token: through.
    let (status, _) = get(&app, "/users").await;
    assert_eq!(status, 200);
    // Never guarded: probes, docs, the webhook.
    for path in ["/health", "/ready", "/openapi.json", "/docs"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let sid = new_sid();
    let res = app.post_webhook(&text_message(&sid, "whatsapp:+14155550123", "hi")).await;
    assert_eq!(res.status(), 200);

    // The document declares the scheme on every REST operation and none on the probes.
    let (_, _, doc) = json_of(app.get("/openapi.json").await).await;
    assert_eq!(doc["components"]["securitySchemes"]["BearerAuth"]["scheme"], "bearer");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"] == json!([{"BearerAuth": []}]);
            let public =
                ["/health", "/ready", "/webhook", "/webhook/status"].contains(&path.as_str());
            assert_eq!(secured, !public, "{method} {path}");
            if !public {
                for status in ["400", "401", "404", "422"] {
                    assert!(
                        op["responses"][status]["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn without_api_token_the_api_is_open() {
    let app = TestApp::spawn_with(opts(false)).await;
    app.insert_user(ALICE, "UTC").await;
    let res = app.get("/users").await;
    assert_eq!(res.status(), 200);
    let res =
        app.post_json("/memories", &json!({"user": ALICE, "kind": "text", "text": "open"})).await;
    assert_eq!(res.status(), 201, "no token needed");
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let app = app().await;
    app.insert_user(ALICE, "UTC").await;
    let body = json!({"user": ALICE, "kind": "text", "text": "once only", "labels": ["a"]});
    let send = |key: &'static str, body: Value| {
        app.api(Method::POST, "/memories").header("Idempotency-Key", key).json(&body).send()
    };
    let (s1, _, first) = json_of(send("key-1", body.clone()).await.unwrap()).await;
    assert_eq!(s1, 201);
    // Same key, same body (keys in another order): the first response, nothing new.
    let reordered: Value = serde_json::from_str(
        r#"{"labels": ["a"], "text": "once only", "kind": "text", "user": "+14155550123"}"#,
    )
    .unwrap();
    let (s2, _, second) = json_of(send("key-1", reordered).await.unwrap()).await;
    assert_eq!((s2, &second), (201, &first));
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    // Same key, different body: 422.
    let other = json!({"user": ALICE, "kind": "text", "text": "something else"});
    assert_problem(send("key-1", other.clone()).await.unwrap(), 422).await;
    // A failed request releases its key.
    let bad = json!({"user": "+19999999999", "kind": "text", "text": "x"});
    assert_problem(send("key-2", bad).await.unwrap(), 404).await;
    let (s, _, _) = json_of(send("key-2", other).await.unwrap()).await;
    assert_eq!(s, 201);
    // Media: the 202 is replayed with the same interaction, and one job ran.
    let media = json!({"user": ALICE, "kind": "audio", "media_url": "https://example.com/a.ogg"});
    let (s1, _, q1) = json_of(send("key-3", media.clone()).await.unwrap()).await;
    let (s2, _, q2) = json_of(send("key-3", media).await.unwrap()).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(q1, q2);
    assert_problem(
        app.api(Method::POST, "/memories")
            .header("Idempotency-Key", "has space")
            .json(&body)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;

    // Concurrent copies: exactly one memory; every answer is the one memory or a 409.
    let copies = futures::future::join_all((0..12).map(|_| {
        app.api(Method::POST, "/memories")
            .header("Idempotency-Key", "key-race")
            .json(&json!({"user": ALICE, "kind": "text", "text": "raced"}))
            .send()
    }))
    .await;
    let mut ids = HashSet::new();
    for res in copies {
        let (status, _, body) = json_of(res.unwrap()).await;
        match status {
            201 => {
                ids.insert(body["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(body["status"], 409),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories WHERE text = 'raced'").await, 1);
}

#[tokio::test]
async fn users_never_see_each_other() {
    let app = app().await;
    let alice = app.insert_user(ALICE, "UTC").await;
    let bob = app.insert_user(BOB, "Europe/London").await;
    let a = note(&app, ALICE, "alice secret pancake recipe", json!({"labels": ["alice"]})).await;
    let b = note(&app, BOB, "bob secret pancake recipe", json!({"labels": ["bob"]})).await;
    let (aid, bid) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let (_, found) = get(&app, "/memories?user=%2B14155550123&query=pancake").await;
    let ids = texts_at(&found["items"], "/memory/id");
    assert_eq!(ids, vec![aid]);
    let (_, page) = get(&app, &format!("/memories/list?user={bob}")).await;
    let ids = texts_at(&page["items"], "/id");
    assert_eq!(ids, vec![bid]);
    let (_, recent) = get(&app, &format!("/interactions/recent?user={alice}")).await;
    assert!(recent["items"].as_array().unwrap().iter().all(|i| i["user_id"] == alice.to_string()));
    assert_eq!(recent["items"].as_array().unwrap().len(), 1);
    let (_, summary) = get(&app, "/analytics/summary?user=%2B447700900123").await;
    assert_eq!(summary["memories"]["total"], 1);
    assert_eq!(summary["top_labels"], json!([{"label": "bob", "count": 1}]));

    // Another user's memory by id is a 404, for reading and for deleting.
    assert_problem(app.call(Method::GET, &format!("/memories/{bid}?user={alice}")).await, 404)
        .await;
    assert_problem(
        app.call(Method::DELETE, &format!("/memories/{bid}?user=%2B14155550123")).await,
        404,
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 2);
    // Unknown users are 404s everywhere.
    for path in [
        "/memories?user=%2B19999999999&query=x",
        "/memories/list?user=%2B19999999999",
        "/interactions/recent?user=019aa5c0-0000-7000-8000-000000000000",
        "/analytics/summary?user=%2B19999999999",
        "/users/%2B19999999999",
    ] {
        assert_problem(app.call(Method::GET, path).await, 404).await;
    }
}

#[tokio::test]
async fn list_filters_and_keyset_pages() {
    let app = app().await;
    let alice = app.insert_user(ALICE, "UTC").await;
    let now = chrono::Utc::now();
    for i in 0..7 {
        let at = (now - chrono::Duration::days(i)).to_rfc3339();
        note(&app, ALICE, &format!("note {i}"), json!({"occurred_at": at})).await;
    }
    // Identical timestamps are ordered by id, never skipped.
    let same = (now - chrono::Duration::days(30)).to_rfc3339();
    for i in 0..3 {
        note(&app, ALICE, &format!("same time {i}"), json!({"occurred_at": same})).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/memories/list?user={alice}&limit=3&cursor={c}"),
            None => format!("/memories/list?user={alice}&limit=3"),
        };
        let (status, page) = get(&app, &path).await;
        assert_eq!(status, 200, "{page}");
        for m in page["items"].as_array().unwrap() {
            seen.push((
                m["occurred_at"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0].1, "note 0");
    assert_eq!(seen[6].1, "note 6");
    let texts: HashSet<&String> = seen.iter().map(|(_, t)| t).collect();
    assert_eq!(texts.len(), 10);

    let (_, page) = get(&app, "/memories/list?user=%2B14155550123&range=last%203%20days").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
    let (_, page) = get(&app, "/memories/list?range=today").await;
    assert_eq!(page["items"][0]["text"], "note 0");
    let (_, page) = get(&app, "/memories/list?kind=image").await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = get(&app, "/memories/list?kind=text&limit=100").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn pages_stay_stable_while_memories_arrive() {
    let app = app().await;
    app.insert_user(ALICE, "UTC").await;
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut expected = HashSet::new();
    for i in 0..40 {
        let at = (base - chrono::Duration::seconds(i / 2)).to_rfc3339();
        let m = note(&app, ALICE, &format!("old {i}"), json!({"occurred_at": at})).await;
        expected.insert(m["id"].as_str().unwrap().to_string());
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let writer = {
        let http = app.http.clone();
        let url = app.url("/memories");
        tokio::spawn(async move {
            let mut n = 0;
            while !*stop_rx.borrow() {
                let res = http
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&json!({"user": ALICE, "kind": "text", "text": format!("new {n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                n += 1;
                let _ = tokio::time::timeout(Duration::from_millis(5), stop_rx.changed()).await;
            }
            n
        })
    };
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/memories/list?user=%2B14155550123&limit=4&cursor={c}"),
            None => "/memories/list?user=%2B14155550123&limit=4".to_string(),
        };
        let (status, page) = get(&app, &path).await;
        assert_eq!(status, 200);
        pages += 1;
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(true).unwrap();
    let inserted = writer.await.unwrap();
    // 40 rows in pages of 4, while newer rows keep arriving ahead of the cursor.
    assert!(inserted > 0 && pages >= 10, "inserted {inserted}, pages {pages}");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated");
    for id in &expected {
        assert!(unique.contains(id), "row {id} was skipped");
    }
}

#[tokio::test]
async fn recent_interactions_and_users() {
    let app = TestApp::with_env(vec![("API_TOKEN", TOKEN.into())]).await;
    app.twilio_accepts_messages().await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, "whatsapp:+14155550123", "Buy oat milk")).await;
    app.wait_sent(1).await;

    let (status, recent) = get(&app, "/interactions/recent?user=%2B14155550123").await;
    assert_eq!(status, 200);
    let items = recent["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let directions: HashSet<&str> =
        items.iter().map(|i| i["direction"].as_str().unwrap()).collect();
    assert_eq!(directions, HashSet::from(["inbound", "outbound"]));
    let inbound = items.iter().find(|i| i["direction"] == "inbound").unwrap();
    assert_eq!(inbound["message_sid"], sid.as_str());
    assert_eq!(inbound["body"], "Buy oat milk");
    assert_eq!(inbound["status"], "processed");
    assert_eq!(inbound["media"], json!([]));
    assert!(items[0]["occurred_at"].as_str() >= items[1]["occurred_at"].as_str());
    let (_, one) = get(&app, "/interactions/recent?limit=1").await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);

    let bob = app.insert_user(BOB, "Europe/London").await;
    let (status, users) = get(&app, "/users?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(users["items"][0]["id"], bob.to_string());
    let cursor = users["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = get(&app, &format!("/users?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["phone"], ALICE);
    assert_eq!(rest["items"][0]["display_name"], "Test User");
    assert_eq!(rest["next_cursor"], Value::Null);

    for path in ["/users/%2B14155550123", "/users/whatsapp:%2B14155550123"] {
        let (status, u) = get(&app, path).await;
        assert_eq!(status, 200, "{u}");
        assert_eq!(u["phone"], ALICE);
        assert_eq!(u["timezone"], "America/Los_Angeles");
        assert_eq!(u["interactions"], 2);
        assert_eq!(u["memories"], 1);
    }
    let (_, u) = get(&app, &format!("/users/{bob}")).await;
    assert_eq!((u["interactions"].as_i64(), u["memories"].as_i64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn analytics_are_aggregates_of_the_database() {
    let app = app().await;
    let alice = app.insert_user(ALICE, "UTC").await;
    app.insert_user(BOB, "UTC").await;
    note(&app, ALICE, "one", json!({"labels": ["food", "family"]})).await;
    note(&app, ALICE, "two", json!({"labels": ["food"]})).await;
    note(&app, BOB, "three", json!({"labels": ["work"]})).await;

    // Media as the worker records it: one object referenced by two messages, one by one.
    let now = chrono::Utc::now();
    let (o1, o2) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (id, sha, size) in [(o1, "a".repeat(64), 1000i64), (o2, "b".repeat(64), 300)] {
        app.exec_with("INSERT INTO media_objects (id, sha256, size_bytes, content_type, storage_key, ref_count, created_at) VALUES ($1, $2, $3, 'image/jpeg', $2, 0, $4)",
            [id.into(), sha.into(), size.into(), now.into()]).await;
    }
    for (i, (object, status)) in
        [(o1, "processed"), (o1, "failed"), (o2, "received")].into_iter().enumerate()
    {
        let iid = uuid::Uuid::now_v7();
        app.exec_with("INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, occurred_at, created_at, updated_at) VALUES ($1, $2, $3, 'inbound', 'image', '', $4, 0, $5, $5, $5)",
            [iid.into(), alice.into(), format!("SMimg{i}").into(), status.into(), now.into()]).await;
        app.exec_with("INSERT INTO interaction_media (id, interaction_id, media_object_id, position, content_type, created_at) VALUES ($1, $2, $3, 0, 'image/jpeg', $4)",
            [uuid::Uuid::now_v7().into(), iid.into(), object.into(), now.into()]).await;
    }

    let (status, s) = get(&app, "/analytics/summary").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["users"], 2);
    assert_eq!(s["interactions"]["total"], 6);
    assert_eq!(s["interactions"]["by_kind"], json!({"text": 3, "image": 3, "audio": 0}));
    assert_eq!(s["interactions"]["by_direction"], json!({"inbound": 6, "outbound": 0}));
    assert_eq!(s["memories"]["total"], 3);
    assert_eq!(s["memories"]["by_kind"]["text"], 3);
    assert_eq!(
        s["media"],
        json!({"unique_objects": 2, "references": 3, "bytes_stored": 1300, "bytes_saved": 1000})
    );
    assert_eq!(
        s["top_labels"],
        json!([{"label": "food", "count": 2}, {"label": "family", "count": 1}, {"label": "work", "count": 1}])
    );
    assert_eq!(s["jobs"], json!({"pending": 1, "failed": 1}));
    assert!(s["last_ingest_at"].is_string());
    assert_eq!(s["user_id"], Value::Null);

    let (_, a) = get(&app, &format!("/analytics/summary?user={alice}")).await;
    assert_eq!(a["user_id"], alice.to_string());
    assert_eq!(a["users"], 1);
    assert_eq!(a["interactions"]["total"], 5);
    assert_eq!(a["memories"]["total"], 2);
    assert_eq!(a["top_labels"][0], json!({"label": "food", "count": 2}));
    assert_eq!(a["media"]["references"], 3);
    let (_, b) = get(&app, "/analytics/summary?user=%2B447700900123").await;
    assert_eq!(b["media"]["unique_objects"], 0);
    assert_eq!(b["jobs"], json!({"pending": 0, "failed": 0}));
}

#[tokio::test]
async fn docs_describe_every_endpoint() {
    let app = app().await;
    let (_, _, doc) = json_of(app.get("/openapi.json").await).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/memories", "post"),
        ("/memories", "get"),
        ("/memories/list", "get"),
        ("/memories/{id}", "get"),
        ("/memories/{id}", "delete"),
        ("/interactions/recent", "get"),
        ("/analytics/summary", "get"),
        ("/users", "get"),
        ("/users/{id}", "get"),
        ("/webhook", "post"),
        ("/webhook/status", "post"),
        ("/health", "get"),
        ("/ready", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["NewMemory"]["example"].is_object());
    assert!(schemas["Memory"]["example"].is_object());
    assert!(schemas["Summary"]["example"].is_object());
    assert_eq!(
        paths["/webhook"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
            ["required"],
        json!(["MessageSid", "From"])
    );
    // Twilio's status callback: its form, no bearer token, and what it answers.
    let status = &paths["/webhook/status"]["post"];
    let form = &status["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    assert_eq!(form["required"], json!(["MessageSid", "MessageStatus"]));
    assert!(form["properties"]["ErrorCode"].is_object());
    assert_eq!(status["security"], json!([]));
    for code in ["200", "400", "403", "413", "415", "503"] {
        assert!(status["responses"][code].is_object(), "/webhook/status {code}");
    }
    // The document is what is served: a GET there names POST as the one method.
    let res = app.get("/webhook/status").await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let html = app.get("/docs").await.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle") && html.contains("twilio_webhook"));
}
