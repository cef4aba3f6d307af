//! Forgetting or correcting a memory by replying to it on WhatsApp (DESIGN §12), against the
//! real app: Twilio's `OriginalRepliedMessageSid` names the quoted message, either the user's
//! own note or mnemo's confirmation of it. "forget this" deletes the memory (and releases its
//! photos), any other text corrects it and keeps the earlier text as a version, a reply to a
//! message that holds no memory is explained and changes nothing, and with Mem0 configured the
//! stand-in receives the update and the delete for the right Mem0 ids.

use std::io::Cursor;

use crate::harness::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

const FROM: &str = "whatsapp:+14155550123";

/// The user's memories.
const MINE: &str = "SELECT COUNT(*) FROM memories m JOIN users u ON u.id = m.user_id WHERE u.phone = '+14155550123'";

/// One message and what mnemo answered.
struct Said {
    /// The user's message.
    sid: String,
    /// mnemo's reply.
    reply: String,
}

/// Sends `params` (a message as Twilio posts it) and waits for mnemo's reply to it.
async fn send(app: &TestApp, sid: String, params: Vec<(String, String)>) -> Said {
    let res = app.post_webhook(&params).await;
    assert_eq!(res.status(), 200);
    let replied = format!(
        "FROM interactions o JOIN interactions i ON o.reply_to = i.id \
         WHERE i.message_sid = '{sid}' AND o.purpose = 'reply'"
    );
    app.wait_count(&format!("SELECT COUNT(*) {replied} AND o.status IN ('sent', 'dry_run')"), 1)
        .await;
    let reply = app.scalar(&format!("SELECT o.body {replied}")).await.expect("a reply");
    Said { sid, reply }
}

/// A text message, replying to `quoted` when given.
async fn say(app: &TestApp, text: &str, quoted: Option<&str>) -> Said {
    let sid = new_sid();
    let mut params: Vec<(String, String)> = text_message(&sid, FROM, text)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(q) = quoted {
        params.push(("OriginalRepliedMessageSid".into(), q.into()));
        params.push(("OriginalRepliedMessageSender".into(), WA_NUMBER.into()));
    }
    send(app, sid, params).await
}

/// Twilio's SID of mnemo's reply to the message `sid` (what the user quotes when replying
/// to the confirmation).
async fn reply_sid(app: &TestApp, sid: &str) -> String {
    app.scalar(&format!(
        "SELECT o.message_sid FROM interactions o JOIN interactions i ON o.reply_to = i.id \
         WHERE i.message_sid = '{sid}' AND o.purpose = 'reply'"
    ))
    .await
    .expect("the reply was sent through Twilio and has its SID")
}

/// The id of the one memory of the user's that `word` finds.
async fn memory_id(app: &TestApp, word: &str) -> String {
    let hits = search_hits(app, word).await;
    assert_eq!(hits.len(), 1, "one memory has {word:?}: {hits:?}");
    hits[0]["memory"]["id"].as_str().unwrap().to_string()
}

