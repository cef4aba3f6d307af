//! Owning one's memories (DESIGN §12) against the real app: the export archive (names,
//! Markdown in the user's zone, media), importing it into a fresh database (counts, fidelity,
//! idempotency), hostile archives refused with nothing written, `/forget all` with its YES,
//! `DELETE /users/{user}` (Mem0 deletes, media counts, objects removed), and the `/export` link.

use std::io::{Cursor, Read, Write};

use crate::harness::*;
use base64::Engine as _;
use mnemo_shared::store::entities::memory;
use mnemo_shared::store::memory_versions;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const PHONE: &str = "+14155550123";
const FROM: &str = "whatsapp:+14155550123";
const ENC: &str = "%2B14155550123";

/// A small PNG (valid, so the photo pipeline accepts it).
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.post_json("/memories", &body).await;
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

/// Another user, whose memories must stay out of reach.
const OTHER: &str = "+14155550199";

/// A fresh app with [`seed`]'s memories.
async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    seed(&app).await;
    app
}

/// Four memories over two months of Los Angeles time, one with a photo.
async fn seed(app: &TestApp) {
    app.twilio_accepts_messages().await;
    app.insert_user(PHONE, "America/Los_Angeles").await;
    for (text, at, labels) in [
        ("Dinner plan: pasta with Anna on Friday", "2026-11-20T03:30:00Z", json!(["food"])),
        // 23:30 on 30 November in Los Angeles, already December in UTC.
        ("Parking: level 4, spot 12", "2026-12-01T07:30:00Z", json!([])),
        ("New year: call grandma", "2027-01-01T09:00:00Z", json!(["family", "calls"])),
    ] {
        create(
            app,
            json!({"user": PHONE, "kind": "text", "text": text, "labels": labels, "occurred_at": at}),
        )
        .await;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(png());
    create(
        app,
        json!({"user": PHONE, "kind": "image", "text": "new haircut", "media_base64": b64,
               "content_type": "image/png", "occurred_at": "2026-11-21T18:00:00Z"}),
    )
    .await;
    app.wait_count("SELECT COUNT(*) FROM memories", 4).await;
}

async fn export(app: &TestApp) -> Vec<u8> {
    let res = app.call(reqwest::Method::GET, &format!("/users/{ENC}/export")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("mnemo-14155550123-"));
    res.bytes().await.unwrap().to_vec()
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = Vec::new();
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((f.name().unwrap().to_string(), data));
    }
    out.sort();
    out
}

fn file<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries.iter().find(|(n, _)| n == name).unwrap().1
}

async fn import(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .api(reqwest::Method::POST, &format!("/users/{ENC}/import"))
        .header("Content-Type", "application/zip")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// (kind, text, labels, occurred_at, media sha256s) of every memory in `memories.json`.
fn summary(doc: &Value) -> Vec<Value> {
    doc["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            json!([
                m["kind"],
                m["text"],
                m["labels"],
                m["occurred_at"],
                m["media"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["sha256"].clone())
                    .collect::<Vec<_>>(),
                m["versions"]
            ])
        })
        .collect()
}

