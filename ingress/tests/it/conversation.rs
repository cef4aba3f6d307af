//! The conversation end to end through the signed webhook: every command, questions with and
//! without time phrases, on both memory engines (local full-text search; Mem0 as a wiremock
//! server that ranks the seeded memories by keyword and records the filters it was sent).
//! Memories with times in the past are inserted directly with a chosen `occurred_at`.

use std::sync::{Arc, Mutex};

use crate::harness::*;
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use mnemo_shared::domain::markup::nesting;
use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Value};
use mnemo_shared::store::entities::{interaction, user};
use serde_json::{Value as Json, json};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Runs each scenario twice, as `<scenario>::local` (the local engine) and `<scenario>::mem0`
/// (the Mem0 engine, against the stand-in).
macro_rules! on_both_engines {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn local() {
                super::$scenario(false).await;
            }

            #[tokio::test]
            async fn mem0() {
                super::$scenario(true).await;
            }
        }
    };
}

const FROM: &str = "whatsapp:+14155550123";

/// Asia/Kolkata has no DST: a fixed +05:30 computes its local days exactly.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
}

fn ist_today() -> NaiveDate {
    Utc::now().with_timezone(&ist()).date_naive()
}

/// `date` at `h:m` in Kolkata, as UTC.
fn ist_at(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    ist()
        .from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

/// "Tue 12 Nov, 09:14" for a Kolkata wall time.
fn shown(date: NaiveDate, h: u32, m: u32) -> String {
    format!("{}, {h:02}:{m:02}", date.format("%a %-d %b"))
}

struct Chat {
    app: TestApp,
    mem0: bool,
    /// (memory id, mem0 id, text) of the seeded memories, which the Mem0 stand-in searches.
    seeded: Arc<Mutex<Vec<(Uuid, String, String)>>>,
}

impl Chat {
    async fn start(mem0: bool) -> Chat {
        Self::start_with(mem0, Vec::new()).await
    }

    async fn start_with(mem0: bool, extra: Vec<(&'static str, String)>) -> Chat {
        let app = TestApp::spawn_with(Options { mem0, extra, ..Default::default() }).await;
        app.twilio_accepts_messages().await;
        let seeded: Arc<Mutex<Vec<(Uuid, String, String)>>> = Arc::default();
        if mem0 {
            let memories = seeded.clone();
            Mock::given(method("POST"))
                .and(path("/v3/memories/search/"))
                .respond_with(move |req: &Request| {
                    let body: Json = serde_json::from_slice(&req.body).unwrap();
                    let terms = mnemo_shared::memory::local::terms(body["query"].as_str().unwrap());
                    let results: Vec<Json> = memories
                        .lock()
                        .unwrap()
                        .iter()
                        .filter_map(|(id, mem0_id, text)| {
                            let lower = text.to_lowercase();
                            let hits = terms.iter().filter(|t| lower.contains(t.as_str())).count();
                            (hits > 0).then(|| {
                                json!({
                                    "id": mem0_id,
                                    "memory": text,
                                    "score": hits as f64 / terms.len() as f64,
                                    "metadata": {"memory_id": id.to_string()},
                                })
                            })
                        })
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({"results": results}))
                })
                .mount(&app.mem0)
                .await;
            Mock::given(method("DELETE"))
                .and(path_regex(r"^/v1/memories/[^/]+/$"))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"message": "Memory deleted successfully!"})),
                )
                .mount(&app.mem0)
                .await;
        }
        Chat { app, mem0, seeded }
    }

    /// Sends `text` through the webhook and returns the reply mnemo recorded and sent.
    async fn say(&self, text: &str) -> String {
        let sid = new_sid();
        self.send(&sid, text).await;
        self.reply_to(&sid).await
    }

    /// Sends `text` as message `sid` and waits until its reply went out. The wait is generous:
    /// under parallel load apalis-redis sometimes wakes a worker only at its 30 s heartbeat.
    async fn send(&self, sid: &str, text: &str) {
        let before = self.app.count(SENT).await;
        let res = self.app.post_webhook(&text_message(sid, FROM, text)).await;
        assert_eq!(res.status(), 200);
        let replied = try_wait_for(std::time::Duration::from_secs(45), || async {
            (self.app.count(SENT).await > before).then_some(())
        })
        .await;
        if replied.is_none() {
            let inbound = self
                .app
                .scalar(&format!(
                    "SELECT status || ' ' || attempts || ' ' || COALESCE(error, '') FROM interactions WHERE message_sid = '{sid}'"
                ))
                .await;
            panic!("no reply to {text:?} after 45 s; inbound: {inbound:?}");
        }
    }

    /// The reply to message `sid`; every reply is checked for markup WhatsApp cannot show.
    async fn reply_to(&self, sid: &str) -> String {
        let body = self.app.reply_body(sid).await.expect("a reply");
        if let Some(n) = nesting(&body) {
            panic!("nested markup ({n}) in the reply:\n{body}");
        }
        body
    }

    async fn user(&self) -> user::Model {
        user::Entity::find().one(&self.app.db).await.unwrap().unwrap()
    }

    /// A memory the user sent at `at` (its interaction included), as the pipeline would store it.
    async fn seed(&self, kind: &str, text: &str, at: DateTime<Utc>, labels: &[&str]) -> Uuid {
        let user_id = self.user().await.id;
        let interaction_id = Uuid::now_v7();
        let memory_id = Uuid::now_v7();
        let mem0_id = format!("m0-{}", memory_id.simple());
        self.app.exec_with("INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, occurred_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'inbound', $4, $5, 'processed', 1, $6, $6, $6)",
            [
                interaction_id.into(),
                user_id.into(),
                new_sid().into(),
                kind.into(),
                text.into(),
                at.into(),
            ]).await;
        self.app.exec_with("INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine, mem0_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
            [
                memory_id.into(),
                user_id.into(),
                interaction_id.into(),
                kind.into(),
                text.into(),
                Value::Json(Some(Box::new(json!(labels)))),
                at.into(),
                if self.mem0 { "mem0" } else { "local" }.into(),
                Value::String(self.mem0.then(|| mem0_id.clone())),
            ]).await;
        self.seeded.lock().unwrap().push((memory_id, mem0_id, text.to_string()));
        memory_id
    }

    /// Seeds each `(kind, text, at)` in turn, without labels, as `seed` does.
    async fn seed_all(&self, memories: &[(&str, &str, DateTime<Utc>)]) {
        for &(kind, text, at) in memories {
            self.seed(kind, text, at, &[]).await;
        }
    }

    async fn memories(&self) -> i64 {
        self.app.count("SELECT COUNT(*) FROM memories").await
    }

    async fn mem0_requests(&self, method_name: &str, p: &str) -> Vec<Request> {
        self.app
            .mem0
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == method_name && r.url.path().starts_with(p))
            .collect()
    }
}

