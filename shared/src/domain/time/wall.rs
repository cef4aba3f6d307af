//! The one wall-clock rule: how a local date and time in a zone becomes an instant.
//!
//! Every local time either grammar produces (a day's midnight, "this morning"'s noon, a
//! reminder's 14:30, a recurrence's 08:00) becomes an instant here and nowhere else. The rule is
//! the one the standard libraries use (java.time's `ZonedDateTime.of`, Python's `zoneinfo` with
//! `fold=0`, RFC 5545, Temporal's `"compatible"`):
//!
//! - **Gap** (spring forward: the wall time never happens): read it with the offset in force
//!   *before* the gap, so it moves forward by the gap's length. 02:10 on a day New York springs
//!   from 02:00 to 03:00 is 03:10 EDT; 01:30 on a day London springs from 01:00 to 02:00 is
//!   02:30 BST; a midnight skipped by Santiago's 00:00 → 01:00 change is 01:00.
//! - **Fold** (fall back: the wall time happens twice): the earlier instant. 01:30 on the day New
//!   York falls back is 01:30 EDT (05:30 UTC), not 01:30 EST.
//!
//! So "today" on a spring-forward day is 23 hours long and on a fall-back day 25, and a daily
//! 02:30 reminder in New York fires at 03:30 on the change day and at 02:30 again after it.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A local wall-clock time in `tz` as an instant, by the rule above.
pub fn resolve_local(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => in_gap(local, tz).unwrap_or_else(|| Utc.from_utc_datetime(&local)),
    }
}

/// The instant local midnight starts `date` in `tz` (by the rule above).
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    resolve_local(date.and_time(NaiveTime::MIN), tz)
}

/// `local` falls in a gap: read it with the offset in force just before the gap, found on the
/// last wall-clock minute before it that exists. No zone has a gap longer than a day (Samoa
/// skipped 30 Dec 2011), so the search is bounded; `None` only past the calendar's ends.
fn in_gap(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let before = (1..=24 * 60 + 1).find_map(|minutes| {
        let probe = local.checked_sub_signed(Duration::minutes(minutes))?;
        tz.offset_from_local_datetime(&probe).latest()
    })?;
    let offset = Duration::seconds(i64::from(before.fix().local_minus_utc()));
    let instant = local.checked_sub_signed(offset)?.and_utc();
    // The offset before the gap puts the instant after the change; check, never trust.
    (tz.offset_from_utc_datetime(&instant.naive_utc()).fix() != before.fix()).then_some(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe, Pacific};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let local = NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, min, 0).unwrap();
        resolve_local(local, tz)
    }

    #[test]
    fn a_time_in_a_gap_moves_forward_by_the_gap() {
        // New York, Sun 8 Mar 2026: 02:00 EST → 03:00 EDT.
        let ny = America::New_York;
        assert_eq!(at(ny, 2026, 3, 8, 2, 0), t("2026-03-08T07:00:00Z")); // 03:00 EDT
        assert_eq!(at(ny, 2026, 3, 8, 2, 10), t("2026-03-08T07:10:00Z")); // 03:10 EDT
        assert_eq!(at(ny, 2026, 3, 8, 2, 30), t("2026-03-08T07:30:00Z")); // 03:30 EDT
        assert_eq!(at(ny, 2026, 3, 8, 2, 59), t("2026-03-08T07:59:00Z")); // 03:59 EDT
        assert_eq!(at(ny, 2026, 3, 8, 3, 0), t("2026-03-08T07:00:00Z")); // exists
        // London, Sun 29 Mar 2026: 01:00 GMT → 02:00 BST.
        let london = Europe::London;
        assert_eq!(at(london, 2026, 3, 29, 1, 0), t("2026-03-29T01:00:00Z")); // 02:00 BST
        assert_eq!(at(london, 2026, 3, 29, 1, 30), t("2026-03-29T01:30:00Z")); // 02:30 BST
        // Santiago, Sun 6 Sep 2026: midnight does not exist (00:00 → 01:00).
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(local_midnight(d, America::Santiago), t("2026-09-06T04:00:00Z"));
        // Chatham, Sun 27 Sep 2026: 02:45 +12:45 → 03:45 +13:45.
        let cha = Pacific::Chatham;
        assert_eq!(at(cha, 2026, 9, 27, 3, 0), t("2026-09-26T14:15:00Z")); // 04:00 +13:45
    }

    #[test]
    fn a_time_in_a_fold_takes_the_earlier_instant() {
        // New York, Sun 1 Nov 2026: 02:00 EDT → 01:00 EST; 01:30 happens twice.
        let ny = America::New_York;
        assert_eq!(at(ny, 2026, 11, 1, 1, 30), t("2026-11-01T05:30:00Z")); // EDT
        assert_eq!(at(ny, 2026, 11, 1, 2, 0), t("2026-11-01T07:00:00Z")); // once, EST
        // London, Sun 25 Oct 2026: 02:00 BST → 01:00 GMT.
        let london = Europe::London;
        assert_eq!(at(london, 2026, 10, 25, 1, 30), t("2026-10-25T00:30:00Z")); // BST
        assert_eq!(at(london, 2026, 10, 25, 2, 0), t("2026-10-25T02:00:00Z"));
    }

    #[test]
    fn samoa_skipped_a_whole_day() {
        // Apia jumped from Thu 29 Dec 2011 23:59:59 −10:00 to Sat 31 Dec 00:00 +14:00.
        let apia = Pacific::Apia;
        assert_eq!(at(apia, 2011, 12, 30, 12, 0), t("2011-12-30T22:00:00Z")); // Sat 12:00 +14
        assert_eq!(at(apia, 2011, 12, 31, 0, 0), t("2011-12-30T10:00:00Z"));
    }
}
