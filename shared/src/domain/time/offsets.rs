//! A zone's UTC offsets over a span of time, as periods: for reading many instants in a zone
//! where the zone rules themselves are not at hand. The dashboard groups memories by local day
//! in SQL (SQLite knows no zones), so the store turns these periods into one `CASE` of offsets;
//! the periods come from chrono-tz, the same rules every reply and range uses.

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// From `start` on (until the next period's start), local time is UTC + `offset_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPeriod {
    pub start: DateTime<Utc>,
    pub offset_secs: i32,
}

/// Zones change their offset at most a few times a year, never twice within this step.
const STEP: Duration = Duration::hours(12);

fn offset_at(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
}

/// The offsets `tz` uses over `[from, to]`: the first period starts at `from`, each next one
/// at the second the offset changes. Empty when `to` is before `from`.
pub fn offset_periods(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<OffsetPeriod> {
    if to < from {
        return Vec::new();
    }
    let mut periods = vec![OffsetPeriod { start: from, offset_secs: offset_at(tz, from) }];
    let mut at = from;
    while at < to {
        let next = (at + STEP).min(to);
        let current = periods.last().map_or(0, |p| p.offset_secs);
        if offset_at(tz, next) != current {
            // The change is in (at, next], on a whole second (the tz database's resolution):
            // bisect the seconds.
            let second = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(next);
            let (mut lo, mut hi) = (at.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, second(mid)) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let start = second(hi);
            periods.push(OffsetPeriod { start, offset_secs: offset_at(tz, start) });
            at = start;
        } else {
            at = next;
        }
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Australia, UTC};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_zone_without_changes_is_one_period() {
        let p = offset_periods(Asia::Kolkata, t("2020-01-01T00:00:00Z"), t("2026-12-31T00:00:00Z"));
        assert_eq!(p, vec![OffsetPeriod { start: t("2020-01-01T00:00:00Z"), offset_secs: 19800 }]);
        assert_eq!(
            offset_periods(UTC, t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z")).len(),
            1
        );
        assert!(
            offset_periods(UTC, t("2026-01-02T00:00:00Z"), t("2026-01-01T00:00:00Z")).is_empty()
        );
    }

    #[test]
    fn daylight_saving_changes_are_found_to_the_second() {
        // Los Angeles in 2026: PDT from 8 March 10:00 UTC, PST again from 1 November 09:00 UTC.
        let p = offset_periods(
            America::Los_Angeles,
            t("2026-01-15T12:34:56Z"),
            t("2026-12-01T00:00:00Z"),
        );
        let got: Vec<(String, i32)> =
            p.iter().map(|p| (p.start.to_rfc3339(), p.offset_secs)).collect();
        assert_eq!(
            got,
            vec![
                ("2026-01-15T12:34:56+00:00".to_string(), -8 * 3600),
                ("2026-03-08T10:00:00+00:00".to_string(), -7 * 3600),
                ("2026-11-01T09:00:00+00:00".to_string(), -8 * 3600),
            ]
        );
        // The southern hemisphere, half-hour zone: Adelaide leaves daylight time in April.
        let p = offset_periods(
            Australia::Adelaide,
            t("2026-03-01T00:00:00Z"),
            t("2026-05-01T00:00:00Z"),
        );
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].offset_secs, p[1].offset_secs), (37800, 34200));
        assert_eq!(p[1].start, t("2026-04-04T16:30:00Z"));
    }
}
