//! The one vocabulary both grammars read: months, weekdays, days of the month, years, numbers
//! (as digits and as words), units, parts of the day and clock times; the words the replies
//! write (month and weekday names, ordinals, local labels); and checked calendar steps.
//!
//! Every number read here is bounded by its type or its range, and every date step is checked
//! (`None` past the calendar's ends), so no text can make a grammar panic.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::lexer::{Tok, word};

/// `january`/`jan` … `december`/`dec` → 1–12.
pub fn month(w: &str) -> Option<u32> {
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

/// 1 → "January"; "?" outside 1–12.
pub fn month_name(m: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES.get(m.saturating_sub(1) as usize).copied().unwrap_or("?")
}

/// A weekday name, and whether it was plural ("mondays"). `short` also admits the
/// abbreviations, which are common words too ("sun", "wed"), so a grammar allows them only
/// after a lead word (on, last, this, next, since, every).
pub fn weekday(w: &str, short: bool) -> Option<(Weekday, bool)> {
    let (stem, plural) = match w.strip_suffix('s') {
        Some(s) if s.ends_with("day") => (s, true),
        _ => (w, false),
    };
    let day = match stem {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ if short => match w {
            "mon" => Weekday::Mon,
            "tue" | "tues" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" | "thur" | "thurs" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return None,
        },
        _ => return None,
    };
    Some((day, plural))
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

/// "3", "3rd", "21st" → a day of the month, 1–31; `suffix` requires the ordinal ending.
pub fn day_number(w: &str, suffix: bool) -> Option<u32> {
    let stripped = ["st", "nd", "rd", "th"].iter().find_map(|s| w.strip_suffix(s));
    let digits = match stripped {
        Some(d) => d,
        None if suffix => return None,
        None => w,
    };
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

/// A four-digit year, 1900–2200.
pub fn year_number(w: &str) -> Option<i32> {
    if w.len() != 4 {
        return None;
    }
    w.parse().ok().filter(|y| (1900..=2200).contains(y))
}

/// A count written as digits (any `u32`; each grammar bounds it further) or as a word: `a`,
/// `one` … `twelve`, `fourteen`, `fifteen`, `twenty`, `thirty`, `forty`, `forty-five`, `fifty`,
/// and the loose ones, `couple` (2), `few` (3), `several` (7).
pub fn number(w: &str) -> Option<u32> {
    if let Ok(n) = w.parse::<u32>() {
        return Some(n);
    }
    Some(match w {
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
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "forty-five" => 45,
        "fifty" => 50,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// `min`/`minutes` (`m`), `hr`/`hours` (`h`), `days` (`d`), `wk`/`weeks` (`w`), `months`,
/// `yr`/`years`.
pub fn unit(w: &str) -> Option<Unit> {
    Some(match w {
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
        "month" | "months" => Unit::Month,
        "year" | "years" | "yr" | "yrs" => Unit::Year,
        _ => return None,
    })
}

/// A part of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl Part {
    pub fn from_word(w: &str) -> Option<Part> {
        Some(match w {
            "morning" => Part::Morning,
            "afternoon" => Part::Afternoon,
            "evening" => Part::Evening,
            "night" => Part::Night,
            _ => return None,
        })
    }

    /// When a reminder for this part of the day is due if no time is said.
    pub fn default_time(self) -> NaiveTime {
        hm(
            match self {
                Part::Morning => 9,
                Part::Afternoon => 15,
                Part::Evening => 18,
                Part::Night => 20,
            },
            0,
        )
    }

    /// The hours it covers on its day, `[from, to)`, 24 being the next midnight.
    pub fn hours(self) -> (u32, u32) {
        match self {
            Part::Morning => (0, 12),
            Part::Afternoon => (12, 18),
            Part::Evening | Part::Night => (18, 24),
        }
    }
}

/// A clock time as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub h: u32,
    pub m: u32,
    /// Some(true) = pm.
    pub pm: Option<bool>,
    /// Written as a 24-hour time (13–23, 0, or a leading zero).
    pub h24: bool,
    pub midnight: bool,
}

impl Clock {
    /// The time of day when the writing leaves no doubt: am/pm said (`3pm`, `12am`) or a
    /// 24-hour form (`15:00`, `09:00`, `noon`); `None` for a bare hour ("at 5") or midnight,
    /// which each grammar reads in its own way.
    pub fn time(self) -> Option<NaiveTime> {
        if self.midnight {
            return None;
        }
        match self.pm {
            Some(pm) => Some(hm(self.h % 12 + if pm { 12 } else { 0 }, self.m)),
            None if self.h24 => Some(hm(self.h, self.m)),
            None => None,
        }
    }
}

/// A clock time in one word (`3pm`, `15:00`, `7.30am`, `noon`, `midnight`) or a number followed
/// by `am`/`pm`/`o'clock`. `bare` admits a lone number ("at 9"). Returns the index after it.
pub fn clock_at(toks: &[Tok], i: usize, bare: bool) -> Option<(Clock, usize)> {
    let w = word(toks, i);
    let exact = |h, m| Clock { h, m, pm: None, h24: true, midnight: false };
    match w {
        "noon" | "midday" => return Some((exact(12, 0), i + 1)),
        "midnight" => {
            let midnight = Clock { midnight: true, ..exact(0, 0) };
            return Some((midnight, i + 1));
        }
        _ => {}
    }
    let (num, mut pm) = if let Some(n) = w.strip_suffix("am") {
        (n, Some(false))
    } else if let Some(n) = w.strip_suffix("pm") {
        (n, Some(true))
    } else {
        (w, None)
    };
    if num.is_empty() {
        return None;
    }
    let (hs, ms) = match num.split_once([':', '.']) {
        Some((h, m)) => (h, Some(m)),
        None => (num, None),
    };
    if hs.is_empty() || hs.len() > 2 || !hs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u32 = hs.parse().ok()?;
    let m: u32 = match ms {
        Some(m) if m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()) => m.parse().ok()?,
        Some(_) => return None,
        None => 0,
    };
    if m > 59 || h > 23 {
        return None;
    }
    let mut next = i + 1;
    if pm.is_none() {
        match word(toks, next) {
            "am" | "a" => {
                pm = Some(false);
                next += 1;
            }
            "pm" | "p" => {
                pm = Some(true);
                next += 1;
            }
            "o'clock" | "oclock" => next += 1,
            _ => {}
        }
    }
    if pm.is_some() && !(1..=12).contains(&h) {
        return None;
    }
    if pm.is_none() && ms.is_none() && !bare {
        return None;
    }
    let h24 = pm.is_none() && (h == 0 || h >= 13 || (hs.len() == 2 && hs.starts_with('0')));
    let clock = Clock { h, m, pm, h24, midnight: false };
    Some((clock, next))
}

/// `h:m` as a time of day (00:00 for an impossible one, which no caller passes).
pub fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// "Thu 21 Nov, 15:00 IST": an instant on the user's wall clock, as the replies show it.
pub fn local_label(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b, %H:%M %Z").to_string()
}

/// `d` plus `n` days; `None` past the calendar's range (never a panic).
pub fn plus(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(n))
}

/// `d` minus `n` days; `None` past the calendar's range.
pub fn minus(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(n))
}

pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The number of days in `year`'s `month` (28 if the calendar cannot say).
pub fn last_day_of_month(year: i32, month: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        .and_then(|next| next.pred_opt())
        .map_or(28, |d| d.day())
}
