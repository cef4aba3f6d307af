//! Time phrases → half-open UTC ranges `[start, end)`, computed in the user's zone (DESIGN §7).
//!
//! Pure: the caller injects "now" and the zone, so every rule is table-tested. Days are cut at
//! *local* midnights, resolved with chrono-tz: a midnight that falls in a DST gap moves to the
//! first local time that exists, an ambiguous one takes the earlier instant. So "today" on the day
//! America/New_York springs forward is 23 hours long and on the day it falls back 25.
//!
//! Conventions (a memory assistant searches the past):
//! - Weeks start on Monday; a weekend is Saturday 00:00 to Monday 00:00.
//! - A date or weekday without a year/week is the most recent one not after today
//!   ("on Monday" on a Monday is today; "in March" in February is last year's March).
//!   "last Monday" is the most recent Monday strictly before today.
//! - "last week/month/year" is the previous calendar period; "past week" and "last N days" are
//!   rolling and include today ("last 3 days" on Wed = Mon 00:00 → Thu 00:00).
//! - "since X" runs from the start of X to the end of today; "between X and Y" includes all of Y.
//! - A phrase whose range lies entirely in the future ("this weekend" on a Wednesday) is not a
//!   time filter: it is about plans, so its words stay in the query.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc, Weekday,
};
use chrono_tz::Tz;

/// A half-open UTC range `[start, end)` with a short human label ("last week", "Mon 9 Nov").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub label: String,
}

impl Range {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The `(start, end)` pair the memory engines take.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start, self.end)
    }
}

/// Finds the first time phrase in `text` and returns its range and the text without it
/// (whitespace collapsed), e.g. `"photos from last week"` → (last week, `"photos"`).
pub fn parse_range(text: &str, now: DateTime<Utc>, tz: Tz) -> Option<(Range, String)> {
    let toks = tokenize(text);
    let ctx = Ctx::new(now, tz);
    for i in 0..toks.len() {
        let Some((span, next)) = phrase_at(&toks, i, &ctx) else {
            continue;
        };
        let range = Range {
            start: ctx.resolve(span.start),
            end: ctx.resolve(span.end),
            label: span.label,
        };
        if range.start > now || range.end <= range.start {
            // About the future (plans), or empty: not a filter on when things were sent.
            continue;
        }
        let rest = remove(text, toks[i].start, toks[next - 1].end);
        return Some((range, rest));
    }
    None
}

/// The instant of local midnight starting `date` in `tz`. A midnight skipped by a DST change
/// becomes the first local time that exists; an ambiguous one the earlier instant.
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    resolve_local(date.and_time(NaiveTime::MIN), tz)
}

/// A local wall-clock time as an instant: the earlier of two in an overlap, the first existing
/// minute after a gap.
pub fn resolve_local(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..(4 * 24) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
            LocalResult::None => match t.checked_add_signed(chrono::Duration::minutes(15)) {
                Some(next) => t = next,
                None => break,
            },
        }
    }
    // No zone has a gap this long; treat the wall time as UTC rather than fail.
    Utc.from_utc_datetime(&local)
}

// ---------------------------------------------------------------------------------------------

struct Tok {
    w: String,
    start: usize,
    end: usize,
}

