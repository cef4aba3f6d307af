//! The media pipeline end to end: Twilio media (wiremock, with its redirect to signed
//! storage) → streaming SHA-256 → the local store or a real S3 protocol server (s3s-fs
//! in-process) → links, dedup and reference counts, near-duplicate photos, voice-note
//! transcription (wiremock), locations, and the signed `/media` route.

use std::io::Cursor;

use crate::harness::s3::S3Server;
use crate::harness::*;
use base64::Engine;
use image::{DynamicImage, Rgb, RgbImage};
use mnemo_shared::store::media_stats::media_stats;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FROM: &str = "whatsapp:+14155550123";

/// A diagonal gradient with a bright square at `square_x`; as JPEG at `quality`.
fn photo(square_x: u32, dots: u32, quality: u8) -> Vec<u8> {
    let (w, h) = (640, 480);
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        if (square_x..square_x + w / 4).contains(&x) && (h / 3..h / 3 + h / 4).contains(&y) {
            Rgb([250, 240, 30])
        } else {
            Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 120])
        }
    });
    for i in 0..dots {
        img.put_pixel(300 + i, 200, Rgb([0, 0, 0]));
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), quality)
        .encode_image(&DynamicImage::ImageRgb8(img))
        .unwrap();
    out
}

/// A clearly different picture: vertical stripes.
fn other_photo() -> Vec<u8> {
    let img = RgbImage::from_fn(640, 480, |x, _| {
        if (x / 40) % 2 == 0 { Rgb([20, 20, 200]) } else { Rgb([230, 230, 230]) }
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Bytes that look like an Ogg/Opus voice note.
fn voice_note() -> Vec<u8> {
    let mut v = b"OggS\0\x02".to_vec();
    v.extend_from_slice(b"OpusHead");
    v.extend((0..4000u32).map(|i| (i * 31 % 251) as u8));
    v
}

fn media_path(name: &str) -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM0001/Media/{name}")
}

/// Twilio's media endpoint serving `bytes` directly under `name`.
async fn serve_media(app: &TestApp, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
    Mock::given(method("GET"))
        .and(path(media_path(name)))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes, content_type))
        .mount(&app.twilio)
        .await;
    format!("{}{}", app.twilio.uri(), media_path(name))
}

/// A media message as Twilio posts it.
fn media_message(sid: &str, body: &str, media: &[(String, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = text_message(sid, FROM, body)
        .into_iter()
        .filter(|(k, _)| *k != "NumMedia" && *k != "MessageType")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    p.push(("NumMedia".into(), media.len().to_string()));
    for (i, (url, ct)) in media.iter().enumerate() {
        p.push((format!("MediaUrl{i}"), url.clone()));
        p.push((format!("MediaContentType{i}"), ct.to_string()));
    }
    p
}

async fn post(app: &TestApp, params: &[(String, String)]) {
    let res = app.post_webhook(params).await;
    assert_eq!(res.status(), 200);
}

/// Posts a message (text `body`) with the one attachment at `url`; returns its MessageSid.
async fn post_one(app: &TestApp, body: &str, url: String, content_type: &str) -> String {
    let sid = new_sid();
    post(app, &media_message(&sid, body, &[(url, content_type)])).await;
    sid
}

/// Waits for `n` replies and returns the reply to `sid`.
async fn reply_to(app: &TestApp, sid: &str, n: i64) -> String {
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'outbound' AND status IN ('sent', 'dry_run')",
        n,
    )
    .await;
    app.scalar(&format!(
        "SELECT o.body FROM interactions o JOIN interactions i ON o.reply_to = i.id \
         WHERE i.message_sid = '{sid}'"
    ))
    .await
    .expect("a reply")
}

/// A server that would answer any GET with a photo but must never be asked (its one mock
/// expects no call, which is checked when the server is dropped).
async fn never_fetched() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(photo(0, 0, 80), "image/jpeg"))
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// A media app whose transcription API (a wiremock stand-in, returned to keep it alive)
/// answers `text` exactly once.
async fn transcribing_app(text: &str) -> (TestApp, MockServer) {
    let stt = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "text": text })))
        .expect(1)
        .mount(&stt)
        .await;
    let app = media_app(vec![
        ("TRANSCRIBE_API_BASE", format!("{}/v1", stt.uri())),
        ("TRANSCRIBE_API_KEY", "sk-test".into()),
    ])
    .await;
    (app, stt)
}

