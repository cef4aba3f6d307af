//! Repeating reminders, computed on the user's wall clock: "every day at 8am" stays at 08:00
//! local time across DST changes (the UTC instant moves by the offset change instead).
//!
//! Stored in `reminders.recurrence` as `daily@08:00`, `weekdays@07:30`, `weekly:mon@09:00` or
//! `monthly:1@09:00`. A monthly day the month lacks (31 in April) falls on its last day.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

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

/// A local wall-clock time as an instant: in a DST gap (spring forward) the next valid instant,
/// i.e. the moment of the change; in an overlap (fall back) the earlier of the two.
pub fn resolve_wall(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = date.and_time(time);
    let mut t = local;
    // Gaps are whole minutes and at most a day long.
    for _ in 0..(24 * 60) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => {
                t = t
                    .with_second(0)
                    .unwrap_or(t)
                    .checked_add_signed(chrono::Duration::minutes(1))
                    .unwrap_or(t)
            }
        }
    }
    Utc.from_utc_datetime(&local)
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year.saturating_add(1), 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
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
                let t = resolve_wall(d, self.at, tz);
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
        after
            .checked_add_signed(chrono::Duration::days(1))
            .unwrap_or(after)
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

pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// 1 → "1st", 22 → "22nd", 13 → "13th".
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
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
            Some(("monthly", n)) => Every::Month(
                n.parse()
                    .ok()
                    .filter(|n| (1..=31).contains(n))
                    .ok_or_else(bad)?,
            ),
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

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
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
        for bad in [
            "",
            "daily",
            "hourly@08:00",
            "weekly:xyz@09:00",
            "monthly:0@09:00",
            "daily@25:00",
        ] {
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
        assert_eq!(
            r.next_after(utc("2026-10-24T06:00:00Z"), London),
            utc("2026-10-24T07:00:00Z")
        );
    }

    #[test]
    fn gap_and_overlap_times() {
        // 02:30 does not exist on 8 Mar 2026 in New York: the change itself, 03:00 EDT.
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(
            resolve_wall(d, t(2, 30), New_York),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            resolve_wall(d, t(2, 10), New_York),
            utc("2026-03-08T07:00:00Z")
        );
        // 01:30 happens twice on 1 Nov 2026 in New York: the earlier (EDT).
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(
            resolve_wall(d, t(1, 30), New_York),
            utc("2026-11-01T05:30:00Z")
        );
        // London: 01:30 is skipped on 29 Mar 2026 and doubled on 25 Oct 2026.
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            resolve_wall(d, t(1, 30), London),
            utc("2026-03-29T01:00:00Z")
        );
        let d = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(
            resolve_wall(d, t(1, 30), London),
            utc("2026-10-25T00:30:00Z")
        );
        // A daily 02:30 in New York fires at 03:00 on the change day and 02:30 again after.
        let r: Recurrence = "daily@02:30".parse().unwrap();
        let a = r.next_after(utc("2026-03-07T08:00:00Z"), New_York);
        assert_eq!(a, utc("2026-03-08T07:00:00Z"));
        assert_eq!(r.next_after(a, New_York), utc("2026-03-09T06:30:00Z"));
    }

    #[test]
    fn weekdays_weekly_and_monthly() {
        let tz = London;
        // Fri 20 Nov 2026 10:00 → next weekday 07:30 is Mon 23 Nov.
        let wd: Recurrence = "weekdays@07:30".parse().unwrap();
        assert_eq!(
            wd.next_after(utc("2026-11-20T10:00:00Z"), tz),
            utc("2026-11-23T07:30:00Z")
        );
        let mon: Recurrence = "weekly:mon@09:00".parse().unwrap();
        assert_eq!(
            mon.next_after(utc("2026-11-23T09:00:00Z"), tz),
            utc("2026-11-30T09:00:00Z")
        );
        let last: Recurrence = "monthly:31@09:00".parse().unwrap();
        assert_eq!(
            last.next_after(utc("2026-11-01T00:00:00Z"), tz),
            utc("2026-11-30T09:00:00Z")
        );
        assert_eq!(
            last.next_after(utc("2026-11-30T09:00:00Z"), tz),
            utc("2026-12-31T09:00:00Z")
        );
        assert_eq!(mon.describe(), "every Monday at 09:00");
        assert_eq!(last.describe(), "on the 31st of every month at 09:00");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(12), "12th");
    }
}
