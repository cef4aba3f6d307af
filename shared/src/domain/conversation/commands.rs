//! How `/commands` read: names are case-insensitive with a few aliases, arguments tolerate
//! extra spaces, and anything unknown maps to [`Command::Unknown`] (answered with help, never
//! silence).

use chrono_tz::{TZ_VARIANTS, Tz};

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/list [phrase] [photos|voice|notes]`; `/list more` pages on.
    List(ListArgs),
    /// `/search <words>` (may contain a time phrase).
    Search(String),
    /// `/forget <n|last>`.
    Forget(ForgetTarget),
    /// `/tz` (None: show) or `/tz Area/City`.
    Tz(Option<String>),
    Help,
    Stats,
    /// `/remind <when> <what>`: a new reminder.
    Remind(String),
    /// `/reminders [cancel <n>]`: list or cancel reminders.
    Reminders(String),
    /// `/export`, `/forget all` (see [`super::ownership`]).
    Own(super::ownership::OwnCommand),
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListArgs {
    /// `/list more`: the next page of the previous listing.
    pub more: bool,
    /// `text` | `image` | `audio`.
    pub kind: Option<String>,
    /// What is left for the time phrase (and anything not understood).
    pub rest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    /// The newest memory.
    Last,
    /// A number from the last list or answer.
    Number(usize),
    /// Missing or unreadable argument.
    Invalid(String),
}

impl Command {
    /// `name` is already lowercased by the intent rules; `args` trimmed.
    pub fn parse(name: &str, args: &str) -> Command {
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        let name = name.trim_end_matches(['.', '!', '?', ':']);
        if let Some(own) = super::ownership::OwnCommand::parse(name, &args) {
            return Command::Own(own);
        }
        match name {
            "list" | "ls" | "l" | "recent" | "latest" => Command::List(ListArgs::parse(&args)),
            "more" | "next" => Command::List(ListArgs { more: true, ..Default::default() }),
            "search" | "find" | "s" | "ask" => Command::Search(args),
            "forget" | "delete" | "del" | "rm" | "remove" => {
                Command::Forget(ForgetTarget::parse(&args))
            }
            "tz" | "timezone" | "zone" | "time" => {
                Command::Tz(Some(args).filter(|a| !a.is_empty()))
            }
            "help" | "start" | "h" | "commands" | "menu" | "?" | "" => Command::Help,
            "stats" | "stat" | "count" => Command::Stats,
            "remind" | "reminder" | "remindme" => Command::Remind(args),
            "reminders" | "alarms" => Command::Reminders(args),
            other => Command::Unknown(other.to_string()),
        }
    }
}

impl ListArgs {
    pub fn parse(args: &str) -> ListArgs {
        let mut out = ListArgs::default();
        let mut rest = Vec::new();
        let words: Vec<&str> = args.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].to_lowercase();
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            let next = words.get(i + 1).map(|n| n.to_lowercase()).unwrap_or_default();
            let kind = match w {
                "photos" | "photo" | "pictures" | "picture" | "pics" | "images" | "image" => {
                    Some("image")
                }
                "voice" | "audio" | "audios" | "recordings" => {
                    if next.starts_with("note") || next.starts_with("message") {
                        i += 1;
                    }
                    Some("audio")
                }
                "notes" | "note" | "texts" | "text" => Some("text"),
                _ => None,
            };
            match kind {
                Some(k) if out.kind.is_none() => out.kind = Some(k.to_string()),
                _ if w == "more" || w == "next" => out.more = true,
                _ => rest.push(words[i]),
            }
            i += 1;
        }
        out.rest = rest.join(" ");
        out
    }
}

impl ForgetTarget {
    pub fn parse(args: &str) -> ForgetTarget {
        let a = args.trim().trim_start_matches('#').to_lowercase();
        match a.as_str() {
            "last" | "latest" | "newest" | "that" | "it" => ForgetTarget::Last,
            _ => match a.parse::<usize>() {
                Ok(n) if n >= 1 => ForgetTarget::Number(n),
                _ => ForgetTarget::Invalid(args.trim().to_string()),
            },
        }
    }
}

/// Old names still in use, mapped to today's canonical IANA names.
const ALIASES: &[(&str, &str)] = &[
    ("asia/calcutta", "Asia/Kolkata"),
    ("asia/saigon", "Asia/Ho_Chi_Minh"),
    ("asia/katmandu", "Asia/Kathmandu"),
    ("asia/rangoon", "Asia/Yangon"),
    ("asia/dacca", "Asia/Dhaka"),
    ("asia/ulan_bator", "Asia/Ulaanbaatar"),
    ("europe/kiev", "Europe/Kyiv"),
    ("america/buenos_aires", "America/Argentina/Buenos_Aires"),
    ("america/indianapolis", "America/Indiana/Indianapolis"),
    ("atlantic/faeroe", "Atlantic/Faroe"),
    ("pacific/truk", "Pacific/Chuuk"),
    ("us/eastern", "America/New_York"),
    ("us/central", "America/Chicago"),
    ("us/mountain", "America/Denver"),
    ("us/pacific", "America/Los_Angeles"),
    ("us/alaska", "America/Anchorage"),
    ("us/hawaii", "Pacific/Honolulu"),
    ("us/arizona", "America/Phoenix"),
    ("canada/eastern", "America/Toronto"),
    ("canada/pacific", "America/Vancouver"),
    ("gb", "Europe/London"),
    ("nz", "Pacific/Auckland"),
    ("nz-chat", "Pacific/Chatham"),
    ("gmt", "UTC"),
    ("etc/utc", "UTC"),
    ("etc/gmt", "UTC"),
    ("utc", "UTC"),
    ("z", "UTC"),
    ("zulu", "UTC"),
];

/// The IANA zone for user input: exact or case-insensitive name (`asia/kolkata`), spaces for
/// underscores (`America/New York`), an old alias (`Asia/Calcutta` → `Asia/Kolkata`), or a
/// city alone when only one zone has it (`Kolkata`).
pub fn find_zone(input: &str) -> Option<Tz> {
    let key = input.trim().replace(' ', "_").to_lowercase();
    if key.is_empty() {
        return None;
    }
    if let Some((_, canonical)) = ALIASES.iter().find(|(alias, _)| *alias == key) {
        return canonical.parse().ok();
    }
    if let Some(tz) = TZ_VARIANTS.iter().find(|tz| tz.name().eq_ignore_ascii_case(&key)) {
        return Some(*tz);
    }
    let suffix = format!("/{key}");
    let mut cities = TZ_VARIANTS
        .iter()
        .filter(|tz| tz.name().to_lowercase().ends_with(&suffix))
        // Prefer the Area/City spelling over legacy ones (e.g. "US/…").
        .filter(|tz| tz.name().contains('/'));
    match (cities.next(), cities.next()) {
        (Some(tz), None) => Some(*tz),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(Command::parse("help", ""), Command::Help);
        assert_eq!(Command::parse("start", ""), Command::Help);
        assert_eq!(Command::parse("stats", ""), Command::Stats);
        assert_eq!(
            Command::parse("search", "  dinner   plans "),
            Command::Search("dinner plans".into())
        );
        assert_eq!(Command::parse("tz", ""), Command::Tz(None));
        assert_eq!(Command::parse("tz", "Asia/Kolkata"), Command::Tz(Some("Asia/Kolkata".into())));
        assert_eq!(Command::parse("frobnicate", "x"), Command::Unknown("frobnicate".into()));
        assert_eq!(
            Command::parse("remind", " tomorrow  9am dentist"),
            Command::Remind("tomorrow 9am dentist".into())
        );
        assert_eq!(Command::parse("reminders", "cancel 2"), Command::Reminders("cancel 2".into()));
    }

    #[test]
    fn forget_targets() {
        assert_eq!(ForgetTarget::parse("last"), ForgetTarget::Last);
        assert_eq!(ForgetTarget::parse(" LAST "), ForgetTarget::Last);
        assert_eq!(ForgetTarget::parse("2"), ForgetTarget::Number(2));
        assert_eq!(ForgetTarget::parse("#3"), ForgetTarget::Number(3));
        assert_eq!(ForgetTarget::parse("0"), ForgetTarget::Invalid("0".into()));
        assert_eq!(ForgetTarget::parse(""), ForgetTarget::Invalid("".into()));
        assert_eq!(ForgetTarget::parse("everything"), ForgetTarget::Invalid("everything".into()));
    }

    #[test]
    fn list_arguments() {
        assert_eq!(ListArgs::parse(""), ListArgs::default());
        assert_eq!(ListArgs::parse("more"), ListArgs { more: true, ..Default::default() });
        assert_eq!(
            ListArgs::parse("photos last week"),
            ListArgs { more: false, kind: Some("image".into()), rest: "last week".into() }
        );
        assert_eq!(
            ListArgs::parse("last week voice notes"),
            ListArgs { more: false, kind: Some("audio".into()), rest: "last week".into() }
        );
        assert_eq!(ListArgs::parse("Notes").kind.as_deref(), Some("text"));
    }

    /// The `[a | b]` groups of the `/list` line in a text (`/help`, the README).
    fn list_filters(text: &str) -> Vec<Vec<String>> {
        let line = text
            .lines()
            .find(|l| l.contains("*/list* [") || l.contains("`/list ["))
            .expect("a /list line");
        line.split('[')
            .skip(1)
            .filter_map(|part| part.split_once(']'))
            .map(|(group, _)| {
                group
                    .replace("\\|", "|")
                    .split('|')
                    .map(|w| w.trim().to_string())
                    .filter(|w| !w.is_empty() && w != "…")
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_list_filter_help_names_parses() {
        use crate::domain::replies::HELP;
        use crate::domain::time::parse_range;
        let groups = list_filters(HELP);
        assert_eq!(groups.len(), 2, "{groups:?}");
        let now = "2026-11-12T03:44:00Z".parse().unwrap();
        for filter in groups.iter().flatten() {
            let args = ListArgs::parse(filter);
            let understood = match &args.kind {
                Some(_) => args.rest.is_empty(),
                None => parse_range(&args.rest, now, chrono_tz::UTC)
                    .is_some_and(|(_, rest)| rest.trim().is_empty()),
            };
            assert!(understood && !args.more, "/list {filter} → {args:?}");
        }
        // A kind and a time together, in either order, and the next page.
        let both = ListArgs::parse("voice last week");
        assert_eq!((both.kind.as_deref(), both.rest.as_str()), (Some("audio"), "last week"));
        assert!(HELP.contains("*/list more*") && ListArgs::parse("more").more);
        // The README's table says the same.
        let readme = list_filters(include_str!("../../../../README.md"));
        assert_eq!(readme, groups, "README and /help name different /list filters");
    }

    #[test]
    fn zones_are_found_case_insensitively_with_aliases() {
        let name = |s: &str| find_zone(s).map(|tz| tz.name().to_string());
        assert_eq!(name("Asia/Kolkata").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(name("asia/kolkata").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(name("Asia/Calcutta").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(name("america/new york").as_deref(), Some("America/New_York"));
        assert_eq!(name("US/Eastern").as_deref(), Some("America/New_York"));
        assert_eq!(name("Kolkata").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(name("pacific/chatham").as_deref(), Some("Pacific/Chatham"));
        assert_eq!(name("utc").as_deref(), Some("UTC"));
        assert_eq!(name("Mars/Olympus_Mons"), None);
        assert_eq!(name(""), None);
    }
}
