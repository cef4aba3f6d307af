//! Repeating reminders, computed on the user's wall clock: "every day at 8am" stays at 08:00
//! local time across DST changes (the UTC instant moves by the offset change instead). An
//! occurrence in a DST gap or fold follows the engine's one rule (`super::wall`).
//!
//! Stored in `reminders.recurrence` as `daily@08:00`, `weekdays@07:30`, `weekly:mon@09:00` or
//! `monthly:1@09:00`. A monthly day the month lacks (31 in April) falls on its last day.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::vocab::{last_day_of_month, ordinal, weekday_name};
use super::wall::resolve_local;

/// Which days a reminder repeats on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Day,
    /// Monday to Friday.
    Weekday,
    Week(Weekday),
    /// Day of the month, 1–31.
    Month(u32),
}

/// A repeat rule: which days, at which local wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurrence {
    pub every: Every,
    pub at: NaiveTime,
}

impl Recurrence {
    fn matches(&self, d: NaiveDate) -> bool {
        match self.every {
            Every::Day => true,
            Every::Weekday => d.weekday().num_days_from_monday() < 5,
            Every::Week(w) => d.weekday() == w,
            Every::Month(n) => d.day() == n.min(last_day_of_month(d.year(), d.month())),
        }
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let mut d = after.with_timezone(&tz).date_naive();
        // Start a day early: an occurrence resolved out of a gap may land on the next day.
        d = d.pred_opt().unwrap_or(d);
        for _ in 0..400 {
            if self.matches(d) {
                let t = resolve_local(d.and_time(self.at), tz);
                if t > after {
                    return t;
                }
            }
            match d.checked_add_days(Days::new(1)) {
                Some(next) => d = next,
                None => break,
            }
        }
        // Unreachable for a valid rule (every rule matches within 31 days); still no panic.
        after.checked_add_signed(chrono::Duration::days(1)).unwrap_or(after)
    }

    /// "every day at 08:00", "every Monday at 09:00", "on the 1st of every month at 09:00".
    pub fn describe(&self) -> String {
        let at = self.at.format("%H:%M");
        match self.every {
            Every::Day => format!("every day at {at}"),
            Every::Weekday => format!("every weekday at {at}"),
            Every::Week(w) => format!("every {} at {at}", weekday_name(w)),
            Every::Month(n) => format!("on the {} of every month at {at}", ordinal(n)),
        }
    }
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.format("%H:%M");
        match self.every {
            Every::Day => write!(f, "daily@{at}"),
            Every::Weekday => write!(f, "weekdays@{at}"),
            Every::Week(w) => write!(f, "weekly:{}@{at}", w.to_string().to_lowercase()),
            Every::Month(n) => write!(f, "monthly:{n}@{at}"),
        }
    }
}

