//! The backbone end to end: signed webhook → one transaction → queue → worker → memory →
//! reply through Twilio's REST API (wiremock), plus every way a request can be refused.

use std::time::Duration;

use crate::harness::*;
use mnemo_shared::jobs::ProcessMessage;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const FROM: &str = "whatsapp:+14155550123";

#[tokio::test]
async fn text_message_becomes_memory_and_reply() {
    let app = TestApp::replying().await;
    let sid = new_sid();
    let res =
        app.post_webhook(&text_message(&sid, FROM, "Dinner plan: pasta with Anna on Friday")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/xml");
    let body = res.text().await.unwrap();
    assert!(body.contains("<Response/>"), "{body}");

    app.wait_sent(1).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    assert_eq!(app.memory_text().await.as_deref(), Some("Dinner plan: pasta with Anna on Friday"));
    app.wait_status(&sid, "processed").await;
    // The user got the zone of a San Francisco number at first contact.
    assert_eq!(
        app.scalar("SELECT timezone FROM users").await.as_deref(),
        Some("America/Los_Angeles")
    );
    // Every received param is kept raw.
    let raw = app.raw_of(&sid).await;
    assert!(raw.contains("\"ProfileName\"") && raw.contains("\"SmsStatus\""), "{raw}");

    let sent = app.sent_messages().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["To"], FROM);
    assert_eq!(sent[0]["From"], WA_NUMBER);
    assert!(sent[0]["Body"].contains("Saved"), "{}", sent[0]["Body"]);
    assert!(sent[0]["Body"].contains("/help"), "first reply introduces mnemo");
    assert_eq!(sent[0]["StatusCallback"], format!("{}/webhook/status", app.base));
    // The reply's Twilio SID is recorded on the outbound interaction.
    let out_sid = app
        .scalar("SELECT message_sid FROM interactions WHERE direction = 'outbound'")
        .await
        .unwrap();
    assert!(out_sid.starts_with("SM"));
    // Analytics count the reply as sent (awaiting Twilio's delivery callbacks).
    let summary: serde_json::Value = app.get("/analytics/summary").await.json().await.unwrap();
    assert_eq!(summary["deliveries"]["sent"], 1, "{summary}");
    assert_eq!(summary["memories"]["total"], 1, "{summary}");
}

#[tokio::test]
async fn question_finds_the_memory() {
    let app = TestApp::replying().await;
    let s1 = new_sid();
    app.post_webhook(&text_message(&s1, FROM, "Dinner plan: pasta carbonara with Anna")).await;
    app.post_webhook(&text_message(&new_sid(), FROM, "Buy new running shoes")).await;
    app.wait_count("SELECT COUNT(*) FROM interactions WHERE direction = 'outbound'", 2).await;
    app.post_webhook(&text_message(&new_sid(), FROM, "What did I plan for dinner?")).await;
    app.wait_count("SELECT COUNT(*) FROM interactions WHERE direction = 'outbound'", 3).await;
    app.wait_sent(3).await;
    // A question is not stored as a memory.
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 2);
    let sent = app.sent_messages().await;
    let answer = sent.iter().find(|m| m["Body"].contains("found")).expect("an answer");
    assert!(answer["Body"].contains("carbonara"), "{}", answer["Body"]);
    assert!(!answer["Body"].contains("running shoes"), "{}", answer["Body"]);
}