async fn media_app(extra: Vec<(&'static str, String)>) -> TestApp {
    let app = TestApp::with_env(extra).await;
    app.twilio_accepts_messages().await;
    app
}

async fn print_stats(app: &TestApp, label: &str) -> mnemo_shared::store::media_stats::MediaStats {
    let stats = media_stats(&app.db, None).await.unwrap();
    println!("dedup figures ({label}): {stats:?}");
    stats
}

#[tokio::test]
async fn same_bytes_under_two_sids_are_one_object_with_two_references() {
    let app = media_app(vec![]).await;
    let bytes = photo(40, 0, 90);
    let a = serve_media(&app, "ME_a", "image/jpeg", bytes.clone()).await;
    let b = serve_media(&app, "ME_b", "image/jpeg", bytes.clone()).await;
    let s1 = post_one(&app, "Haircut, before", a, "image/jpeg").await;
    reply_to(&app, &s1, 1).await;
    let s2 = post_one(&app, "Haircut again", b, "image/jpeg").await;
    let second = reply_to(&app, &s2, 2).await;

    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interaction_media WHERE media_object_id IS NOT NULL").await,
        2
    );
    let sha = app.scalar("SELECT sha256 FROM media_objects").await.unwrap();
    let file = app.settings.media_dir.clone() + &format!("/sha256/{}/{sha}", &sha[..2]);
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "stored once under its hash");
    assert!(second.contains("Looks like the photo you sent on"), "{second}");
    let stats = print_stats(&app, "local store").await;
    assert_eq!(stats.unique_objects, 1);
    assert_eq!(stats.references, 2);
    assert_eq!(stats.bytes_stored, bytes.len() as i64);
    assert_eq!(stats.bytes_saved, bytes.len() as i64);
    // Nothing left behind in the staging folder.
    let staging = std::path::Path::new(&app.settings.media_dir).join("tmp");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

#[tokio::test]
async fn s3_store_keeps_one_object_per_hash_and_presigns_links() {
    let s3 = S3Server::start("mnemo-media").await;
    let app = media_app(s3.env()).await;
    let bytes = voice_note();
    let a = serve_media(&app, "ME_1", "video/mp4", bytes.clone()).await;
    let b = serve_media(&app, "ME_2", "video/mp4", bytes.clone()).await;
    let c = serve_media(&app, "ME_3", "application/pdf", b"%PDF-1.4 tiny".to_vec()).await;
    let sids = [
        post_one(&app, "Beach clip", a, "video/mp4").await,
        post_one(&app, "", b, "video/mp4").await,
        post_one(&app, "Lease contract", c, "application/pdf").await,
    ];
    reply_to(&app, &sids[2], 3).await;

    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 2);
    assert_eq!(app.count("SELECT CAST(SUM(ref_count) AS BIGINT) FROM media_objects").await, 3);
    let files = s3.object_files();
    assert_eq!(files.len(), 2, "{files:?}");
    let sha = app
        .scalar("SELECT sha256 FROM media_objects WHERE content_type = 'video/mp4'")
        .await
        .unwrap();
    assert!(files.iter().any(|f| f.ends_with(format!("sha256/{}/{sha}", &sha[..2]))), "{files:?}");
    // Videos and documents are listed with their caption and kind.
    assert_eq!(
        app.scalar("SELECT text FROM memories WHERE kind = 'document'").await.as_deref(),
        Some("Lease contract")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM memories WHERE kind = 'video'").await, 2);
    let uncaptioned = app
        .scalar(&format!(
            "SELECT m.text FROM memories m JOIN interactions i ON i.id = m.interaction_id \
             WHERE i.message_sid = '{}'",
            sids[1]
        ))
        .await
        .unwrap();
    assert!(uncaptioned.starts_with("video (video/mp4"), "{uncaptioned}");

    // A presigned S3 link serves the bytes.
    let url = app.state.media.signed_url(&sha, "video/mp4").await;
    assert!(url.starts_with(&s3.endpoint) && url.contains("X-Amz-Signature="), "{url}");
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    print_stats(&app, "s3 store").await;
}

