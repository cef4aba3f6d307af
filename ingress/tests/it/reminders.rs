//! Reminders end to end: set, list and cancel them from chat; the scheduler driven with an
//! injected clock (exactly once with three schedulers racing on the same database, lease
//! takeover after a killed worker, late delivery after downtime, the 24-hour template path,
//! a daily reminder across a DST change); status callbacks; the REST API.

use std::collections::HashMap;
use std::time::Duration;

use crate::harness::*;
use chrono::{DateTime, Utc};
use mnemo_shared::domain::time::moment::parse;
use mnemo_shared::sea_orm::{ConnectionTrait, EntityTrait, Statement};
use mnemo_shared::store::db::{NewInbound, record_inbound};
use mnemo_shared::store::delivery::delivery_counts;
use mnemo_shared::store::entities::{reminder, user};
use mnemo_shared::store::reminders::{self as saved, NewReminder};
use mnemo_worker::pipeline::Pipeline;
use mnemo_worker::scheduler::{self, Scan};
use serde_json::{Value as Json, json};
use uuid::Uuid;

const FROM: &str = "whatsapp:+14155550123";

async fn app_without_worker(extra: Vec<(&'static str, String)>) -> TestApp {
    TestApp::spawn_with(Options { worker: false, extra, ..Default::default() }).await
}

/// An app without a worker whose Twilio accepts every message, and a pipeline to run the
/// scheduler with by hand.
async fn scheduler_app(extra: Vec<(&'static str, String)>) -> (TestApp, Pipeline) {
    let app = app_without_worker(extra).await;
    app.twilio_accepts_messages().await;
    let p = Pipeline::new(app.db.clone(), app.settings.clone());
    (app, p)
}

/// A scheduler on a fresh app, and a user in `tz` who wrote just now (the scene's start).
async fn scheduler_with_user(
    phone: &str,
    tz: &str,
) -> (TestApp, Pipeline, user::Model, DateTime<Utc>) {
    let (app, p) = scheduler_app(vec![]).await;
    let t0 = Utc::now();
    let u = make_user(&app, phone, tz, t0).await;
    (app, p, u, t0)
}

/// A user as the webhook would create one, with a zone and a last inbound message time.
async fn make_user(
    app: &TestApp,
    phone: &str,
    tz: &str,
    last_inbound: DateTime<Utc>,
) -> user::Model {
    let rec = record_inbound(
        &app.db,
        &NewInbound {
            phone: phone.into(),
            wa_id: None,
            display_name: Some("Test".into()),
            timezone: tz.into(),
            message_sid: new_sid(),
            kind: "text".into(),
            body: "hi".into(),
            replied_to_sid: None,
            raw: json!({}),
            received_at: last_inbound,
        },
    )
    .await
    .unwrap()
    .unwrap();
    set_last_inbound(app, rec.user_id, last_inbound).await;
    user::Entity::find_by_id(rec.user_id).one(&app.db).await.unwrap().unwrap()
}

async fn set_last_inbound(app: &TestApp, user_id: Uuid, at: DateTime<Utc>) {
    app.exec_with(
        "UPDATE users SET last_inbound_at = $1 WHERE id = $2",
        [at.into(), user_id.into()],
    )
    .await;
}

/// A reminder for `u` read from `phrase` at `now`.
async fn remind(
    app: &TestApp,
    u: &user::Model,
    phrase: &str,
    now: DateTime<Utc>,
) -> reminder::Model {
    let tz = u.timezone.parse().unwrap();
    let p = parse(phrase, now, tz).unwrap_or_else(|e| panic!("{phrase}: {e:?}"));
    saved::create(
        &app.db,
        &NewReminder { user_id: u.id, text: p.what, when: p.when, tz, source_interaction_id: None },
        now,
    )
    .await
    .unwrap()
}

async fn reload(app: &TestApp, id: Uuid) -> reminder::Model {
    reminder::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap()
}

/// One scheduler scan at `now`.
async fn scan_at(p: &Pipeline, now: DateTime<Utc>) -> Scan {
    scheduler::run_once(p, now).await.unwrap()
}

/// Messages sent to Twilio whose body or template mentions `needle`.
async fn sent_about(app: &TestApp, needle: &str) -> Vec<HashMap<String, String>> {
    app.sent_messages()
        .await
        .into_iter()
        .filter(|m| {
            m.get("Body").is_some_and(|b| b.contains(needle))
                || m.get("ContentVariables").is_some_and(|v| v.contains(needle))
        })
        .collect()
}

/// The one message sent to Twilio that mentions `needle` (asserting there is exactly one).
async fn one_sent_about(app: &TestApp, needle: &str) -> HashMap<String, String> {
    let mut msgs = sent_about(app, needle).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    msgs.remove(0)
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

// ----------------------------------------------------------------------------------------------

/// Sends `text` through the signed webhook and returns mnemo's reply once it went out.
async fn say(app: &TestApp, text: &str) -> String {
    app.say_from(FROM, text).await
}

#[tokio::test]
async fn chat_sets_lists_and_cancels_reminders() {
    let app = TestApp::replying().await;
    say(&app, "/tz Asia/Kolkata").await;

    let r = say(&app, "remind me to call mom tomorrow at 3pm").await;
    assert!(r.contains("I'll remind you") && r.contains("15:00 IST"), "{r}");
    assert!(r.contains("“call mom”"), "{r}");
    let r = say(&app, "/remind every day at 8am take pills").await;
    assert!(r.contains("every day at 08:00") && r.contains("08:00 IST"), "{r}");
    let r = say(&app, "/remind tomorrow water the plants").await;
    assert!(r.contains("no time given, so 09:00"), "{r}");
    // Questions back, nothing stored.
    let q = say(&app, "remind me to call the bank").await;
    assert!(q.contains("When should I remind you?"), "{q}");
    let q = say(&app, "/remind tomorrow at 3pm and at 5pm call").await;
    assert!(q.contains("more than one time"), "{q}");
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM memories").await, 0);

    let list = say(&app, "/reminders").await;
    for needle in ["1. ", "2. ", "3. ", "call mom", "take pills", "every day at 08:00"] {
        assert!(list.contains(needle), "{needle} in {list}");
    }
    // Cancel the one listed first.
    let first_line = list.lines().find(|l| l.starts_with("1. ")).unwrap().to_string();
    let c = say(&app, "/reminders cancel 1").await;
    assert!(c.contains("Cancelled"), "{c}");
    let cancelled_text = ["call mom", "take pills", "water the plants"]
        .into_iter()
        .find(|t| first_line.contains(t))
        .unwrap();
    assert!(c.contains(cancelled_text), "{c}");
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders WHERE status = 'cancelled'").await, 1);
    let list = say(&app, "/reminders").await;
    assert!(!list.contains(cancelled_text) && list.contains("2. "), "{list}");
    let bad = say(&app, "/reminders cancel 9").await;
    assert!(bad.contains("no reminder *9*"), "{bad}");
}

#[tokio::test]
async fn due_reminders_are_sent_once_and_late_ones_say_so() {
    let (app, p, u, t0) = scheduler_with_user("+14155550101", "Europe/London").await;
    let oven = remind(&app, &u, "in 2 hours to check the oven", t0).await;
    let late = remind(&app, &u, "in 1 hour to move the car", t0).await;

    // Nothing is due an hour before.
    assert_eq!(scan_at(&p, t0 + chrono::Duration::minutes(30)).await, Scan::default());
    // The car at t0+1h, on time.
    let scan = scan_at(&p, t0 + chrono::Duration::minutes(61)).await;
    assert_eq!((scan.claimed, scan.sent), (1, 1));
    let car = one_sent_about(&app, "move the car").await;
    assert!(car["Body"].starts_with("⏰ *Reminder:* move the car"), "{car:?}");
    assert_eq!(car["To"], "whatsapp:+14155550101");
    assert!(car["StatusCallback"].ends_with("/webhook/status"));
    let car_row = reload(&app, late.id).await;
    assert_eq!(car_row.status.as_str(), "sent");
    assert!(car_row.sent_at.is_some());

    // Everything was down from t0+1h to t0+3h: the oven reminder goes out late, with a note.
    let scan = scan_at(&p, t0 + chrono::Duration::hours(3)).await;
    assert_eq!((scan.claimed, scan.sent), (1, 1));
    let oven_msg = one_sent_about(&app, "check the oven").await;
    assert!(oven_msg["Body"].contains("(late — I was offline at"), "{oven_msg:?}");
    assert_eq!(reload(&app, oven.id).await.status.as_str(), "sent");

    // Scanning again sends nothing more; each was recorded once.
    let scan = scan_at(&p, t0 + chrono::Duration::hours(4)).await;
    assert_eq!(scan.claimed, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM interactions WHERE reminder_id IS NOT NULL").await,
        2
    );
}

async fn exactly_once_with_three_racing_schedulers() {
    let app = app_without_worker(vec![]).await;
    // A slow Twilio widens every race window.
    app.twilio_accepts_slowly(Duration::from_millis(20)).await;
    let t0 = Utc::now();
    let u = make_user(&app, "+14155550102", "America/New_York", t0).await;
    // More than one scan's batch (50), so all three get a share to race over.
    for n in 0..120 {
        remind(&app, &u, &format!("in 1 hour task {n}"), t0).await;
    }
    let daily = remind(&app, &u, "every day at 8am daily pills", t0).await;
    let now = t0.max(daily.due_at) + chrono::Duration::hours(2);
    set_last_inbound(&app, u.id, now - chrono::Duration::hours(1)).await;

    // Three schedulers, each with its own connection pool, scanning at the same instant.
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let db = mnemo_shared::store::db::connect_url(&app.settings.database_url, 4).await.unwrap();
        let p = Pipeline::new(db, app.settings.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            for _ in 0..4 {
                sent += scan_at(&p, now).await.sent;
            }
            sent
        }));
    }
    let mut shares = Vec::new();
    for t in tasks {
        shares.push(t.await.unwrap());
    }
    assert_eq!(
        shares.iter().sum::<usize>(),
        121,
        "each reminder is sent by exactly one scheduler: {shares:?}"
    );
    assert!(
        shares.iter().filter(|s| **s > 0).count() >= 2,
        "the schedulers shared the work: {shares:?}"
    );
    let msgs = app.sent_messages().await;
    assert_eq!(msgs.len(), 121, "Twilio got each reminder once");
    for n in 0..120 {
        let suffix = format!(": task {n}");
        let copies = msgs.iter().filter(|m| m["Body"].ends_with(&suffix)).count();
        assert_eq!(copies, 1, "task {n}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders WHERE status = 'sent'").await, 120);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM interactions WHERE reminder_id IS NOT NULL AND status = 'sent'"
        )
        .await,
        121
    );
    // The daily one moved on to its next 08:00 and is waiting again.
    let d = reload(&app, daily.id).await;
    assert_eq!(d.status.as_str(), "pending");
    assert!(d.due_at > now && d.due_at - now <= chrono::Duration::hours(24));
}