impl FromStr for Recurrence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a recurrence: {s:?}");
        let (rule, at) = s.split_once('@').ok_or_else(bad)?;
        let at = NaiveTime::parse_from_str(at, "%H:%M").map_err(|_| bad())?;
        let every = match rule.split_once(':') {
            None if rule == "daily" => Every::Day,
            None if rule == "weekdays" => Every::Weekday,
            Some(("weekly", day)) => Every::Week(day.parse().map_err(|_| bad())?),
            Some(("monthly", n)) => {
                Every::Month(n.parse().ok().filter(|n| (1..=31).contains(n)).ok_or_else(bad)?)
            }
            _ => return Err(bad()),
        };
        Ok(Recurrence { every, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::London};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips_through_its_stored_form() {
        for s in [
            "daily@08:00",
            "weekdays@07:30",
            "weekly:mon@09:00",
            "weekly:sun@18:45",
            "monthly:1@09:00",
            "monthly:31@23:59",
        ] {
            assert_eq!(s.parse::<Recurrence>().unwrap().to_string(), s);
        }
        for bad in
            ["", "daily", "hourly@08:00", "weekly:xyz@09:00", "monthly:0@09:00", "daily@25:00"]
        {
            assert!(bad.parse::<Recurrence>().is_err(), "{bad}");
        }
    }

    #[test]
    fn daily_stays_at_local_eight_across_spring_forward_in_new_york() {
        // DST starts Sun 8 Mar 2026 at 02:00 EST → 03:00 EDT.
        let r: Recurrence = "daily@08:00".parse().unwrap();
        let mut at = utc("2026-03-06T14:00:00Z");
        let mut seen = Vec::new();
        for _ in 0..4 {
            at = r.next_after(at, New_York);
            seen.push(at.to_rfc3339());
        }
        assert_eq!(
            seen,
            [
                "2026-03-07T13:00:00+00:00",
                "2026-03-08T12:00:00+00:00",
                "2026-03-09T12:00:00+00:00",
                "2026-03-10T12:00:00+00:00",
            ]
        );
    }

    #[test]
    fn daily_stays_at_local_eight_across_fall_back_in_london() {
        // BST ends Sun 25 Oct 2026 at 02:00 BST → 01:00 GMT.
        let r: Recurrence = "daily@08:00".parse().unwrap();
        let first = r.next_after(utc("2026-10-24T08:00:00Z"), London);
        assert_eq!(first, utc("2026-10-25T08:00:00Z"));
        assert_eq!(r.next_after(utc("2026-10-24T06:00:00Z"), London), utc("2026-10-24T07:00:00Z"));
    }

    /// The engine's one rule for occurrences in a gap or a fold (`super::super::wall`).
    #[test]
    fn occurrences_in_gaps_and_folds() {
        let cases: [(&str, &str, Tz, [&str; 2]); 5] = [
            // New York springs forward on Sun 8 Mar 2026 (02:00 → 03:00): a daily 02:30 fires
            // at 03:30 EDT that day, by the gap's length, and at 02:30 again after it.
            (
                "daily@02:30",
                "2026-03-07T08:00:00Z",
                New_York,
                ["2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"],
            ),
            (
                "daily@02:10",
                "2026-03-07T08:00:00Z",
                New_York,
                ["2026-03-08T07:10:00Z", "2026-03-09T06:10:00Z"],
            ),
            // New York falls back on Sun 1 Nov 2026 (02:00 → 01:00): 01:30 happens twice, and
            // a daily 01:30 fires once, at the earlier (EDT) one.
            (
                "daily@01:30",
                "2026-10-31T12:00:00Z",
                New_York,
                ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
            ),
            // London springs forward on Sun 29 Mar 2026 (01:00 → 02:00): 01:30 is 02:30 BST.
            (
                "weekly:sun@01:30",
                "2026-03-28T12:00:00Z",
                London,
                ["2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z"],
            ),
            // London falls back on Sun 25 Oct 2026 (02:00 → 01:00): the earlier 01:30, BST.
            (
                "daily@01:30",
                "2026-10-24T12:00:00Z",
                London,
                ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
            ),
        ];
        for (rule, after, tz, fires) in cases {
            let r: Recurrence = rule.parse().unwrap();
            let first = r.next_after(utc(after), tz);
            assert_eq!(
                [first, r.next_after(first, tz)],
                fires.map(utc),
                "{rule} after {after} in {tz}"
            );
        }
    }

    #[test]
    fn weekdays_weekly_and_monthly() {
        let tz = London;
        // Fri 20 Nov 2026 10:00 → next weekday 07:30 is Mon 23 Nov.
        let wd: Recurrence = "weekdays@07:30".parse().unwrap();
        assert_eq!(wd.next_after(utc("2026-11-20T10:00:00Z"), tz), utc("2026-11-23T07:30:00Z"));
        let mon: Recurrence = "weekly:mon@09:00".parse().unwrap();
        assert_eq!(mon.next_after(utc("2026-11-23T09:00:00Z"), tz), utc("2026-11-30T09:00:00Z"));
        let last: Recurrence = "monthly:31@09:00".parse().unwrap();
        assert_eq!(last.next_after(utc("2026-11-01T00:00:00Z"), tz), utc("2026-11-30T09:00:00Z"));
        assert_eq!(last.next_after(utc("2026-11-30T09:00:00Z"), tz), utc("2026-12-31T09:00:00Z"));
        assert_eq!(mon.describe(), "every Monday at 09:00");
        assert_eq!(last.describe(), "on the 31st of every month at 09:00");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(12), "12th");
    }
}