#[tokio::test]
async fn basic_auth_goes_to_twilio_only_never_across_the_redirect() {
    let storage = MockServer::start().await;
    // The storage host is on this machine: trusted explicitly, as a private network would be.
    let app =
        media_app(vec![("MEDIA_TRUSTED_HOSTS", format!("localhost:{}", storage.address().port()))])
            .await;
    let bytes = photo(100, 0, 85);
    // Another host: `localhost` is not the configured `127.0.0.1`.
    let signed =
        format!("http://localhost:{}/mms/abc?Expires=1&Signature=s3cr3t", storage.address().port());
    Mock::given(method("GET"))
        .and(path(media_path("ME_redirect")))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", signed.as_str()))
        .mount(&app.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path("/mms/abc"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes.clone(), "image/jpeg"))
        .expect(1)
        .mount(&storage)
        .await;
    let url = format!("{}{}", app.twilio.uri(), media_path("ME_redirect"));
    let sid = post_one(&app, "Dinner receipt", url, "image/jpeg").await;
    reply_to(&app, &sid, 1).await;

    let twilio_req = requests_at(&app.twilio, &media_path("ME_redirect"))
        .await
        .into_iter()
        .next()
        .expect("Twilio asked");
    let auth = twilio_req.headers.get("authorization").expect("basic auth");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    assert_eq!(auth.to_str().unwrap(), expected);
    let storage_req = &storage.received_requests().await.unwrap()[0];
    assert!(
        storage_req.headers.get("authorization").is_none(),
        "credentials leaked to the redirect host"
    );
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT size_bytes FROM media_objects").await, bytes.len() as i64);
}

#[tokio::test]
async fn an_off_host_media_url_is_never_fetched_and_the_message_is_answered() {
    let app = media_app(vec![]).await;
    let elsewhere = never_fetched().await;
    let url = format!("{}/internal/admin.jpg", elsewhere.uri());
    let sid = post_one(&app, "look at this", url, "image/jpeg").await;
    let reply = reply_to(&app, &sid, 1).await;
    assert!(reply.contains("skipped attachment 1"), "{reply}");
    assert!(reply.contains("look at this"), "{reply}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
    // The status is set just after the reply went out.
    app.wait_status(&sid, "processed").await;
}

#[tokio::test]
async fn oversize_media_is_refused_with_a_reply() {
    let app = media_app(vec![("MAX_MEDIA_BYTES", "2048".into())]).await;
    let url = serve_media(&app, "ME_big", "video/mp4", vec![7u8; 10_000]).await;
    let sid = post_one(&app, "", url, "video/mp4").await;
    let reply = reply_to(&app, &sid, 1).await;
    assert!(reply.contains("too large"), "{reply}");
    assert!(reply.contains("the limit is 2 KB"), "{reply}");
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interaction_media WHERE media_object_id IS NULL").await,
        1
    );
    let staging = std::path::Path::new(&app.settings.media_dir).join("tmp");
    assert_eq!(
        std::fs::read_dir(staging).map(|d| d.count()).unwrap_or(0),
        0,
        "partial download removed"
    );
}