#[tokio::test]
async fn dry_run_without_twilio_credentials() {
    let app = TestApp::without_twilio().await;
    // Without a token the signature check is off: an unsigned post is accepted.
    let sid = new_sid();
    let res = app
        .http
        .post(app.url("/webhook"))
        .form(&text_message(&sid, FROM, "remember the blue door"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'outbound' AND status = 'dry_run'",
        1,
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
}

#[tokio::test]
async fn twenty_concurrent_copies_make_one_of_everything() {
    let app = TestApp::replying().await;
    let sid = new_sid();
    let params = text_message(&sid, FROM, "parking spot B12");
    let posts = (0..20).map(|_| app.post_webhook(&params));
    let results = futures::future::join_all(posts).await;
    assert!(results.iter().all(|r| r.status() == 200));
    app.wait_sent(1).await;
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = 'processed'",
        1,
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions WHERE direction = 'inbound'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    // No copy comes late: one memory and one reply, and it stays so.
    assert_stays("one memory and one reply", Duration::from_millis(500), || async {
        app.count("SELECT COUNT(*) FROM memories").await == 1
            && app.sent_messages().await.len() == 1
    })
    .await;
}

#[tokio::test]
async fn a_burst_from_a_few_phones_is_recorded_whole() {
    // Concurrent webhooks share group commits: many messages of one phone in one batch, and
    // duplicates inside a batch, still make one user per phone and one row per MessageSid.
    let app = TestApp::without_worker().await;
    let phones = ["whatsapp:+14155550101", "whatsapp:+447700900123", "whatsapp:+919812345678"];
    let sids: Vec<String> = (0..60).map(|_| new_sid()).collect();
    let bodies: Vec<String> = (0..60).map(|i| format!("burst note {i}")).collect();
    let params: Vec<_> =
        (0..60).map(|i| text_message(&sids[i], phones[i % 3], &bodies[i])).collect();
    // Every message twice, interleaved.
    let posts = params.iter().chain(params.iter()).map(|p| app.post_webhook(p));
    let results = futures::future::join_all(posts).await;
    assert!(results.iter().all(|r| r.status() == 200));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interactions WHERE direction = 'inbound'").await,
        60
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 3);
    assert_eq!(
        app.scalar("SELECT timezone FROM users WHERE phone = '+919812345678'").await.as_deref(),
        Some("Asia/Kolkata")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE last_inbound_at IS NULL").await, 0);
}

#[tokio::test]
async fn one_batch_with_a_repeated_sid_records_it_once() {
    let app = TestApp::without_worker().await;
    let new = |sid: &str, phone: &str| mnemo_shared::store::db::NewInbound {
        phone: phone.into(),
        wa_id: None,
        display_name: Some("Batch".into()),
        timezone: "UTC".into(),
        message_sid: sid.into(),
        kind: "text".into(),
        body: format!("note {sid}"),
        replied_to_sid: None,
        raw: serde_json::json!({"MessageSid": sid}),
        received_at: chrono::Utc::now(),
    };
    let (a, b) = (new_sid(), new_sid());
    let batch = [
        new(&a, "+14155550101"),
        new(&a, "+14155550101"),
        new(&b, "+14155550101"),
        new(&b, "+14155550102"),
    ];
    let got = mnemo_shared::store::db::record_inbound_batch(&app.db, &batch).await.unwrap();
    let kept: Vec<bool> = got.iter().map(Option::is_some).collect();
    assert_eq!(kept, [true, false, true, false]);
    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 2);
    // And against rows committed earlier: all duplicates.
    let again = mnemo_shared::store::db::record_inbound_batch(&app.db, &batch[..3]).await.unwrap();
    assert!(again.iter().all(Option::is_none));
}

#[tokio::test]
async fn nul_characters_are_dropped_not_refused() {
    let app = TestApp::without_worker().await;
    let sid = new_sid();
    let mut params = text_message(&sid, FROM, "gate\0 code\0 7788");
    params.retain(|(k, _)| *k != "ProfileName");
    params.push(("ProfileName", "Zoe\0"));
    let res = app.post_webhook(&params).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.interaction_field(&sid, "body").await.as_deref(), Some("gate code 7788"));
    assert_eq!(app.scalar("SELECT display_name FROM users").await.as_deref(), Some("Zoe"));
}

#[tokio::test]
async fn a_burst_of_first_messages_is_welcomed_once() {
    // People often open with several messages at once: they are processed concurrently, and
    // only one reply may carry the welcome.
    let app = TestApp::replying().await;
    let from = "whatsapp:+14155550177";
    let sids: Vec<String> = (0..6).map(|_| new_sid()).collect();
    let bodies: Vec<String> = (0..6).map(|i| format!("opening note {i}")).collect();
    let params: Vec<_> = (0..6).map(|i| text_message(&sids[i], from, &bodies[i])).collect();
    let results = futures::future::join_all(params.iter().map(|p| app.post_webhook(p))).await;
    assert!(results.iter().all(|r| r.status() == 200));
    app.wait_sent(6).await;
    let welcomed = app
        .sent_messages()
        .await
        .iter()
        .filter(|m| m["Body"].contains("your memory on WhatsApp"))
        .count();
    assert_eq!(welcomed, 1, "exactly one reply carries the welcome");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE welcomed_at IS NOT NULL").await, 1);
}

