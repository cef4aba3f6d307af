//! The range grammar's phrase table: phrases in several zones, at fixed "now"s, across DST changes.

use super::*;
use chrono_tz::{America, Asia, Europe, Pacific, UTC};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

// "now" for each table block.
const KOL_NOW: &str = "2026-11-18T05:00:00Z"; // Wed 18 Nov 10:30 IST
const NY_SPRING: &str = "2026-03-08T16:00:00Z"; // Sun 8 Mar 12:00 EDT (clocks went forward at 2:00)
const NY_AFTER_SPRING: &str = "2026-03-09T13:00:00Z"; // Mon 9 Mar 09:00 EDT
const NY_FALL: &str = "2026-11-01T17:00:00Z"; // Sun 1 Nov 12:00 EST (clocks went back at 2:00)
const NY_AFTER_FALL: &str = "2026-11-03T14:00:00Z"; // Tue 3 Nov 09:00 EST
const CHA_NOW: &str = "2026-11-17T20:45:00Z"; // Wed 18 Nov 10:30 +13:45
const CHA_DST: &str = "2026-09-26T22:15:00Z"; // Sun 27 Sep 12:00 +13:45 (forward at 2:45)
const L_SPRING: &str = "2026-03-29T11:00:00Z"; // Sun 29 Mar 12:00 BST (clocks went forward at 1:00)
const L_FALL: &str = "2026-10-25T12:00:00Z"; // Sun 25 Oct 12:00 GMT (clocks went back at 2:00)
const UTC_NOW: &str = "2026-11-18T10:30:00Z"; // Wed
const UTC_SAT: &str = "2026-11-21T10:30:00Z"; // Sat

type Row = (Tz, &'static str, &'static str, Option<(&'static str, &'static str)>);