#[tokio::test]
async fn a_voice_note_is_transcribed_stored_and_remembered() {
    let (app, stt) = transcribing_app("Remember to book the dentist for Thursday.").await;
    let url = serve_media(&app, "ME_voice", "audio/ogg", voice_note()).await;
    let sid = post_one(&app, "", url, "audio/ogg").await;
    let reply = reply_to(&app, &sid, 1).await;

    assert!(
        reply.contains("🎙 voice note: “Remember to book the dentist for Thursday.”"),
        "{reply}"
    );
    assert_eq!(
        app.transcript_of(&sid).await.as_deref(),
        Some("Remember to book the dentist for Thursday.")
    );
    assert_eq!(
        app.scalar("SELECT text FROM memories WHERE kind = 'audio'").await.as_deref(),
        Some("Remember to book the dentist for Thursday.")
    );
    let req = &stt.received_requests().await.unwrap()[0];
    let body = String::from_utf8_lossy(&req.body);
    assert!(body.contains(r#"filename="voice.ogg""#), "{body}");
    assert!(body.contains("\r\n\r\njson\r\n"));
    assert_eq!(req.headers["authorization"], "Bearer sk-test");
}

#[tokio::test]
async fn without_transcription_the_voice_note_is_kept_untranscribed() {
    let app = media_app(vec![]).await;
    let url = serve_media(&app, "ME_voice", "audio/ogg", voice_note()).await;
    let sid = post_one(&app, "", url, "audio/ogg").await;
    let reply = reply_to(&app, &sid, 1).await;
    assert!(reply.contains("saved untranscribed"), "{reply}");
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
    assert_eq!(app.memory_text().await.as_deref(), Some("voice note (not transcribed)"));
    assert_eq!(app.transcript_of(&sid).await, None);
}

#[tokio::test]
async fn a_near_duplicate_photo_is_linked_to_the_earlier_one() {
    let app = media_app(vec![]).await;
    let first = serve_media(&app, "ME_p1", "image/jpeg", photo(40, 0, 90)).await;
    // Same scene, a few pixels changed, re-encoded: different bytes.
    let again = serve_media(&app, "ME_p2", "image/jpeg", photo(40, 5, 70)).await;
    let different = serve_media(&app, "ME_p3", "image/png", other_photo()).await;
    let s0 = post_one(&app, "New haircut", first, "image/jpeg").await;
    let r0 = reply_to(&app, &s0, 1).await;
    let s1 = post_one(&app, "", again, "image/jpeg").await;
    let r1 = reply_to(&app, &s1, 2).await;
    let s2 = post_one(&app, "Shirt", different, "image/png").await;
    let r2 = reply_to(&app, &s2, 3).await;

    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects WHERE phash IS NOT NULL").await, 3);
    assert!(!r0.contains("Looks like"), "{r0}");
    assert!(r1.contains("🔁 Looks like the photo you sent on"), "{r1}");
    assert!(!r2.contains("Looks like"), "{r2}");
    // The second photo's link points at the first photo's link.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM interaction_media dup \
             JOIN interactions di ON di.id = dup.interaction_id \
             JOIN interaction_media orig ON orig.id = dup.duplicate_of \
             JOIN interactions oi ON oi.id = orig.interaction_id \
             WHERE di.message_sid = '{}' AND oi.message_sid = '{}'",
            s1, s0
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interaction_media WHERE duplicate_of IS NOT NULL").await,
        1
    );
}

#[tokio::test]
async fn a_retried_job_neither_downloads_nor_counts_twice() {
    let stt = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(2)
        .mount(&stt)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"text": "call mum"})),
        )
        .mount(&stt)
        .await;
    let app = media_app(vec![("TRANSCRIBE_API_BASE", stt.uri())]).await;
    Mock::given(method("GET"))
        .and(path(media_path("ME_once")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(voice_note(), "audio/ogg"))
        .expect(1)
        .mount(&app.twilio)
        .await;
    let url = format!("{}{}", app.twilio.uri(), media_path("ME_once"));
    let sid = post_one(&app, "", url, "audio/ogg").await;
    let reply = reply_to(&app, &sid, 1).await;
    assert!(reply.contains("call mum"), "{reply}");
    assert_eq!(app.attempts_of(&sid).await, 3);
    assert_eq!(stt.received_requests().await.unwrap().len(), 3);
    let downloads = requests_at(&app.twilio, &media_path("ME_once")).await.len();
    assert_eq!(downloads, 1, "stored on the first attempt, read back after");
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM interaction_media").await, 1);
}

#[tokio::test]
async fn a_location_becomes_a_memory_with_coordinates_and_address() {
    let app = media_app(vec![]).await;
    let sid = new_sid();
    let mut p: Vec<(String, String)> = text_message(&sid, FROM, "")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("Latitude", "37.7825"),
        ("Longitude", "-122.4036"),
        ("Address", "66 Mint St, San Francisco"),
        ("Label", "Blue Bottle Coffee"),
    ] {
        p.push((k.into(), v.into()));
    }
    post(&app, &p).await;
    let reply = reply_to(&app, &sid, 1).await;
    let text = app.memory_text().await.unwrap();
    assert_eq!(text, "📍 Blue Bottle Coffee, 66 Mint St, San Francisco (37.78250, -122.40360)");
    assert_eq!(app.scalar("SELECT kind FROM memories").await.as_deref(), Some("location"));
    assert!(reply.contains("Blue Bottle Coffee"), "{reply}");
}