#[tokio::test]
async fn a_job_delivered_twice_repeats_nothing() {
    let app = TestApp::replying().await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "gate code 4411")).await;
    app.wait_sent(1).await;
    let id = {
        use mnemo_shared::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        mnemo_shared::store::entities::Interaction::find()
            .filter(mnemo_shared::store::entities::interaction::Column::MessageSid.eq(sid.clone()))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    // Redeliver: same job, new idempotency key (as a queue redelivery or the sweeper would).
    app.state
        .queue
        .push(
            ProcessMessage { interaction_id: id, message_sid: sid.clone() },
            &format!("{sid}:again"),
        )
        .await
        .unwrap();
    // And run it directly, as a second worker racing would.
    let pipeline = mnemo_worker::pipeline::Pipeline::new(app.db.clone(), app.settings.clone());
    let outcome = pipeline
        .process(&ProcessMessage { interaction_id: id, message_sid: sid.clone() })
        .await
        .unwrap();
    assert_eq!(outcome, mnemo_worker::pipeline::Outcome::Skipped);
    // The worker takes the second delivery too: it must add nothing, however long we look.
    assert_stays("one memory, one reply, one outbound row", Duration::from_millis(800), || async {
        app.count("SELECT COUNT(*) FROM memories").await == 1
            && app.sent_messages().await.len() == 1
            && app.count("SELECT COUNT(*) FROM interactions WHERE direction = 'outbound'").await
                == 1
    })
    .await;
}

/// The id of the inbound interaction with this MessageSid.
/// The job of the inbound `sid` delivered again, run on `pipeline` as a second worker would.
async fn redeliver(
    app: &TestApp,
    pipeline: &mnemo_worker::pipeline::Pipeline,
    sid: &str,
) -> mnemo_worker::pipeline::Outcome {
    let job =
        ProcessMessage { interaction_id: inbound_id(app, sid).await, message_sid: sid.into() };
    pipeline.process(&job).await.unwrap()
}