/// Words, lowercased, with surrounding punctuation and a possessive `'s` dropped; the byte span
/// covers what was kept so the phrase can be cut out of the original text.
fn tokenize(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word_start = None;
    let bytes_end = text.len();
    let push = |s: usize, e: usize, out: &mut Vec<Tok>| {
        let raw = &text[s..e];
        let core_start = raw.find(|c: char| c.is_alphanumeric());
        let core_end = raw
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_alphanumeric())
            .map(|(i, c)| i + c.len_utf8());
        match (core_start, core_end) {
            (Some(a), Some(b)) => {
                let mut w = raw[a..b].to_lowercase();
                for suffix in ["'s", "’s"] {
                    if let Some(stem) = w.strip_suffix(suffix) {
                        w = stem.to_string();
                    }
                }
                out.push(Tok {
                    w,
                    start: s + a,
                    end: s + b,
                });
            }
            _ if raw.chars().all(|c| matches!(c, '-' | '–' | '—')) => out.push(Tok {
                w: "-".into(),
                start: s,
                end: e,
            }),
            _ => {}
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = word_start.take() {
                push(s, i, &mut out);
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(s) = word_start {
        push(s, bytes_end, &mut out);
    }
    out
}

/// The text without bytes `[start, end)`, whitespace collapsed, no space before `?`/`!`/`.`/`,`.
fn remove(text: &str, start: usize, end: usize) -> String {
    let joined = format!("{} {}", &text[..start], &text[end..]);
    let mut out = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in ["?", "!", ".", ","] {
        out = out.replace(&format!(" {p}"), p);
    }
    out.trim_matches(|c: char| c == ',' || c.is_whitespace())
        .to_string()
}

#[derive(Debug, Clone, Copy)]
enum Point {
    Day(NaiveDate),
    Local(NaiveDateTime),
    Utc(DateTime<Utc>),
}

struct Span {
    start: Point,
    end: Point,
    label: String,
}

impl Span {
    fn days(start: NaiveDate, end: NaiveDate, label: impl Into<String>) -> Span {
        Span {
            start: Point::Day(start),
            end: Point::Day(end),
            label: label.into(),
        }
    }

    fn hours(day: NaiveDate, from: u32, to: u32, label: impl Into<String>) -> Option<Span> {
        let at = |h: u32| {
            Some(if h >= 24 {
                Point::Day(plus(day, 1)?)
            } else {
                Point::Local(
                    day.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN)),
                )
            })
        };
        Some(Span {
            start: at(from)?,
            end: at(to)?,
            label: label.into(),
        })
    }

    fn start_day(&self) -> NaiveDate {
        match self.start {
            Point::Day(d) => d,
            Point::Local(t) => t.date(),
            Point::Utc(t) => t.date_naive(),
        }
    }
}

struct Ctx {
    now: DateTime<Utc>,
    tz: Tz,
    today: NaiveDate,
}

impl Ctx {
    fn new(now: DateTime<Utc>, tz: Tz) -> Ctx {
        Ctx {
            now,
            tz,
            today: now.with_timezone(&tz).date_naive(),
        }
    }

    fn resolve(&self, p: Point) -> DateTime<Utc> {
        match p {
            Point::Day(d) => local_midnight(d, self.tz),
            Point::Local(t) => resolve_local(t, self.tz),
            Point::Utc(t) => t,
        }
    }

    fn tomorrow(&self) -> Option<NaiveDate> {
        plus(self.today, 1)
    }

    fn monday(&self) -> Option<NaiveDate> {
        minus(
            self.today,
            u64::from(self.today.weekday().num_days_from_monday()),
        )
    }

    fn label_day(&self, d: NaiveDate) -> String {
        if d.year() == self.today.year() {
            d.format("%a %-d %b").to_string()
        } else {
            d.format("%a %-d %b %Y").to_string()
        }
    }

    fn label_month(&self, d: NaiveDate) -> String {
        if d.year() == self.today.year() {
            d.format("%B").to_string()
        } else {
            d.format("%B %Y").to_string()
        }
    }
}

const PREPOSITIONS: &[&str] = &["on", "in", "during", "from", "over", "for", "of", "at"];

fn word(toks: &[Tok], i: usize) -> &str {
    toks.get(i).map_or("", |t| t.w.as_str())
}

/// A time phrase starting at token `i`: returns its span and the index after it.
fn phrase_at(toks: &[Tok], i: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let w = word(toks, i);
    match w {
        "since" | "after" => {
            let (x, next) = period_at(toks, i + 1, ctx, true)?;
            let label = format!("since {}", x.label);
            let start = if w == "after" { x.end } else { x.start };
            return Some((
                Span {
                    start,
                    end: Point::Day(ctx.tomorrow()?),
                    label,
                },
                next,
            ));
        }
        "before" | "until" | "till" => {
            let (x, next) = period_at(toks, i + 1, ctx, true)?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
            return Some((
                Span {
                    start: Point::Day(epoch),
                    end: x.start,
                    label: format!("before {}", x.label),
                },
                next,
            ));
        }
        "between" | "from" => {
            if let Some(found) = between(toks, i, ctx) {
                return Some(found);
            }
        }
        _ => {}
    }
    if let Some(found) = rolling(toks, i, ctx) {
        return Some(found);
    }
    if PREPOSITIONS.contains(&w)
        && let Some(found) = period_at(toks, i + 1, ctx, true)
    {
        return Some(found);
    }
    period_at(toks, i, ctx, false)
}

