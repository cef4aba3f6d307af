//! Never stuck (issue 14, DESIGN §7): a job that panics ends `failed` with one short reply and
//! a redrive; attempts are capped across redeliveries; one user's messages are handled in the
//! order they arrived while several workers run; slow and oversized requests are cut off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;
use mnemo_shared::jobs::ProcessMessage;
use mnemo_worker::pipeline::{Outcome, Pipeline};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Messages whose text is exactly this panic inside the job while the switch is on.
const POISON: &str = "poison pill: panic in the job";
static POISON_ON: AtomicBool = AtomicBool::new(true);

fn install_poison() {
    let _ = mnemo_worker::pipeline::inject_before_steps(|text| {
        if text == POISON && POISON_ON.load(Ordering::SeqCst) {
            panic!("injected test panic");
        }
    });
}

/// Waits up to 20 s until the message `sid` is in `status`; panics naming `what` after that.
async fn wait_status_within(app: &TestApp, what: &str, sid: &str, status: &str) {
    wait_for(what, Duration::from_secs(20), || async {
        app.interaction_field(sid, "status").await.as_deref() == Some(status)
    })
    .await;
}

/// Redrives the dead-lettered job `id` through the admin API, which must accept it.
async fn redrive(app: &TestApp, id: &str) {
    let retried = app.call(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry")).await;
    assert_eq!(retried.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_job_fails_once_with_one_reply_and_can_be_redriven() {
    install_poison();
    let app = TestApp::replying().await;
    let from = "whatsapp:+14155550177";

    let sid = new_sid();
    assert_eq!(app.post_webhook(&text_message(&sid, from, POISON)).await.status(), 200);
    wait_status_within(&app, "the poisoned message to fail", &sid, "failed").await;
    let error = app.interaction_field(&sid, "error").await.unwrap_or_default();
    assert!(error.contains("panic") && error.contains("injected test panic"), "{error}");

    // One short reply: kept, something went wrong, try rephrasing.
    wait_for("the failure reply", Duration::from_secs(10), || async {
        app.sent_messages().await.len() == 1
    })
    .await;
    let sent = app.sent_messages().await;
    assert_eq!(sent[0]["Body"], mnemo_shared::domain::replies::FAILED);
    assert!(sent[0]["Body"].contains("rephras"));

    // The worker goes on: the next message is answered normally.
    let next = new_sid();
    app.post_webhook(&text_message(&next, from, "Bike lock code is 4711")).await;
    wait_status_within(&app, "the next message", &next, "processed").await;

    // It shows in the dead letters.
    let failed = app.api_json("/admin/jobs/failed").await;
    let item = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["message_sid"] == sid.as_str())
        .expect("listed in the dead letters")
        .clone();
    assert!(item["error"].as_str().unwrap().contains("panic"));

    // A redrive while it still panics: failed again, and no second apology.
    let id = item["id"].as_str().unwrap().to_string();
    redrive(&app, &id).await;
    wait_status_within(&app, "the redriven message to fail again", &sid, "failed").await;

    // Fixed (the switch is off): a redrive answers it for real.
    POISON_ON.store(false, Ordering::SeqCst);
    redrive(&app, &id).await;
    wait_status_within(&app, "the redriven message to be processed", &sid, "processed").await;
    POISON_ON.store(true, Ordering::SeqCst);
    wait_for("the real replies", Duration::from_secs(10), || async {
        app.sent_messages().await.len() == 3
    })
    .await;
    let apologies = app
        .sent_messages()
        .await
        .iter()
        .filter(|m| m["Body"] == mnemo_shared::domain::replies::FAILED)
        .count();
    assert_eq!(apologies, 1, "one failure reply however often it is redriven");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_capped_across_redeliveries() {
    let app = TestApp::without_worker().await;
    app.twilio_accepts_messages().await;
    let sid = new_sid();
    app.post_webhook(&text_message(&sid, "whatsapp:+14155550178", "a note")).await;
    // As if JOB_MAX_ATTEMPTS (4 in tests) workers had died holding it, one after another.
    app.exec(&format!(
        "UPDATE interactions SET status = 'processing', attempts = 4, \
         locked_until = '2000-01-01T00:00:00Z' WHERE message_sid = '{sid}'"
    ))
    .await;
    let id = {
        use mnemo_shared::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use mnemo_shared::store::entities::interaction;
        interaction::Entity::find()
            .filter(interaction::Column::MessageSid.eq(sid.as_str()))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let pipeline = Pipeline::new(app.db.clone(), app.settings.clone());
    let job = ProcessMessage { interaction_id: id, message_sid: sid.clone() };
    let (a, b) = tokio::join!(pipeline.process(&job), pipeline.process(&job));
    let outcomes = [a.unwrap(), b.unwrap()];
    let failed: Vec<_> = outcomes.iter().filter(|o| matches!(o, Outcome::Failed(_))).collect();
    assert_eq!(failed.len(), 1, "exactly one claim ends it: {outcomes:?}");
    assert_eq!(app.interaction_field(&sid, "status").await.as_deref(), Some("failed"));
    let error = app.interaction_field(&sid, "error").await.unwrap();
    assert!(error.contains("gave up after 4 attempts"), "{error}");
    assert_eq!(app.sent_messages().await.len(), 1, "one failure reply");
    // A later redelivery changes nothing.
    assert_eq!(pipeline.process(&job).await.unwrap(), Outcome::Skipped);
    assert_eq!(app.sent_messages().await.len(), 1);
    assert_eq!(app.attempts_of(&sid).await, 4, "the refused claims did not count");
}

/// A made-up word per pair, so a question can only be answered by its own note.
fn word(k: usize, salt: &str) -> String {
    let letters = b"bcdfghjklmnpqrstvwxz";
    let mut n = k * 7919 + salt.len() * 104_729;
    let mut w = String::from(salt);
    for _ in 0..5 {
        w.push(letters[n % letters.len()] as char);
        n /= letters.len();
        w.push(['a', 'e', 'i', 'o', 'u'][n % 5]);
    }
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_note_question_pairs_each_find_their_note() {
    let app = TestApp::replying().await;
    // Two more workers on the same queue: three in all, 8 jobs each.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        let pipeline = Pipeline::new(app.db.clone(), app.settings.clone());
        let mut rx = stop_rx.clone();
        tokio::spawn(mnemo_worker::run(pipeline, app.state.queue.clone(), async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
    }
    // 10 people, 5 pairs each: each person's note and question back to back, people at once.
    let mut people = Vec::new();
    for p in 0..10usize {
        let app = &app;
        people.push(async move {
            let from = format!("whatsapp:+1415555{:04}", 2000 + p);
            let mut pairs = Vec::new();
            for q in 0..5usize {
                let k = p * 5 + q;
                let (thing, place) = (word(k, "zo"), word(k, "pa"));
                let note = format!("The {thing} is in the {place}");
                let question = format!("Where is the {thing}?");
                let (n, s) = (new_sid(), new_sid());
                assert_eq!(app.post_webhook(&text_message(&n, &from, &note)).await.status(), 200);
                assert_eq!(
                    app.post_webhook(&text_message(&s, &from, &question)).await.status(),
                    200
                );
                pairs.push((s, place));
            }
            pairs
        });
    }
    let pairs: Vec<(String, String)> =
        futures::future::join_all(people).await.into_iter().flatten().collect();
    assert_eq!(pairs.len(), 50);
    app.wait_count(
        "SELECT COUNT(*) FROM interactions WHERE direction = 'inbound' AND status = 'processed'",
        100,
    )
    .await;
    let mut missed = Vec::new();
    for (sid, place) in &pairs {
        let answer = app.reply_body(sid).await.unwrap_or_default();
        if !answer.contains(place.as_str()) {
            missed.push(answer);
        }
    }
    let _ = stop_tx.send(true);
    assert!(missed.is_empty(), "{} of 50 answers missed their note: {missed:?}", missed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_dropped_and_do_not_delay_others() {
    let app = TestApp::without_worker().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // 200 slowloris clients: headers started, never finished, one byte now and then.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-A: ").await.unwrap();
        slow.push(s);
    }
    // 20 half-sent bodies: headers complete, 10 of 1000 bytes sent, then silence.
    let mut half = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nBody=hello",
        )
        .await
        .unwrap();
        half.push(s);
    }
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        let res = app.get("/health").await;
        assert_eq!(res.status(), 200);
        worst = worst.max(t.elapsed());
        for s in slow.iter_mut().take(20) {
            let _ = s.write_all(b"a").await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(worst < Duration::from_millis(500), "a normal request took {worst:?}");

    // Every one of them is dropped within the timeouts (10 s for headers, 10 s of stall).
    let read_all = |mut s: tokio::net::TcpStream| async move {
        let mut buf = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
        (ended.is_ok(), String::from_utf8_lossy(&buf).to_string())
    };
    let slow_ends = futures::future::join_all(slow.into_iter().map(read_all)).await;
    assert!(slow_ends.iter().all(|(closed, _)| *closed), "a slowloris connection stayed open");
    let half_ends = futures::future::join_all(half.into_iter().map(read_all)).await;
    for (closed, response) in half_ends {
        assert!(closed, "a half-sent body kept its connection");
        assert!(response.is_empty() || response.starts_with("HTTP/1.1 4"), "{response}");
    }
    assert!(started.elapsed() < Duration::from_secs(25));
}

/// Asks the API for a reminder of `text` at `when` for +14155550179.
async fn post_reminder(app: &TestApp, text: &str, when: &str) -> reqwest::Response {
    let body = serde_json::json!({"user": "+14155550179", "text": text, "when": when});
    app.post_json("/reminders", &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_bodies_and_texts_are_capped() {
    let app = TestApp::without_worker().await;
    app.insert_user("+14155550179", "Europe/London").await;
    let long = "x".repeat(1001);
    let res = post_reminder(&app, &long, "tomorrow at 9am").await;
    assert_eq!(res.status(), 422);
    let detail = res.text().await.unwrap();
    assert!(detail.contains("1000 characters"), "{detail}");

    let ok = post_reminder(&app, &"x".repeat(1000), "tomorrow at 9am").await;
    assert_eq!(ok.status(), 201);

    let far = post_reminder(&app, "call mom", "in 4000000000 hours").await;
    assert_eq!(far.status(), 422);
    assert!(far.text().await.unwrap().contains("too far ahead"));

    // Last: the server closes a connection whose oversized body it did not read.
    let huge = "y".repeat(64 * 1024);
    let res = post_reminder(&app, &huge, "tomorrow").await;
    assert_eq!(res.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_reminder_gets_a_clear_reply() {
    let app = TestApp::replying().await;
    let sid = new_sid();
    app.post_webhook(&text_message(
        &sid,
        "whatsapp:+14155550180",
        "remind me to call mom in 100000000 days",
    ))
    .await;
    wait_status_within(&app, "the reply", &sid, "processed").await;
    let reply = app.reply_body(&sid).await.unwrap();
    assert!(reply.contains("too far ahead"), "{reply}");
}

/// The harness's mock servers are dropped off the runtime (`OffRuntime`): a test that has spent
/// its task's cooperative budget (as the slowloris test does) still ends. Dropping a bare
/// `MockServer` here instead blocks for ever in its `Drop` (`futures::executor::block_on` on a
/// tokio lock that answers `Pending` until the task yields).
#[tokio::test]
async fn mock_servers_are_dropped_after_the_budget_is_spent() {
    use futures::FutureExt as _;
    let mock = OffRuntime::new(wiremock::MockServer::start().await);
    let lock = tokio::sync::Semaphore::new(1);
    for _ in 0..300 {
        let _ = lock.acquire().now_or_never();
    }
    drop(mock);
}
