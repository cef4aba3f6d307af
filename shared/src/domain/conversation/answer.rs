//! The wording of answers and listings: numbered items with what and when, in the user's zone
//! ("*1.* 🎙 voice note · Tue 12 Nov, 09:14"), WhatsApp formatting. Pure, so it is tested here;
//! the pipeline fetches the rows and sends the text (split under 1,600 characters).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::replies;
use crate::store::entities::memory;

/// One memory as shown to the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: String,
    pub text: String,
    pub labels: Vec<String>,
    pub occurred_at: DateTime<Utc>,
}

impl From<&memory::Model> for Item {
    fn from(m: &memory::Model) -> Self {
        Item {
            kind: m.kind.to_string(),
            text: m.text.clone(),
            labels: m
                .labels
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            occurred_at: m.occurred_at,
        }
    }
}

/// "🎙 voice note · Tue 12 Nov, 09:14"
pub fn what_and_when(item: &Item, tz: Tz) -> String {
    format!("{} · {}", replies::kind_icon(&item.kind), replies::when(item.occurred_at, tz))
}

/// A numbered entry: heading line, then the text (clipped) and labels, indented.
pub fn entry(n: usize, item: &Item, tz: Tz, max_text: usize) -> String {
    let mut s = format!("*{n}.* {}", what_and_when(item, tz));
    let text = replies::clip(&item.text.replace('\n', " "), max_text);
    if !text.is_empty() {
        s.push_str(&format!("\n    {text}"));
    }
    if !item.labels.is_empty() {
        s.push_str(&format!("\n    🏷 {}", item.labels.join(", ")));
    }
    s
}

/// The same entry as one line for the answer model: "\[1\] 📝 note · Tue 12 Nov, 09:14: text".
pub fn citation(n: usize, item: &Item, tz: Tz) -> String {
    format!(
        "[{n}] {}: {}",
        what_and_when(item, tz),
        replies::clip(&item.text.replace('\n', " "), 500)
    )
}

/// What a question or `/search` found.
pub struct Found<'a> {
    pub items: &'a [Item],
    pub tz: Tz,
    /// The time phrase that limited the search ("last week").
    pub range_label: Option<&'a str>,
    /// True when nothing matched inside the range and these come from any time.
    pub outside_range: bool,
    /// The model's one-sentence answer, when one is configured.
    pub lead: Option<&'a str>,
}

pub fn found(f: &Found) -> String {
    let mut lines = Vec::new();
    if let Some(lead) = f.lead {
        lines.push(format!("💡 {lead}"));
        lines.push(String::new());
    }
    lines.push(match (f.range_label, f.outside_range) {
        (Some(label), true) => {
            format!("Nothing from *{label}*, but at other times I found:")
        }
        (Some(label), false) => format!("🔎 From *{label}*, I found:"),
        (None, _) => "🔎 Here's what I found:".to_string(),
    });
    for (i, item) in f.items.iter().enumerate() {
        lines.push(entry(i + 1, item, f.tz, 300));
    }
    lines.push("Reply */forget <n>* to delete one.".into());
    lines.join("\n")
}

/// Nothing matched: say so, with a hint.
pub fn nothing_found(query: &str, range_label: Option<&str>) -> String {
    let about = query.trim().trim_end_matches(['?', '!', '.']).trim();
    let mut first = "🤔 I couldn't find anything".to_string();
    if !about.is_empty() {
        first.push_str(&format!(" about “{}”", replies::clip(about, 80)));
    }
    if let Some(label) = range_label {
        first.push_str(&format!(" from *{label}*"));
    }
    first.push('.');
    let hint = match range_label {
        Some(label) => format!("Try other words, or */list {label}* to see everything from then."),
        None => "Try other words, or */list* to see your latest memories.".into(),
    };
    format!("{first}\n{hint}")
}

/// One page of `/list`.
pub struct Page<'a> {
    pub items: &'a [Item],
    pub tz: Tz,
    /// The number of the first item (pages continue the numbering).
    pub first_number: usize,
    pub range_label: Option<&'a str>,
    /// `image` | `audio` | `text`.
    pub kind: Option<&'a str>,
    pub has_more: bool,
}