#[tokio::test]
async fn export_then_import_into_a_fresh_database() {
    let app = seeded().await;
    // One memory was corrected (as a reply does): its earlier text travels with it.
    let parking = memory::Entity::find()
        .filter(memory::Column::Text.eq("Parking: level 4, spot 12"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let corrected_at =
        chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap().to_utc();
    assert!(
        memory_versions::correct(&app.db, &parking, "Parking: level 4, spot 40", corrected_at)
            .await
            .unwrap()
    );
    let zip = export(&app).await;
    let files = entries(&zip);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let sha = app.scalar("SELECT sha256 FROM media_objects").await.unwrap();
    assert_eq!(
        names,
        vec![
            format!("media/{sha}.png").as_str(),
            "memories.json",
            "memories/2026-11.md",
            "memories/2027-01.md"
        ]
    );
    assert_eq!(file(&files, &format!("media/{sha}.png")), png().as_slice());
    let doc: Value = serde_json::from_slice(file(&files, "memories.json")).unwrap();
    assert_eq!(doc["format"], "mnemo-export");
    assert_eq!(doc["user"]["timezone"], "America/Los_Angeles");
    let mems = doc["memories"].as_array().unwrap();
    assert_eq!(mems.len(), 4);
    assert_eq!(mems[0]["text"], "Dinner plan: pasta with Anna on Friday");
    assert_eq!(mems[0]["occurred_at_local"], "2026-11-19T19:30:00-08:00");
    assert_eq!(mems[0]["labels"], json!(["food"]));
    assert_eq!(mems[1]["kind"], "image");
    assert_eq!(mems[1]["media"][0]["path"], format!("media/{sha}.png"));
    assert!(mems[1]["source"]["interaction_id"].is_string());
    assert_eq!(mems[0]["versions"], json!([]));
    assert_eq!(
        mems[2]["versions"],
        json!([{"text": "Parking: level 4, spot 12", "replaced_at": "2026-12-01T08:00:00Z"}])
    );
    let md = String::from_utf8(file(&files, "memories/2026-11.md").to_vec()).unwrap();
    println!("--- memories/2026-11.md ---\n{md}");
    assert!(md.starts_with("# Memories, November 2026\n\nTimes in America/Los_Angeles."), "{md}");
    assert!(
        md.contains("## Monday 30 November")
            && md.contains(
                "- **23:30** 📝 note: Parking: level 4, spot 40\n  Before 1 Dec 2026 00:00: Parking: level 4, spot 12\n"
            ),
        "{md}"
    );
    assert!(md.contains(&format!("(../media/{sha}.png)")), "{md}");

    // Into a fresh database: everything comes back, once.
    let fresh = TestApp::spawn().await;
    let (status, body) = import(&fresh, zip.clone()).await;
    assert_eq!((status, &body), (200, &json!({"imported": 4, "skipped": 0})));
    let (status, body) = import(&fresh, zip.clone()).await;
    assert_eq!((status, &body), (200, &json!({"imported": 0, "skipped": 4})));
    assert_eq!(fresh.count("SELECT COUNT(*) FROM memories").await, 4);
    assert_eq!(fresh.count("SELECT COUNT(*) FROM memory_versions").await, 1);
    assert_eq!(fresh.count("SELECT ref_count FROM media_objects").await, 1);
    // The user was created from the archive, in its zone.
    assert_eq!(
        fresh.scalar("SELECT timezone FROM users").await.as_deref(),
        Some("America/Los_Angeles")
    );
    // The user was created from the archive, in its zone.
    assert_eq!(
        fresh.scalar("SELECT timezone FROM users").await.as_deref(),
        Some("America/Los_Angeles")
    );
    let again: Value =
        serde_json::from_slice(file(&entries(&export(&fresh).await), "memories.json")).unwrap();
    assert_eq!(summary(&again), summary(&doc));

    // Back into the database it came from: these are the user's own memories already.
    let (status, body) = import(&app, zip).await;
    assert_eq!((status, &body), (200, &json!({"imported": 0, "skipped": 4})));
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn hostile_archives_are_refused_and_nothing_is_written() {
    let app = TestApp::with_env(vec![("IMPORT_MAX_BYTES", "1000000".into())]).await;
    app.insert_user(PHONE, "UTC").await;
    let good = |media: Value| {
        serde_json::to_vec(&json!({"format": "mnemo-export", "version": 1, "memories": [
            {"id": uuid::Uuid::now_v7(), "kind": "image", "text": "x", "occurred_at": "2026-11-20T03:30:00Z",
             "media": media}
        ]}))
        .unwrap()
    };
    let bytes = png();
    let sha = hex_sha(&bytes);
    let media = json!([{"sha256": sha, "content_type": "image/png", "size_bytes": 1, "path": ""}]);
    let doc = good(media.clone());
    let zeros = vec![0u8; 3_000_000];
    let wrong = format!("media/{sha}.png");
    for (case, body, want) in [
        ("not a zip", b"hello".to_vec(), 400),
        ("traversal", zip_of(&[("memories.json", &doc), ("../../evil.txt", b"x")]), 422),
        ("absolute", zip_of(&[("memories.json", &doc), ("/etc/cron.d/x", b"x")]), 422),
        ("stray name", zip_of(&[("memories.json", &doc), ("run.sh", b"x")]), 422),
        ("bomb", zip_of(&[("memories.json", &doc), (&wrong, &zeros)]), 413),
        ("bad json", zip_of(&[("memories.json", b"{\"memories\": 3")]), 422),
        (
            "wrong document",
            zip_of(&[("memories.json", b"{\"format\": \"x\", \"version\": 1, \"memories\": []}")]),
            422,
        ),
        ("missing media", zip_of(&[("memories.json", &doc)]), 422),
        ("hash mismatch", zip_of(&[("memories.json", &doc), (&wrong, b"not the png")]), 422),
        ("no json", zip_of(&[(&wrong, &bytes)]), 422),
    ] {
        let (status, problem) = import(&app, body).await;
        assert_eq!(status, want, "{case}: {problem}");
        assert_eq!(problem["status"], want, "{case}: {problem}");
    }
    let res = app
        .api(reqwest::Method::POST, &format!("/users/{ENC}/import"))
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
    let media_dir = std::path::Path::new(&app.settings.media_dir).join("sha256");
    assert!(!media_dir.exists(), "nothing stored");
    // The same archive, well formed, goes in.
    let ok = zip_of(&[("memories.json", &doc), (&wrong, &bytes)]);
    let (status, body) = import(&app, ok).await;
    assert_eq!((status, body), (200, json!({"imported": 1, "skipped": 0})));
}

fn hex_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Sends `text` through the signed webhook and returns mnemo's reply.
async fn say(app: &TestApp, text: &str) -> String {
    let sid = new_sid();
    let res = app.post_webhook(&text_message(&sid, FROM, text)).await;
    assert_eq!(res.status(), 200);
    let q = format!(
        "SELECT COUNT(*) FROM interactions o JOIN interactions i ON o.reply_to = i.id \
         WHERE i.message_sid = '{sid}' AND o.purpose = 'reply' AND o.body <> ''"
    );
    app.wait_count(&q, 1).await;
    app.scalar(&format!(
        "SELECT o.body FROM interactions o JOIN interactions i ON o.reply_to = i.id \
         WHERE i.message_sid = '{sid}' AND o.purpose = 'reply'"
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn forget_all_asks_for_yes_then_deletes_everything() {
    let app = seeded().await;
    app.insert_user(OTHER, "UTC").await;
    create(&app, json!({"user": OTHER, "kind": "text", "text": "someone else's note"})).await;
    let stored = app.stored_object().await;
    assert!(stored.exists());
    say(&app, "/remind tomorrow 9am dentist").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders").await, 1);

    let ask = say(&app, "/forget all").await;
    assert!(ask.contains("all 4 of your memories") && ask.contains("within 5 minutes"), "{ask}");
    // Anything but YES cancels; YES then finds nothing waiting and is kept as a note.
    say(&app, "hmm, not now").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM confirmations").await, 0);
    // Too late a YES deletes nothing.
    say(&app, "/forget all").await;
    app.exec("UPDATE confirmations SET requested_at = '2020-01-01T00:00:00Z'").await;
    let late = say(&app, "YES").await;
    assert!(late.contains("expired"), "{late}");
    let user_memories = "SELECT COUNT(*) FROM memories m JOIN users u ON u.id = m.user_id WHERE u.phone = '+14155550123'";
    assert_eq!(app.count(user_memories).await, 5);

    say(&app, "/forget all").await;
    let done = say(&app, "yes").await;
    println!("{done}");
    assert!(done.contains("forgot everything, 5 memories, 1 reminders and 1 photos"), "{done}");
    assert_eq!(app.count(user_memories).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM interaction_media").await, 0);
    assert!(!stored.exists(), "the unreferenced object is removed from the store");
    // The other user's note is untouched; the messages stay as emptied rows.
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interactions i JOIN users u ON u.id = i.user_id WHERE u.phone = '+14155550123' AND i.body LIKE '%Parking%'").await,
        0
    );
    assert!(app.count("SELECT COUNT(*) FROM interactions").await > 10);
}

#[tokio::test]
async fn delete_user_forgets_in_mem0_and_keeps_shared_media() {
    let app = TestApp::with_mem0().await;
    let uid = app.insert_user(PHONE, "UTC").await;
    let other = app.insert_user(OTHER, "UTC").await;
    let now = chrono::Utc::now();
    for (id, user, mem0) in
        [(uuid::Uuid::now_v7(), uid, "m0-mine"), (uuid::Uuid::now_v7(), other, "m0-theirs")]
    {
        app.exec_with("INSERT INTO memories (id, user_id, kind, text, labels, occurred_at, created_at, engine, mem0_id) \
                 VALUES ($1, $2, 'text', 'x', $3, $4, $4, 'mem0', $5)",
                [
                    id.into(),
                    user.into(),
                    mnemo_shared::sea_orm::Value::Json(Some(Box::new(json!([])))),
                    now.into(),
                    mem0.into(),
                ]).await;
    }
    Mock::given(method("DELETE"))
        .and(path("/v1/memories/m0-mine/"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.mem0)
        .await;
    let res = app.call(reqwest::Method::DELETE, &format!("/users/{ENC}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    // Again: nothing left to delete, nothing sent to Mem0 (the mock expects one call).
    let res = app.call(reqwest::Method::DELETE, &format!("/users/{ENC}")).await;
    assert_eq!(res.status(), 204);
    let res = app.call(reqwest::Method::DELETE, "/users/%2B19995550000").await;
    assert_eq!(res.status(), 404);
    app.mem0.verify().await;
}

#[tokio::test]
async fn export_link_from_chat_is_signed_and_expires() {
    let app = seeded().await;
    let reply = say(&app, "/export").await;
    let url = reply.split_whitespace().find(|w| w.starts_with("http")).unwrap().to_string();
    assert!(url.contains("/export/") && url.contains("exp=") && url.contains("sig="), "{reply}");
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let files = entries(&res.bytes().await.unwrap());
    assert_eq!(files.len(), 4);
    // A changed signature, another user, a later expiry: refused before anything is read.
    let other = app.insert_user(OTHER, "UTC").await;
    let uid = url.split("/export/").nth(1).unwrap().split('?').next().unwrap().to_string();
    let forged = [
        url.replace("sig=", "sig=00"),
        url.replace(&uid, &other.to_string()),
        url.replace("exp=", "exp=9"),
    ];
    for bad in forged {
        let res = app.http.get(&bad).send().await.unwrap();
        assert_eq!(res.status(), 403, "{bad}");
    }
}

/// The text of a tool's answer, parsed.
fn tool_json(r: &rmcp::model::CallToolResult) -> Value {
    let text = r.content[0].as_text().expect("a text result").text.clone();
    serde_json::from_str(&text).unwrap()
}

/// An MCP client session, as `ClientConfig::serve` opens it.
type McpClient = rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig>;

/// Calls the tool `name` with `arguments` (a JSON object).
async fn call_tool(
    client: &McpClient,
    name: &'static str,
    arguments: Value,
) -> Result<rmcp::model::CallToolResult, rmcp::ServiceError> {
    let arguments = serde_json::from_value(arguments).unwrap();
    client.call_tool(rmcp::model::CallToolRequestParams::new(name).with_arguments(arguments)).await
}

/// Calls the tool `name` with `arguments`, which must succeed, and returns its answer parsed.
async fn tool(client: &McpClient, name: &'static str, arguments: Value) -> Value {
    tool_json(&call_tool(client, name, arguments).await.unwrap())
}

#[tokio::test]
async fn mcp_tools_reach_only_the_tokens_user() {
    use rmcp::ServiceExt;
    use rmcp::model::ClientConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let app = seeded().await;
    app.insert_user(OTHER, "UTC").await;
    let theirs = create(
        &app,
        json!({"user": OTHER, "kind": "text", "text": "Parking at the mall: level 2"}),
    )
    .await;
    let res = app.call(reqwest::Method::POST, &format!("/users/{ENC}/mcp-tokens")).await;
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("mnemo_"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM mcp_tokens WHERE token_hash = '{}'",
            hex_sha(token.as_bytes())
        ))
        .await,
        1,
        "stored hashed"
    );

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(app.url("/mcp")).auth_header(token.clone()),
    );
    let client = ClientConfig::default().serve(transport).await.unwrap();
    let mut names: Vec<String> =
        client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["add_memory", "forget_memory", "list_memories", "search_memories"]);

    let found = tool(&client, "search_memories", json!({"query": "where did I park?"})).await;
    println!("search_memories {{\"query\": \"where did I park?\"}} -> {found}");
    let texts = texts_at(&found["items"], "/text");
    assert_eq!(texts, ["Parking: level 4, spot 12"]);

    let listed = tool(&client, "list_memories", json!({"kind": "image"})).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0]["text"].as_str().unwrap().contains("new haircut"), "{listed}");

    let added =
        tool(&client, "add_memory", json!({"text": "Gym locker 112", "labels": ["gym"]})).await;
    assert_eq!(added["text"], "Gym locker 112");
    let mine = "SELECT COUNT(*) FROM memories m JOIN users u ON u.id = m.user_id WHERE u.phone = '+14155550123'";
    assert_eq!(app.count(mine).await, 5);

    // Another user's memory id is not found through this token.
    let refused = call_tool(&client, "forget_memory", json!({"id": theirs["id"]})).await;
    assert!(refused.is_err() || refused.unwrap().is_error == Some(true));
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 6);
    call_tool(&client, "forget_memory", json!({"id": added["id"]})).await.unwrap();
    assert_eq!(app.count(mine).await, 4);
    let _ = client.cancel().await;

    // A wrong token, then a revoked one: 401 before MCP runs.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |bearer: String| {
        app.http
            .post(app.url("/mcp"))
            .bearer_auth(bearer)
            .header("Accept", "application/json, text/event-stream")
            .json(&init)
            .send()
    };
    assert_eq!(post(token.clone()).await.unwrap().status(), 200);
    assert_eq!(post(format!("{token}x")).await.unwrap().status(), 401);
    assert_eq!(app.http.post(app.url("/mcp")).json(&init).send().await.unwrap().status(), 401);
    let res = app.call(reqwest::Method::DELETE, &format!("/users/{ENC}/mcp-tokens")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(post(token).await.unwrap().status(), 401);
}

#[tokio::test]
async fn connect_and_disconnect_in_chat() {
    let app = seeded().await;
    let reply = say(&app, "/connect").await;
    let token = reply
        .split(|c: char| c.is_whitespace() || c == '"')
        .find(|w| w.starts_with("mnemo_"))
        .unwrap()
        .to_string();
    assert!(reply.contains(&format!("{}/mcp", app.base)), "{reply}");
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_tokens WHERE revoked_at IS NULL").await, 1);
    let off = say(&app, "/disconnect").await;
    assert!(off.contains("1 key(s) revoked"), "{off}");
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_tokens WHERE revoked_at IS NULL").await, 0);
    let res =
        app.http.post(app.url("/mcp")).bearer_auth(token).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
