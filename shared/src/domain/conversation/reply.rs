//! Replying to a message (WhatsApp's quote, `OriginalRepliedMessageSid`) to forget or correct
//! the memory it holds (DESIGN §12). Pure: what the reply's text asks for, and the words of the
//! answers. Resolving the quoted message to a memory is the store's
//! (`store::memories::replied_to`), acting on it the pipeline's.
//!
//! The rules, in order:
//! - a command (`/…`) stays a command, a question (ending in `?`) stays a question and a
//!   reminder ("remind me …") stays a reminder, quoted or not;
//! - a short forget phrase ("forget this", "forget it", "forget", "delete", "delete this",
//!   "remove", "remove it", …; case, punctuation, emoji and a "please" ignored) forgets the memory;
//! - any other text corrects it, once a leading "actually", "no," (only with its punctuation:
//!   "no parking here" is kept whole), "correction:" or "I meant" is taken off. How the
//!   correction meets the old text is [`apply_correction`]'s: "it's level 4" on "Parked on
//!   level 3 of the mall garage" makes it "Parked on level 4 of the mall garage"; a
//!   restatement of three words or more that changes no such slot replaces it. The text it had
//!   is kept as a version.

use super::intent::{Intent, classify};
use crate::domain::replies;

/// What a reply to a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyAction {
    /// Forget the memory the quoted message holds.
    Forget,
    /// Replace the memory's text with this one.
    Correct(String),
    /// A correction with nothing left once its lead-in is taken off ("actually", "no!").
    EmptyCorrection,
    /// A command, question or reminder: handled as if nothing were quoted.
    Ordinary,
}

/// What the words mean, on their own (a forget phrase is at most this many words).
const FORGET_MAX_WORDS: usize = 4;
const FORGET_VERBS: &[&str] = &["forget", "delete", "remove", "erase"];
const FORGET_OBJECTS: &[&str] =
    &["this", "it", "that", "this one", "that one", "this memory", "this note"];

/// Lead-ins of a correction that are not part of the new text. Those in the second list only
/// count when punctuation follows ("no, …"), since "no" also starts plain notes.
const CORRECTION_LEAD_INS: &[&str] = &["actually", "correction", "i meant", "i mean", "sorry"];
const PUNCTUATED_LEAD_INS: &[&str] = &["no", "nope", "oops"];

/// What the text of a reply to a memory asks for.
pub fn reply_action(text: &str) -> ReplyAction {
    let text = text.trim();
    match classify(text).intent {
        Intent::Command { .. } | Intent::Reminder => return ReplyAction::Ordinary,
        _ => {}
    }
    if text.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '?').ends_with('?') {
        return ReplyAction::Ordinary;
    }
    if is_forget(text) {
        return ReplyAction::Forget;
    }
    let corrected = strip_lead_ins(text);
    if corrected.chars().any(char::is_alphanumeric) {
        ReplyAction::Correct(corrected.to_string())
    } else {
        ReplyAction::EmptyCorrection
    }
}

/// "forget this", "Delete!", "please remove it 🙏": a verb, optionally one of the objects,
/// and nothing else but "please" and punctuation.
pub fn is_forget(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| w != "please" && w != "pls")
        .collect();
    if words.is_empty() || words.len() > FORGET_MAX_WORDS {
        return false;
    }
    let Some((verb, rest)) = words.split_first() else {
        return false;
    };
    FORGET_VERBS.contains(&verb.as_str())
        && (rest.is_empty() || FORGET_OBJECTS.contains(&rest.join(" ").as_str()))
}

/// The text without its correction lead-ins ("No, actually: it's level 4" → "it's level 4").
pub fn strip_lead_ins(text: &str) -> &str {
    let mut rest = text.trim();
    loop {
        let before = rest;
        for lead in CORRECTION_LEAD_INS {
            if let Some(after) = strip_word(rest, lead, false) {
                rest = after;
            }
        }
        for lead in PUNCTUATED_LEAD_INS {
            if let Some(after) = strip_word(rest, lead, true) {
                rest = after;
            }
        }
        if rest == before {
            return rest;
        }
    }
}

/// `text` without a leading `word` (case-insensitive) and the punctuation and spaces after it;
/// `None` unless `word` stands alone (followed by the end, a space or punctuation, and by
/// punctuation when `punctuated`).
fn strip_word<'a>(text: &'a str, word: &str, punctuated: bool) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let after = &text[word.len()..];
    let next = after.chars().next();
    let is_punct = |c: char| matches!(c, ',' | ':' | ';' | '.' | '!' | '-' | '–' | '—');
    let ok = match next {
        None => true,
        Some(c) if is_punct(c) => true,
        Some(c) if c.is_whitespace() => !punctuated || after.trim_start().starts_with(is_punct),
        Some(_) => false,
    };
    ok.then(|| after.trim_start_matches(|c: char| c.is_whitespace() || is_punct(c)))
}

/// After forgetting: which memory, and its text.
pub fn forgotten(what_and_when: &str, text: &str) -> String {
    format!("🗑 Forgotten: {what_and_when}\n“{}”", replies::clip(text, 200))
}