#[tokio::test]
async fn exactly_once_with_three_racing_schedulers_on_the_test_database() {
    // SQLite by default, PostgreSQL with TEST_DATABASE_URL.
    exactly_once_with_three_racing_schedulers().await;
}

#[tokio::test]
async fn a_killed_workers_claim_is_taken_over_after_its_lease() {
    let (app, p, u, t0) = scheduler_with_user("+14155550103", "Asia/Kolkata").await;
    let r = remind(&app, &u, "in 1 hour to feed the cat", t0).await;
    let due = t0 + chrono::Duration::hours(1);
    set_last_inbound(&app, u.id, due).await;

    // A worker claims it, then dies before sending.
    let claimed = scheduler::claim_due(&p, due).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(reload(&app, r.id).await.status.as_str(), "sending");
    // Within the lease nobody else takes it.
    let half_lease = chrono::Duration::from_std(app.settings.job_lease / 2).unwrap();
    let scan = scan_at(&p, due + half_lease).await;
    assert_eq!(scan.claimed, 0);
    // After it, another scan does, and sends it once.
    let later = due
        + chrono::Duration::from_std(app.settings.job_lease).unwrap()
        + chrono::Duration::seconds(1);
    let scan = scan_at(&p, later).await;
    assert_eq!((scan.claimed, scan.sent), (1, 1));
    assert_eq!(sent_about(&app, "feed the cat").await.len(), 1);
    assert_eq!(reload(&app, r.id).await.status.as_str(), "sent");
}