// ----------------------------------------------------------------------------------------------

async fn help_tz_stats_and_unknown(mem0: bool) {
    let c = Chat::start(mem0).await;
    // The first reply says in three lines what mnemo does, the zone it inferred from the
    // number (named once) and that /help exists.
    let first = c.say(" /HELP ").await;
    let mut lines = first.lines();
    assert!(lines.next().unwrap().contains("your memory on WhatsApp"), "{first}");
    assert_eq!(
        lines.next().unwrap(),
        "🕒 I'll use America/Los_Angeles time; change it with */tz Area/City*.",
        "{first}"
    );
    assert_eq!(first.matches("America/Los_Angeles").count(), 1, "{first}");
    assert!(lines.next().unwrap().contains("/help"), "{first}");
    assert!(first.contains("*/list*") && first.contains("*/forget*"), "{first}");
    // Later replies don't repeat the welcome.
    let unknown = c.say("/frobnicate now").await;
    assert!(unknown.starts_with("I don't know “/frobnicate”."), "{unknown}");
    assert!(unknown.contains("*/search*"), "unknown commands get help: {unknown}");
    assert!(!unknown.contains("your memory on WhatsApp"));

    // /tz shows the zone inferred from the number, then sets a valid one (aliases accepted).
    let tz = c.say("/tz").await;
    assert!(tz.contains("*America/Los_Angeles*"), "{tz}");
    let set = c.say("/ TZ   asia/calcutta").await;
    assert!(set.contains("Time zone set to *Asia/Kolkata*") && set.contains("UTC+05:30"), "{set}");
    assert_eq!(c.user().await.timezone, "Asia/Kolkata");
    let bad = c.say("/tz Mars/Olympus").await;
    assert!(bad.contains("I don't know the time zone “Mars/Olympus”"), "{bad}");
    assert_eq!(c.user().await.timezone, "Asia/Kolkata");

    // /stats counts by kind.
    let empty = c.say("/stats").await;
    assert!(empty.contains("no memories yet"), "{empty}");
    let day = ist_today() - Days::new(3);
    c.seed_all(&[
        ("text", "gate code 4411", ist_at(day, 9, 0)),
        ("text", "wifi is sunflower42", ist_at(day, 10, 0)),
        ("image", "whiteboard", ist_at(day, 11, 0)),
        ("audio", "call the bank", ist_at(day, 12, 0)),
    ])
    .await;
    let stats = c.say("/stats").await;
    assert!(stats.contains("*4* memories"), "{stats}");
    assert!(stats.contains("📝 note: 2"), "{stats}");
    assert!(stats.contains("📷 photo: 1") && stats.contains("🎙 voice note: 1"), "{stats}");
    assert!(stats.contains(&format!("Since {}", shown(day, 9, 0))), "{stats}");
    // None of these were stored as memories.
    assert_eq!(c.memories().await, 4);
}

