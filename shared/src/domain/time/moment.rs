//! The moment grammar of the time engine (`super`): "remind me to call mom tomorrow at 3pm" →
//! what, and when (UTC), read in the user's zone; repeats become a [`Recurrence`].
//!
//! Words come from the engine's lexer and vocabulary, and every local time becomes an instant
//! by its one wall-clock rule (`super::wall`). The time phrase may stand anywhere in the text;
//! what is left (minus a leading "to"/"that"/"about") is the reminder's text.
//!
//! Understood: `in 2 hours`, `in 30 min`, `in half an hour`, `in 3 days`, `today`, `tonight`,
//! `tomorrow`, `the day after tomorrow`, `[on|this|next] Friday`, `Dec 3`, `3 December 2026`,
//! `on the 1st`, `2026-12-03`, `3/12` (day and month only when unambiguous), `at 15:00`,
//! `3pm`, `3:30 pm`, `at 9`, `noon`, `midnight`, `morning`/`afternoon`/`evening`/`night`, and
//! repeats: `every day|morning|evening at …`, `daily`, `every weekday`, `every Monday`,
//! `every week`, `every month on the 1st`.
//!
//! Rules, so nothing is silently guessed:
//! - **No time phrase at all** → a question back ("When should I remind you?").
//! - **A day without a time** → 09:00 that day (or the part of day's default: morning 09:00,
//!   afternoon 15:00, evening 18:00, tonight/night 20:00), and the reply says so. "today" whose
//!   09:00 has passed → a question back.
//! - **A bare hour** ("at 5", "at 9:30") with no am/pm, 24-hour form or part of day:
//!   - today (said or implied): if only one of 05:00/17:00 is still ahead, that one; if both
//!     are ahead → a question back ("05:00 or 17:00?"); if neither → a past-time question.
//!   - another day: waking hours decide (7–11 → morning, 12 → noon, 1–6 → afternoon/evening),
//!     and the reply says how it was read. Written with a leading zero (`09:00`) it is 24-hour.
//! - **Past times** ("today at 8am" at 10:00, "at 7:00" after 7:00 today) → a question back
//!   offering the next such time; never rolled forward silently. A date without a year that
//!   already passed this year means next year; a weekday means the next one (today if the
//!   time is still ahead). "next Monday" is the first Monday after today.
//! - `midnight` is the end of the day named ("tonight at midnight" = 00:00 tomorrow).
//! - **DST**: the engine's one rule (`super::wall`): a wall time skipped by spring-forward
//!   moves forward by the gap (02:30 → 03:30 in New York); a doubled one (fall-back) is the
//!   earlier instant.
//! - `in N minutes/hours` counts real time; `in N days/weeks/months` counts calendar days in
//!   the user's zone and keeps the current wall-clock time unless a time is given.
//! - Two different times or days in one request → a question back.
//! - **Too far ahead**: anything due more than [`MAX_AHEAD_DAYS`] days from now ("in 100000000
//!   days", "in 4000000000 hours") → a question back naming the limit. Every number read from
//!   the text is bounded and every date computation is checked: no input can panic.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::lexer::{Tok, lex, word as w};
use super::recurrence::{Every, Recurrence};
use super::vocab::{
    Clock, Part, Unit, clock_at, day_number, hm, local_label, month as month_number, month_name,
    number, unit, weekday, year_number,
};
use super::wall::resolve_local;

/// `time` on `date` in `tz`, by the engine's one wall-clock rule.
fn resolve_wall(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    resolve_local(date.and_time(time), tz)
}

/// How far ahead a reminder may be due (about ten years).
pub const MAX_AHEAD_DAYS: i64 = 3653;