/// The memory's text once `correction` (lead-in already off) is applied to `old`:
/// 1. **slots**: each "word value" pair of the correction whose word the old text has, followed
///    by another value, replaces that value ("level 4" on "… level 3 …", "spot 40" on "… spot
///    12 …"; a value holds a digit, or both are capitalised names after a word of three letters
///    or more: "with Maria" on "… with Anna …"). Words after the last slot that add something
///    are kept in brackets ("level 4 by the lifts" → "… level 4 … (by the lifts)");
/// 2. **one value**: a lone token with a digit replaces the old text's only such token ("5pm"
///    on "Dentist at 4pm"), a lone capitalised word its only capitalised word after the first
///    ("Wednesday" on "Dentist on Tuesday at 4pm");
/// 3. a correction whose "word value" pairs the text already has changes nothing; otherwise
///    one of three words or more is a restatement and replaces the text, and a shorter one is
///    added in brackets, so nothing the old text said is lost.
pub fn apply_correction(old: &str, correction: &str) -> String {
    fn core(t: &str) -> &str {
        t.trim_matches(|c: char| !c.is_alphanumeric())
    }
    fn key(t: &str) -> String {
        core(t).to_lowercase()
    }
    fn has_digit(t: &str) -> bool {
        t.chars().any(|c| c.is_ascii_digit())
    }
    fn capitalised(t: &str) -> bool {
        core(t).chars().next().is_some_and(char::is_uppercase)
    }
    /// `old`'s token with its core swapped for `new`'s core, keeping its punctuation.
    fn swap(old: &str, new: &str) -> String {
        let c = core(old);
        match old.find(c) {
            Some(at) if !c.is_empty() => {
                format!("{}{}{}", &old[..at], core(new), &old[at + c.len()..])
            }
            _ => new.to_string(),
        }
    }
    let mut words: Vec<String> = old.split_whitespace().map(str::to_string).collect();
    let fix: Vec<&str> = correction.split_whitespace().collect();
    let mut last_slot = None;
    let mut agreed = false;
    let mut i = 0;
    while i + 1 < fix.len() {
        let (k, v) = (key(fix[i]), fix[i + 1]);
        let slot = (!k.is_empty()).then(|| {
            (0..words.len().saturating_sub(1)).find(|&j| {
                let current = &words[j + 1];
                key(&words[j]) == k
                    && key(current) != key(v)
                    && ((has_digit(v) && has_digit(current))
                        || (k.chars().count() >= 3 && capitalised(v) && capitalised(current)))
            })
        });
        if let Some(Some(j)) = slot {
            words[j + 1] = swap(&words[j + 1], v);
            last_slot = Some(i + 1);
            i += 2;
        } else {
            agreed |= has_digit(v)
                && (0..words.len().saturating_sub(1))
                    .any(|j| key(&words[j]) == k && key(&words[j + 1]) == key(v));
            i += 1;
        }
    }
    if last_slot.is_none() && agreed {
        // A restatement whose values the text already has ("level 4, spot 40" again).
        return old.to_string();
    }
    if let Some(end) = last_slot {
        let mut text = words.join(" ");
        let rest: Vec<&str> = fix[end + 1..].to_vec();
        let known: Vec<String> = words.iter().map(|w| key(w)).collect();
        if rest.iter().any(|w| core(w).chars().count() >= 3 && !known.contains(&key(w))) {
            let rest = rest.join(" ");
            text = format!("{text} ({})", rest.trim_end_matches(['.', '!', ',', ';']));
        }
        return text;
    }
    if let [one] = fix.as_slice() {
        let pick = |want: &dyn Fn(&str) -> bool, skip_first: bool| {
            let at: Vec<usize> =
                (0..words.len()).filter(|&j| !(skip_first && j == 0) && want(&words[j])).collect();
            (at.len() == 1).then(|| at[0])
        };
        let slot = if has_digit(one) {
            pick(&has_digit, false)
        } else if capitalised(one) {
            pick(&capitalised, true)
        } else {
            None
        };
        if let Some(j) = slot {
            words[j] = swap(&words[j], one);
            return words.join(" ");
        }
    }
    if fix.len() >= 3 {
        correction.to_string()
    } else {
        format!("{old} ({})", correction.trim_end_matches(['.', '!', ',', ';']))
    }
}

/// After a correction: the new text, and the one it replaces.
pub fn corrected(old: &str, new: &str) -> String {
    format!(
        "✏️ Corrected. It now reads “{}”\nBefore: “{}”",
        replies::clip(new, 200),
        replies::clip(old, 200)
    )
}

/// A correction that says what the memory already says.
pub fn unchanged(text: &str) -> String {
    format!("✏️ It already reads “{}”, so nothing changed.", replies::clip(text, 200))
}

/// The quoted message holds no memory (a question, a command, one of our answers, a reminder,
/// one forgotten already, or one we never saw): nothing was changed.
pub fn no_memory(action: &ReplyAction) -> String {
    let what = match action {
        ReplyAction::Forget => {
            "so there's nothing to forget. To forget one from a list or an answer, send /forget with its number."
        }
        _ => {
            "so there's nothing to correct, and I haven't saved your text. To keep it as a new note, send it again without replying to a message."
        }
    };
    format!("↩️ The message you replied to doesn't hold a memory, {what}")
}