pub fn page(p: &Page) -> String {
    let what = match p.kind {
        Some("image") => "photos",
        Some("audio") => "voice notes",
        Some("text") => "notes",
        _ => "memories",
    };
    let when = p.range_label.map(|l| format!(" from {l}")).unwrap_or_default();
    if p.items.is_empty() {
        return if p.first_number > 1 {
            format!("That's all: no older {what}{when}.")
        } else {
            format!(
                "📭 No {what}{when} yet.\nSend me a note, photo or voice note and I'll keep it."
            )
        };
    }
    let mut lines = vec![if p.first_number > 1 {
        format!("🗂 *Your {what}{when}* (continued):")
    } else {
        format!("🗂 *Your {what}{when}*, newest first:")
    }];
    for (i, item) in p.items.iter().enumerate() {
        lines.push(entry(p.first_number + i, item, p.tz, 120));
    }
    let mut hints = Vec::new();
    if p.has_more {
        hints.push("*/list more* for older");
    }
    hints.push("*/forget <n>* to delete");
    lines.push(hints.join(" · "));
    lines.join("\n")
}

/// `/stats`: counts by kind.
pub fn stats(by_kind: &[(String, i64)], first: Option<DateTime<Utc>>, tz: Tz) -> String {
    let total: i64 = by_kind.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "📊 You have no memories yet. Send me a note, photo or voice note!".into();
    }
    let mut lines =
        vec![format!("📊 *{total}* memor{} kept:", if total == 1 { "y" } else { "ies" })];
    for (kind, n) in by_kind {
        lines.push(format!("• {}: {n}", replies::kind_icon(kind)));
    }
    if let Some(first) = first {
        lines.push(format!("Since {}.", replies::when(first, tz)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Kolkata;

    fn item(kind: &str, text: &str, at: &str) -> Item {
        Item {
            kind: kind.into(),
            text: text.into(),
            labels: Vec::new(),
            occurred_at: at.parse().unwrap(),
        }
    }

    #[test]
    fn entries_say_what_and_when_in_the_users_zone() {
        let voice = item("audio", "call the bank about the card", "2026-11-12T03:44:00Z");
        assert_eq!(what_and_when(&voice, Kolkata), "🎙 voice note · Thu 12 Nov, 09:14");
        let mut photo = item("image", "whiteboard", "2026-11-12T03:44:00Z");
        photo.labels = vec!["work".into(), "plan".into()];
        assert_eq!(
            entry(2, &photo, Kolkata, 100),
            "*2.* 📷 photo · Thu 12 Nov, 09:14\n    whiteboard\n    🏷 work, plan"
        );
        assert_eq!(
            citation(1, &voice, Kolkata),
            "[1] 🎙 voice note · Thu 12 Nov, 09:14: call the bank about the card"
        );
    }

    #[test]
    fn found_and_nothing_found() {
        let items = [item("text", "pasta with Anna", "2026-11-12T03:44:00Z")];
        let text = found(&Found {
            items: &items,
            tz: Kolkata,
            range_label: Some("last week"),
            outside_range: false,
            lead: Some("You planned pasta with Anna [1]."),
        });
        assert!(text.starts_with("💡 You planned pasta with Anna [1].\n\n🔎 From *last week*"));
        assert!(text.contains("*1.* 📝 note · Thu 12 Nov, 09:14\n    pasta with Anna"));
        let none = nothing_found("dinner plans?", Some("last week"));
        assert_eq!(
            none,
            "🤔 I couldn't find anything about “dinner plans” from *last week*.\nTry other words, or */list last week* to see everything from then."
        );
        assert!(nothing_found("", None).contains("*/list*"));
    }

    #[test]
    fn pages_number_on_and_hint_at_more() {
        let items =
            [item("image", "a", "2026-11-12T03:44:00Z"), item("text", "b", "2026-11-11T03:44:00Z")];
        let p = page(&Page {
            items: &items,
            tz: Kolkata,
            first_number: 11,
            range_label: None,
            kind: Some("image"),
            has_more: true,
        });
        assert!(p.starts_with("🗂 *Your photos* (continued):"), "{p}");
        assert!(p.contains("*11.*") && p.contains("*12.*"));
        assert!(p.contains("*/list more*"));
        let empty = page(&Page {
            items: &[],
            tz: Kolkata,
            first_number: 1,
            range_label: Some("last week"),
            kind: None,
            has_more: false,
        });
        assert!(empty.starts_with("📭 No memories from last week yet."));
    }

    #[test]
    fn stats_count_by_kind() {
        let s = stats(
            &[("text".into(), 3), ("image".into(), 1)],
            Some("2026-03-03T04:00:00Z".parse().unwrap()),
            Kolkata,
        );
        assert_eq!(
            s,
            "📊 *4* memories kept:\n• 📝 note: 3\n• 📷 photo: 1\nSince Tue 3 Mar, 09:30."
        );
        assert!(stats(&[], None, Kolkata).contains("no memories"));
    }
}