on_both_engines!(help_tz_stats_and_unknown);

async fn list_pages_filters_and_forget(mem0: bool) {
    let c = Chat::start(mem0).await;
    c.say("/tz Asia/Kolkata").await;
    let today = ist_today();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let last_week = monday - Days::new(5); // Wednesday of last week
    let older = monday - Days::new(20);
    // 12 notes over the last days (newest = n12), plus a photo and a voice note last week and
    // one note long ago.
    for n in 1..=12u32 {
        let at = ist_at(older + Days::new(1), 8, 0) + chrono::Duration::hours(i64::from(n));
        c.seed("text", &format!("note number {n}"), at, &[]).await;
    }
    c.seed("image", "receipt from IKEA", ist_at(last_week, 18, 5), &["receipt"]).await;
    c.seed_all(&[
        ("audio", "remember to call the bank", ist_at(last_week, 9, 14)),
        ("text", "ancient note", ist_at(older - Days::new(30), 7, 0)),
    ])
    .await;
    assert_eq!(c.memories().await, 15);

    let page1 = c.say("/list").await;
    assert!(page1.contains("newest first"), "{page1}");
    assert!(page1.contains("*1.* 📷 photo") && page1.contains("receipt from IKEA"), "{page1}");
    assert!(page1.contains(&shown(last_week, 18, 5)), "times in the user's zone: {page1}");
    assert!(page1.contains("🏷 receipt"), "{page1}");
    assert!(page1.contains("*2.* 🎙 voice note"), "{page1}");
    assert!(page1.contains("*10.*") && !page1.contains("*11.*"), "{page1}");
    assert!(page1.contains("*/list more*"), "{page1}");
    let page2 = c.say("/LIST   more").await;
    assert!(page2.contains("(continued)"), "{page2}");
    assert!(page2.contains("*11.*") && page2.contains("*15.*"), "{page2}");
    assert!(page2.contains("ancient note") && !page2.contains("*/list more*"), "{page2}");
    let end = c.say("/list more").await;
    assert!(end.contains("nothing older"), "{end}");

    let photos = c.say("/list photos").await;
    assert!(photos.contains("*Your photos*") && photos.contains("IKEA"), "{photos}");
    assert!(!photos.contains("note number"), "{photos}");
    let week = c.say("/list last week").await;
    assert!(week.contains("from last week"), "{week}");
    assert!(week.contains("IKEA") && week.contains("call the bank"), "{week}");
    assert!(!week.contains("note number") && !week.contains("ancient"), "{week}");
    let voice = c.say("/list voice notes last week").await;
    assert!(voice.contains("call the bank") && !voice.contains("IKEA"), "{voice}");
    let huh = c.say("/list dinosaurs").await;
    assert!(
        huh.contains("I didn't get “dinosaurs”") && huh.contains("*/search* dinosaurs."),
        "{huh}"
    );

    // /forget n uses the numbering of the last listing ("voice notes last week": 1 = the bank).
    let interactions =
        c.app.count("SELECT COUNT(*) FROM interactions WHERE direction = 'inbound'").await;
    let forgot = c.say("/forget 1").await;
    assert!(forgot.starts_with("🗑 Forgotten: 🎙 voice note"), "{forgot}");
    assert!(forgot.contains("remember to call the bank"), "{forgot}");
    assert_eq!(c.memories().await, 14);
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM memories WHERE text = 'remember to call the bank'").await,
        0
    );
    // The interaction it came from stays (audit), and so does the /forget message itself.
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM interactions WHERE direction = 'inbound'").await,
        interactions + 1
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM interactions WHERE body = 'remember to call the bank'")
            .await,
        1
    );
    let again = c.say("/forget 1").await;
    assert!(again.contains("already forgotten"), "{again}");
    let none = c.say("/forget 7").await;
    assert!(none.contains("There's no *7*"), "{none}");
    // "/forget everything" is "/forget all": it only asks for a YES (the next message cancels).
    let all = c.say("/forget everything").await;
    assert!(all.contains("Reply *YES* within 5 minutes"), "{all}");
    let invalid = c.say("/forget something").await;
    assert!(invalid.contains("I can't forget “something”"), "{invalid}");
    assert_eq!(c.memories().await, 14);
    let last = c.say("/forget LAST").await;
    assert!(last.contains("receipt from IKEA"), "newest first: {last}");
    assert_eq!(c.memories().await, 13);

    if mem0 {
        let deletes = c.mem0_requests("DELETE", "/v1/memories/").await;
        assert_eq!(deletes.len(), 2, "one Mem0 delete per forgotten memory");
        assert!(deletes.iter().all(|r| r.url.path().starts_with("/v1/memories/m0-")));
    }
}