#[tokio::test]
async fn photos_get_a_vision_description_and_go_to_mem0_as_an_image() {
    let llm = MockServer::start().await;
    chat_model_answers(&llm, "", "A yellow square on a blue-green gradient.").await;
    let app = TestApp::spawn_with(Options {
        mem0: true,
        extra: vec![("LLM_API_BASE", format!("{}/v1", llm.uri()))],
        ..Default::default()
    })
    .await;
    app.twilio_accepts_messages().await;
    app.mem0_holds_nothing_yet().await;
    app.mem0_adds_next(
        "8f1c4b1e-0000-4000-8000-000000000002",
        "b1b2c3d4-0000-4000-8000-0000000000bb",
        "Poster",
    )
    .await;
    let url = serve_media(&app, "ME_poster", "image/jpeg", photo(200, 0, 90)).await;
    let sid = post_one(&app, "Poster for the hallway", url, "image/jpeg").await;
    let reply = reply_to(&app, &sid, 1).await;
    assert!(reply.contains("Poster for the hallway"), "{reply}");
    assert_eq!(
        app.memory_text().await.as_deref(),
        Some("Poster for the hallway\nA yellow square on a blue-green gradient.")
    );
    let chat: serde_json::Value = llm.received_requests().await.unwrap()[0].body_json().unwrap();
    let sent_image = chat["messages"][0]["content"][1]["image_url"]["url"].as_str().unwrap();
    assert!(sent_image.starts_with("data:image/jpeg;base64,"));
    let body = app.mem0_adds().await.into_iter().next().expect("added to Mem0");
    let parts = body["messages"].as_array().unwrap();
    assert!(
        parts.iter().any(|m| {
            m["content"].as_str().is_some_and(|t| t.contains("Poster for the hallway"))
        })
    );
    let image = parts
        .iter()
        .find_map(|m| m["content"]["image_url"]["url"].as_str())
        .expect("an image_url part");
    assert!(image.starts_with("data:image/jpeg;base64,"));
    assert_eq!(
        app.scalar("SELECT mem0_id FROM memories").await.as_deref(),
        Some("b1b2c3d4-0000-4000-8000-0000000000bb")
    );
}

