//! Property tests: the parsers of user text and of what arrives over HTTP never panic, and keep
//! their invariants (issue 14, DESIGN §7). Each property draws 50,000 fresh random inputs per
//! `cargo test` (about a minute on two cores, unoptimised); `.ci/run` runs the workspace tests
//! twice (SQLite, then PostgreSQL + Redis), so every parser sees 100,000 inputs per CI run.
//!
//! Inputs mix words the parsers know (so the generated phrases reach deep into the rules:
//! "in 4000000000 hours", "between March 3 and 10", "every month on the 31st at 2:30") with
//! arbitrary Unicode, huge numbers and stray punctuation. Every `now` is a real instant between
//! 1990 and 2150 and every zone one of the IANA zones chrono-tz knows.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use mnemo_shared::domain::conversation::{Command, Intent, classify, commands};
use mnemo_shared::domain::time::moment::{parse, parse_when};
use mnemo_shared::domain::time::{MAX_AHEAD_DAYS, Problem, horizon, parse_range, resolve_local};
use mnemo_shared::domain::{inbound, signature};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// Generated inputs per parser and `cargo test` (`PROPTEST_CASES` overrides it).
const CASES: u32 = 50_000;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Words the time and reminder parsers react to, plus numbers that overflow naive arithmetic.
const WORDS: &[&str] = &[
    "remind",
    "me",
    "to",
    "call",
    "mom",
    "in",
    "on",
    "at",
    "by",
    "the",
    "a",
    "an",
    "of",
    "and",
    "from",
    "to",
    "until",
    "till",
    "through",
    "-",
    "since",
    "after",
    "before",
    "between",
    "last",
    "past",
    "previous",
    "this",
    "next",
    "coming",
    "every",
    "each",
    "daily",
    "weekdays",
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "hour",
    "hours",
    "minute",
    "minutes",
    "min",
    "h",
    "d",
    "w",
    "ago",
    "half",
    "few",
    "couple",
    "several",
    "weekend",
    "morning",
    "afternoon",
    "evening",
    "night",
    "noon",
    "midnight",
    "monday",
    "tue",
    "wednesday",
    "thu",
    "friday",
    "sat",
    "sunday",
    "jan",
    "feb",
    "march",
    "apr",
    "may",
    "june",
    "jul",
    "aug",
    "sept",
    "oct",
    "nov",
    "december",
    "1st",
    "2nd",
    "3rd",
    "29th",
    "30th",
    "31st",
    "0",
    "1",
    "2",
    "3",
    "7",
    "9",
    "12",
    "13",
    "24",
    "25",
    "29",
    "30",
    "31",
    "32",
    "59",
    "60",
    "99",
    "100",
    "1000",
    "1001",
    "3653",
    "99999",
    "100000000",
    "4000000000",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "2h",
    "30min",
    "3d",
    "100000000d",
    "4000000000h",
    "3pm",
    "3:30pm",
    "3.30am",
    "15:00",
    "09:00",
    "24:00",
    "0:00",
    "12am",
    "12pm",
    "13pm",
    "5",
    "at9",
    "o'clock",
    "am",
    "pm",
    "a.m.",
    "p.m.",
    "2026-12-03",
    "2026-02-30",
    "3/12",
    "12/3",
    "31/2",
    "2/29",
    "1900",
    "1999",
    "2000",
    "2026",
    "2200",
    "2201",
    "9999",
    "photos",
    "from",
    "what",
    "did",
    "i",
    "plan",
    "for",
    "dinner",
    "?",
    ",",
    "’",
    "don't",
    "let",
    "forget",
    "reminder:",
    "set",
    "reminder",
];

fn phrase() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(prop::sample::select(WORDS), 0..9).prop_map(|w| w.join(" ")),
        2 => prop::collection::vec(
            prop_oneof![
                prop::sample::select(WORDS).prop_map(str::to_string),
                "[0-9]{1,22}",
                "[0-9]{1,12}(st|nd|rd|th|h|d|w|m|min|am|pm)",
                "[0-9]{1,5}[/:.-][0-9]{1,5}([/:.-][0-9]{1,5})?",
            ],
            0..8
        )
        .prop_map(|w| w.join(" ")),
        1 => any::<String>(),
        1 => "[ -~]{0,60}",
    ]
}