async fn inbound_id(app: &TestApp, sid: &str) -> uuid::Uuid {
    use mnemo_shared::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    mnemo_shared::store::entities::Interaction::find()
        .filter(mnemo_shared::store::entities::interaction::Column::MessageSid.eq(sid))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Puts a processed message back into the state a worker killed mid-send leaves: the inbound
/// `processing` with an expired lease, its reply `sending` with no SID after one attempt.
async fn interrupt_reply(app: &TestApp, sid: &str, reply_lock: &str) {
    // The worker records the message's end state just after the reply is sent; wait for it, or
    // that write could land after the rewind below and end the message again.
    app.wait_status(sid, "processed").await;
    app.exec(&format!(
        "UPDATE interactions SET status = 'processing', locked_until = '2000-01-01T00:00:00Z' \
         WHERE message_sid = '{sid}'"
    ))
    .await;
    app.exec(&format!(
        "UPDATE interactions SET status = 'sending', message_sid = NULL, attempts = 1, \
         locked_until = {reply_lock} WHERE {}",
        reply_of(sid)
    ))
    .await;
}

/// SQL selecting the reply to the inbound message `sid` (ids are stored natively per backend).
fn reply_of(sid: &str) -> String {
    format!("reply_to = (SELECT id FROM interactions WHERE message_sid = '{sid}')")
}

#[tokio::test]
async fn a_send_interrupted_after_twilio_accepted_it_is_not_repeated() {
    let app = TestApp::spawn().await;
    let twilio = app.twilio_accepts_messages().await;
    let pipeline = mnemo_worker::pipeline::Pipeline::new(app.db.clone(), app.settings.clone());

    // 1. Twilio has the reply, our row lost its SID (killed between the two): found, not resent.
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "the spare key is under the blue pot")).await;
    app.wait_sent(1).await;
    let twilio_sid = twilio.created()[0].message["sid"].as_str().unwrap().to_string();
    interrupt_reply(&app, &sid, "NULL").await;
    assert_eq!(redeliver(&app, &pipeline, &sid).await, mnemo_worker::pipeline::Outcome::Processed);
    assert_eq!(app.sent_messages().await.len(), 1, "not sent a second time");
    assert_eq!(
        app.scalar(&format!(
            "SELECT message_sid FROM interactions WHERE {} AND status = 'sent'",
            reply_of(&sid)
        ))
        .await
        .as_deref(),
        Some(twilio_sid.as_str()),
        "the reply row gets the SID Twilio already had"
    );

    // 2. The earlier attempt never reached Twilio (nothing with this text there): sent once.
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "passport renewal form is in the desk")).await;
    app.wait_sent(2).await;
    interrupt_reply(&app, &sid, "NULL").await;
    app.exec(&format!(
        "UPDATE interactions SET body = 'a reply Twilio never saw' WHERE {}",
        reply_of(&sid)
    ))
    .await;
    assert_eq!(redeliver(&app, &pipeline, &sid).await, mnemo_worker::pipeline::Outcome::Processed);
    let sent = app.sent_messages().await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2]["Body"], "a reply Twilio never saw");

    // 3. Another worker holds a live send lease: this one leaves the message to it.
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "bins go out on thursday")).await;
    app.wait_sent(3).await;
    interrupt_reply(&app, &sid, "'2999-01-01T00:00:00Z'").await;
    assert_eq!(redeliver(&app, &pipeline, &sid).await, mnemo_worker::pipeline::Outcome::Skipped);
    assert_eq!(app.sent_messages().await.len(), 4, "nothing sent while another holds it");
    assert_eq!(
        app.interaction_field(&sid, "status").await.as_deref(),
        Some("processing"),
        "no end state recorded: the holder (or the sweeper) finishes it"
    );
}

#[tokio::test]
async fn finished_jobs_are_vacuumed_from_the_queue() {
    // Redis (when TEST_REDIS_URL is set) and the database's own queue.
    for redis in [true, false] {
        vacuum_removes_finished_jobs(redis).await;
    }
}

async fn vacuum_removes_finished_jobs(redis: bool) {
    let app = TestApp::spawn_with(Options { redis, ..Options::default() }).await;
    app.twilio_accepts_messages().await;
    for body in ["first note to vacuum", "second note to vacuum"] {
        app.post_webhook(&text_message(&new_sid(), FROM, body)).await;
    }
    app.wait_sent(2).await;
    // The queue marks a job done just after the handler returns; its clock has whole seconds.
    let removed = std::cell::Cell::new(0);
    let done = try_wait_for(Duration::from_secs(10), || async {
        let n = app.state.queue.vacuum(&app.db, Duration::ZERO).await.expect("vacuum");
        removed.set(removed.get() + n);
        (removed.get() >= 2).then_some(())
    })
    .await;
    assert!(
        done.is_some() && removed.get() == 2,
        "both finished jobs removed ({}): {}",
        app.state.queue.kind(),
        removed.get()
    );
    // Our own tables keep everything.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = 'processed'"
        )
        .await,
        2
    );
    // Nothing left to remove.
    assert_eq!(app.state.queue.vacuum(&app.db, Duration::ZERO).await.expect("vacuum"), 0);
}