on_both_engines!(list_pages_filters_and_forget);

async fn questions_with_and_without_time(mem0: bool) {
    let c = Chat::start(mem0).await;
    c.say("/tz Asia/Kolkata").await;
    let today = ist_today();
    let yesterday = today - Days::new(1);
    let ten_days = today - Days::new(10);
    c.seed_all(&[
        ("text", "Dinner: pasta carbonara with Anna", ist_at(yesterday, 20, 30)),
        ("text", "Dinner: sushi with Tom at Kaito", ist_at(ten_days, 19, 45)),
        ("audio", "buy new running shoes", ist_at(yesterday, 9, 14)),
    ])
    .await;

    // Without a time phrase: both dinners, best first, with what and when.
    let any = c.say("What did I have for dinner?").await;
    assert!(any.contains("Here's what I found"), "{any}");
    assert!(any.contains("carbonara") && any.contains("sushi"), "{any}");
    assert!(!any.contains("running shoes"), "{any}");
    assert!(any.contains(&format!("📝 note · {}", shown(ten_days, 19, 45))), "{any}");

    // With one: the range is applied before ranking.
    let y = c.say("what did I have for dinner yesterday?").await;
    assert!(y.contains("From *yesterday*"), "{y}");
    assert!(y.contains("carbonara") && !y.contains("sushi"), "{y}");
    assert!(y.contains(&shown(yesterday, 20, 30)), "{y}");

    // No meaningful words left: everything from then, newest first.
    let all = c.say("what did I save yesterday?").await;
    assert!(all.contains("carbonara") && all.contains("running shoes"), "{all}");
    assert!(all.contains(&format!("🎙 voice note · {}", shown(yesterday, 9, 14))), "{all}");
    assert!(!all.contains("sushi"), "{all}");

    // Nothing in the range: said so, with the best matches at other times.
    let week = c.say("sushi this week?").await;
    // (Ten days ago is always before this week's Monday.)
    assert!(week.contains("Nothing from *this week*, but at other times"), "{week}");
    assert!(week.contains("sushi"), "{week}");

    // No match at all: a helpful line and a hint.
    let none = c.say("where did I put the passport?").await;
    assert!(
        none.contains("I couldn't find anything about “where did I put the passport”"),
        "{none}"
    );
    assert!(none.contains("*/list*"), "{none}");

    // /search works like a question, with up to 5 matches.
    let s = c.say("/search   SUSHI").await;
    assert!(s.contains("sushi with Tom") && !s.contains("carbonara"), "{s}");
    let blank = c.say("/search").await;
    assert!(blank.contains("What should I look for?"), "{blank}");

    // /forget n also refers to what an answer showed.
    let f = c.say("/forget 1").await;
    assert!(f.contains("sushi with Tom"), "{f}");
    assert_eq!(c.memories().await, 2);

    // Questions are not stored as memories.
    assert_eq!(c.app.count("SELECT COUNT(*) FROM memories WHERE text LIKE '%?%'").await, 0);

    if mem0 {
        // Mem0 was asked with the user filter, and with the created_at range for "yesterday".
        let uid = c.user().await.id.to_string();
        let searches: Vec<Json> = c
            .mem0_requests("POST", "/v3/memories/search/")
            .await
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert!(!searches.is_empty());
        assert!(searches.iter().all(|b| b["filters"]["AND"][0] == json!({"user_id": uid})));
        let start = ist_at(yesterday, 0, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let end = ist_at(today, 0, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let ranged = searches
            .iter()
            .find(|b| b["query"] == "what did I have for dinner?")
            .expect("the ranged search, with the phrase cut out of the query");
        assert_eq!(ranged["filters"]["AND"][1], json!({"created_at": {"gte": start, "lt": end}}));
        let unranged =
            searches.iter().find(|b| b["query"] == "What did I have for dinner?").unwrap();
        assert_eq!(unranged["filters"]["AND"].as_array().unwrap().len(), 1);
    }
}

on_both_engines!(questions_with_and_without_time);

async fn photos_and_kinds(mem0: bool) {
    let c = Chat::start(mem0).await;
    c.say("/tz Asia/Kolkata").await;
    let day = ist_today() - Days::new(2);
    c.seed_all(&[
        ("image", "haircut photo, short on the sides", ist_at(day, 16, 0)),
        ("text", "haircut booked at Luigi's for Friday", ist_at(day, 10, 0)),
    ])
    .await;
    let a = c.say("show me my haircut").await;
    assert!(a.contains("*1.* 📷 photo") || a.contains("*2.* 📷 photo"), "{a}");
    let p = c.say("show me photos of my haircut").await;
    assert!(p.contains("📷 photo") && !p.contains("Luigi"), "the kind narrows it: {p}");
    // No media is stored for these seeded photos, so the answer is text only (no fake URL).
    let sent = c.app.sent_messages().await;
    assert!(sent.iter().all(|m| !m.contains_key("MediaUrl")));
}

on_both_engines!(photos_and_kinds);

// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn reminder_requests_set_reminders_and_store_no_memory() {
    let c = Chat::start(false).await;
    let r = c.say("remind me to call mum tomorrow at 3pm").await;
    assert!(r.contains("I'll remind you") && r.contains("15:00"), "{r}");
    let cmd = c.say("/remind tomorrow 9am dentist").await;
    assert!(cmd.contains("I'll remind you") && cmd.contains("09:00"), "{cmd}");
    assert_eq!(c.memories().await, 0);
    assert_eq!(c.app.count("SELECT COUNT(*) FROM reminders").await, 2);
    // "remind me what …" is a question.
    let q = c.say("remind me what the doctor said").await;
    assert!(q.contains("couldn't find anything"), "{q}");
}

/// The replies the pipeline words itself (confirmations, hints, refusals, questions back), one
/// of each: none nests markup (`reply_to` checks every reply; these are the ones no other test
/// reaches).
#[tokio::test]
async fn every_kind_of_reply_reads_without_nested_markup() {
    let c = Chat::start(false).await;
    let saved = c.say("Parked on level 3, spot 42").await;
    assert!(saved.contains("✅ Saved"), "{saved}");
    let answer = c.say("where did I park?").await;
    assert!(answer.contains("Reply */forget <n>* to delete one."), "{answer}");
    let list = c.say("/list").await;
    assert!(list.ends_with("*/forget <n>* to delete"), "{list}");
    for text in [
        "/list gibberish",
        // What the user wrote is echoed outside our markup, whatever markers it holds.
        "/list _odd_ *words*",
        "/_odd_",
        "/list more",
        "/search",
        "/search nothing like this",
        "/forget",
        "/forget 99",
        "/forget banana",
        "/tz",
        "/tz Mars/Olympus",
        "/stats",
        "/reminders",
        "/reminders cancel x",
        "/reminders frobnicate",
        "remind me to water the plants",
        "/remind tomorrow 9am water the plants",
        // Read as 15:00, with a note that says how ("say *03:00* if you meant the morning").
        "remind me to call mom tomorrow at 3",
        "/reminders cancel 1",
        "/export",
        "/disconnect",
        "/forget all",
        "no",
        "/frobnicate",
        "/forget last",
        "/forget last",
    ] {
        let reply = c.say(text).await;
        assert!(!reply.trim().is_empty(), "{text}");
    }
}

#[tokio::test]
async fn long_replies_are_split_under_1600_characters_at_line_boundaries() {
    let c = Chat::start(false).await;
    c.say("/help").await;
    let day = ist_today() - Days::new(1);
    for n in 0..10 {
        let text = format!("{n} {}", "long words about the garden project ".repeat(8));
        let labels =
            ["garden", "project", "spring", "planting", "tomatoes", "compost", "shed", "budget"];
        c.seed("text", &text, ist_at(day, 8, n), &labels).await;
    }
    let before = c.app.sent_messages().await.len();
    let body = c.say("/list").await;
    assert!(body.chars().count() > 1600, "{}", body.chars().count());
    let parts: Vec<String> =
        c.app.sent_messages().await[before..].iter().map(|m| m["Body"].clone()).collect();
    assert!(parts.len() >= 2, "{parts:?}");
    assert!(parts.iter().all(|p| p.chars().count() <= 1600));
    assert_eq!(parts.join("\n"), body, "split at line boundaries, nothing lost");
}

#[tokio::test]
async fn a_retried_forget_answers_the_same_and_deletes_once() {
    let c = Chat::start(false).await;
    c.say("/help").await;
    let day = ist_today() - Days::new(1);
    c.seed("text", "older note", ist_at(day, 8, 0), &[]).await;
    c.seed("text", "newest note", ist_at(day, 9, 0), &[]).await;
    let sid = new_sid();
    c.send(&sid, "/forget last").await;
    let first = c.reply_to(&sid).await;
    assert!(first.contains("newest note"), "{first}");
    assert_eq!(c.memories().await, 1);

    // As if the worker died after the delete but before the reply was recorded: the job runs
    // again from the start. The worker records the message's end state just after the reply is
    // sent; wait for it, or that write could land after the rewind below and end it again.
    c.app.wait_status(&sid, "processed").await;
    let inbound = interaction::Entity::find()
        .filter(interaction::Column::MessageSid.eq(sid.clone()))
        .one(&c.app.db)
        .await
        .unwrap()
        .unwrap();
    c.app.exec_with("DELETE FROM interactions WHERE reply_to = $1", [inbound.id.into()]).await;
    c.app
        .exec_with("UPDATE interactions SET status = 'received' WHERE id = $1", [inbound.id.into()])
        .await;
    let pipeline = mnemo_worker::pipeline::Pipeline::new(c.app.db.clone(), c.app.settings.clone());
    let outcome = pipeline
        .process(&ProcessMessage { interaction_id: inbound.id, message_sid: sid.clone() })
        .await
        .unwrap();
    assert_eq!(outcome, mnemo_worker::pipeline::Outcome::Processed);
    assert_eq!(c.reply_to(&sid).await, first, "the same answer");
    assert_eq!(c.memories().await, 1, "nothing else deleted");
    assert_eq!(c.app.memory_text().await.as_deref(), Some("older note"));
}

#[tokio::test]
async fn with_a_chat_model_unsure_intents_are_settled_and_answers_lead_with_a_sentence() {
    let llm = MockServer::start().await;
    chat_model_answers(&llm, "You classify one WhatsApp message", "MEMORY").await;
    let answer = "You reset it by holding the button for 10 seconds [1].";
    chat_model_answers(&llm, "saved memories", answer).await;
    let c = Chat::start_with(false, vec![("LLM_API_BASE", format!("{}/v1", llm.uri()))]).await;
    // The rules guess "question" for "how to …" without a colon, and are unsure: the model says
    // it is a memory.
    let saved = c.say("how to reset the router hold the button 10 seconds").await;
    assert!(saved.contains("✅ Saved"), "{saved}");
    assert_eq!(c.memories().await, 1);
    // A sure question goes straight to search; the answer leads with the model's sentence.
    let a = c.say("How do I reset the router?").await;
    assert!(
        a.starts_with("💡 You reset it by holding the button for 10 seconds [1].\n\n🔎"),
        "{a}"
    );
    assert!(a.contains("*1.* 📝 note"), "{a}");
    let calls = llm.received_requests().await.unwrap();
    let intents =
        calls.iter().filter(|r| String::from_utf8_lossy(&r.body).contains("You classify")).count();
    assert_eq!(intents, 1, "only the unsure message went to the model");
}

#[tokio::test]
async fn a_failing_chat_model_falls_back_to_the_rules_and_the_matches() {
    let llm = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).mount(&llm).await;
    let c = Chat::start_with(false, vec![("LLM_API_BASE", format!("{}/v1", llm.uri()))]).await;
    c.say("/help").await;
    c.seed("text", "router reset: hold the button", Utc::now() - chrono::Duration::hours(2), &[])
        .await;
    let a = c.say("how do I reset the router?").await;
    assert!(a.starts_with("🔎 Here's what I found"), "{a}");
    // "What a day …" is unsure (rules: memory) and the model fails: kept as a memory.
    let m = c.say("what a day, finally done with the router").await;
    assert!(m.contains("✅ Saved"), "{m}");
    assert_eq!(c.memories().await, 2);
    let calls = llm.received_requests().await.unwrap();
    assert_eq!(calls.len(), 2, "one answer and one intent attempt, both failed");
}

