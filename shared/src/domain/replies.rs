//! What mnemo says on WhatsApp: short, friendly, WhatsApp-formatted, and split under Twilio's
//! 1,600-character limit at line boundaries.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Twilio refuses longer bodies (error 21617).
pub const MAX_MESSAGE_CHARS: usize = 1600;

/// The one reply to a message whose processing failed for good (DESIGN §7).
pub const FAILED: &str = "😕 Sorry, something went wrong with that message. It's saved, but I couldn't handle it: please try rephrasing it or send it again.";

/// The first reply to a new user leads with this: what mnemo does, the zone it reads their
/// times in (inferred from their number at first contact), and where help is.
pub fn welcome(tz: Tz) -> String {
    format!(
        "👋 I'm *mnemo*, your memory on WhatsApp: send me notes, photos or voice notes and ask me about them later.\n\
         🕒 I'll use {} time; change it with */tz Area/City*.\n\
         Type */help* to see what I can do.",
        tz.name()
    )
}

pub const HELP: &str = "*mnemo* keeps what you send and finds it again.\n\
• Send a note, photo or voice note → I remember it\n\
• Ask a question → \"what did I plan for dinner?\", \"show me my haircut from last week\"\n\
• */list* [photos | voice | notes] [today | last week | …] → your memories, newest first; */list more* for older\n\
• */search* <words> → find memories\n\
• */forget* <n|last> → delete a memory; */forget all* → delete everything (asks first)\n\
• */export* → a download link to all your memories\n\
• */connect* → a key for AI assistants (MCP); */disconnect* revokes it\n\
• */remind* <when> <what> → a reminder, e.g. */remind tomorrow 3pm call mom*, */remind every Monday 8am bins* (or just \"remind me to …\")\n\
• */reminders* → your reminders; */reminders cancel <n>* to cancel one\n\
• */tz* [Area/City] → show or set your time zone\n\
• */stats* → how many memories of each kind\n\
• */help* → this message";

/// "Tue 12 Nov, 09:14" in the user's zone.
pub fn when(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b, %H:%M").to_string()
}

pub fn kind_icon(kind: &str) -> &'static str {
    match kind {
        "image" => "📷 photo",
        "audio" => "🎙 voice note",
        "video" => "🎬 video",
        "document" => "📄 document",
        "location" => "📍 location",
        _ => "📝 note",
    }
}