/// A batch that takes longer than a lease to send keeps its claims: the scan renews the leases
/// of the reminders still waiting their turn, so another worker's scan takes none of them.
#[tokio::test]
async fn a_long_batch_keeps_its_leases_while_it_sends() {
    let app = app_without_worker(vec![("JOB_LEASE_SECS", "3".into())]).await;
    app.twilio_accepts_slowly(Duration::from_millis(500)).await;
    let t0 = Utc::now();
    let u = make_user(&app, "+14155550104", "Europe/Berlin", t0).await;
    for n in 0..16 {
        remind(&app, &u, &format!("in 1 hour batch item {n}"), t0).await;
    }
    let due = t0 + chrono::Duration::hours(1);
    set_last_inbound(&app, u.id, due).await;

    // Scan A works through 16 sends of 0.5 s: about 8 s, well past its 3 s lease.
    let p = Pipeline::new(app.db.clone(), app.settings.clone());
    let a = tokio::spawn(async move { scan_at(&p, due).await });
    // 5 s in, scan B looks at a clock past A's first leases (due + 3 s): without the
    // heartbeat it would take over every reminder A has not reached yet.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let db = mnemo_shared::store::db::connect_url(&app.settings.database_url, 2).await.unwrap();
    let p2 = Pipeline::new(db, app.settings.clone());
    let b = scan_at(&p2, due + chrono::Duration::seconds(5)).await;
    assert_eq!(b.claimed, 0, "scan B took reminders scan A still holds: {b:?}");
    let a = a.await.unwrap();
    assert_eq!((a.claimed, a.sent), (16, 16), "{a:?}");
    let msgs = app.sent_messages().await;
    for n in 0..16 {
        let suffix = format!(" batch item {n}");
        let copies = msgs.iter().filter(|m| m["Body"].ends_with(&suffix)).count();
        assert_eq!(copies, 1, "item {n} sent once");
    }
}