/// A correction with no new text in it.
pub const EMPTY_CORRECTION: &str = "✏️ What should it say instead? Reply to the memory with the corrected text, e.g. “actually it's level 4”, or with “forget this” to delete it.";

/// The memory changed or went between reading and correcting it.
pub const CHANGED_MEANWHILE: &str = "↩️ That memory changed or was forgotten just now, so I left it as it is. Reply to it again if you still want to correct it.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forget_phrases_in_the_users_words() {
        for text in [
            "forget this",
            "Forget it",
            "FORGET",
            "delete",
            "Delete this!",
            "remove",
            "remove it.",
            "please forget this 🙏",
            "  forget that one  ",
            "Erase it",
        ] {
            assert_eq!(reply_action(text), ReplyAction::Forget, "{text:?}");
        }
        for text in [
            "forget about the dentist, it's Tuesday",
            "delete the old code: 4512",
            "remove the 3, it's level 4",
            "forgetful me",
        ] {
            assert!(matches!(reply_action(text), ReplyAction::Correct(_)), "{text:?}");
        }
    }

    #[test]
    fn corrections_lose_their_lead_in_only() {
        for (text, want) in [
            ("actually it's level 4", "it's level 4"),
            ("Actually, it's level 4", "it's level 4"),
            ("No, level 4", "level 4"),
            ("no - level 4", "level 4"),
            ("Correction: spot 12, level 4", "spot 12, level 4"),
            ("No, actually: it's level 4", "it's level 4"),
            ("I meant level 4", "level 4"),
            ("Parking: level 4, spot 12", "Parking: level 4, spot 12"),
            // "no" without punctuation is part of the note; so is a word that starts with a lead-in.
            ("no parking on level 3", "no parking on level 3"),
            ("Nobody parks on level 3", "Nobody parks on level 3"),
            ("actuality show at 9", "actuality show at 9"),
        ] {
            assert_eq!(reply_action(text), ReplyAction::Correct(want.to_string()), "{text:?}");
        }
        for text in ["actually", "No!", "correction:", "no, actually."] {
            assert_eq!(reply_action(text), ReplyAction::EmptyCorrection, "{text:?}");
        }
    }

    #[test]
    fn corrections_change_the_slot_they_name_and_keep_the_rest() {
        for (old, fix, want) in [
            (
                "Parked the car on level 3 of the mall garage",
                "it's level 4",
                "Parked the car on level 4 of the mall garage",
            ),
            (
                "Parked the car on level 3 of the mall garage",
                "level 4 by the lifts",
                "Parked the car on level 4 of the mall garage (by the lifts)",
            ),
            (
                "Parked on level 4, spot 12",
                "Parking: level 4, spot 40",
                "Parked on level 4, spot 40",
            ),
            ("Dinner with Anna on Friday", "with Maria", "Dinner with Maria on Friday"),
            ("Dentist on Tuesday at 4pm.", "5pm", "Dentist on Tuesday at 5pm."),
            ("Dentist on Tuesday at 4pm", "Wednesday", "Dentist on Wednesday at 4pm"),
            (
                "Gate code 4411",
                "the gate code changed to 5512 in March",
                "the gate code changed to 5512 in March",
            ),
            ("Call the plumber", "tomorrow", "Call the plumber (tomorrow)"),
            ("Anna and Marco at 8", "9", "Anna and Marco at 9"),
            (
                "Parked on level 4, spot 40 (by the lifts)",
                "Parking: level 4, spot 40",
                "Parked on level 4, spot 40 (by the lifts)",
            ),
        ] {
            assert_eq!(apply_correction(old, fix), want, "{fix:?} on {old:?}");
        }
    }

    #[test]
    fn commands_questions_and_reminders_stay_what_they_are() {
        for text in [
            "/forget last",
            "/list",
            "when was this?",
            "is it level 4 ?!",
            "remind me about this tomorrow at 9am",
        ] {
            assert_eq!(reply_action(text), ReplyAction::Ordinary, "{text:?}");
        }
    }

    #[test]
    fn answers_are_plain_and_unnested() {
        let texts = [
            forgotten("📝 note · Tue 12 Nov, 09:14", "Parking: level 3"),
            corrected("Parking: level 3", "it's level 4"),
            unchanged("Parking: level 4"),
            no_memory(&ReplyAction::Forget),
            no_memory(&ReplyAction::Correct("x".into())),
            EMPTY_CORRECTION.to_string(),
            CHANGED_MEANWHILE.to_string(),
        ];
        for t in &texts {
            // No WhatsApp markup at all, so none nested either.
            assert!(!t.contains(['*', '_', '~']), "{t}");
            assert!(t.chars().count() < 300, "{t}");
        }
        assert!(texts[1].contains("“it's level 4”") && texts[1].contains("“Parking: level 3”"));
    }
}