/// A real instant between 1990 and 2150.
fn now() -> impl Strategy<Value = DateTime<Utc>> {
    (631_152_000i64..5_679_360_000i64)
        .prop_map(|s| Utc.timestamp_opt(s, 0).single().expect("in range"))
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(TZ_VARIANTS.to_vec())
}

fn local_datetime() -> impl Strategy<Value = NaiveDateTime> {
    (1990i32..2150, 1u32..=12, 1u32..=31, 0u32..24, 0u32..60)
        .prop_filter_map("a calendar date", |(y, m, d, h, min)| {
            NaiveDate::from_ymd_opt(y, m, d)?.and_hms_opt(h, min, 0)
        })
}

proptest! {
    #![proptest_config(config())]

    /// Time phrases → ranges: no panic; a range is non-empty and starts in the past.
    #[test]
    fn time_phrases(text in phrase(), now in now(), tz in zone()) {
        if let Some((range, rest)) = parse_range(&text, now, tz) {
            prop_assert!(range.start < range.end, "{text:?}: {range:?}");
            prop_assert!(range.start <= now, "{text:?}: {range:?} starts after {now}");
            prop_assert!(!range.label.is_empty());
            prop_assert!(rest.len() <= text.len());
        }
    }

    /// "today" is the local day containing now; "yesterday" ends where it begins.
    #[test]
    fn today_contains_now(now in now(), tz in zone()) {
        let (today, _) = parse_range("today", now, tz).expect("today is a range");
        prop_assert!(today.contains(now), "{now} not in {today:?} ({tz})");
        let local = now.with_timezone(&tz).date_naive();
        prop_assert_eq!(today.start.with_timezone(&tz).date_naive(), local);
        if let Some((yesterday, _)) = parse_range("yesterday", now, tz) {
            prop_assert_eq!(yesterday.end, today.start);
        }
    }

    /// A local time round-trips through the zone, except in a gap, where it moves forward
    /// (the time engine's one rule for DST gaps, used by both grammars).
    #[test]
    fn local_times_round_trip(local in local_datetime(), tz in zone()) {
        let at = resolve_local(local, tz);
        let back = at.with_timezone(&tz).naive_local();
        match tz.from_local_datetime(&local) {
            LocalResult::Single(_) => prop_assert_eq!(back, local),
            LocalResult::Ambiguous(earlier, _) => {
                prop_assert_eq!(back, local);
                prop_assert_eq!(at, earlier.with_timezone(&Utc));
            }
            LocalResult::None => prop_assert!(back > local, "{local} in a gap → {back}"),
        }
    }

    /// Reminder requests: no panic; whatever is set is due after now and within the horizon;
    /// anything past is flagged (a question back), never set.
    #[test]
    fn reminder_phrases(text in phrase(), now in now(), tz in zone()) {
        match parse(&text, now, tz) {
            Ok(p) => {
                prop_assert!(p.when.due() >= now, "{text:?} due {} before {now}", p.when.due());
                prop_assert!(p.when.due() <= horizon(now), "{text:?} due too far ahead");
                prop_assert!(!p.what.is_empty());
                prop_assert!(!p.what.is_empty());
            }
            Err(Problem::Past { at, next }) => {
                prop_assert!(at <= now, "{text:?}: flagged past but {at} > {now}");
                if let Some(next) = next {
                    prop_assert!(next > at);
                }
            }
            Err(problem) => {
                let _ = problem.question(tz);
            }
        }
        if let Ok((when, _)) = parse_when(&text, now, tz) {
            prop_assert!(when.due() >= now && when.due() <= horizon(now), "{text:?}");
        }
    }

    /// Chat messages and `/commands`: no panic; a slash always reads as a command, and every
    /// command name maps to something (unknown ones to help).
    #[test]
    fn chat_commands(text in prop_oneof![
        phrase(),
        ("/[a-zA-Z?!.:]{0,12}", phrase()).prop_map(|(c, a)| format!("{c} {a}")),
        (
            prop::sample::select(vec!["/tz", "/forget", "/list", "/remind", "/reminders", "/TZ"]),
            prop_oneof![phrase(), "[A-Za-z_/ -]{0,30}"],
        )
            .prop_map(|(c, a)| format!("{c} {a}")),
        any::<String>(),
    ]) {
        let decision = classify(&text);
        if let Some(rest) = text.trim().strip_prefix('/') {
            let Intent::Command { name, args } = decision.intent else {
                return Err(TestCaseError::fail(format!("{text:?} is not a command")));
            };
            prop_assert!(rest.to_lowercase().contains(&name) || name.is_empty());
            match Command::parse(&name, &args) {
                Command::Forget(commands::ForgetTarget::Number(n)) => prop_assert!(n >= 1),
                Command::Tz(Some(zone)) => {
                    let _ = commands::find_zone(&zone);
                }
                _ => {}
            }
        }
        let _ = commands::ListArgs::parse(&text);
    }

    /// The inbound webhook form, as bytes on the wire: decoding and parsing never panic, and
    /// an accepted message has a checked MessageSid and an E.164 sender.
    #[test]
    fn webhook_forms(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                    "MediaContentType0", "MediaUrl10", "Latitude", "Longitude", "Address",
                    "Label", "ProfileName", "WaId", "MessageType", "AccountSid", "x",
                ]),
                prop_oneof![
                    "SM[0-9a-f]{32}",
                    "whatsapp:\\+[1-9][0-9]{6,14}",
                    "\\+?[0-9 ]{0,20}",
                    "-?[0-9]{1,4}(\\.[0-9]{1,8})?",
                    "(NaN|inf|-inf|1e999|[0-9]{1,40})",
                    "[ -~]{0,40}",
                    any::<String>(),
                ],
            ),
            0..14,
        )
        .prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes()
        }),
    ]) {
        let params: Vec<(String, String)> = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Ok(msg) = inbound::parse(&params) {
            prop_assert!(!msg.message_sid.is_empty() && msg.message_sid.len() <= 64);
            prop_assert!(msg.phone.starts_with('+'));
            prop_assert!(msg.media.len() <= inbound::MAX_MEDIA);
            if let Some(loc) = &msg.location {
                prop_assert!(loc.latitude.is_finite() && loc.longitude.is_finite());
                prop_assert!((-90.0..=90.0).contains(&loc.latitude));
                prop_assert!((-180.0..=180.0).contains(&loc.longitude));
            }
            let _ = msg.kind();
        }
    }

    /// The signature check: never panics on any URL, form or header; Twilio's own signature of
    /// a request to an http(s) URL is accepted and any other signature is refused.
    #[test]
    fn signatures(
        (url, well_formed) in prop_oneof![
            3 => "https?://[a-z0-9.-]{1,20}(:[0-9]{1,6})?(/[ -~]{0,30})?".prop_map(|u| (u, true)),
            1 => prop_oneof!["[ -~]{0,40}", "\\PC{0,40}"].prop_map(|u| (u, false)),
        ],
        params in prop::collection::vec(("\\PC{0,12}", "\\PC{0,24}"), 0..5),
        token in "[ -~]{0,32}",
        other in prop_oneof!["[A-Za-z0-9+/=]{0,28}", "\\PC{0,30}"],
    ) {
        let good = signature::compute_signature(&url, &params, &token);
        let accepted = signature::is_valid(&url, &params, &good, &token);
        if well_formed {
            prop_assert!(accepted, "{url:?}");
        }
        if other != good {
            prop_assert!(!signature::is_valid(&url, &params, &other, &token));
        }
        prop_assert!(!signature::is_valid(&url, &params, "", &token));
    }
}

#[test]
fn huge_offsets_get_a_question_not_a_panic() {
    let now: DateTime<Utc> = "2026-12-03T08:00:00Z".parse().unwrap();
    for text in [
        "call mom in 100000000 days",
        "call mom in 4000000000 hours",
        "call mom in 4294967295 weeks",
        "call mom in 4294967295 months",
        "call mom in 4000000000 minutes",
        "call mom in 100000000d",
    ] {
        let got = parse(text, now, chrono_tz::Europe::London);
        assert_eq!(got, Err(Problem::TooFar), "{text}");
        let question = Problem::TooFar.question(chrono_tz::UTC);
        assert!(question.contains("10 years"), "{question}");
    }
    // Just inside the horizon is still fine.
    let ok = parse(&format!("call mom in {} days", MAX_AHEAD_DAYS - 1), now, chrono_tz::UTC);
    assert!(ok.is_ok(), "{ok:?}");
}