#[tokio::test]
async fn sweeper_recovers_a_crash_between_commit_and_enqueue() {
    let app = TestApp::replying().await;
    // Commit without enqueueing, as a crash right after the transaction would leave it.
    let rec = mnemo_shared::store::db::record_inbound(
        &app.db,
        &mnemo_shared::store::db::NewInbound {
            phone: "+14155550123".into(),
            wa_id: None,
            display_name: None,
            timezone: "UTC".into(),
            message_sid: new_sid(),
            kind: "text".into(),
            body: "lost between commit and enqueue".into(),
            replied_to_sid: None,
            raw: serde_json::json!({}),
            received_at: chrono::Utc::now() - chrono::Duration::minutes(10),
        },
    )
    .await
    .unwrap();
    assert!(rec.is_some());
    assert_stays("no memory (nothing queued it)", Duration::from_millis(300), || async {
        app.count("SELECT COUNT(*) FROM memories").await == 0
    })
    .await;
    let n = mnemo_worker::sweeper::sweep_once(&app.db, &app.state.queue, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.wait_sent(1).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    // A second sweep finds nothing left to do.
    let n = mnemo_worker::sweeper::sweep_once(&app.db, &app.state.queue, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn twilio_429_is_retried_and_400_fails_visibly() {
    let app = TestApp::spawn().await;
    let messages = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    Mock::given(method("POST"))
        .and(path(messages.clone()))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0").set_body_json(
            serde_json::json!({"code": 20429, "message": "Too many requests", "status": 429}),
        ))
        .up_to_n_times(1)
        .mount(&app.twilio)
        .await;
    app.twilio_accepts_messages().await;
    app.post_webhook(&text_message(&new_sid(), FROM, "retry me")).await;
    app.wait_sent(1).await;
    assert_eq!(app.sent_messages().await.len(), 2, "one 429, one success");
    let lists = app
        .twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method == wiremock::http::Method::GET)
        .count();
    assert_eq!(lists, 0, "a 429 means nothing was sent: the retry needs no look at Twilio's list");

    // A permanent error stops at once and is visible on the interaction.
    let app = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(messages))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400
        })))
        .mount(&app.twilio)
        .await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "this reply will fail")).await;
    app.wait_status(&sid, "failed").await;
    let err = app.interaction_field(&sid, "error").await.unwrap();
    assert!(err.contains("21211"), "{err}");
    assert_eq!(app.sent_messages().await.len(), 1, "permanent errors are not retried");
}