#[tokio::test]
async fn local_links_serve_the_bytes_and_refuse_forged_or_expired_ones() {
    let app = media_app(vec![("MEDIA_URL_TTL_SECS", "60".into())]).await;
    let bytes = photo(10, 0, 90);
    let url = serve_media(&app, "ME_link", "image/jpeg", bytes.clone()).await;
    let sid = post_one(&app, "Receipt", url, "image/jpeg").await;
    reply_to(&app, &sid, 1).await;
    let sha = app.scalar("SELECT sha256 FROM media_objects").await.unwrap();

    let link = app.state.media.signed_url(&sha, "image/jpeg").await;
    assert!(link.starts_with(&format!("{}/media/{sha}?exp=", app.base)), "{link}");
    let res = app.http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Forged: another signature, another object or a later expiry.
    let forged = format!("{}0", &link[..link.len() - 1]);
    let forged = if forged == link { format!("{}1", &link[..link.len() - 1]) } else { forged };
    let later = link.replace("?exp=", "?exp=9");
    for bad in [forged, later, format!("{}/media/{sha}", app.base)] {
        let res = app.http.get(&bad).send().await.unwrap();
        assert_eq!(res.status(), 403, "{bad}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    // Expired: a correctly signed link whose time is up.
    let signer = mnemo_shared::media::links::LinkSigner::from_settings(&app.settings);
    let past = chrono::Utc::now().timestamp() - 5;
    let expired = signer.url(&app.base, &sha, past);
    let res = app.http.get(&expired).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    // Valid signature, unknown object.
    let unknown = "0".repeat(64);
    let res = app.http.get(signer.url(&app.base, &unknown, past + 3600)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn concurrent_identical_uploads_store_once_on_s3() {
    let s3 = S3Server::start("mnemo-media").await;
    let app = media_app(s3.env()).await;
    let bytes = photo(120, 3, 88);
    let mut messages = Vec::new();
    for i in 0..6 {
        let url = serve_media(&app, &format!("ME_same_{i}"), "image/jpeg", bytes.clone()).await;
        messages.push(media_message(&new_sid(), "Same picture", &[(url, "image/jpeg")]));
    }
    // All six are queued together; the worker runs them concurrently.
    futures::future::join_all(messages.iter().map(|m| post(&app, m))).await;
    app.wait_sent(6).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 6);
    assert_eq!(s3.object_files().len(), 1);
    let stats = print_stats(&app, "s3, six concurrent copies").await;
    assert_eq!(stats.bytes_saved, 5 * bytes.len() as i64);
}

/// Issue 15, finding 4: a media URL on the allowed host that redirects to this machine, or
/// that names another Twilio resource, is never fetched; the message is still answered.
#[tokio::test]
async fn media_redirects_inward_and_other_twilio_paths_are_never_fetched() {
    let internal = never_fetched().await;
    let app = media_app(vec![]).await;
    let port = internal.address().port();
    let targets = [
        format!("http://127.0.0.1:{port}/secret"),
        format!("http://localhost:{port}/secret"),
        format!("http://[::ffff:127.0.0.1]:{port}/secret"),
    ];
    let mut media = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let name = format!("ME_inward{i}");
        Mock::given(method("GET"))
            .and(path(media_path(&name)))
            .respond_with(ResponseTemplate::new(302).insert_header("Location", target.as_str()))
            .mount(&app.twilio)
            .await;
        media.push((format!("{}{}", app.twilio.uri(), media_path(&name)), "image/jpeg"));
    }
    // Another resource of the account, on the Twilio origin, with the account's credentials.
    let list = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings.json");
    Mock::given(method("GET"))
        .and(path(list.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"{\"messages\": []}".to_vec(), "image/jpeg"),
        )
        .expect(0)
        .mount(&app.twilio)
        .await;
    media.push((format!("{}{list}", app.twilio.uri()), "image/jpeg"));
    // The console is off here: its media path on PUBLIC_BASE_URL is not a media source.
    media.push((format!("{}/metrics", app.base), "image/jpeg"));

    let sid = new_sid();
    let params: Vec<(String, String)> = media_message(
        &sid,
        "look",
        &media.iter().map(|(u, c)| (u.clone(), *c)).collect::<Vec<_>>(),
    );
    post(&app, &params).await;
    let reply = reply_to(&app, &sid, 1).await;
    for n in 1..=media.len() {
        assert!(reply.contains(&format!("skipped attachment {n}")), "{n}: {reply}");
    }
    assert!(internal.received_requests().await.unwrap().is_empty());
    assert!(
        requests_at(&app.twilio, &list).await.is_empty(),
        "the account's recordings were requested"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
}

/// Issue 15, finding 7: a photo sent through `POST /memories` goes through the WhatsApp media
/// path: the same bytes from both are one object with two references; `raw` holds a
/// reference, not the bytes; the memory shows its media.
#[tokio::test]
async fn rest_and_whatsapp_uploads_of_the_same_photo_are_one_object() {
    let app = media_app(vec![]).await;
    let bytes = photo(60, 0, 90);
    let url = serve_media(&app, "ME_same", "image/jpeg", bytes.clone()).await;
    let sid = post_one(&app, "bike", url, "image/jpeg").await;
    reply_to(&app, &sid, 1).await;

    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let res = app
        .post_json(
            "/memories",
            &serde_json::json!({"user": "+14155550123", "kind": "image", "text": "bike again",
                                  "media_base64": b64}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let queued: serde_json::Value = res.json().await.unwrap();
    let iid = queued["interaction_id"].as_str().unwrap().to_string();
    app.wait_count(
        &format!(
            "SELECT COUNT(*) FROM interactions WHERE message_sid = 'api:{iid}' AND status = 'processed'"
        ),
        1,
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 1);
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 2);
    let raw = app.raw_of(&format!("api:{iid}")).await;
    assert!(raw.contains("stored:sha256:"), "{raw}");
    assert!(raw.len() < 2000, "the bytes stayed in raw: {} chars", raw.len());
    use mnemo_shared::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use mnemo_shared::store::entities::memory;
    let memory_id = memory::Entity::find()
        .filter(memory::Column::InteractionId.eq(uuid::Uuid::parse_str(&iid).unwrap()))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a memory")
        .id;
    let m = app.api_json(&format!("/memories/{memory_id}")).await;
    let sha = app.scalar("SELECT sha256 FROM media_objects").await.unwrap();
    assert_eq!(m["media"]["sha256"], sha.as_str(), "{m}");
    assert_eq!(m["media"]["content_type"], "image/jpeg", "{m}");
    // The staging folder is empty again.
    let staging = std::path::Path::new(&app.settings.media_dir).join("tmp");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

/// Issue 15, finding 7: a voice note sent through REST is transcribed like a WhatsApp one.
#[tokio::test]
async fn a_rest_voice_note_is_transcribed() {
    let (app, _stt) = transcribing_app("Pick up the parcel at five.").await;
    app.insert_user("+14155550123", "UTC").await;
    let data = format!(
        "data:audio/ogg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(voice_note())
    );
    let res = app
        .post_json(
            "/memories",
            &serde_json::json!({"user": "+14155550123", "kind": "audio", "media_url": data}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    app.wait_count(
        "SELECT COUNT(*) FROM memories WHERE kind = 'audio' AND text = 'Pick up the parcel at five.'",
        1,
    )
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM interactions WHERE transcript = 'Pick up the parcel at five.'"
        )
        .await,
        1
    );
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
}
