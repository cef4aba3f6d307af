//! The parsing table: phrases in several zones, at fixed "now"s, across DST changes.

use super::*;
use chrono_tz::America::New_York;
use chrono_tz::Asia::Kolkata;
use chrono_tz::Australia::Sydney;
use chrono_tz::Europe::London;
use chrono_tz::UTC;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

enum Want {
    /// Due at this UTC instant, with this text.
    At(&'static str, &'static str),
    /// Repeats by this rule, first at this UTC instant, with this text.
    Every(&'static str, &'static str, &'static str),
    /// A question back of this kind.
    Ask(&'static str),
}
use Want::{Ask, At, Every};

fn kind(p: &Problem) -> &'static str {
    match p {
        Problem::NoTime => "no_time",
        Problem::NoText => "no_text",
        Problem::NoTimeToday => "no_time_today",
        Problem::Past { .. } => "past",
        Problem::AmbiguousHour { .. } => "ambiguous_hour",
        Problem::AmbiguousDate { .. } => "ambiguous_date",
        Problem::Conflict => "conflict",
        Problem::Invalid(_) => "invalid",
        Problem::TooFar => "too_far",
    }
}

/// Thu 19 Nov 2026, 10:00 in Kolkata (UTC+05:30, no DST).
const K_NOW: &str = "2026-11-19T04:30:00Z";
/// Sat 7 Mar 2026, 10:00 EST; New York springs forward on Sun 8 Mar at 02:00.
const NY_SPRING: &str = "2026-03-07T15:00:00Z";
/// Sat 7 Mar 2026, 02:30 EST: the wall time that will not exist tomorrow.
const NY_GAP_EVE: &str = "2026-03-07T07:30:00Z";
/// Sat 7 Mar 2026, 03:00 EST: early morning.
const NY_EARLY: &str = "2026-03-07T08:00:00Z";
/// Sat 31 Oct 2026, 10:00 EDT; New York falls back on Sun 1 Nov at 02:00.
const NY_FALL: &str = "2026-10-31T14:00:00Z";
/// Sat 28 Mar 2026, 12:00 GMT; London springs forward on Sun 29 Mar at 01:00.
const L_SPRING: &str = "2026-03-28T12:00:00Z";
/// Sat 24 Oct 2026, 12:00 BST; London falls back on Sun 25 Oct at 02:00.
const L_FALL: &str = "2026-10-24T11:00:00Z";

#[rustfmt::skip]
fn table() -> Vec<(&'static str, Tz, &'static str, Want)> {
    vec![
        // Kolkata, Thu 19 Nov 2026 10:00.
        (K_NOW, Kolkata, "to call mom tomorrow at 3pm", At("2026-11-20T09:30:00Z", "call mom")),
        (K_NOW, Kolkata, "in 2 hours to check the oven", At("2026-11-19T06:30:00Z", "check the oven")),
        (K_NOW, Kolkata, "to check the oven in 30 min", At("2026-11-19T05:00:00Z", "check the oven")),
        (K_NOW, Kolkata, "in half an hour stretch", At("2026-11-19T05:00:00Z", "stretch")),
        (K_NOW, Kolkata, "in 2h drink water", At("2026-11-19T06:30:00Z", "drink water")),
        (K_NOW, Kolkata, "in an hour take the cake out", At("2026-11-19T05:30:00Z", "take the cake out")),
        (K_NOW, Kolkata, "dentist on Friday at 9", At("2026-11-20T03:30:00Z", "dentist")),
        (K_NOW, Kolkata, "at 18:30 leave for the airport", At("2026-11-19T13:00:00Z", "leave for the airport")),
        (K_NOW, Kolkata, "next Monday 10am team call", At("2026-11-23T04:30:00Z", "team call")),
        (K_NOW, Kolkata, "Dec 3 at noon pay rent", At("2026-12-03T06:30:00Z", "pay rent")),
        (K_NOW, Kolkata, "pay rent on 3 December 2026 at 9am", At("2026-12-03T03:30:00Z", "pay rent")),
        (K_NOW, Kolkata, "water the plants tonight", At("2026-11-19T14:30:00Z", "water the plants")),
        (K_NOW, Kolkata, "at 5 buy milk", At("2026-11-19T11:30:00Z", "buy milk")),
        (K_NOW, Kolkata, "at 9 call Ravi", At("2026-11-19T15:30:00Z", "call Ravi")),
        (K_NOW, Kolkata, "at 7:00 gym", At("2026-11-19T13:30:00Z", "gym")),
        (K_NOW, Kolkata, "today at 8am gym", Ask("past")),
        (K_NOW, Kolkata, "at 07:00 gym", Ask("past")),
        (K_NOW, Kolkata, "call mom", Ask("no_time")),
        (K_NOW, Kolkata, "tomorrow at 3pm", Ask("no_text")),
        (K_NOW, Kolkata, "call mom tomorrow", At("2026-11-20T03:30:00Z", "call mom")),
        (K_NOW, Kolkata, "every day at 8am take pills", Every("daily@08:00", "2026-11-20T02:30:00Z", "take pills")),
        (K_NOW, Kolkata, "every weekday at 7:30 standup", Every("weekdays@07:30", "2026-11-20T02:00:00Z", "standup")),
        (K_NOW, Kolkata, "every Monday put the bins out", Every("weekly:mon@09:00", "2026-11-23T03:30:00Z", "put the bins out")),
        (K_NOW, Kolkata, "every month on the 1st pay rent", Every("monthly:1@09:00", "2026-12-01T03:30:00Z", "pay rent")),
        (K_NOW, Kolkata, "daily at 21:00 journal", Every("daily@21:00", "2026-11-19T15:30:00Z", "journal")),
        (K_NOW, Kolkata, "every morning meditate", Every("daily@09:00", "2026-11-20T03:30:00Z", "meditate")),
        (K_NOW, Kolkata, "renew passport in 3 days", At("2026-11-22T04:30:00Z", "renew passport")),
        (K_NOW, Kolkata, "the day after tomorrow at 6pm dinner", At("2026-11-21T12:30:00Z", "dinner")),
        (K_NOW, Kolkata, "on the 25th at 10am pay the card", At("2026-11-25T04:30:00Z", "pay the card")),
        (K_NOW, Kolkata, "dentist on 3/4", Ask("ambiguous_date")),
        (K_NOW, Kolkata, "on 25/12 call grandma", At("2026-12-25T03:30:00Z", "call grandma")),
        (K_NOW, Kolkata, "buy 1/2 kg rice tomorrow at 6pm", At("2026-11-20T12:30:00Z", "buy 1/2 kg rice")),
        (K_NOW, Kolkata, "call tomorrow at 3pm and at 5pm", Ask("conflict")),
        (K_NOW, Kolkata, "call on 30 February", Ask("invalid")),
        (K_NOW, Kolkata, "call mom in 100000000 days", Ask("too_far")),
        (K_NOW, Kolkata, "call mom in 4000000000 hours", Ask("too_far")),
        (K_NOW, Kolkata, "call mom in 4294967295 weeks", Ask("too_far")),
        (K_NOW, Kolkata, "call mom on 3 December 2100", Ask("too_far")),
        (K_NOW, Kolkata, "at 3:30 pm call the bank", At("2026-11-19T10:00:00Z", "call the bank")),
        (K_NOW, Kolkata, "at noon lunch", At("2026-11-19T06:30:00Z", "lunch")),
        (K_NOW, Kolkata, "lock the door at midnight", At("2026-11-19T18:30:00Z", "lock the door")),
        (K_NOW, Kolkata, "tomorrow morning at 7 run", At("2026-11-20T01:30:00Z", "run")),
        (K_NOW, Kolkata, "at 5 in the evening call dad", At("2026-11-19T11:30:00Z", "call dad")),
        (K_NOW, Kolkata, "2026-12-24 at 6pm wrap gifts", At("2026-12-24T12:30:00Z", "wrap gifts")),
        (K_NOW, Kolkata, "in 2 weeks dentist checkup", At("2026-12-03T04:30:00Z", "dentist checkup")),
        (K_NOW, Kolkata, "standup on Thursday at 9am", At("2026-11-26T03:30:00Z", "standup")),
        (K_NOW, Kolkata, "this Thursday at 11am standup", At("2026-11-19T05:30:00Z", "standup")),
        (K_NOW, Kolkata, "call the bank today", Ask("no_time_today")),
        (K_NOW, Kolkata, "call the bank today at 4pm", At("2026-11-19T10:30:00Z", "call the bank")),
        (K_NOW, Kolkata, "that the parcel arrives at 4 p.m.", At("2026-11-19T10:30:00Z", "the parcel arrives")),
        // New York across spring-forward (Sun 8 Mar 2026, 02:00 → 03:00).
        // The engine's one wall-clock rule: a time in the gap moves forward by the gap (1 hour).
        (NY_SPRING, New_York, "check the clocks tomorrow at 2:30am", At("2026-03-08T07:30:00Z", "check the clocks")),
        (NY_SPRING, New_York, "tomorrow at 2:10am check the clocks", At("2026-03-08T07:10:00Z", "check the clocks")),
        (NY_SPRING, New_York, "tomorrow at 3:10am check the clocks", At("2026-03-08T07:10:00Z", "check the clocks")),
        (NY_SPRING, New_York, "every day at 2:30am water the fern", Every("daily@02:30", "2026-03-08T07:30:00Z", "water the fern")),
        (NY_GAP_EVE, New_York, "in 1 day water the fern", At("2026-03-08T07:30:00Z", "water the fern")),
        (NY_SPRING, New_York, "tomorrow at 9am brunch", At("2026-03-08T13:00:00Z", "brunch")),
        (NY_SPRING, New_York, "every day at 8am pills", Every("daily@08:00", "2026-03-08T12:00:00Z", "pills")),
        (NY_SPRING, New_York, "in 24 hours water the fern", At("2026-03-08T15:00:00Z", "water the fern")),
        (NY_SPRING, New_York, "in 1 day water the fern", At("2026-03-08T14:00:00Z", "water the fern")),
        (NY_SPRING, New_York, "at 5 call Sam", At("2026-03-07T22:00:00Z", "call Sam")),
        (NY_EARLY, New_York, "at 5 feed the cat", Ask("ambiguous_hour")),
        // New York across fall-back (Sun 1 Nov 2026, 02:00 → 01:00).
        // In the fold 01:30 happens twice: the earlier instant (EDT).
        (NY_FALL, New_York, "tomorrow at 1:30am check the boiler", At("2026-11-01T05:30:00Z", "check the boiler")),
        (NY_FALL, New_York, "every day at 1:30am check the boiler", Every("daily@01:30", "2026-11-01T05:30:00Z", "check the boiler")),
        (NY_FALL, New_York, "tomorrow at 2:30am check the boiler", At("2026-11-01T07:30:00Z", "check the boiler")),
        (NY_FALL, New_York, "tomorrow at 9am brunch", At("2026-11-01T14:00:00Z", "brunch")),
        (NY_FALL, New_York, "every Sunday at 9am call mum", Every("weekly:sun@09:00", "2026-11-01T14:00:00Z", "call mum")),
        // London across spring-forward (Sun 29 Mar 2026, 01:00 → 02:00) and fall-back (25 Oct).
        (L_SPRING, London, "tomorrow at 1:30am check the boiler", At("2026-03-29T01:30:00Z", "check the boiler")),
        (L_SPRING, London, "tomorrow at 1am check the boiler", At("2026-03-29T01:00:00Z", "check the boiler")),
        (L_SPRING, London, "every day at 1:30am check the boiler", Every("daily@01:30", "2026-03-29T01:30:00Z", "check the boiler")),
        (L_SPRING, London, "tomorrow at 8am run", At("2026-03-29T07:00:00Z", "run")),
        (L_SPRING, London, "every Sunday at 10am call mum", Every("weekly:sun@10:00", "2026-03-29T09:00:00Z", "call mum")),
        (L_FALL, London, "tomorrow at 1:30am check the boiler", At("2026-10-25T00:30:00Z", "check the boiler")),
        (L_FALL, London, "every day at 1:30am check the boiler", Every("daily@01:30", "2026-10-25T00:30:00Z", "check the boiler")),
        (L_FALL, London, "in 3 hours move the car", At("2026-10-24T14:00:00Z", "move the car")),
        (L_FALL, London, "on Monday at 8am bins", At("2026-10-26T08:00:00Z", "bins")),
        // Sydney (AEDT, UTC+11): 15:30 local at K_NOW.
        (K_NOW, Sydney, "tomorrow at 7am surf", At("2026-11-19T20:00:00Z", "surf")),
        (K_NOW, Sydney, "at 5 pick up the kids", At("2026-11-19T06:00:00Z", "pick up the kids")),
        // UTC: a date that passed this year is next year's.
        ("2026-12-05T00:00:00Z", UTC, "Dec 3 at noon renew insurance", At("2027-12-03T12:00:00Z", "renew insurance")),
        ("2026-12-05T00:00:00Z", UTC, "every 1st of the month at 8:00 invoices", Every("monthly:1@08:00", "2027-01-01T08:00:00Z", "invoices")),
    ]
}

#[test]
fn parsing_table() {
    let table = table();
    assert!(table.len() >= 79, "the table has {} phrases", table.len());
    let mut failures = Vec::new();
    for (now, tz, phrase, want) in table {
        let got = parse(phrase, utc(now), tz);
        let ok = match (&want, &got) {
            (At(at, what), Ok(p)) => p.when == When::Once(utc(at)) && p.what == *what,
            (Every(rule, first, what), Ok(p)) => {
                p.when.rule().map(|r| r.to_string()).as_deref() == Some(*rule)
                    && p.when.due() == utc(first)
                    && p.what == *what
            }
            (Ask(k), Err(p)) => kind(p) == *k,
            _ => false,
        };
        if !ok {
            failures.push(format!("{phrase:?} at {now} in {tz}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn unsaid_parts_are_reported() {
    let p = parse("call mom tomorrow", utc(K_NOW), Kolkata).unwrap();
    assert_eq!(p.notes, ["no time given, so 09:00"]);
    let p = parse("dentist on Friday at 9", utc(K_NOW), Kolkata).unwrap();
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].contains("09:00"), "{:?}", p.notes);
    assert!(parse("at 3pm tomorrow call", utc(K_NOW), Kolkata).unwrap().notes.is_empty());
}

#[test]
fn questions_name_the_times() {
    let Err(p) = parse("at 5 feed the cat", utc(NY_EARLY), New_York) else {
        panic!("expected a question");
    };
    let q = p.question(New_York);
    assert!(q.contains("Sat 7 Mar, 05:00 EST") && q.contains("Sat 7 Mar, 17:00 EST"), "{q}");
    let Err(p) = parse("today at 8am gym", utc(K_NOW), Kolkata) else {
        panic!("expected a question");
    };
    let q = p.question(Kolkata);
    assert!(q.contains("Thu 19 Nov, 08:00 IST") && q.contains("Fri 20 Nov, 08:00 IST"), "{q}");
    assert_eq!(local_label(utc("2026-11-21T09:30:00Z"), Kolkata), "Sat 21 Nov, 15:00 IST");
}

#[test]
fn the_request_is_cut_from_natural_messages() {
    assert_eq!(strip_request("Remind me to call mom at 3pm"), "to call mom at 3pm");
    assert_eq!(
        strip_request("please remind me in 2 hours to check the oven"),
        "in 2 hours to check the oven"
    );
    assert_eq!(
        strip_request("Set a reminder for the dentist on Monday 9am"),
        "for the dentist on Monday 9am"
    );
    assert_eq!(strip_request("reminder: pay rent on the 1st"), "pay rent on the 1st");
    assert_eq!(strip_request("tomorrow 9am dentist"), "tomorrow 9am dentist");
    let p =
        parse(strip_request("Set a reminder for the dentist on Monday 9am"), utc(K_NOW), Kolkata)
            .unwrap();
    assert_eq!(p.what, "the dentist");
}

#[test]
fn a_time_phrase_alone() {
    let (when, notes) = parse_when("tomorrow at 3pm", utc(K_NOW), Kolkata).unwrap();
    assert_eq!(when, When::Once(utc("2026-11-20T09:30:00Z")));
    assert!(notes.is_empty());
    let (when, _) = parse_when("every day at 8am", utc(K_NOW), Kolkata).unwrap();
    assert_eq!(when.rule().unwrap().to_string(), "daily@08:00");
    assert_eq!(parse_when("tomorrow dinner", utc(K_NOW), Kolkata), Err(None));
    assert_eq!(parse_when("dinner", utc(K_NOW), Kolkata), Err(Some(Problem::NoTime)));
}