async fn get_memory(app: &TestApp, id: &str) -> (u16, Value) {
    let res = app.call(reqwest::Method::GET, &format!("/memories/{id}")).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// What `GET /memories?query=` finds for the user (`word`: one word, no escaping).
async fn search_hits(app: &TestApp, word: &str) -> Vec<Value> {
    let res = app
        .api(reqwest::Method::GET, &format!("/memories?user=%2B14155550123&query={word}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The texts of the memories `word` finds.
async fn search(app: &TestApp, word: &str) -> Vec<String> {
    search_hits(app, word)
        .await
        .iter()
        .map(|h| h["memory"]["text"].as_str().unwrap().to_string())
        .collect()
}

/// A small PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A photo message whose bytes Twilio's media endpoint (the stand-in) serves.
async fn send_photo(app: &TestApp, caption: &str, name: &str) -> Said {
    let media_path = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM0001/Media/{name}");
    Mock::given(method("GET"))
        .and(path(media_path.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(png(), "image/png"))
        .mount(&app.twilio)
        .await;
    let url = format!("{}{media_path}", app.twilio.uri());
    let sid = new_sid();
    let mut params: Vec<(String, String)> = text_message(&sid, FROM, caption)
        .into_iter()
        .filter(|(k, _)| *k != "NumMedia" && *k != "MessageType")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    params.extend([
        ("NumMedia".to_string(), "1".to_string()),
        ("MediaUrl0".into(), url),
        ("MediaContentType0".into(), "image/png".into()),
    ]);
    send(app, sid, params).await
}

/// Two photo messages with the same bytes (one stored object, referenced twice), and where the
/// store keeps that object.
async fn the_same_photo_twice(
    app: &TestApp,
    first: &str,
    second: &str,
) -> (Said, Said, std::path::PathBuf) {
    let first = send_photo(app, first, "ME_a").await;
    let second = send_photo(app, second, "ME_b").await;
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 2);
    let stored = app.stored_object().await;
    assert!(stored.exists());
    (first, second, stored)
}

/// The stored object is still there, referenced once (by `holder`).
async fn assert_one_reference_left(app: &TestApp, stored: &std::path::Path, holder: &str) {
    assert_eq!(app.count("SELECT ref_count FROM media_objects").await, 1);
    assert!(stored.exists(), "{holder} still references the bytes");
}

/// Nothing references the stored object any more: its row and its bytes are gone.
async fn assert_object_released(app: &TestApp, stored: &std::path::Path) {
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 0);
    assert!(!stored.exists(), "the unreferenced object is removed from the store");
}

/// The reply says the memory naming `what` was forgotten.
fn assert_forgotten(reply: &str, what: &str) {
    assert!(reply.starts_with("🗑 Forgotten:") && reply.contains(what), "{reply}");
}

#[tokio::test]
async fn forget_this_to_the_note_or_delete_to_the_confirmation() {
    let app = TestApp::replying().await;
    let parking = say(&app, "Parking: level 3, spot 12", None).await;
    let dinner = say(&app, "Dinner at Luigi's on Friday", None).await;
    let keep = say(&app, "Gym locker 112", None).await;
    assert_eq!(app.count(MINE).await, 3);

    // "forget this" quoting the user's own note.
    let gone = say(&app, "Forget this!", Some(&parking.sid)).await;
    println!("> Forget this! (replying to “Parking: level 3, spot 12”)\n{}", gone.reply);
    assert_forgotten(&gone.reply, "Parking: level 3, spot 12");
    assert_eq!(app.count(MINE).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories WHERE text LIKE 'Parking%'").await, 0);

    // "delete" quoting mnemo's confirmation of the note.
    let confirmation = reply_sid(&app, &dinner.sid).await;
    let gone = say(&app, "delete", Some(&confirmation)).await;
    assert_forgotten(&gone.reply, "Luigi's");
    assert_eq!(app.count(MINE).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories WHERE text = 'Gym locker 112'").await, 1);

    // Quoting it again: nothing left to forget, and the other memory stays.
    let again = say(&app, "forget it", Some(&confirmation)).await;
    assert!(again.reply.contains("doesn't hold a memory"), "{}", again.reply);
    assert_eq!(app.count(MINE).await, 1);
    // The messages themselves stay (the record of what was received).
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM interactions WHERE message_sid IN ('{}', '{}', '{}')",
            parking.sid, dinner.sid, keep.sid
        ))
        .await,
        3
    );
    // The reply carried the quoted SID into the interaction.
    assert_eq!(
        app.scalar(&format!(
            "SELECT replied_to_sid FROM interactions WHERE message_sid = '{}'",
            gone.sid
        ))
        .await
        .as_deref(),
        Some(confirmation.as_str())
    );
}

#[tokio::test]
async fn forgetting_a_photo_by_reply_releases_its_stored_object() {
    let app = TestApp::replying().await;
    let (first, second, stored) =
        the_same_photo_twice(&app, "Haircut, before", "Haircut again").await;

    let gone = say(&app, "remove it", Some(&first.sid)).await;
    assert!(gone.reply.starts_with("🗑 Forgotten: 📷"), "{}", gone.reply);
    assert_one_reference_left(&app, &stored, "the other photo").await;

    let confirmation = reply_sid(&app, &second.sid).await;
    say(&app, "Delete this", Some(&confirmation)).await;
    assert_eq!(app.count(MINE).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM interaction_media").await, 0);
    assert_object_released(&app, &stored).await;
}

/// `/forget last` in chat and `DELETE /memories/{id}` release attachments like a reply does.
#[tokio::test]
async fn every_way_of_forgetting_one_memory_releases_its_stored_object() {
    let app = TestApp::replying().await;
    let (_, _, stored) = the_same_photo_twice(&app, "Haircut with a fringe", "Haircut again").await;

    let gone = say(&app, "/forget last", None).await;
    assert!(gone.reply.starts_with("🗑 Forgotten: 📷"), "{}", gone.reply);
    assert_eq!(app.count("SELECT COUNT(*) FROM interaction_media").await, 1);
    assert_one_reference_left(&app, &stored, "the first photo").await;

    let id = memory_id(&app, "fringe").await;
    let res = app.call(reqwest::Method::DELETE, &format!("/memories/{id}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count(MINE).await, 0);
    assert_object_released(&app, &stored).await;
}

#[tokio::test]
async fn a_correction_replaces_the_text_and_keeps_the_earlier_one() {
    let app = TestApp::replying().await;
    let parked = say(&app, "Parked on level 3, spot 12", None).await;
    say(&app, "Dentist on Tuesday at 4pm", None).await;
    let id = memory_id(&app, "Parked").await;

    let fixed = say(&app, "Actually, level 4 by the lifts", Some(&parked.sid)).await;
    println!(
        "> Actually, level 4 by the lifts (replying to “Parked on level 3, spot 12”)\n{}",
        fixed.reply
    );
    assert!(
        fixed.reply.starts_with("✏️ Corrected.")
            && fixed.reply.contains("“Parked on level 4, spot 12 (by the lifts)”")
            && fixed.reply.contains("“Parked on level 3, spot 12”"),
        "{}",
        fixed.reply
    );
    assert!(!fixed.reply.contains(['*', '_']), "plain text: {}", fixed.reply);
    let (status, m) = get_memory(&app, &id).await;
    assert_eq!(status, 200);
    assert_eq!(m["text"], "Parked on level 4, spot 12 (by the lifts)");
    let versions = m["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{m}");
    assert_eq!(versions[0]["text"], "Parked on level 3, spot 12");
    assert!(versions[0]["replaced_at"].is_string());
    // Recall finds the new text.
    assert_eq!(search(&app, "lifts").await, ["Parked on level 4, spot 12 (by the lifts)"]);
    // A memory never corrected lists no versions; the correction touched no other memory.
    let (_, untouched) = get_memory(&app, &memory_id(&app, "Dentist").await).await;
    assert_eq!(untouched["versions"], json!([]));
    assert_eq!(untouched["text"], "Dentist on Tuesday at 4pm");
    assert_eq!(app.count(MINE).await, 2, "no new memory was made");

    // A second correction, through mnemo's confirmation: versions stay oldest first.
    let confirmation = reply_sid(&app, &parked.sid).await;
    let full = say(&app, "Parking: level 4, spot 40", Some(&confirmation)).await;
    assert!(full.reply.contains("“Parked on level 4, spot 40 (by the lifts)”"), "{}", full.reply);
    let (_, m) = get_memory(&app, &id).await;
    assert_eq!(m["text"], "Parked on level 4, spot 40 (by the lifts)");
    let texts = texts_at(&m["versions"], "/text");
    assert_eq!(texts, ["Parked on level 3, spot 12", "Parked on level 4, spot 12 (by the lifts)"]);

    // The same text again changes nothing; a bare "actually" asks for the text.
    let same = say(&app, "Parking: level 4, spot 40", Some(&parked.sid)).await;
    assert!(same.reply.contains("already reads"), "{}", same.reply);
    let bare = say(&app, "actually", Some(&parked.sid)).await;
    assert!(bare.reply.contains("What should it say instead?"), "{}", bare.reply);
    let (_, m) = get_memory(&app, &id).await;
    assert_eq!(m["versions"].as_array().unwrap().len(), 2);

    // Forgetting it takes its versions along.
    say(&app, "forget this", Some(&parked.sid)).await;
    assert_eq!(get_memory(&app, &id).await.0, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM memory_versions").await, 0);
}

#[tokio::test]
async fn replies_to_messages_without_a_memory_are_explained_and_change_nothing() {
    let app = TestApp::replying().await;
    let note = say(&app, "Parking: level 3, spot 12", None).await;
    let question = say(&app, "where did I park?", None).await;
    assert!(question.reply.contains("level 3"), "{}", question.reply);
    let answer = reply_sid(&app, &question.sid).await;

    // "forget this" to mnemo's answer to a question.
    let explained = say(&app, "forget this", Some(&answer)).await;
    println!("> forget this (replying to an answer)\n{}", explained.reply);
    assert!(
        explained.reply.contains("doesn't hold a memory")
            && explained.reply.contains("nothing to forget"),
        "{}",
        explained.reply
    );
    // A correction to the user's own question, and a reply to a message mnemo never saw.
    for quoted in [question.sid.as_str(), "MM00000000000000000000000000000000"] {
        let explained = say(&app, "level 5 actually", Some(quoted)).await;
        assert!(explained.reply.contains("nothing to correct"), "{}", explained.reply);
    }
    assert_eq!(app.count(MINE).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM memories WHERE text = 'Parking: level 3, spot 12'").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM memory_versions").await, 0);

    // Commands and questions sent as replies stay what they are.
    let listed = say(&app, "/list", Some(&note.sid)).await;
    assert!(listed.reply.contains("Parking: level 3, spot 12"), "{}", listed.reply);
    let asked = say(&app, "which level was it?", Some(&note.sid)).await;
    assert!(asked.reply.contains("level 3"), "{}", asked.reply);
    assert_eq!(app.count(MINE).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM memory_versions").await, 0);
}

#[tokio::test]
async fn with_mem0_the_update_and_the_delete_reach_the_right_memories() {
    let app = TestApp::with_mem0().await;
    app.twilio_accepts_messages().await;
    // Nothing stored in Mem0 for an interaction before its first add.
    app.mem0_holds_nothing_yet().await;
    let parking_id = "8f1c4b1e-0000-4000-8000-0000000000a1";
    let dinner_id = "8f1c4b1e-0000-4000-8000-0000000000b2";
    app.mem0_adds_next("ev-parking", parking_id, "Parking: level 3").await;
    let parking = say(&app, "Parking: level 3", None).await;
    app.mem0_adds_next("ev-dinner", dinner_id, "Dinner at Luigi's").await;
    let dinner = say(&app, "Dinner at Luigi's", None).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories WHERE mem0_id IS NOT NULL").await, 2);
    Mock::given(method("PUT"))
        .and(path(format!("/v1/memories/{parking_id}/")))
        .and(body_partial_json(json!({"text": "Parking: level 4"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": parking_id, "memory": "Parking: level 4"})),
        )
        .expect(1)
        .mount(&app.mem0)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/memories/{dinner_id}/")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "Memory deleted successfully!"})),
        )
        .expect(1)
        .mount(&app.mem0)
        .await;

    let fixed = say(&app, "actually it's level 4", Some(&parking.sid)).await;
    assert!(fixed.reply.contains("“Parking: level 4”"), "{}", fixed.reply);
    let confirmation = reply_sid(&app, &dinner.sid).await;
    let gone = say(&app, "delete", Some(&confirmation)).await;
    assert_forgotten(&gone.reply, "");

    assert_eq!(app.memory_text().await.as_deref(), Some("Parking: level 4"));
    assert_eq!(
        app.scalar("SELECT mem0_id FROM memories").await.as_deref(),
        Some(parking_id),
        "the corrected memory keeps its Mem0 id"
    );

    // Deleted in Mem0 meanwhile (its PUT answers 404): added again, with the corrected text.
    let readded_id = "8f1c4b1e-0000-4000-8000-0000000000c3";
    Mock::given(method("PUT"))
        .and(path(format!("/v1/memories/{parking_id}/")))
        .and(body_partial_json(json!({"text": "Parking: level 5"})))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "Memory not found!"})),
        )
        .expect(1)
        .mount(&app.mem0)
        .await;
    app.mem0_adds_next("ev-readd", readded_id, "Parking: level 5").await;
    Mock::given(method("PUT"))
        .and(path(format!("/v1/memories/{readded_id}/")))
        .and(body_partial_json(json!({"text": "Parking: level 5"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": readded_id})))
        .expect(1)
        .mount(&app.mem0)
        .await;
    let again = say(&app, "No, level 5", Some(&parking.sid)).await;
    assert!(again.reply.contains("“Parking: level 5”"), "{}", again.reply);
    assert_eq!(app.scalar("SELECT mem0_id FROM memories").await.as_deref(), Some(readded_id));
    let adds = app.mem0_adds().await;
    assert_eq!(adds.len(), 3, "two notes, one re-add");
    assert_eq!(adds[2]["messages"][0]["content"], "Parking: level 5");
    app.mem0.verify().await;
}