/// `between X and Y`, `from X to Y` (also `until`, `till`, `through`, `-`); Y may be a bare day
/// number in X's month ("between March 3 and 10").
fn between(toks: &[Tok], i: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let (x, j) = period_at(toks, i + 1, ctx, true)?;
    let joiner = word(toks, j);
    let ok = if word(toks, i) == "between" {
        joiner == "and"
    } else {
        matches!(joiner, "to" | "until" | "till" | "through" | "-" | "and")
    };
    if !ok {
        return None;
    }
    let (y, next) = match period_at(toks, j + 1, ctx, true) {
        Some(found) => found,
        None => {
            let day = day_number(word(toks, j + 1))?;
            let first = x.start_day();
            let d = NaiveDate::from_ymd_opt(first.year(), first.month(), day)?;
            (Span::days(d, plus(d, 1)?, ctx.label_day(d)), j + 2)
        }
    };
    let label = format!("{} – {}", x.label, y.label);
    Some((
        Span {
            start: x.start,
            end: y.end,
            label,
        },
        next,
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

fn unit(w: &str) -> Option<Unit> {
    Some(match w {
        "hour" | "hours" | "hr" | "hrs" => Unit::Hour,
        "day" | "days" => Unit::Day,
        "week" | "weeks" | "wk" | "wks" => Unit::Week,
        "month" | "months" => Unit::Month,
        "year" | "years" | "yr" | "yrs" => Unit::Year,
        _ => return None,
    })
}

fn count(w: &str) -> Option<u32> {
    let n = match w {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" | "several" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fourteen" => 14,
        "thirty" => 30,
        _ => w.parse().ok().filter(|n| (1..=1000).contains(n))?,
    };
    Some(n)
}

/// The rolling periods: `[in|over|within|for] [the] last|past|previous N units`, `past week`,
/// `last few days`, and `N units ago`.
fn rolling(toks: &[Tok], i: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let mut j = i;
    if matches!(word(toks, j), "in" | "over" | "within" | "for" | "during") {
        j += 1;
    }
    if word(toks, j) == "the" {
        j += 1;
    }
    let lead = word(toks, j);
    if matches!(lead, "last" | "past" | "previous") {
        // "past week" (no number) is rolling; "last week" is the calendar week (period_at).
        let (n, k) = match count(word(toks, j + 1)) {
            Some(n) => {
                let mut k = j + 2;
                if word(toks, k) == "of" {
                    k += 1; // "couple of days"
                }
                (n, k)
            }
            None if lead == "past" => (1, j + 1),
            None => return None,
        };
        let u = unit(word(toks, k))?;
        let label = if n == 1 && count(word(toks, j + 1)).is_none() {
            format!("past {}", word(toks, k))
        } else {
            format!("last {n} {}", word(toks, k))
        };
        let start = match u {
            Unit::Hour => {
                let start = ctx
                    .now
                    .checked_sub_signed(chrono::Duration::hours(i64::from(n)))?;
                let span = Span {
                    start: Point::Utc(start),
                    end: Point::Day(ctx.tomorrow()?),
                    label,
                };
                return Some((span, k + 1));
            }
            Unit::Day => minus(ctx.today, u64::from(n) - 1)?,
            Unit::Week => minus(ctx.today, u64::from(n) * 7 - 1)?,
            Unit::Month => plus(ctx.today.checked_sub_months(Months::new(n))?, 1)?,
            Unit::Year => plus(
                ctx.today
                    .checked_sub_months(Months::new(n.checked_mul(12)?))?,
                1,
            )?,
        };
        return Some((Span::days(start, ctx.tomorrow()?, label), k + 1));
    }
    // "3 days ago", "a week ago"
    let n = count(word(toks, i))?;
    let u = unit(word(toks, i + 1))?;
    if word(toks, i + 2) != "ago" {
        return None;
    }
    let span = match u {
        Unit::Hour => return None,
        Unit::Day => {
            let d = minus(ctx.today, u64::from(n))?;
            Span::days(d, plus(d, 1)?, ctx.label_day(d))
        }
        Unit::Week => {
            let monday = minus(ctx.monday()?, u64::from(n) * 7)?;
            Span::days(
                monday,
                plus(monday, 7)?,
                format!("week of {}", ctx.label_day(monday)),
            )
        }
        Unit::Month => {
            let first = first_of_month(ctx.today).checked_sub_months(Months::new(n))?;
            month_period(first, ctx)?
        }
        Unit::Year => {
            let y = ctx.today.year() - n as i32;
            year_span(y)?
        }
    };
    Some((span, i + 3))
}

/// `d` plus `n` days; `None` past the calendar's range (never a panic).
fn plus(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(n))
}

/// `d` minus `n` days; `None` past the calendar's range.
fn minus(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(n))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn year_span(y: i32) -> Option<Span> {
    let a = NaiveDate::from_ymd_opt(y, 1, 1)?;
    let b = NaiveDate::from_ymd_opt(y + 1, 1, 1)?;
    Some(Span::days(a, b, y.to_string()))
}

fn weekday(w: &str, loose: bool) -> Option<Weekday> {
    Some(match w {
        "monday" | "mondays" => Weekday::Mon,
        "tuesday" | "tuesdays" => Weekday::Tue,
        "wednesday" | "wednesdays" => Weekday::Wed,
        "thursday" | "thursdays" => Weekday::Thu,
        "friday" | "fridays" => Weekday::Fri,
        "saturday" | "saturdays" => Weekday::Sat,
        "sunday" | "sundays" => Weekday::Sun,
        // Short forms are common words too ("sun", "wed"): only after on/last/this/since.
        "mon" if loose => Weekday::Mon,
        "tue" | "tues" if loose => Weekday::Tue,
        "wed" if loose => Weekday::Wed,
        "thu" | "thur" | "thurs" if loose => Weekday::Thu,
        "fri" if loose => Weekday::Fri,
        "sat" if loose => Weekday::Sat,
        "sun" if loose => Weekday::Sun,
        _ => return None,
    })
}

fn month(w: &str) -> Option<u32> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

/// "3", "3rd", "21st" → a day of the month.
fn day_number(w: &str) -> Option<u32> {
    let digits = w
        .strip_suffix("st")
        .or_else(|| w.strip_suffix("nd"))
        .or_else(|| w.strip_suffix("rd"))
        .or_else(|| w.strip_suffix("th"))
        .unwrap_or(w);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn year_number(w: &str) -> Option<i32> {
    if w.len() != 4 {
        return None;
    }
    w.parse().ok().filter(|y| (1900..=2200).contains(y))
}

/// A named period at token `j`. `prep` says a preposition or since/between came first, which
/// admits forms that are too ambiguous alone (a bare month name, a year, short weekdays).
fn period_at(toks: &[Tok], j: usize, ctx: &Ctx, prep: bool) -> Option<(Span, usize)> {
    let w = word(toks, j);
    let next = word(toks, j + 1);
    let today = ctx.today;
    let yesterday = minus(today, 1)?;
    match w {
        "today" => return Some((Span::days(today, ctx.tomorrow()?, "today"), j + 1)),
        "tonight" => return Some((Span::hours(today, 18, 24, "tonight")?, j + 1)),
        "yesterday" => {
            let part = match next {
                "morning" => Some((0, 12)),
                "afternoon" => Some((12, 18)),
                "evening" | "night" => Some((18, 24)),
                _ => None,
            };
            return Some(match part {
                Some((a, b)) => (
                    Span::hours(yesterday, a, b, format!("yesterday {next}"))?,
                    j + 2,
                ),
                None => (Span::days(yesterday, today, "yesterday"), j + 1),
            });
        }
        "the" if next == "day" => return period_at(toks, j + 1, ctx, prep),
        "day" if next == "before" && word(toks, j + 2) == "yesterday" => {
            let d = minus(today, 2)?;
            return Some((
                Span::days(d, plus(d, 1)?, "the day before yesterday"),
                j + 3,
            ));
        }
        "the" if matches!(next, "weekend" | "weekends") => {
            return Some((recent_weekend(ctx)?, j + 2));
        }
        "weekend" if prep => return Some((recent_weekend(ctx)?, j + 1)),
        "this" | "last" | "previous" | "past" => {
            if let Some(found) = relative(toks, j, ctx) {
                return Some(found);
            }
        }
        _ => {}
    }
    // A weekday: the most recent one, today included.
    if let Some(wd) = weekday(w, prep) {
        let back = (7 + today.weekday().num_days_from_monday() - wd.num_days_from_monday()) % 7;
        let d = minus(today, u64::from(back))?;
        return Some((Span::days(d, plus(d, 1)?, ctx.label_day(d)), j + 1));
    }
    // 2026-03-03
    if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
        return Some((Span::days(d, plus(d, 1)?, ctx.label_day(d)), j + 1));
    }
    // March 3 [2026] | March [2026]
    if let Some(m) = month(w) {
        if let Some(day) = day_number(next) {
            let (year, k) = match year_number(word(toks, j + 2)) {
                Some(y) => (Some(y), j + 3),
                None => (None, j + 2),
            };
            let d = date_in_past(ctx, year, m, day)?;
            return Some((Span::days(d, plus(d, 1)?, ctx.label_day(d)), k));
        }
        if let Some(y) = year_number(next) {
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            return month_period(first, ctx).map(|s| (s, j + 2));
        }
        // A bare month name ("may", "march") is a word too: only after a preposition.
        if prep && w.len() >= 3 && !matches!(w, "mar" | "jun" | "sep" | "dec" | "jan") {
            let y = if m <= today.month() {
                today.year()
            } else {
                today.year() - 1
            };
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            return month_period(first, ctx).map(|s| (s, j + 1));
        }
        return None;
    }
    // 3 March [2026] | 3rd of March
    if let Some(day) = day_number(w) {
        let mut k = j + 1;
        if word(toks, k) == "of" {
            k += 1;
        }
        let m = month(word(toks, k))?;
        let (year, after) = match year_number(word(toks, k + 1)) {
            Some(y) => (Some(y), k + 2),
            None => (None, k + 1),
        };
        let d = date_in_past(ctx, year, m, day)?;
        return Some((Span::days(d, plus(d, 1)?, ctx.label_day(d)), after));
    }
    // in 2025
    if prep && let Some(y) = year_number(w) {
        return year_span(y).map(|s| (s, j + 1));
    }
    None
}

/// `this|last|previous|past` + week/month/year/weekend/weekday/month name.
fn relative(toks: &[Tok], j: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let lead = word(toks, j);
    let w = word(toks, j + 1);
    let this = lead == "this";
    let today = ctx.today;
    let span = match w {
        "morning" if this => Span::hours(today, 0, 12, "this morning")?,
        "afternoon" if this => Span::hours(today, 12, 18, "this afternoon")?,
        "evening" if this => Span::hours(today, 18, 24, "this evening")?,
        "night" if lead == "last" => {
            let y = minus(today, 1)?;
            Span {
                start: Point::Local(y.and_time(NaiveTime::from_hms_opt(18, 0, 0)?)),
                end: Point::Local(today.and_time(NaiveTime::from_hms_opt(6, 0, 0)?)),
                label: "last night".into(),
            }
        }
        "week" if lead != "past" => {
            let monday = ctx.monday()?;
            if this {
                Span::days(monday, plus(monday, 7)?, "this week")
            } else {
                Span::days(minus(monday, 7)?, monday, "last week")
            }
        }
        "month" if lead != "past" => {
            let first = first_of_month(today);
            let first = if this {
                first
            } else {
                first.checked_sub_months(Months::new(1))?
            };
            let mut s = month_period(first, ctx)?;
            s.label = format!("{lead} month");
            s
        }
        "year" if lead != "past" => {
            let y = if this { today.year() } else { today.year() - 1 };
            let mut s = year_span(y)?;
            s.label = format!("{lead} year");
            s
        }
        "weekend" => {
            let saturday = plus(ctx.monday()?, 5)?;
            let saturday = if this { saturday } else { minus(saturday, 7)? };
            Span::days(saturday, plus(saturday, 2)?, format!("{lead} weekend"))
        }
        _ if lead != "past" => {
            if let Some(wd) = weekday(w, true) {
                let d = if this {
                    plus(ctx.monday()?, u64::from(wd.num_days_from_monday()))?
                } else {
                    // Strictly before today.
                    let back = (7 + today.weekday().num_days_from_monday()
                        - wd.num_days_from_monday())
                        % 7;
                    minus(today, if back == 0 { 7 } else { u64::from(back) })?
                };
                Span::days(d, plus(d, 1)?, ctx.label_day(d))
            } else if let Some(m) = month(w).filter(|_| w.len() >= 3) {
                // "this March" is this year's; "last March" the most recent one before this month.
                let y = if this || m < today.month() {
                    today.year()
                } else {
                    today.year() - 1
                };
                month_period(NaiveDate::from_ymd_opt(y, m, 1)?, ctx)?
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some((span, j + 2))
}

/// The most recent weekend that has begun: this one on Saturday and Sunday, else last one.
fn recent_weekend(ctx: &Ctx) -> Option<Span> {
    let saturday = plus(ctx.monday()?, 5)?;
    let saturday = if ctx.today >= saturday {
        saturday
    } else {
        minus(saturday, 7)?
    };
    Some(Span::days(saturday, plus(saturday, 2)?, "the weekend"))
}

fn month_period(first: NaiveDate, ctx: &Ctx) -> Option<Span> {
    let next = first.checked_add_months(Months::new(1))?;
    Some(Span::days(first, next, ctx.label_month(first)))
}

/// `month`/`day` in `year`, or without a year the most recent such date not after today.
fn date_in_past(ctx: &Ctx, year: Option<i32>, month: u32, day: u32) -> Option<NaiveDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => {
            let this_year = NaiveDate::from_ymd_opt(ctx.today.year(), month, day);
            match this_year {
                Some(d) if d <= ctx.today => Some(d),
                _ => NaiveDate::from_ymd_opt(ctx.today.year() - 1, month, day)
                    // 29 Feb: the last leap year.
                    .or_else(|| {
                        (2..=8)
                            .find_map(|k| NaiveDate::from_ymd_opt(ctx.today.year() - k, month, day))
                    }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Pacific, UTC};

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
    const UTC_NOW: &str = "2026-11-18T10:30:00Z"; // Wed
    const UTC_SAT: &str = "2026-11-21T10:30:00Z"; // Sat

    type Row = (
        Tz,
        &'static str,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    /// (zone, now, text, expected [start, end) in UTC or None).
    const TABLE: &[Row] = &[
        // Asia/Kolkata (+05:30), Wed 18 Nov 2026 10:30
        (
            Asia::Kolkata,
            KOL_NOW,
            "today",
            Some(("2026-11-17T18:30:00Z", "2026-11-18T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "what did I save yesterday?",
            Some(("2026-11-16T18:30:00Z", "2026-11-17T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "this week",
            Some(("2026-11-15T18:30:00Z", "2026-11-22T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "this month",
            Some(("2026-10-31T18:30:00Z", "2026-11-30T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "last month",
            Some(("2026-09-30T18:30:00Z", "2026-10-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "this year",
            Some(("2025-12-31T18:30:00Z", "2026-12-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "last year",
            Some(("2024-12-31T18:30:00Z", "2025-12-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "last 3 days",
            Some(("2026-11-15T18:30:00Z", "2026-11-18T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "on Monday",
            Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "last Monday",
            Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "this monday",
            Some(("2026-11-15T18:30:00Z", "2026-11-16T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "dinner plans for this weekend",
            None,
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "in March",
            Some(("2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "in December",
            Some(("2025-11-30T18:30:00Z", "2025-12-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "march 2025",
            Some(("2025-02-28T18:30:00Z", "2025-03-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "last March",
            Some(("2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "on Feb 29",
            Some(("2024-02-28T18:30:00Z", "2024-02-29T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "in 2025",
            Some(("2024-12-31T18:30:00Z", "2025-12-31T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "3 days ago",
            Some(("2026-11-14T18:30:00Z", "2026-11-15T18:30:00Z")),
        ),
        (
            Asia::Kolkata,
            KOL_NOW,
            "a week ago",
            Some(("2026-11-08T18:30:00Z", "2026-11-15T18:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "last night",
            Some(("2026-11-17T12:30:00Z", "2026-11-18T00:30:00Z")),
        ),
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
        (
            Asia::Kolkata,
            KOL_NOW,
            "the sun was out and we march on",
            None,
        ),
        (Asia::Kolkata, KOL_NOW, "buy 3 apples", None),
        // America/New_York: spring forward on Sun 8 Mar 2026 (23-hour day)
        (
            America::New_York,
            NY_SPRING,
            "today",
            Some(("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")),
        ),
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
        (
            America::New_York,
            NY_FALL,
            "today",
            Some(("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")),
        ),
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
        (
            Pacific::Chatham,
            CHA_NOW,
            "today",
            Some(("2026-11-17T10:15:00Z", "2026-11-18T10:15:00Z")),
        ),
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
        (
            Pacific::Chatham,
            CHA_NOW,
            "in March",
            Some(("2026-02-28T10:15:00Z", "2026-03-31T10:15:00Z")),
        ),
        (
            Pacific::Chatham,
            CHA_NOW,
            "in June",
            Some(("2026-05-31T11:15:00Z", "2026-06-30T11:15:00Z")),
        ),
        (
            Pacific::Chatham,
            CHA_NOW,
            "since June 1",
            Some(("2026-05-31T11:15:00Z", "2026-11-18T10:15:00Z")),
        ),
        (
            Pacific::Chatham,
            CHA_DST,
            "today",
            Some(("2026-09-26T11:15:00Z", "2026-09-27T10:15:00Z")),
        ),
        // UTC
        (
            UTC,
            UTC_NOW,
            "today",
            Some(("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z")),
        ),
        (
            UTC,
            UTC_NOW,
            "last week",
            Some(("2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z")),
        ),
        (
            UTC,
            UTC_NOW,
            "between March 3 and March 10",
            Some(("2026-03-03T00:00:00Z", "2026-03-11T00:00:00Z")),
        ),
        (UTC, UTC_NOW, "this weekend", None),
        (
            UTC,
            UTC_SAT,
            "this weekend",
            Some(("2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z")),
        ),
        (
            UTC,
            UTC_SAT,
            "the weekend",
            Some(("2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z")),
        ),
        (
            UTC,
            UTC_NOW,
            "2026-11-02",
            Some(("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")),
        ),
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
        const { assert!(PHRASE_TABLE_SIZE >= 80) };
    }

    #[test]
    fn the_phrase_is_cut_out_of_the_query() {
        let now = t(KOL_NOW);
        let rest = |s: &str| parse_range(s, now, Asia::Kolkata).map(|(_, q)| q);
        assert_eq!(rest("photos from last week").as_deref(), Some("photos"));
        assert_eq!(
            rest("what did I save yesterday?").as_deref(),
            Some("what did I save?")
        );
        assert_eq!(
            rest("show me my haircut from last week").as_deref(),
            Some("show me my haircut")
        );
        assert_eq!(
            rest("What did I plan between March 3 and March 10?").as_deref(),
            Some("What did I plan?")
        );
        assert_eq!(
            rest("last week's meeting notes").as_deref(),
            Some("meeting notes")
        );
        assert_eq!(
            rest("in March, the dentist").as_deref(),
            Some("the dentist")
        );
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
        assert_eq!(
            label("between March 3 and March 10"),
            "Tue 3 Mar – Tue 10 Mar"
        );
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

    #[test]
    fn midnight_in_a_gap_moves_forward_and_overlaps_take_the_earlier() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(
            local_midnight(d, America::Santiago),
            t("2026-09-06T04:00:00Z")
        );
        // 01:30 happens twice in New York on 1 Nov 2026: the first (EDT) one.
        let ambiguous = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(
            resolve_local(ambiguous, America::New_York),
            t("2026-11-01T05:30:00Z")
        );
        // 02:30 does not exist on 8 Mar 2026: 03:00 EDT.
        let gap = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            resolve_local(gap, America::New_York),
            t("2026-03-08T07:00:00Z")
        );
    }
}