// ---- Recall by meaning (local models) --------------------------------------------------

/// The three questions a new user asked in the recall issue, on the real embedding model:
/// a paraphrase finds its note, "car" finds the parked car and not the carbonara, and the
/// search API says which retrievers found each item.
#[tokio::test]
async fn questions_by_meaning_find_their_notes_with_the_local_model() {
    let chat = Chat::start_with(false, with_models()).await;
    chat.app.wait_embeddings("ready").await;
    chat.say("Dinner plan: pasta carbonara with Anna on Friday").await;
    chat.say("The wifi password at grandma's is sunflower42").await;
    chat.say("Parked the car on level 3 of the mall garage").await;
    chat.say("Dentist appointment moved to Thursday at 4pm").await;
    // Every memory got its vector in the step that stored it.
    chat.app
        .wait_count(
            "SELECT COUNT(*) FROM memory_embeddings WHERE model = 'all-MiniLM-L6-v2' AND dim = 384",
            4,
        )
        .await;

    let wifi = chat.say("what's the internet code at my grandmother's place?").await;
    assert!(wifi.contains("sunflower42"), "{wifi}");
    assert!(!wifi.contains("carbonara"), "{wifi}");

    let car = chat.say("Where did I leave the car?").await;
    let parked = car.find("level 3").unwrap_or_else(|| panic!("{car}"));
    if let Some(pasta) = car.find("carbonara") {
        assert!(parked < pasta, "{car}");
    }

    let nothing = chat.say("what's my passport number?").await;
    assert!(nothing.contains("couldn't find"), "{nothing}");

    let user = chat.user().await;
    let body = chat
        .app
        .api_json(&format!(
            "/memories?user={}&query=internet%20code%20at%20grandmother%27s",
            user.id
        ))
        .await;
    let first = &body["items"][0];
    assert!(first["memory"]["text"].as_str().unwrap().contains("sunflower42"), "{body}");
    assert!(first["matched"].as_array().unwrap().contains(&json!("semantic")), "{body}");
    assert!(first["score"].as_f64().unwrap() > 0.0, "{body}");
}