/// The latest instant a reminder made at `now` may be due.
pub fn horizon(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_signed(chrono::Duration::days(MAX_AHEAD_DAYS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a reminder is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    Once(DateTime<Utc>),
    Repeat { rule: Recurrence, first: DateTime<Utc> },
}

impl When {
    /// The first (or only) time it is due.
    pub fn due(&self) -> DateTime<Utc> {
        match self {
            When::Once(t) => *t,
            When::Repeat { first, .. } => *first,
        }
    }

    pub fn rule(&self) -> Option<Recurrence> {
        match self {
            When::Once(_) => None,
            When::Repeat { rule, .. } => Some(*rule),
        }
    }
}

/// A request understood: when, what, and how anything not said was filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub when: When,
    pub what: String,
    /// e.g. "no time given, so 09:00" — shown with the confirmation.
    pub notes: Vec<String>,
}

/// Why a request gets a question back instead of a reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No time phrase found.
    NoTime,
    /// A time but nothing to be reminded of.
    NoText,
    /// "today" with no time, and the default 09:00 has passed.
    NoTimeToday,
    /// The time has passed; `next` is the same wall time on the next day (or week) it exists.
    Past { at: DateTime<Utc>, next: Option<DateTime<Utc>> },
    /// A bare hour with both readings still ahead today.
    AmbiguousHour { morning: DateTime<Utc>, evening: DateTime<Utc> },
    /// `3/4`: 3 April or March 4?
    AmbiguousDate { first: NaiveDate, second: NaiveDate },
    /// Two times or days in one request.
    Conflict,
    /// A date that does not exist ("30 February").
    Invalid(String),
    /// Due more than [`MAX_AHEAD_DAYS`] days from now.
    TooFar,
}

impl Problem {
    /// The question sent back on WhatsApp.
    pub fn question(&self, tz: Tz) -> String {
        const EXAMPLES: &str = "e.g. */remind tomorrow 9am call mom*, *remind me in 2 hours to check the oven* or *remind me every Monday at 8am to put the bins out*";
        match self {
            Problem::NoTime => format!("⏰ When should I remind you? Please say when, {EXAMPLES}."),
            Problem::NoText => {
                format!("⏰ What should I remind you about? Please say what, {EXAMPLES}.")
            }
            Problem::NoTimeToday => {
                "⏰ What time today? e.g. *remind me to call mom today at 6pm*.".to_string()
            }
            Problem::Past { at, next } => {
                let mut s = format!("🤔 *{}* has already passed. ", local_label(*at, tz));
                match next {
                    Some(n) => s.push_str(&format!(
                        "Did you mean *{}*? Send it again with that day.",
                        local_label(*n, tz)
                    )),
                    None => s.push_str("Please send it again with a time that's still ahead."),
                }
                s
            }
            Problem::AmbiguousHour { morning, evening } => format!(
                "🤔 Did you mean *{}* or *{}*? Send it again with am/pm or a 24-hour time, e.g. *at 5pm* or *at 17:00*.",
                local_label(*morning, tz),
                local_label(*evening, tz)
            ),
            Problem::AmbiguousDate { first, second } => format!(
                "🤔 Did you mean *{}* or *{}*? Please write the month as a word, e.g. *3 Dec* or *Dec 3*.",
                first.format("%a %-d %b %Y"),
                second.format("%a %-d %b %Y")
            ),
            Problem::Conflict => format!(
                "🤔 I found more than one time in that. Please give me just one, {EXAMPLES}."
            ),
            Problem::Invalid(what) => {
                format!("🤔 {what}. Please check the date and send it again.")
            }
            Problem::TooFar => format!(
                "🤔 That's too far ahead: I can remind you up to {} years from now. Please send it again with a nearer time.",
                MAX_AHEAD_DAYS / 365
            ),
        }
    }
}

/// The request part of a natural message: everything after "remind me", "set a reminder",
/// "reminder:", "don't let me forget" (so "please remind me …" works); the whole text when
/// none is present (e.g. `/remind` arguments).
pub fn strip_request(text: &str) -> &str {
    let lower = text.to_lowercase();
    for marker in [
        "remind me",
        "remind us",
        "set a reminder",
        "set reminder",
        "reminder:",
        "reminder",
        "don't let me forget",
        "dont let me forget",
        "don’t let me forget",
    ] {
        if let Some(i) = lower.find(marker) {
            // `to_lowercase` may change byte lengths outside ASCII; the markers are ASCII, so
            // map back by character count.
            let chars = lower[..i + marker.len()].chars().count();
            let byte = text.char_indices().nth(chars).map_or(text.len(), |(b, _)| b);
            return text[byte..].trim();
        }
    }
    text.trim()
}