#[tokio::test]
async fn mem0_503_then_success_is_retried_and_stored() {
    let app = TestApp::with_mem0().await;
    app.twilio_accepts_messages().await;
    app.mem0_holds_nothing_yet().await;
    Mock::given(method("POST"))
        .and(path("/v3/memories/add/"))
        .and(header("authorization", "Token m0-test-key"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(serde_json::json!({"detail": "overloaded"})),
        )
        .up_to_n_times(1)
        .mount(&app.mem0)
        .await;
    app.mem0_adds_next(
        "8f1c4b1e-0000-4000-8000-000000000001",
        "a1b2c3d4-0000-4000-8000-0000000000aa",
        "Likes pasta",
    )
    .await;
    app.post_webhook(&text_message(&new_sid(), FROM, "I like pasta")).await;
    app.wait_sent(1).await;
    assert_eq!(
        app.scalar("SELECT mem0_id FROM memories").await.as_deref(),
        Some("a1b2c3d4-0000-4000-8000-0000000000aa")
    );
    let adds = app.mem0_adds().await;
    assert_eq!(adds.len(), 2, "one 503, one success");
    let body = &adds[1];
    assert_eq!(body["metadata"]["kind"], "text");
    assert!(body["user_id"].is_string());
    assert!(body["timestamp"].is_i64());
}

#[tokio::test]
async fn bad_requests_are_refused_with_problems_and_store_nothing() {
    let app = TestApp::replying().await;
    let sid = new_sid();
    let params = text_message(&sid, FROM, "hello");
    let owned: Vec<(String, String)> =
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();

    // Missing signature.
    let r = app.post_form("/webhook", None, &owned).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["status"], 403);
    assert!(p["title"].is_string() && p["type"].is_string() && p["detail"].is_string());

    // Wrong signature.
    let r = app.post_form("/webhook", Some("bm90IGEgc2lnbmF0dXJl"), &owned).await;
    assert_eq!(r.status(), 403);

    // Valid signature, then a tampered param.
    let good = twilio_signature(&format!("{}/webhook", app.base), &owned);
    let mut tampered = owned.clone();
    tampered.iter_mut().find(|(k, _)| k == "Body").unwrap().1 = "hellO".into();
    let r = app.post_form("/webhook", Some(&good), &tampered).await;
    assert_eq!(r.status(), 403);

    // Signed for another path.
    let other = twilio_signature(&format!("{}/other", app.base), &owned);
    let r = app.post_form("/webhook", Some(&other), &owned).await;
    assert_eq!(r.status(), 403);

    // Signed, but without MessageSid / From → 400.
    for drop in ["MessageSid", "From"] {
        let p: Vec<(&str, &str)> = params.iter().copied().filter(|(k, _)| *k != drop).collect();
        let r = app.post_webhook(&p).await;
        assert_eq!(r.status(), 400, "without {drop}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains(drop));
    }

    // Over 64 KiB → 413.
    let big = "x".repeat(70 * 1024);
    let r = app.post_webhook(&text_message(&new_sid(), FROM, &big)).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // Not a form → 415 problem.
    let r = app.post_raw("/webhook", "application/json", "{\"MessageSid\": 1}").await;
    assert_eq!(r.status(), 415);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    assert_eq!(app.count("SELECT COUNT(*) FROM interactions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn signature_checks_the_public_url_with_and_without_port() {
    let app =
        TestApp::with_env(vec![("PUBLIC_BASE_URL", "https://mnemo.example.com".into())]).await;
    app.twilio_accepts_messages().await;
    for (i, signed_url) in [
        "https://mnemo.example.com/webhook?src=twilio",
        "https://mnemo.example.com:443/webhook?src=twilio",
    ]
    .into_iter()
    .enumerate()
    {
        let sid = new_sid();
        let owned: Vec<(String, String)> = text_message(&sid, FROM, "port variants")
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = twilio_signature(signed_url, &owned);
        let r = app
            .http
            .post(app.url("/webhook?src=twilio"))
            .header("X-Twilio-Signature", sig)
            .form(&owned)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "variant {i}");
    }
    // The internal address Twilio never signed is refused.
    let owned: Vec<(String, String)> = text_message(&new_sid(), FROM, "x")
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sig = twilio_signature(&format!("{}/webhook", app.base), &owned);
    let r = app.post_form("/webhook", Some(&sig), &owned).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn probes_and_console_validation() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/webhook").await.status(), 200);
    assert_eq!(app.http.head(app.url("/webhook")).send().await.unwrap().status(), 200);
    let h: serde_json::Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    let r = app.get("/ready").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["paths"]["/health"].is_object());
    assert_eq!(app.get("/docs").await.status(), 200);
    // Unknown routes are problems too.
    let r = app.get("/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn database_queue_end_to_end() {
    // apalis-sqlite by default, apalis-postgres in the PostgreSQL pass.
    let app = TestApp::spawn_with(Options { redis: false, ..Default::default() }).await;
    let expected = if uses_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(app.state.queue.kind(), expected);
    app.twilio_accepts_messages().await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "database queue note")).await;
    // A duplicate is dropped by the queue's idempotency key too.
    app.post_webhook(&text_message(&sid, FROM, "database queue note")).await;
    app.wait_sent(1).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    assert_eq!(app.sent_messages().await.len(), 1);
}

#[tokio::test]
async fn failed_jobs_are_listed_and_can_be_retried() {
    let app = TestApp::with_env(vec![("API_TOKEN", "admin-token".into())]).await;
    let messages = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    // Twilio refuses the first reply permanently, then recovers.
    Mock::given(method("POST"))
        .and(path(messages))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 63016, "message": "Outside the allowed window.", "status": 400
        })))
        .up_to_n_times(1)
        .mount(&app.twilio)
        .await;
    app.twilio_accepts_messages().await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, FROM, "retry me later")).await;
    app.wait_status(&sid, "failed").await;

    // Behind the token (`app.call` sends it).
    let r = app.get("/admin/jobs/failed").await;
    assert_eq!(r.status(), 401);
    let list = app.api_json("/admin/jobs/failed").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["message_sid"], sid.as_str());
    assert!(items[0]["error"].as_str().unwrap().contains("63016"));
    let id = items[0]["id"].as_str().unwrap().to_string();

    let r = app.call(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry")).await;
    assert_eq!(r.status(), 200);
    app.wait_status(&sid, "processed").await;
    // The memory was made once; the reply went out on the retry.
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 1);
    assert_eq!(app.count(SENT).await, 1);
    // Retrying a message that is not failed is a conflict.
    let r = app.call(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry")).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