/// Without models (lexical only): terms are words, not prefixes, a question that names only a
/// time lists that time, and a label is a word full text finds.
#[tokio::test]
async fn lexical_recall_matches_words_and_a_bare_range_lists_it() {
    let chat = Chat::start(false).await;
    chat.say("Dinner plan: pasta carbonara with Anna on Friday").await;
    let car = chat.say("Where did I leave the car?").await;
    assert!(!car.contains("carbonara"), "{car}");
    assert!(car.contains("couldn't find"), "{car}");

    chat.say("/tz Asia/Kolkata").await;
    let yesterday = ist_today().checked_sub_days(Days::new(1)).unwrap();
    chat.seed_all(&[
        ("text", "Booked the dentist for Monday", ist_at(yesterday, 10, 5)),
        ("text", "Oat milk, bananas, coffee", ist_at(yesterday, 18, 30)),
    ])
    .await;
    let listed = chat.say("what did I note yesterday?").await;
    assert!(listed.contains("Booked the dentist"), "{listed}");
    assert!(listed.contains("Oat milk"), "{listed}");
    assert!(!listed.contains("carbonara"), "{listed}");
    // Newest first.
    assert!(listed.find("Oat milk").unwrap() < listed.find("Booked").unwrap(), "{listed}");

    // Full text covers labels: the note filed under `work` is found by the word, the other
    // notes of the day are not.
    chat.seed(
        "text",
        "Claim travel reimbursement for the Pune trip",
        ist_at(yesterday, 12, 0),
        &["work"],
    )
    .await;
    let work = chat.say("any work stuff from yesterday?").await;
    assert!(work.contains("reimbursement"), "{work}");
    assert!(!work.contains("Oat milk") && !work.contains("dentist"), "{work}");
}

