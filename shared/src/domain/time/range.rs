//! Time phrases → half-open UTC ranges `[start, end)`, computed in the user's zone (DESIGN §7).
//!
//! The range grammar of the time engine (`super`): words from its lexer and vocabulary, and
//! days cut at *local* midnights by its one wall-clock rule (`super::wall`). So "today" on the
//! day America/New_York springs forward is 23 hours long and on the day it falls back 25.
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

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use super::lexer::{Tok, lex};
use super::vocab::{
    Part, Unit, clock_at, day_number, first_of_month, hm, minus, month, number, plus, unit,
    weekday, year_number,
};
use super::wall::{local_midnight, resolve_local};

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
    let toks = lex(text);
    let ctx = Ctx::new(now, tz);
    for i in 0..toks.len() {
        let Some((span, next)) = phrase_at(&toks, i, &ctx) else {
            continue;
        };
        let range =
            Range { start: ctx.resolve(span.start), end: ctx.resolve(span.end), label: span.label };
        if range.start > now || range.end <= range.start {
            // About the future (plans), or empty: not a filter on when things were sent.
            continue;
        }
        let rest = remove(text, toks[i].start, toks[next - 1].end);
        return Some((range, rest));
    }
    None
}

/// The text without bytes `[start, end)`, whitespace collapsed, no space before `?`/`!`/`.`/`,`.
fn remove(text: &str, start: usize, end: usize) -> String {
    let joined = format!("{} {}", &text[..start], &text[end..]);
    let mut out = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in ["?", "!", ".", ","] {
        out = out.replace(&format!(" {p}"), p);
    }
    out.trim_matches(|c: char| c == ',' || c.is_whitespace()).to_string()
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
        Span { start: Point::Day(start), end: Point::Day(end), label: label.into() }
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
        Some(Span { start: at(from)?, end: at(to)?, label: label.into() })
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
        Ctx { now, tz, today: now.with_timezone(&tz).date_naive() }
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
        minus(self.today, u64::from(self.today.weekday().num_days_from_monday()))
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

/// The word at `i` without a possessive `'s` ("last week's notes"), `""` past the end.
fn word(toks: &[Tok], i: usize) -> &str {
    toks.get(i).map_or("", Tok::stem)
}

/// A time phrase starting at token `i`: returns its span and the index after it.
fn phrase_at(toks: &[Tok], i: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let w = word(toks, i);
    match w {
        "since" | "after" => {
            if let Some(found) = since_clock(toks, i, ctx) {
                return Some(found);
            }
            let (x, next) = period_at(toks, i + 1, ctx, true)?;
            let label = format!("since {}", x.label);
            let start = if w == "after" { x.end } else { x.start };
            return Some((Span { start, end: Point::Day(ctx.tomorrow()?), label }, next));
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

/// `since 2:30am`, `after 9pm`, `since noon`, `since midnight`: from that time today to the end
/// of today. Without am/pm ("since 7:30") the later of 07:30 and 19:30 that has begun.
fn since_clock(toks: &[Tok], i: usize, ctx: &Ctx) -> Option<(Span, usize)> {
    let (clock, next) = clock_at(toks, i + 1, false)?;
    let at = |t: NaiveTime| Point::Local(ctx.today.and_time(t));
    let time = match clock.time() {
        Some(t) => t,
        None if clock.midnight => NaiveTime::MIN,
        None if clock.h == 12 => hm(12, clock.m),
        None => {
            let evening = hm(clock.h + 12, clock.m);
            if ctx.resolve(at(evening)) <= ctx.now { evening } else { hm(clock.h, clock.m) }
        }
    };
    let span = Span {
        start: at(time),
        end: Point::Day(ctx.tomorrow()?),
        label: format!("since {}", time.format("%H:%M")),
    };
    Some((span, next))
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
            let day = day_number(word(toks, j + 1), false)?;
            let first = x.start_day();
            let d = NaiveDate::from_ymd_opt(first.year(), first.month(), day)?;
            (Span::days(d, plus(d, 1)?, ctx.label_day(d)), j + 2)
        }
    };
    let label = format!("{} – {}", x.label, y.label);
    Some((Span { start: x.start, end: y.end, label }, next))
}

/// A count of units in a range phrase: 1 to 1000.
fn count(w: &str) -> Option<u32> {
    number(w).filter(|n| (1..=1000).contains(n))
}

/// A unit in a range phrase: the vocabulary's, but not the one-letter forms a reminder takes
/// ("in 2 h"), which in a question are more often initials or typos ("the past d").
fn range_unit(w: &str) -> Option<Unit> {
    unit(w).filter(|_| w.len() > 1)
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
        let u = range_unit(word(toks, k))?;
        let label = if n == 1 && count(word(toks, j + 1)).is_none() {
            format!("past {}", word(toks, k))
        } else {
            format!("last {n} {}", word(toks, k))
        };
        let start = match u {
            Unit::Minute | Unit::Hour => {
                let minutes = if u == Unit::Hour { 60 } else { 1 };
                let start = ctx
                    .now
                    .checked_sub_signed(chrono::Duration::minutes(i64::from(n) * minutes))?;
                let span =
                    Span { start: Point::Utc(start), end: Point::Day(ctx.tomorrow()?), label };
                return Some((span, k + 1));
            }
            Unit::Day => minus(ctx.today, u64::from(n) - 1)?,
            Unit::Week => minus(ctx.today, u64::from(n) * 7 - 1)?,
            Unit::Month => plus(ctx.today.checked_sub_months(Months::new(n))?, 1)?,
            Unit::Year => plus(ctx.today.checked_sub_months(Months::new(n.checked_mul(12)?))?, 1)?,
        };
        return Some((Span::days(start, ctx.tomorrow()?, label), k + 1));
    }
    // "3 days ago", "a week ago"
    let n = count(word(toks, i))?;
    let u = range_unit(word(toks, i + 1))?;
    if word(toks, i + 2) != "ago" {
        return None;
    }
    let span = match u {
        Unit::Minute | Unit::Hour => return None,
        Unit::Day => {
            let d = minus(ctx.today, u64::from(n))?;
            Span::days(d, plus(d, 1)?, ctx.label_day(d))
        }
        Unit::Week => {
            let monday = minus(ctx.monday()?, u64::from(n) * 7)?;
            Span::days(monday, plus(monday, 7)?, format!("week of {}", ctx.label_day(monday)))
        }
        Unit::Month => {
            let first = first_of_month(ctx.today).checked_sub_months(Months::new(n))?;
            month_period(first, ctx)?
        }
        Unit::Year => {
            let y = ctx.today.year().checked_sub(i32::try_from(n).ok()?)?;
            year_span(y)?
        }
    };
    Some((span, i + 3))
}

fn year_span(y: i32) -> Option<Span> {
    let a = NaiveDate::from_ymd_opt(y, 1, 1)?;
    let b = NaiveDate::from_ymd_opt(y + 1, 1, 1)?;
    Some(Span::days(a, b, y.to_string()))
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
        "tonight" => {
            let (from, to) = Part::Night.hours();
            return Some((Span::hours(today, from, to, "tonight")?, j + 1));
        }
        "yesterday" => {
            let part = Part::from_word(next).map(Part::hours);
            return Some(match part {
                Some((a, b)) => (Span::hours(yesterday, a, b, format!("yesterday {next}"))?, j + 2),
                None => (Span::days(yesterday, today, "yesterday"), j + 1),
            });
        }
        "the" if next == "day" => return period_at(toks, j + 1, ctx, prep),
        "day" if next == "before" && word(toks, j + 2) == "yesterday" => {
            let d = minus(today, 2)?;
            return Some((Span::days(d, plus(d, 1)?, "the day before yesterday"), j + 3));
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
    if let Some((wd, _)) = weekday(w, prep) {
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
        if let Some(day) = day_number(next, false) {
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
            let y = if m <= today.month() { today.year() } else { today.year() - 1 };
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            return month_period(first, ctx).map(|s| (s, j + 1));
        }
        return None;
    }
    // 3 March [2026] | 3rd of March
    if let Some(day) = day_number(w, false) {
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
        "morning" | "afternoon" | "evening" if this => {
            let (from, to) = Part::from_word(w)?.hours();
            Span::hours(today, from, to, format!("this {w}"))?
        }
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
            let first = if this { first } else { first.checked_sub_months(Months::new(1))? };
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
            if let Some((wd, _)) = weekday(w, true) {
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
                let y = if this || m < today.month() { today.year() } else { today.year() - 1 };
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
    let saturday = if ctx.today >= saturday { saturday } else { minus(saturday, 7)? };
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
mod tests;
