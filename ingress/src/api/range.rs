//! Time ranges for `range=` (a phrase) or `start=`/`end=` (RFC 3339) query parameters, as a
//! half-open UTC range `[start, end)` computed in the user's zone. Weeks start on Monday.
//!
//! Phrases go through the same parser as WhatsApp questions (`shared/src/domain/time/range.rs`). An
//! unparseable phrase is never ignored: it is a 422.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use poem_openapi::Object;

use crate::problem::ApiError;

/// A resolved range, as reported back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct TimeRange {
    /// Inclusive start (UTC).
    pub start: DateTime<Utc>,
    /// Exclusive end (UTC).
    pub end: DateTime<Utc>,
    /// The phrase as understood, e.g. `last week`.
    pub label: String,
}

impl TimeRange {
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start, self.end)
    }
}

/// Resolves a time phrase with the conversation's parser (`shared/src/domain/time/range.rs`): the whole
/// phrase must be a time expression (`last week`, `since March 3`, `between March 3 and
/// March 10`, `2026-11-02`…); `None` for anything else, which the caller turns into a 422.
pub fn resolve_range_phrase(phrase: &str, tz: Tz, now: DateTime<Utc>) -> Option<TimeRange> {
    let (range, rest) = mnemo_shared::domain::time::parse_range(phrase, now, tz)?;
    if !rest.trim().is_empty() {
        return None;
    }
    Some(TimeRange { start: range.start, end: range.end, label: range.label })
}

/// The range asked for by `range` or `start`/`end` (not both); `None` when none is given.
pub fn requested_range(
    phrase: Option<&str>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Option<TimeRange>, ApiError> {
    match (phrase.map(str::trim), start, end) {
        (Some(p), None, None) => resolve_range_phrase(p, tz, now).map(Some).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "`range` {p:?} is not a phrase I understand; try today, yesterday, this week, \
                 last week, this month, last month, last 7 days — or give `start`/`end`"
            ))
        }),
        (Some(_), _, _) => {
            Err(ApiError::Unprocessable("give either `range` or `start`/`end`, not both".into()))
        }
        (None, None, None) => Ok(None),
        (None, start, end) => {
            let start = start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
            let end = end.unwrap_or_else(|| Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap());
            if start >= end {
                return Err(ApiError::Unprocessable("`start` must be before `end`".into()));
            }
            Ok(Some(TimeRange { start, end, label: "custom".into() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn phrases_in_a_zone() {
        // Wednesday 2026-11-18 08:00 UTC = Wednesday 00:00 in Los Angeles (PST, UTC-8).
        let now = at("2026-11-18T08:30:00Z");
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let r = resolve_range_phrase("Today", la, now).unwrap();
        assert_eq!((r.start, r.end), (at("2026-11-18T08:00:00Z"), at("2026-11-19T08:00:00Z")));
        assert_eq!(r.label, "today");
        let r = resolve_range_phrase("yesterday", la, now).unwrap();
        assert_eq!(r.start, at("2026-11-17T08:00:00Z"));
        let r = resolve_range_phrase("last  week", la, now).unwrap();
        assert_eq!((r.start, r.end), (at("2026-11-09T08:00:00Z"), at("2026-11-16T08:00:00Z")));
        let r = resolve_range_phrase("this week", la, now).unwrap();
        assert_eq!(r.start, at("2026-11-16T08:00:00Z"));
        // November 1st is still daylight time in LA (UTC-7).
        let r = resolve_range_phrase("this month", la, now).unwrap();
        assert_eq!((r.start, r.end), (at("2026-11-01T07:00:00Z"), at("2026-12-01T08:00:00Z")));
        let r = resolve_range_phrase("last month", chrono_tz::UTC, now).unwrap();
        assert_eq!((r.start, r.end), (at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z")));
        let r = resolve_range_phrase("last 3 days", chrono_tz::UTC, now).unwrap();
        assert_eq!((r.start, r.end), (at("2026-11-16T00:00:00Z"), at("2026-11-19T00:00:00Z")));
        let r = resolve_range_phrase("past 1 week", chrono_tz::UTC, now).unwrap();
        assert_eq!(r.start, at("2026-11-12T00:00:00Z"));
        assert!(resolve_range_phrase("last year", chrono_tz::UTC, now).is_some());
        for bad in ["", "someday", "last 0 days", "last x days", "last 3 fortnights", "next week"] {
            assert_eq!(resolve_range_phrase(bad, chrono_tz::UTC, now), None, "{bad:?}");
        }
    }

    #[test]
    fn range_or_start_end() {
        let now = at("2026-11-18T08:30:00Z");
        let utc = chrono_tz::UTC;
        assert_eq!(requested_range(None, None, None, utc, now).unwrap(), None);
        assert!(matches!(
            requested_range(Some("soon"), None, None, utc, now),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            requested_range(Some("today"), Some(now), None, utc, now),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            requested_range(None, Some(now), Some(now), utc, now),
            Err(ApiError::Unprocessable(_))
        ));
        let r = requested_range(None, Some(now), None, utc, now).unwrap().unwrap();
        assert_eq!(r.start, now);
        assert_eq!(r.label, "custom");
    }
}