#[tokio::test]
async fn outside_the_24_hour_window_the_template_is_used() {
    let (app, p) = scheduler_app(vec![(
        "TWILIO_REMINDER_CONTENT_SID",
        "HX0123456789abcdef0123456789abcdef".into(),
    )])
    .await;
    let t0 = Utc::now();
    let u = make_user(&app, "+14155550104", "Asia/Kolkata", t0).await;
    let soon = remind(&app, &u, "in 2 hours to stretch", t0).await;
    let later = remind(&app, &u, "in 3 days to renew the passport", t0).await;

    // Within 24 h of the last message: free-form text.
    scan_at(&p, soon.due_at).await;
    let m = one_sent_about(&app, "stretch").await;
    assert!(m.contains_key("Body") && !m.contains_key("ContentSid"));

    // Three days later the window is closed: the approved template, no Body.
    let scan = scan_at(&p, later.due_at).await;
    assert_eq!(scan.sent, 1);
    let m = one_sent_about(&app, "renew the passport").await;
    assert_eq!(m["ContentSid"], "HX0123456789abcdef0123456789abcdef");
    assert!(!m.contains_key("Body"), "{m:?}");
    let vars: Json = serde_json::from_str(&m["ContentVariables"]).unwrap();
    assert_eq!(vars["1"], "renew the passport");
    assert!(vars["2"].as_str().unwrap().ends_with("IST"), "{vars}");
    assert_eq!(reload(&app, later.id).await.status.as_str(), "sent");
}

#[tokio::test]
async fn outside_the_window_without_a_template_it_waits_for_the_user() {
    let (app, p, u, t0) = scheduler_with_user("+14155550105", "Asia/Kolkata").await;
    let r = remind(&app, &u, "in 3 days to renew the passport", t0).await;

    let scan = scan_at(&p, r.due_at).await;
    assert_eq!((scan.claimed, scan.needs_template, scan.sent), (1, 1, 0));
    assert!(app.sent_messages().await.is_empty());
    let row = reload(&app, r.id).await;
    assert_eq!(row.status.as_str(), "needs_template");
    // Shown as waiting in /reminders and the API.
    let listing = saved::listing(&saved::active(&app.db, u.id).await.unwrap(), chrono_tz::UTC);
    assert!(
        listing.contains("renew the passport") && listing.contains("24-hour rule"),
        "{listing}"
    );
    let res = app.get("/reminders?user=%2B14155550105&status=needs_template").await;
    assert_eq!(res.status(), 200);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["items"][0]["id"], r.id.to_string());
    // Still silent an hour later: nothing.
    let t1 = r.due_at + chrono::Duration::hours(1);
    assert_eq!(scan_at(&p, t1).await.claimed, 0);
    // The user writes again: it goes out, late, as a normal message.
    set_last_inbound(&app, u.id, t1).await;
    let scan = scan_at(&p, t1 + chrono::Duration::seconds(5)).await;
    assert_eq!(scan.sent, 1);
    let m = one_sent_about(&app, "renew the passport").await;
    assert!(m["Body"].contains("late"), "{m:?}");
    assert_eq!(reload(&app, r.id).await.status.as_str(), "sent");
}