/// Shortens `text` to `max` characters, ending with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits a reply into messages of at most [`MAX_MESSAGE_CHARS`] characters, at line
/// boundaries where possible (a single overlong line is cut at a space, or hard).
pub fn split(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        loop {
            let needed = line.chars().count() + usize::from(!current.is_empty());
            if current.chars().count() + needed <= MAX_MESSAGE_CHARS {
                if !current.is_empty() {
                    current.push('\n');
                }
                current.push_str(&line);
                break;
            }
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            // The line alone is too long: cut it.
            let head: String = line.chars().take(MAX_MESSAGE_CHARS).collect();
            let cut = head.rfind(' ').filter(|&i| i > MAX_MESSAGE_CHARS / 2).unwrap_or(head.len());
            parts.push(line[..cut].trim_end().to_string());
            line = line[cut..].trim_start().to_string();
            if line.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_message() {
        assert_eq!(split("hello\nworld"), vec!["hello\nworld"]);
    }

    #[test]
    fn long_text_splits_at_lines_under_the_limit() {
        let line = "x".repeat(100);
        let text = vec![line.as_str(); 40].join("\n");
        let parts = split(&text);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn overlong_line_is_cut() {
        let text = "word ".repeat(700);
        let parts = split(&text);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        let emoji = "😀".repeat(2000);
        assert!(split(&emoji).iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
    }

    /// Every text the domain words (help, welcome, answers, listings, stats, reminders and
    /// their questions), in each of its shapes: WhatsApp cannot show nested markup.
    #[test]
    fn no_reply_nests_markup() {
        use crate::domain::conversation::answer::{self, Found, Item, Page};
        use crate::domain::markup::{nesting, spans};
        use crate::domain::time::{Problem, moment};
        use crate::store::entities::reminder::{self, ReminderStatus};
        use crate::store::reminders;
        use chrono_tz::America::Los_Angeles as LA;

        let at: DateTime<Utc> = "2026-11-12T03:44:00Z".parse().unwrap();
        let items: Vec<Item> = ["text", "image", "audio"]
            .iter()
            .map(|kind| Item {
                kind: kind.to_string(),
                text: "pasta with Anna on Friday".into(),
                labels: vec!["food".into()],
                occurred_at: at,
            })
            .collect();
        let mut texts = vec![
            HELP.to_string(),
            welcome(LA),
            FAILED.to_string(),
            answer::nothing_found("dinner plans?", Some("last week")),
            answer::nothing_found("dinner plans?", None),
            answer::stats(&[("text".into(), 3), ("image".into(), 1)], Some(at), LA),
            answer::stats(&[], None, LA),
        ];
        for (range_label, outside_range, lead) in [
            (None, false, None),
            (Some("last week"), false, Some("You planned pasta [1].")),
            (Some("last week"), true, None),
        ] {
            texts.push(answer::found(&Found {
                items: &items,
                tz: LA,
                range_label,
                outside_range,
                lead,
            }));
        }
        for (shown, first_number, kind, has_more) in [
            (&items[..], 1, None, true),
            (&items[..], 11, Some("image"), false),
            (&items[..0], 1, Some("audio"), false),
            (&items[..0], 11, None, false),
        ] {
            texts.push(answer::page(&Page {
                items: shown,
                tz: LA,
                first_number,
                range_label: Some("last week"),
                kind,
                has_more,
            }));
        }
        let reminder = |recurrence: Option<&str>, status| reminder::Model {
            id: uuid::Uuid::nil(),
            user_id: uuid::Uuid::nil(),
            text: "call mom".into(),
            due_at: at,
            timezone: "America/Los_Angeles".into(),
            recurrence: recurrence.map(str::to_string),
            status,
            source_interaction_id: None,
            sent_at: None,
            error: None,
            created_at: at,
            updated_at: at,
            locked_until: None,
            attempts: 0,
        };
        let once = reminder(None, ReminderStatus::Pending);
        let daily = reminder(Some("daily@08:00"), ReminderStatus::NeedsTemplate);
        // The notes as the parser words them ("say *03:00* if you meant the morning").
        for request in ["tomorrow at 3 call mom", "tomorrow call mom", "every Monday bins"] {
            let parsed = moment::parse(request, at, LA).expect(request);
            assert!(!parsed.notes.is_empty(), "{request}");
            texts.push(reminders::confirmation(&once, LA, &parsed.notes, true));
        }
        texts.push(reminders::confirmation(&daily, LA, &[], false));
        texts.push(reminders::listing(&[once, daily], LA));
        texts.push(reminders::listing(&[], LA));
        for problem in [
            Problem::NoTime,
            Problem::NoText,
            Problem::NoTimeToday,
            Problem::Past { at, next: Some(at) },
            Problem::Past { at, next: None },
            Problem::AmbiguousHour { morning: at, evening: at },
            Problem::AmbiguousDate { first: at.date_naive(), second: at.date_naive() },
            Problem::Conflict,
            Problem::Invalid("30 February does not exist".into()),
            Problem::TooFar,
        ] {
            texts.push(problem.question(LA));
        }
        for text in &texts {
            assert_eq!(nesting(text), None, "in:\n{text}");
        }
        // The checker does see the markup these texts use (/help's bold commands).
        assert!(spans(HELP).len() >= 10, "{:?}", spans(HELP));
    }

    #[test]
    fn the_welcome_names_the_zone_once() {
        let w = welcome(chrono_tz::America::Los_Angeles);
        assert_eq!(w.matches("America/Los_Angeles").count(), 1, "{w}");
        assert!(
            w.contains("I'll use America/Los_Angeles time; change it with */tz Area/City*."),
            "{w}"
        );
    }

    #[test]
    fn times_are_shown_in_the_users_zone() {
        let at: DateTime<Utc> = "2026-11-12T03:44:00Z".parse().unwrap();
        assert_eq!(when(at, chrono_tz::Asia::Kolkata), "Thu 12 Nov, 09:14");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