/// `LOCAL_MODELS=auto` with nothing installed and the hub out of reach: the assistant answers
/// lexically, `/ready` says `missing`, and the reason names the command to install them.
#[tokio::test]
async fn a_missing_model_leaves_lexical_answers_and_says_how_to_install_it() {
    let hub = MockServer::start().await; // answers 404 to everything
    let models = tempfile::tempdir().unwrap();
    let chat = Chat::start_with(
        false,
        vec![
            ("LOCAL_MODELS", "auto".into()),
            ("MODELS_DIR", models.path().display().to_string()),
            ("HF_ENDPOINT", hub.uri()),
        ],
    )
    .await;
    chat.app.wait_embeddings("missing").await;
    let why = chat.app.state.models.last_error().unwrap();
    assert!(why.contains("fetch-models"), "{why}");
    assert!(!hub.received_requests().await.unwrap().is_empty());
    chat.say("Dinner plan: pasta carbonara with Anna on Friday").await;
    let answer = chat.say("what's the dinner plan?").await;
    assert!(answer.contains("carbonara"), "{answer}");
    assert_eq!(chat.app.count("SELECT COUNT(*) FROM memory_embeddings").await, 0);
}

/// Vectors come from an OpenAI-compatible `/embeddings` endpoint when `EMBED_API_BASE` is
/// set; after a switch to the local model, the backfill re-embeds every memory (those stored
/// before any model too) with it.
#[tokio::test]
async fn embeddings_api_then_backfill_after_a_model_change() {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_string_contains("\"model\":\"test-embed\""))
        .respond_with(|req: &Request| {
            let body: Json = serde_json::from_slice(&req.body).unwrap();
            let data: Vec<Json> = body["input"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let len = t.as_str().unwrap().len() as f64;
                    json!({"object": "embedding", "index": i, "embedding": [len, 1.0, 0.5]})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(
                json!({"object": "list", "data": data, "model": "test-embed", "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
            )
        })
        .mount(&api)
        .await;
    let chat = Chat::start_with(
        false,
        vec![("EMBED_API_BASE", format!("{}/v1", api.uri())), ("EMBED_MODEL", "test-embed".into())],
    )
    .await;
    chat.say("Parked the car on level 3 of the mall garage").await;
    chat.app
        .wait_count(
            "SELECT COUNT(*) FROM memory_embeddings WHERE model = 'api:test-embed' AND dim = 3",
            1,
        )
        .await;
    // The embeddings API is measured like every outside service.
    let metrics = chat.app.get("/metrics").await.text().await.unwrap();
    let series = "mnemo_external_request_duration_seconds_count{service=\"embeddings\"}";
    assert!(metrics.contains(series), "{series} missing from:\n{metrics}");
    // One more memory stored with no vector at all (as before any model was ready).
    chat.seed("text", "Oat milk, bananas, coffee", Utc::now(), &[]).await;

    // The same database, now with the local model: the backfill brings every memory over.
    let mut env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    env.insert("DATABASE_URL".into(), chat.app.settings.database_url.clone());
    for (k, v) in with_models() {
        env.insert(k.into(), v);
    }
    let settings = std::sync::Arc::new(mnemo_shared::config::Settings::from_map(&env).unwrap());
    let local = mnemo_worker::pipeline::Pipeline::new(chat.app.db.clone(), settings);
    local.models.wait_ready(std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        mnemo_shared::memory::vectors::pending_count(&chat.app.db, "all-MiniLM-L6-v2")
            .await
            .unwrap(),
        2
    );
    while mnemo_worker::backfill::embeddings::step(&chat.app.db, &local.engine).await.unwrap() > 0 {
    }
    assert_eq!(
        chat.app
            .count("SELECT COUNT(*) FROM memory_embeddings WHERE model = 'all-MiniLM-L6-v2' AND dim = 384")
            .await,
        2
    );
    assert_eq!(
        chat.app
            .count("SELECT COUNT(*) FROM memory_embeddings WHERE model <> 'all-MiniLM-L6-v2'")
            .await,
        0
    );
}