#[tokio::test]
async fn a_daily_reminder_stays_at_eight_across_the_dst_change() {
    let (app, p) = scheduler_app(vec![]).await;
    // Fri 6 Mar 2026, 09:00 EST; New York springs forward on Sun 8 Mar.
    let t0 = utc("2026-03-06T14:00:00Z");
    let u = make_user(&app, "+12125550106", "America/New_York", t0).await;
    let r = remind(&app, &u, "every day at 8am take the pills", t0).await;
    assert_eq!(r.recurrence.as_deref(), Some("daily@08:00"));
    let mut dues = vec![r.due_at];
    for _ in 0..3 {
        let due = reload(&app, r.id).await.due_at;
        set_last_inbound(&app, u.id, due - chrono::Duration::hours(1)).await;
        let scan = scan_at(&p, due).await;
        assert_eq!(scan.sent, 1);
        let next = reload(&app, r.id).await;
        assert_eq!(next.status.as_str(), "pending");
        dues.push(next.due_at);
    }
    // 08:00 EST is 13:00 UTC; 08:00 EDT is 12:00 UTC.
    assert_eq!(
        dues,
        [
            utc("2026-03-07T13:00:00Z"),
            utc("2026-03-08T12:00:00Z"),
            utc("2026-03-09T12:00:00Z"),
            utc("2026-03-10T12:00:00Z"),
        ]
    );
    assert_eq!(sent_about(&app, "take the pills").await.len(), 3);

    // Down for three days: one late message, then on to the next 08:00 after now.
    let due = reload(&app, r.id).await.due_at;
    let now = due + chrono::Duration::days(3) + chrono::Duration::hours(1);
    set_last_inbound(&app, u.id, now).await;
    let scan = scan_at(&p, now).await;
    assert_eq!(scan.sent, 1);
    let msgs = sent_about(&app, "take the pills").await;
    assert_eq!(msgs.len(), 4);
    assert!(msgs.iter().any(|m| m["Body"].contains("late")), "{msgs:?}");
    let next = reload(&app, r.id).await.due_at;
    assert_eq!(next, utc("2026-03-14T12:00:00Z"));
}

// ----------------------------------------------------------------------------------------------

async fn post_status(app: &TestApp, params: &[(&str, &str)], sign: bool) -> reqwest::Response {
    let owned: Vec<(String, String)> =
        params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig = if sign {
        twilio_signature(&format!("{}/webhook/status", app.settings.public_base_url), &owned)
    } else {
        "bad".into()
    };
    app.post_form("/webhook/status", Some(&sig), &owned).await
}

async fn status_of(app: &TestApp, sid: &str) -> (String, Option<String>) {
    let status = app.interaction_field(sid, "status").await.unwrap();
    let code = app.interaction_field(sid, "error_code").await;
    (status, code)
}

#[tokio::test]
async fn status_callbacks_only_move_forward() {
    let app = TestApp::replying().await;
    say(&app, "/help").await;
    say(&app, "/stats").await;
    let sids: Vec<String> = {
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT message_sid FROM interactions WHERE direction = 'outbound' ORDER BY created_at",
            ))
            .await
            .unwrap();
        rows.iter().map(|r| r.try_get::<String>("", "message_sid").unwrap()).collect()
    };
    assert_eq!(sids.len(), 2);
    let (a, b) = (sids[0].as_str(), sids[1].as_str());
    let cb = |sid: &'static str, status: &'static str| {
        vec![
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("MessageStatus", status),
            ("SmsStatus", status),
            ("AccountSid", ACCOUNT_SID),
            ("To", FROM),
            ("From", WA_NUMBER),
            ("ChannelPrefix", "whatsapp"),
        ]
    };
    let a: &'static str = Box::leak(a.to_string().into_boxed_str());
    let b: &'static str = Box::leak(b.to_string().into_boxed_str());

    // Delivered, then a late "sent", then read.
    for (status, want) in
        [("delivered", "delivered"), ("sent", "delivered"), ("read", "read"), ("delivered", "read")]
    {
        let res = post_status(&app, &cb(a, status), true).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "");
        assert_eq!(status_of(&app, a).await.0, want, "after {status}");
    }
    // Failed with its error code; a late delivered does not undo it.
    let mut failed = cb(b, "failed");
    failed.push(("ErrorCode", "63016"));
    assert_eq!(post_status(&app, &failed, true).await.status(), 200);
    assert_eq!(status_of(&app, b).await, ("failed".into(), Some("63016".into())));
    assert_eq!(post_status(&app, &cb(b, "delivered"), true).await.status(), 200);
    assert_eq!(status_of(&app, b).await.0, "failed");

    // Unknown SID: 200 (logged). Missing fields: 400. Bad signature: 403, nothing changes.
    assert_eq!(post_status(&app, &cb("SMunknown", "delivered"), true).await.status(), 200);
    assert_eq!(post_status(&app, &[("MessageSid", a)], true).await.status(), 400);
    assert_eq!(post_status(&app, &cb(b, "read"), false).await.status(), 403);

    let counts = delivery_counts(&app.db, None).await.unwrap();
    assert_eq!((counts.sent, counts.delivered, counts.read, counts.failed), (1, 1, 1, 1));
    let user = user::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(delivery_counts(&app.db, Some(user.id)).await.unwrap(), counts);
    assert_eq!(delivery_counts(&app.db, Some(Uuid::now_v7())).await.unwrap().sent, 0);
}

// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn rest_creates_lists_cancels_and_sends_now() {
    let app = app_without_worker(vec![]).await;
    app.twilio_accepts_messages().await;
    let u = make_user(&app, "+14155550107", "Asia/Kolkata", Utc::now()).await;
    let post = |body: Json| {
        let app = &app;
        async move { app.http.post(app.url("/reminders")).json(&body).send().await.unwrap() }
    };
    let res =
        post(json!({"user": "+14155550107", "text": "call mom", "when": "tomorrow at 3pm"})).await;
    assert_eq!(res.status(), 201);
    let created: Json = res.json().await.unwrap();
    assert_eq!(created["status"], "pending");
    assert_eq!(created["user_id"], u.id.to_string());
    assert!(created["due_local"].as_str().unwrap().ends_with("15:00 IST"), "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    let res =
        post(json!({"user": u.id.to_string(), "text": "pills", "when": "every day at 8am"})).await;
    assert_eq!(res.status(), 201);
    let daily: Json = res.json().await.unwrap();
    assert_eq!(daily["recurrence"], "daily@08:00");
    assert_eq!(daily["recurrence_text"], "every day at 08:00");
    let at = (Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let res =
        post(json!({"user": "whatsapp:+14155550107", "text": "at an instant", "due_at": at})).await;
    assert_eq!(res.status(), 201);

    // Errors are problem+json.
    let res = post(json!({"user": "+19999999999", "text": "x", "when": "tomorrow"})).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res =
        post(json!({"user": "+14155550107", "text": "x", "when": "tomorrow at 3pm and at 5pm"}))
            .await;
    assert_eq!(res.status(), 422);
    let problem: Json = res.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("more than one time"), "{problem}");
    let res = post(json!({"user": "+14155550107", "text": "x"})).await;
    assert_eq!(res.status(), 422);
    let res =
        post(json!({"user": "+14155550107", "text": "x", "due_at": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(res.status(), 422);

    let list: Json =
        app.get("/reminders?user=%2B14155550107&status=pending").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let res = app.get("/reminders?status=bogus").await;
    assert_eq!(res.status(), 422);
    let res = app.get("/reminders?user=nobody").await;
    // Not a user id nor a number: malformed (422), as on every route that names a user.
    assert_eq!(res.status(), 422);
    let res = app.get("/reminders?user=%2B19999999999").await;
    // Well formed, unknown: 404.
    assert_eq!(res.status(), 404);

    // Send now: goes out at once and is marked sent.
    let res = app.post_empty(&format!("/reminders/{id}/send-now")).await;
    assert_eq!(res.status(), 200);
    let out: Json = res.json().await.unwrap();
    assert_eq!(out["delivery"], "sent");
    assert_eq!(out["reminder"]["status"], "sent");
    assert_eq!(sent_about(&app, "call mom").await.len(), 1);
    // Again: nothing to send.
    let res = app.post_empty(&format!("/reminders/{id}/send-now")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(sent_about(&app, "call mom").await.len(), 1);

    // Cancel the daily one; repeating is idempotent; unknown is 404.
    let daily_id = daily["id"].as_str().unwrap();
    for _ in 0..2 {
        let res = app.http.delete(app.url(&format!("/reminders/{daily_id}"))).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }
    let res =
        app.http.delete(app.url(&format!("/reminders/{}", Uuid::now_v7()))).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let list: Json = app.get("/reminders?status=cancelled").await.json().await.unwrap();
    assert_eq!(list["items"][0]["id"], daily_id);

    // Documented with the other endpoints.
    let spec: Json = app.get("/openapi.json").await.json().await.unwrap();
    for p in ["/reminders", "/reminders/{id}", "/reminders/{id}/send-now", "/health"] {
        assert!(spec["paths"].get(p).is_some(), "{p} missing from the OpenAPI document");
    }
}