/// Reads a reminder request (without "remind me") at `now` in `tz`.
pub fn parse(text: &str, now: DateTime<Utc>, tz: Tz) -> Result<Parsed, Problem> {
    let (when, what, notes) = read(text, now, tz)?;
    if what.is_empty() {
        return Err(Problem::NoText);
    }
    Ok(Parsed { when, what, notes })
}

/// Reads a time phrase alone (the REST API's `when`); `Err(None)` when words other than the
/// time were left over, e.g. `"tomorrow at 3pm please"` is fine but `"tomorrow dinner"` is not.
pub fn parse_when(
    phrase: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(When, Vec<String>), Option<Problem>> {
    let (when, rest, notes) = read(phrase, now, tz).map_err(Some)?;
    if rest.is_empty() { Ok((when, notes)) } else { Err(None) }
}

fn read(text: &str, now: DateTime<Utc>, tz: Tz) -> Result<(When, String, Vec<String>), Problem> {
    // Dashes separate nothing in a reminder: "call mom - tomorrow 9am".
    let toks: Vec<Tok> = lex(text).into_iter().filter(|t| !t.is_dash()).collect();
    let mut used = vec![false; toks.len()];
    let mut parts = Parts::default();
    let mut i = 0;
    let mut after_time_word = false;
    while i < toks.len() {
        match component_at(&toks, i, after_time_word) {
            Some((comps, next)) => {
                for c in comps {
                    parts.add(c)?;
                }
                used[i..next].iter_mut().for_each(|u| *u = true);
                i = next;
                after_time_word = true;
            }
            None => {
                i += 1;
                after_time_word = false;
            }
        }
    }
    let what = leftover(text, &toks, &used);
    let mut notes = Vec::new();
    let when = parts.resolve(now, tz, &mut notes)?;
    Ok((when, what, notes))
}

/// The text not used by time phrases, without leading "to"/"that"/… and trailing prepositions.
fn leftover(text: &str, toks: &[Tok], used: &[bool]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for (t, u) in toks.iter().zip(used) {
        if !u {
            words.push(&text[t.start..t.end]);
        }
    }
    const LEAD: &[&str] = &[
        "to", "that", "about", "for", "of", "please", "pls", "me", "i", "need", "should", "-", ":",
    ];
    const TRAIL: &[&str] = &["at", "on", "in", "by", "for", "please", "-", "and"];
    while let Some(first) = words.first() {
        if LEAD.contains(&first.to_lowercase().as_str()) && words.len() > 1 {
            words.remove(0);
        } else {
            break;
        }
    }
    while let Some(last) = words.last() {
        if TRAIL.contains(&last.to_lowercase().as_str()) {
            words.pop();
        } else {
            break;
        }
    }
    // A lone leading "to" is not a reminder text either.
    if words.len() == 1 && LEAD.contains(&words[0].to_lowercase().as_str()) {
        words.clear();
    }
    words.join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    Today,
    Tomorrow,
    InDays(u32),
    InMonths(u32),
    Weekday {
        day: Weekday,
        next: bool,
    },
    Date {
        month: u32,
        day: u32,
        year: Option<i32>,
    },
    /// `3/12`: two numbers, order unknown unless one is over 12.
    Numeric {
        a: u32,
        b: u32,
        year: Option<i32>,
    },
    /// `on the 3rd`.
    OfMonth(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Day,
    Weekday,
    /// None: the weekday of the first occurrence (today).
    Week(Option<Weekday>),
    /// None: today's day of the month.
    Month(Option<u32>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comp {
    Day(Day),
    Clock(Clock),
    Part(Part),
    Offset(chrono::Duration),
    Repeat(Repeat),
}

#[derive(Default)]
struct Parts {
    day: Option<Day>,
    clock: Option<Clock>,
    part: Option<Part>,
    offset: Option<chrono::Duration>,
    repeat: Option<Repeat>,
}

fn set<T: PartialEq>(slot: &mut Option<T>, v: T) -> Result<(), Problem> {
    match slot {
        Some(old) if *old != v => Err(Problem::Conflict),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

/// How an hour reads.
enum Reading {
    Exact(NaiveTime),
    /// A bare hour: (morning, afternoon/evening) readings.
    Either(NaiveTime, NaiveTime),
    /// 00:00 at the end of the day.
    Midnight,
}

impl Parts {
    fn add(&mut self, c: Comp) -> Result<(), Problem> {
        match c {
            Comp::Day(d) => set(&mut self.day, d),
            Comp::Clock(c) => set(&mut self.clock, c),
            Comp::Part(p) => set(&mut self.part, p),
            Comp::Offset(d) => set(&mut self.offset, d),
            Comp::Repeat(r) => set(&mut self.repeat, r),
        }
    }

    fn reading(&self) -> Option<Reading> {
        let Some(c) = self.clock else {
            return self.part.map(|p| Reading::Exact(p.default_time()));
        };
        if c.midnight {
            return Some(Reading::Midnight);
        }
        if let Some(t) = c.time() {
            return Some(Reading::Exact(t));
        }
        let (am, pm) = (hm(c.h % 12, c.m), hm(c.h % 12 + 12, c.m));
        Some(match self.part {
            Some(Part::Morning) => Reading::Exact(am),
            Some(Part::Night) if c.h == 12 => Reading::Midnight,
            Some(_) => Reading::Exact(if c.h == 12 { hm(12, c.m) } else { pm }),
            None if c.h == 12 => Reading::Exact(hm(12, c.m)),
            None => Reading::Either(am, pm),
        })
    }

    fn resolve(
        &self,
        now: DateTime<Utc>,
        tz: Tz,
        notes: &mut Vec<String>,
    ) -> Result<When, Problem> {
        let today = now.with_timezone(&tz).date_naive();
        if let Some(off) = self.offset {
            if self.day.is_some() || self.clock.is_some() || self.repeat.is_some() {
                return Err(Problem::Conflict);
            }
            return now
                .checked_add_signed(off)
                .filter(|t| *t <= horizon(now))
                .map(When::Once)
                .ok_or(Problem::TooFar);
        }
        if let Some(rep) = self.repeat {
            if self.day.is_some() {
                return Err(Problem::Conflict);
            }
            let at = match self.reading() {
                Some(Reading::Exact(t)) => t,
                Some(Reading::Midnight) => NaiveTime::MIN,
                Some(Reading::Either(am, pm)) => waking(am, pm, notes),
                None => {
                    notes.push("no time given, so 09:00".into());
                    hm(9, 0)
                }
            };
            let every = match rep {
                Repeat::Day => Every::Day,
                Repeat::Weekday => Every::Weekday,
                Repeat::Week(w) => Every::Week(w.unwrap_or(today.weekday())),
                Repeat::Month(n) => Every::Month(n.unwrap_or(today.day())),
            };
            let rule = Recurrence { every, at };
            return Ok(When::Repeat { rule, first: rule.next_after(now, tz) });
        }
        let reading = self.reading();
        let day = match (self.day, &reading) {
            (None, None) => return Err(Problem::NoTime),
            (None, _) => None,
            (Some(Day::Today), _) => None,
            (Some(d), _) => Some(d),
        };
        let said_today = self.day == Some(Day::Today);
        let Some(day) = day else {
            // Today, said or implied.
            let at = |t: NaiveTime| resolve_wall(today, t, tz);
            let tomorrow = today.succ_opt().ok_or(Problem::TooFar)?;
            return match reading {
                None => {
                    // "today" alone: 09:00 if still ahead.
                    let t = at(hm(9, 0));
                    if t > now {
                        notes.push("no time given, so 09:00".into());
                        Ok(When::Once(t))
                    } else {
                        Err(Problem::NoTimeToday)
                    }
                }
                Some(Reading::Midnight) => {
                    Ok(When::Once(resolve_wall(tomorrow, NaiveTime::MIN, tz)))
                }
                Some(Reading::Exact(t)) => {
                    let when = at(t);
                    if when > now {
                        if self.clock.is_none() {
                            notes.push(format!("no time given, so {}", t.format("%H:%M")));
                        }
                        Ok(When::Once(when))
                    } else if self.clock.is_none() && !said_today && self.part.is_some() {
                        // "in the morning" said in the evening: tomorrow morning.
                        notes.push(format!("no time given, so {}", t.format("%H:%M")));
                        Ok(When::Once(resolve_wall(tomorrow, t, tz)))
                    } else {
                        Err(Problem::Past { at: when, next: Some(resolve_wall(tomorrow, t, tz)) })
                    }
                }
                Some(Reading::Either(am, pm)) => {
                    let (a, p) = (at(am), at(pm));
                    match (a > now, p > now) {
                        (true, true) => Err(Problem::AmbiguousHour { morning: a, evening: p }),
                        (false, true) => Ok(When::Once(p)),
                        (true, false) => Ok(When::Once(a)),
                        (false, false) => {
                            let mut ignore = Vec::new();
                            Err(Problem::Past {
                                at: p,
                                next: Some(resolve_wall(tomorrow, waking(am, pm, &mut ignore), tz)),
                            })
                        }
                    }
                }
            };
        };
        // Another day.
        let (time, end_of_day) = match reading {
            // "in 3 days": the same wall-clock time then.
            None if matches!(day, Day::InDays(_) | Day::InMonths(_)) => {
                use chrono::Timelike;
                let t = now.with_timezone(&tz).time();
                (hm(t.hour(), t.minute()), false)
            }
            None => {
                notes.push("no time given, so 09:00".into());
                (hm(9, 0), false)
            }
            Some(Reading::Exact(t)) => {
                if self.clock.is_none() {
                    notes.push(format!("no time given, so {}", t.format("%H:%M")));
                }
                (t, false)
            }
            Some(Reading::Either(am, pm)) => (waking(am, pm, notes), false),
            Some(Reading::Midnight) => (NaiveTime::MIN, true),
        };
        let instant = |d: NaiveDate| -> Result<DateTime<Utc>, Problem> {
            let d = if end_of_day { d.succ_opt().ok_or(Problem::TooFar)? } else { d };
            Ok(resolve_wall(d, time, tz))
        };
        let after = |d: NaiveDate, n: u64| d.checked_add_days(Days::new(n)).ok_or(Problem::TooFar);
        let date = match day {
            Day::Today => today,
            Day::Tomorrow => after(today, 1)?,
            Day::InDays(n) if i64::from(n) > MAX_AHEAD_DAYS => return Err(Problem::TooFar),
            Day::InDays(n) => after(today, u64::from(n))?,
            Day::InMonths(n) if i64::from(n) > MAX_AHEAD_DAYS / 28 => {
                return Err(Problem::TooFar);
            }
            Day::InMonths(n) => today.checked_add_months(Months::new(n)).ok_or(Problem::TooFar)?,
            Day::Weekday { day, next } => {
                let ahead =
                    (7 + day.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
                let d = after(today, u64::from(ahead))?;
                if ahead == 0 && (next || instant(d)? <= now) { after(d, 7)? } else { d }
            }
            Day::Date { month, day, year } => {
                let make = |y: i32| NaiveDate::from_ymd_opt(y, month, day);
                let next_year = |y: i32| y.checked_add(1).and_then(make);
                let y = year.unwrap_or(today.year());
                let Some(d) = make(y).or_else(|| next_year(y).filter(|_| year.is_none())) else {
                    return Err(Problem::Invalid(format!(
                        "There's no {} {}",
                        day,
                        month_name(month)
                    )));
                };
                if year.is_none() && d < today {
                    next_year(y).ok_or_else(|| {
                        Problem::Invalid(format!("There's no {} {}", day, month_name(month)))
                    })?
                } else {
                    d
                }
            }
            Day::Numeric { a, b, year } => {
                let y = year.unwrap_or(today.year());
                let dm = NaiveDate::from_ymd_opt(y, b, a);
                let md = NaiveDate::from_ymd_opt(y, a, b);
                let d = match (dm, md) {
                    (Some(x), Some(z)) if x != z => {
                        return Err(Problem::AmbiguousDate { first: x, second: z });
                    }
                    (Some(x), _) | (None, Some(x)) => x,
                    (None, None) => {
                        return Err(Problem::Invalid(format!("There's no date {a}/{b}")));
                    }
                };
                if year.is_none() && d < today {
                    y.checked_add(1).and_then(|y| d.with_year(y)).unwrap_or(d)
                } else {
                    d
                }
            }
            Day::OfMonth(n) => {
                let mut first =
                    NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
                let mut found = None;
                for _ in 0..13 {
                    if let Some(d) = first.with_day(n)
                        && d >= today
                    {
                        found = Some(d);
                        break;
                    }
                    first = first.checked_add_months(Months::new(1)).ok_or(Problem::TooFar)?;
                }
                found.ok_or_else(|| Problem::Invalid(format!("There's no day {n}")))?
            }
        };
        let when = instant(date)?;
        if when <= now {
            let next = match day {
                Day::Weekday { .. } => Some(instant(after(date, 7)?)?),
                _ => None,
            };
            return Err(Problem::Past { at: when, next });
        }
        if when > horizon(now) {
            return Err(Problem::TooFar);
        }
        Ok(When::Once(when))
    }
}

/// A bare hour on a day other than today: waking hours decide (7–11 morning, 1–6 afternoon or
/// evening); the reply says how it was read.
fn waking(am: NaiveTime, pm: NaiveTime, notes: &mut Vec<String>) -> NaiveTime {
    use chrono::Timelike;
    let h = am.hour();
    let (pick, other) = if (7..=11).contains(&h) { (am, pm) } else { (pm, am) };
    notes.push(format!(
        "I read {} as {}; say *{}* if you meant {}",
        bare(am),
        pick.format("%H:%M"),
        other.format("%H:%M"),
        if other == am { "the morning" } else { "the evening" }
    ));
    pick
}

fn bare(t: NaiveTime) -> String {
    use chrono::Timelike;
    let h = if t.hour() == 0 { 12 } else { t.hour() };
    if t.minute() == 0 { h.to_string() } else { format!("{h}:{:02}", t.minute()) }
}

// ---------------------------------------------------------------------------------------------
// Matchers. Each looks at token `i` and returns the components found and the index after them.

fn amount(n: u32, u: Unit) -> Comp {
    match u {
        Unit::Minute => Comp::Offset(chrono::Duration::minutes(i64::from(n))),
        Unit::Hour => Comp::Offset(chrono::Duration::hours(i64::from(n))),
        Unit::Day => Comp::Day(Day::InDays(n)),
        Unit::Week => Comp::Day(Day::InDays(n.saturating_mul(7))),
        Unit::Month => Comp::Day(Day::InMonths(n)),
        Unit::Year => Comp::Day(Day::InMonths(n.saturating_mul(12))),
    }
}

/// A date: `Dec 3`, `December 3rd 2026`, `3 Dec`, `3rd of December`, `2026-12-03`, and with
/// `numeric` (after "on", so "1/2 kg" is not a date) `3/12`.
fn date_at(toks: &[Tok], i: usize, numeric: bool) -> Option<(Day, usize)> {
    let word = w(toks, i);
    // ISO.
    if word.len() == 10 && word.as_bytes()[4] == b'-' && word.as_bytes()[7] == b'-' {
        let d = NaiveDate::parse_from_str(word, "%Y-%m-%d").ok()?;
        return Some((Day::Date { month: d.month(), day: d.day(), year: Some(d.year()) }, i + 1));
    }
    // Numeric day/month.
    if let Some((a, rest)) = word.split_once('/').filter(|_| numeric) {
        let (b, y) = match rest.split_once('/') {
            Some((b, y)) => (b, Some(y)),
            None => (rest, None),
        };
        let num = |s: &str| {
            (!s.is_empty() && s.len() <= 2 && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        let (a, b) = (num(a)?, num(b)?);
        let year = match y {
            Some(y) => Some(year_number(y)?),
            None => None,
        };
        if a == 0 || b == 0 || (a > 12 && b > 12) {
            return None;
        }
        return Some((Day::Numeric { a, b, year }, i + 1));
    }
    let year_after = |j: usize| match year_number(w(toks, j)) {
        Some(y) => (Some(y), j + 1),
        None => (None, j),
    };
    // Month first.
    if let Some(month) = month_number(word) {
        let d = day_number(w(toks, i + 1), false)?;
        let (year, next) = year_after(i + 2);
        return Some((Day::Date { month, day: d, year }, next));
    }
    // Day first.
    let d = day_number(word, false)?;
    let mut j = i + 1;
    if w(toks, j) == "of" {
        j += 1;
    }
    let month = month_number(w(toks, j))?;
    let (year, next) = year_after(j + 1);
    Some((Day::Date { month, day: d, year }, next))
}

/// Everything that can start at token `i`. `after_time` says the previous token ended a time
/// phrase, which admits a bare number ("tomorrow 9") and a bare part of day ("tomorrow morning").
fn component_at(toks: &[Tok], i: usize, after_time: bool) -> Option<(Vec<Comp>, usize)> {
    let word = w(toks, i);
    let next = w(toks, i + 1);
    let one = |c: Comp, n: usize| Some((vec![c], n));
    match word {
        "every" | "each" => return repeat_at(toks, i + 1),
        "daily" => return one(Comp::Repeat(Repeat::Day), i + 1),
        "weekdays" => return one(Comp::Repeat(Repeat::Weekday), i + 1),
        "today" => return one(Comp::Day(Day::Today), i + 1),
        "tonight" => {
            return Some((vec![Comp::Day(Day::Today), Comp::Part(Part::Night)], i + 1));
        }
        "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" | "tommorrow" => {
            return one(Comp::Day(Day::Tomorrow), i + 1);
        }
        "day" if next == "after" && w(toks, i + 2) == "tomorrow" => {
            return one(Comp::Day(Day::InDays(2)), i + 3);
        }
        "the" if next == "day" && w(toks, i + 2) == "after" && w(toks, i + 3) == "tomorrow" => {
            return one(Comp::Day(Day::InDays(2)), i + 4);
        }
        "at" | "@" | "by" | "around" => {
            if let Some((c, n)) = clock_at(toks, i + 1, true) {
                return one(Comp::Clock(c), n);
            }
            return None;
        }
        "in" | "within" => {
            if next == "the"
                && let Some(p) = Part::from_word(w(toks, i + 2))
            {
                return one(Comp::Part(p), i + 3);
            }
            if next == "half" {
                let j = if matches!(w(toks, i + 2), "an" | "a") { i + 3 } else { i + 2 };
                if w(toks, j) == "hour" {
                    return one(Comp::Offset(chrono::Duration::minutes(30)), j + 1);
                }
                return None;
            }
            if let Some(n) = number(next) {
                let mut j = i + 2;
                if next == "a" && w(toks, j) == "few" {
                    j += 1;
                }
                if let Some(u) = unit(w(toks, j)) {
                    return one(amount(n, u), j + 1);
                }
                return None;
            }
            // "in 2h", "in 30min".
            let split = next.find(|c: char| !c.is_ascii_digit()).unwrap_or(next.len());
            if split > 0
                && let (Ok(n), Some(u)) = (next[..split].parse::<u32>(), unit(&next[split..]))
            {
                return one(amount(n, u), i + 2);
            }
            return None;
        }
        "this" => {
            if let Some(p) = Part::from_word(next) {
                return Some((vec![Comp::Day(Day::Today), Comp::Part(p)], i + 2));
            }
        }
        _ => {}
    }
    // Weekdays, with an optional lead word that also admits abbreviations.
    let (lead, j) = match word {
        "on" | "this" | "coming" => (Some(false), i + 1),
        "next" => (Some(true), i + 1),
        _ => (None, i),
    };
    let j = if w(toks, j) == "coming" { j + 1 } else { j };
    if let Some((day, plural)) = weekday(w(toks, j), lead.is_some()) {
        if plural && lead.is_some() {
            return one(Comp::Repeat(Repeat::Week(Some(day))), j + 1);
        }
        return one(Comp::Day(Day::Weekday { day, next: lead == Some(true) }), j + 1);
    }
    // Dates, optionally after "on" / "on the" / "the".
    let mut j = i;
    if w(toks, j) == "on" {
        j += 1;
    }
    if w(toks, j) == "the" {
        if let Some(n) = day_number(w(toks, j + 1), true) {
            if let Some((d, end)) = date_at(toks, j + 1, false) {
                return one(Comp::Day(d), end);
            }
            return one(Comp::Day(Day::OfMonth(n)), j + 2);
        }
        return None;
    }
    if let Some((d, end)) = date_at(toks, j, j > i) {
        return one(Comp::Day(d), end);
    }
    if word == "on" && w(toks, i + 1) == "weekdays" {
        return one(Comp::Repeat(Repeat::Weekday), i + 2);
    }
    // A time written as a time (3pm, 15:00), or a bare number right after a day.
    if let Some((c, n)) = clock_at(toks, i, after_time) {
        return one(Comp::Clock(c), n);
    }
    if after_time && let Some(p) = Part::from_word(word) {
        return one(Comp::Part(p), i + 1);
    }
    None
}

/// After "every": `day`, `morning`, `weekday`, `Monday`, `week`, `month [on the 1st]`,
/// `1st of the month`.
fn repeat_at(toks: &[Tok], i: usize) -> Option<(Vec<Comp>, usize)> {
    let word = w(toks, i);
    let one = |r: Repeat, n: usize| Some((vec![Comp::Repeat(r)], n));
    if let Some(p) = Part::from_word(word) {
        return Some((vec![Comp::Repeat(Repeat::Day), Comp::Part(p)], i + 1));
    }
    match word {
        "day" => return one(Repeat::Day, i + 1),
        "weekday" | "weekdays" | "workday" | "workdays" => return one(Repeat::Weekday, i + 1),
        "week" => {
            if w(toks, i + 1) == "on"
                && let Some((d, _)) = weekday(w(toks, i + 2), true)
            {
                return one(Repeat::Week(Some(d)), i + 3);
            }
            return one(Repeat::Week(None), i + 1);
        }
        "month" => {
            let mut j = i + 1;
            if w(toks, j) == "on" {
                j += 1;
            }
            if w(toks, j) == "the" {
                j += 1;
            }
            if let Some(n) = day_number(w(toks, j), false) {
                return one(Repeat::Month(Some(n)), j + 1);
            }
            return one(Repeat::Month(None), i + 1);
        }
        _ => {}
    }
    if let Some((d, _)) = weekday(word, true) {
        return one(Repeat::Week(Some(d)), i + 1);
    }
    // "every 1st of the month".
    if let Some(n) = day_number(word, true) {
        let mut j = i + 1;
        for filler in ["of", "the"] {
            if w(toks, j) == filler {
                j += 1;
            }
        }
        if w(toks, j) == "month" {
            return one(Repeat::Month(Some(n)), j + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests;