/// (zone, now, text, expected [start, end) in UTC or None).
const TABLE: &[Row] = &[
    // Asia/Kolkata (+05:30), Wed 18 Nov 2026 10:30
    (Asia::Kolkata, KOL_NOW, "today", Some(("2026-11-17T18:30:00Z", "2026-11-18T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "what did I save yesterday?",
        Some(("2026-11-16T18:30:00Z", "2026-11-17T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "this week", Some(("2026-11-15T18:30:00Z", "2026-11-22T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "photos from last week",
        Some(("2026-11-08T18:30:00Z", "2026-11-15T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "previous week",
        Some(("2026-11-08T18:30:00Z", "2026-11-15T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "in the past week",
        Some(("2026-11-11T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "this month", Some(("2026-10-31T18:30:00Z", "2026-11-30T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "last month", Some(("2026-09-30T18:30:00Z", "2026-10-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "this year", Some(("2025-12-31T18:30:00Z", "2026-12-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "last year", Some(("2024-12-31T18:30:00Z", "2025-12-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "last 3 days", Some(("2026-11-15T18:30:00Z", "2026-11-18T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "in the last 2 weeks",
        Some(("2026-11-04T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "past three days",
        Some(("2026-11-15T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "the last couple of days",
        Some(("2026-11-16T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "last 2 months",
        Some(("2026-09-18T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "last 2 hours",
        Some(("2026-11-18T03:00:00Z", "2026-11-18T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "on Monday", Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "last Monday", Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "on Wednesday",
        Some(("2026-11-17T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "last wednesday",
        Some(("2026-11-10T18:30:00Z", "2026-11-11T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "notes from fri",
        Some(("2026-11-12T18:30:00Z", "2026-11-13T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "this monday", Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "last weekend",
        Some(("2026-11-13T18:30:00Z", "2026-11-15T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "over the weekend",
        Some(("2026-11-13T18:30:00Z", "2026-11-15T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "dinner plans for this weekend", None),
    (Asia::Kolkata, KOL_NOW, "in March", Some(("2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "in December", Some(("2025-11-30T18:30:00Z", "2025-12-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "march 2025", Some(("2025-02-28T18:30:00Z", "2025-03-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "last March", Some(("2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "since March 3",
        Some(("2026-03-02T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "since yesterday",
        Some(("2026-11-16T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "since last week",
        Some(("2026-11-08T18:30:00Z", "2026-11-18T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "between March 3 and March 10",
        Some(("2026-03-02T18:30:00Z", "2026-03-10T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "between March 3 and 10",
        Some(("2026-03-02T18:30:00Z", "2026-03-10T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "from 3 March to 10 March",
        Some(("2026-03-02T18:30:00Z", "2026-03-10T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "from monday to tuesday",
        Some(("2026-11-15T18:30:00Z", "2026-11-17T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "on 2026-03-03",
        Some(("2026-03-02T18:30:00Z", "2026-03-03T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "on March 3rd, 2026",
        Some(("2026-03-02T18:30:00Z", "2026-03-03T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "the 3rd of March",
        Some(("2026-03-02T18:30:00Z", "2026-03-03T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "on December 25",
        Some(("2025-12-24T18:30:00Z", "2025-12-25T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "on Feb 29", Some(("2024-02-28T18:30:00Z", "2024-02-29T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "in 2025", Some(("2024-12-31T18:30:00Z", "2025-12-31T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "3 days ago", Some(("2026-11-14T18:30:00Z", "2026-11-15T18:30:00Z"))),
    (Asia::Kolkata, KOL_NOW, "a week ago", Some(("2026-11-08T18:30:00Z", "2026-11-15T18:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "two months ago",
        Some(("2026-08-31T18:30:00Z", "2026-09-30T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "this morning",
        Some(("2026-11-17T18:30:00Z", "2026-11-18T06:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "last night", Some(("2026-11-17T12:30:00Z", "2026-11-18T00:30:00Z"))),
    (
        Asia::Kolkata,
        KOL_NOW,
        "yesterday evening",
        Some(("2026-11-17T12:30:00Z", "2026-11-17T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "the day before yesterday",
        Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z")),
    ),
    (
        Asia::Kolkata,
        KOL_NOW,
        "before March",
        Some(("1969-12-31T18:30:00Z", "2026-02-28T18:30:00Z")),
    ),
    (Asia::Kolkata, KOL_NOW, "tomorrow", None),
    (Asia::Kolkata, KOL_NOW, "may I ask where the keys are", None),
    (Asia::Kolkata, KOL_NOW, "the sun was out and we march on", None),
    (Asia::Kolkata, KOL_NOW, "buy 3 apples", None),
    // America/New_York: spring forward on Sun 8 Mar 2026 (23-hour day)
    (America::New_York, NY_SPRING, "today", Some(("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"))),
    (
        America::New_York,
        NY_SPRING,
        "yesterday",
        Some(("2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_SPRING,
        "this week",
        Some(("2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_SPRING,
        "this weekend",
        Some(("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_SPRING,
        "this morning",
        Some(("2026-03-08T05:00:00Z", "2026-03-08T16:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_SPRING,
        "yesterday",
        Some(("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_SPRING,
        "last week",
        Some(("2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_SPRING,
        "last weekend",
        Some(("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_SPRING,
        "on Sunday",
        Some(("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_SPRING,
        "last 3 days",
        Some(("2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z")),
    ),
    // America/New_York: fall back on Sun 1 Nov 2026 (25-hour day)
    (America::New_York, NY_FALL, "today", Some(("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"))),
    (
        America::New_York,
        NY_FALL,
        "yesterday",
        Some(("2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_FALL,
        "this month",
        Some(("2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "on Sunday",
        Some(("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "last week",
        Some(("2026-10-26T04:00:00Z", "2026-11-02T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "last 3 days",
        Some(("2026-11-01T04:00:00Z", "2026-11-04T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "last month",
        Some(("2026-10-01T04:00:00Z", "2026-11-01T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "in March",
        Some(("2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_AFTER_FALL,
        "between Oct 30 and Nov 2",
        Some(("2026-10-30T04:00:00Z", "2026-11-03T05:00:00Z")),
    ),
    // Pacific/Chatham (+12:45, +13:45 in summer)
    (Pacific::Chatham, CHA_NOW, "today", Some(("2026-11-17T10:15:00Z", "2026-11-18T10:15:00Z"))),
    (
        Pacific::Chatham,
        CHA_NOW,
        "yesterday",
        Some(("2026-11-16T10:15:00Z", "2026-11-17T10:15:00Z")),
    ),
    (
        Pacific::Chatham,
        CHA_NOW,
        "last week",
        Some(("2026-11-08T10:15:00Z", "2026-11-15T10:15:00Z")),
    ),
    (Pacific::Chatham, CHA_NOW, "in March", Some(("2026-02-28T10:15:00Z", "2026-03-31T10:15:00Z"))),
    (Pacific::Chatham, CHA_NOW, "in June", Some(("2026-05-31T11:15:00Z", "2026-06-30T11:15:00Z"))),
    (
        Pacific::Chatham,
        CHA_NOW,
        "since June 1",
        Some(("2026-05-31T11:15:00Z", "2026-11-18T10:15:00Z")),
    ),
    (Pacific::Chatham, CHA_DST, "today", Some(("2026-09-26T11:15:00Z", "2026-09-27T10:15:00Z"))),
    // UTC
    (UTC, UTC_NOW, "today", Some(("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z"))),
    (UTC, UTC_NOW, "last week", Some(("2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"))),
    (
        UTC,
        UTC_NOW,
        "between March 3 and March 10",
        Some(("2026-03-03T00:00:00Z", "2026-03-11T00:00:00Z")),
    ),
    (UTC, UTC_NOW, "this weekend", None),
    (UTC, UTC_SAT, "this weekend", Some(("2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z"))),
    (UTC, UTC_SAT, "the weekend", Some(("2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z"))),
    (UTC, UTC_NOW, "2026-11-02", Some(("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"))),
    // The engine's one wall-clock rule, in both directions, in New York and London: a time in
    // a gap moves forward by the gap (1 hour), a time in a fold is the earlier instant.
    (
        America::New_York,
        NY_SPRING,
        "since 2:30am",
        Some(("2026-03-08T07:30:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_SPRING,
        "what did I save since 2:10 am?",
        Some(("2026-03-08T07:10:00Z", "2026-03-09T04:00:00Z")),
    ),
    (
        America::New_York,
        NY_SPRING,
        "since 3am",
        Some(("2026-03-08T07:00:00Z", "2026-03-09T04:00:00Z")),
    ),
    (America::New_York, NY_SPRING, "since 7pm", None),
    (
        America::New_York,
        NY_SPRING,
        "last night",
        Some(("2026-03-07T23:00:00Z", "2026-03-08T10:00:00Z")),
    ),
    (
        America::New_York,
        NY_FALL,
        "since 1:30am",
        Some(("2026-11-01T05:30:00Z", "2026-11-02T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_FALL,
        "since 2am",
        Some(("2026-11-01T07:00:00Z", "2026-11-02T05:00:00Z")),
    ),
    (
        America::New_York,
        NY_FALL,
        "last night",
        Some(("2026-10-31T22:00:00Z", "2026-11-01T11:00:00Z")),
    ),
    // Europe/London: spring forward on Sun 29 Mar 2026 (01:00 → 02:00), 23-hour day
    (Europe::London, L_SPRING, "today", Some(("2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z"))),
    (
        Europe::London,
        L_SPRING,
        "since 1:30am",
        Some(("2026-03-29T01:30:00Z", "2026-03-29T23:00:00Z")),
    ),
    (
        Europe::London,
        L_SPRING,
        "this morning",
        Some(("2026-03-29T00:00:00Z", "2026-03-29T11:00:00Z")),
    ),
    // Europe/London: fall back on Sun 25 Oct 2026 (02:00 → 01:00), 25-hour day
    (Europe::London, L_FALL, "today", Some(("2026-10-24T23:00:00Z", "2026-10-26T00:00:00Z"))),
    (
        Europe::London,
        L_FALL,
        "since 1:30am",
        Some(("2026-10-25T00:30:00Z", "2026-10-26T00:00:00Z")),
    ),
    (Europe::London, L_FALL, "last night", Some(("2026-10-24T17:00:00Z", "2026-10-25T06:00:00Z"))),
    // America/Santiago: midnight does not exist on Sun 6 Sep 2026 (00:00 → 01:00)
    (
        America::Santiago,
        "2026-09-06T15:00:00Z",
        "today",
        Some(("2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z")),
    ),
];

/// The size of the phrase table, reported in the closing note.
pub const PHRASE_TABLE_SIZE: usize = TABLE.len();

#[test]
fn phrase_table() {
    let mut failures = Vec::new();
    for (tz, now, text, want) in TABLE {
        let got = parse_range(text, t(now), *tz).map(|(r, _)| (r.start, r.end));
        let want = want.map(|(a, b)| (t(a), t(b)));
        if got != want {
            failures.push(format!("{tz} {now} {text:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        PHRASE_TABLE_SIZE,
        failures.join("\n")
    );
    const { assert!(PHRASE_TABLE_SIZE >= 102) };
}

#[test]
fn the_phrase_is_cut_out_of_the_query() {
    let now = t(KOL_NOW);
    let rest = |s: &str| parse_range(s, now, Asia::Kolkata).map(|(_, q)| q);
    assert_eq!(rest("photos from last week").as_deref(), Some("photos"));
    assert_eq!(rest("what did I save yesterday?").as_deref(), Some("what did I save?"));
    assert_eq!(rest("show me my haircut from last week").as_deref(), Some("show me my haircut"));
    assert_eq!(
        rest("What did I plan between March 3 and March 10?").as_deref(),
        Some("What did I plan?")
    );
    assert_eq!(rest("last week's meeting notes").as_deref(), Some("meeting notes"));
    assert_eq!(rest("in March, the dentist").as_deref(), Some("the dentist"));
    assert_eq!(rest("today").as_deref(), Some(""));
}

#[test]
fn labels_are_readable() {
    let now = t(KOL_NOW);
    let label = |s: &str| parse_range(s, now, Asia::Kolkata).unwrap().0.label;
    assert_eq!(label("last week"), "last week");
    assert_eq!(label("on Monday"), "Mon 16 Nov");
    assert_eq!(label("in March"), "March");
    assert_eq!(label("on December 25"), "Thu 25 Dec 2025");
    assert_eq!(label("since March 3"), "since Tue 3 Mar");
    assert_eq!(label("last 3 days"), "last 3 days");
    assert_eq!(label("between March 3 and March 10"), "Tue 3 Mar – Tue 10 Mar");
}

#[test]
fn dst_days_have_23_and_25_hours() {
    let (spring, _) = parse_range("today", t(NY_SPRING), America::New_York).unwrap();
    assert_eq!(spring.end - spring.start, chrono::Duration::hours(23));
    let (fall, _) = parse_range("today", t(NY_FALL), America::New_York).unwrap();
    assert_eq!(fall.end - fall.start, chrono::Duration::hours(25));
    assert!(fall.contains(t(NY_FALL)));
    assert!(!fall.contains(fall.end));
}
