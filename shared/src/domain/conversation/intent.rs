//! What a text message asks for: a command, a question, a reminder or a new memory.
//!
//! Rules, in order: a leading `/` is a command; explicit note markers ("note:", "remember
//! that") are memories; "remind me …" is a reminder (but "remind me what …" is a question);
//! question marks, wh-words followed by an auxiliary, "show me", "find", "did I", "when is"…
//! are questions; everything else is a memory. A rule that could be wrong says so
//! ([`Decision`]'s `sure` = false) and an optional chat model may settle it.

/// The intent of one inbound text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// `/name args` — name lowercased, args trimmed.
    Command { name: String, args: String },
    /// Something to look up in the user's memories.
    Question,
    /// "remind me to …": handled by the reminders feature.
    Reminder,
    /// Something to keep.
    Memory,
}

/// The rules' answer and whether they are confident about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub intent: Intent,
    pub sure: bool,
}

impl Decision {
    fn sure(intent: Intent) -> Self {
        Decision { intent, sure: true }
    }
    fn guess(intent: Intent) -> Self {
        Decision { intent, sure: false }
    }
}

const WH_WORDS: &[&str] = &["what", "when", "where", "which", "who", "whom", "whose", "why", "how"];

/// Words that make a wh-word start a real question ("what did", "where is", "how many").
const AFTER_WH: &[&str] = &[
    "did", "do", "does", "is", "are", "was", "were", "am", "can", "could", "should", "would",
    "will", "have", "has", "had", "time", "day", "date", "many", "much", "long", "often", "else",
    "kind", "about", "exactly", "was", "s", "re", "d",
];

const AUXILIARIES: &[&str] = &[
    "did", "do", "does", "is", "are", "was", "were", "have", "has", "had", "can", "could",
    "should", "will", "would",
];

const SUBJECTS: &[&str] = &[
    "i", "we", "you", "my", "our", "your", "the", "it", "he", "she", "they", "that", "this",
    "there", "his", "her", "their",
];

/// Openings that make a question whatever follows.
const QUESTION_STARTS: &[&str] = &[
    "what's",
    "whats",
    "where's",
    "wheres",
    "when's",
    "whens",
    "who's",
    "how's",
    "did i",
    "did we",
    "did you",
    "do i",
    "do we",
    "do you",
    "have i",
    "have we",
    "had i",
    "was i",
    "were we",
    "am i",
    "is there",
    "are there",
    "is my",
    "are my",
    "was my",
    "were my",
    "is it",
    "can you",
    "could you",
    "can i",
    "should i",
    "show me",
    "show my",
    "show all",
    "find",
    "search",
    "look up",
    "lookup",
    "list my",
    "list all",
    "tell me",
    "give me",
    "any",
    "remind me what",
    "remind me when",
    "remind me where",
    "remind me who",
    "remind me which",
    "remind me how",
    "photos from",
    "pictures from",
    "notes from",
    "voice notes from",
    "my photos",
    "my notes",
    "my voice notes",
];

/// Explicit "keep this" markers.
const MEMORY_STARTS: &[&str] = &[
    "note:",
    "note to self",
    "notes:",
    "remember:",
    "remember that",
    "remember this",
    "save:",
    "save this",
    "keep:",
    "todo:",
    "to do:",
    "to-do:",
    "idea:",
    "fyi",
    "memo:",
];

const REMINDER_STARTS: &[&str] = &[
    "remind me",
    "remind us",
    "set a reminder",
    "set reminder",
    "reminder:",
    "reminder to",
    "don't let me forget",
    "dont let me forget",
];

/// Imperative starts of to-do notes, which sometimes end with a "?" that is not ours to answer
/// ("Ask Anna if she's free Friday?").
const NOTE_VERBS: &[&str] =
    &["ask", "call", "email", "text", "message", "buy", "book", "check", "pick", "tell", "send"];

const FILLERS: &[&str] =
    &["hey", "hi", "hello", "ok", "okay", "so", "um", "hmm", "mnemo", "please", "pls", "yo"];

/// The rules' intent for `text`.
pub fn intent(text: &str) -> Intent {
    classify(text).intent
}

/// The rules' decision for `text`, with their confidence.
pub fn classify(text: &str) -> Decision {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('/') {
        let rest = rest.trim_start();
        let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Decision::sure(Intent::Command {
            name: name.to_lowercase(),
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let lower = normalise(t);
    let ends_with_question_mark =
        lower.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '?').ends_with('?');

    if MEMORY_STARTS.iter().any(|p| starts_with_phrase(&lower, p)) {
        return Decision::sure(Intent::Memory);
    }
    if REMINDER_STARTS.iter().any(|p| starts_with_phrase(&lower, p))
        && !QUESTION_STARTS.iter().any(|p| starts_with_phrase(&lower, p))
    {
        return Decision::sure(Intent::Reminder);
    }
    let asks = QUESTION_STARTS.iter().any(|p| starts_with_phrase(&lower, p));
    if lower.contains('?') && !ends_with_question_mark {
        // A question followed by more text: "Is it Tuesday? Anyway the bins go out tonight".
        return Decision::guess(if asks { Intent::Question } else { Intent::Memory });
    }
    if asks {
        return Decision::sure(Intent::Question);
    }
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first().copied().unwrap_or_default();
    let second = words.get(1).copied().unwrap_or_default();
    if WH_WORDS.contains(&first) {
        if ends_with_question_mark || AFTER_WH.contains(&second) || second.is_empty() {
            return Decision::sure(Intent::Question);
        }
        // "which hotel did we …", "what book was it": an auxiliary then a subject, soon after.
        let inverted = (1..words.len().min(4)).any(|k| {
            AUXILIARIES.contains(&words[k])
                && words.get(k + 1).is_some_and(|w| SUBJECTS.contains(w))
        });
        if inverted {
            return Decision::sure(Intent::Question);
        }
        // "what a day", "when I was a kid…", "where I parked: level 3", "how to …: …".
        return match (first, second) {
            ("how", "to") if !lower.contains(':') => Decision::guess(Intent::Question),
            _ => Decision::guess(Intent::Memory),
        };
    }
    if ends_with_question_mark {
        if NOTE_VERBS.contains(&first) {
            return Decision::guess(Intent::Memory);
        }
        return Decision::sure(Intent::Question);
    }
    Decision::sure(Intent::Memory)
}

/// Lowercase, typographic apostrophes made plain, greetings and fillers dropped from the front.
fn normalise(text: &str) -> String {
    let mut s = text.to_lowercase().replace(['’', '‘'], "'");
    loop {
        let trimmed = s.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '/');
        let first: String = trimmed.chars().take_while(|c| c.is_alphanumeric()).collect();
        if !first.is_empty() && FILLERS.contains(&first.as_str()) && trimmed.len() > first.len() {
            s = trimmed[first.len()..].to_string();
        } else {
            return trimmed.to_string();
        }
    }
}

fn starts_with_phrase(text: &str, prefix: &str) -> bool {
    text.starts_with(prefix)
        && text[prefix.len()..].chars().next().is_none_or(|c| {
            !c.is_alphanumeric() || !prefix.ends_with(|p: char| p.is_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Intent::{Memory as M, Question as Q, Reminder as R};

    /// Real-looking messages and what they ask for.
    const TABLE: &[(&str, Intent)] = &[
        // questions
        ("What did I plan for dinner?", Q),
        ("show me my haircut from last week", Q),
        ("where did I park", Q),
        ("Where did I park the car?", Q),
        ("when is mum's birthday", Q),
        ("When's the dentist appointment?", Q),
        ("did I pay the electricity bill", Q),
        ("Did I send the invoice to Marco?", Q),
        ("find the wifi password", Q),
        ("Find my passport number", Q),
        ("search gym schedule", Q),
        ("what's the gate code", Q),
        ("whats the name of that thai place", Q),
        ("Who recommended the plumber?", Q),
        ("which hotel did we book in Lisbon", Q),
        ("how many km did I run this week", Q),
        ("How much was the car service?", Q),
        ("photos from last week", Q),
        ("any notes about the landlord?", Q),
        ("tell me what I saved yesterday", Q),
        ("Hey mnemo, what did I say about the kitchen tiles?", Q),
        ("remind me what the doctor said", Q),
        ("do I have anything about insurance", Q),
        ("is there a note about the boiler?", Q),
        ("what was that book Sarah mentioned", Q),
        ("the blue jacket, was it size M or L?", Q),
        ("can you find the receipt from IKEA", Q),
        ("show me the whiteboard photo", Q),
        ("What did I eat on Monday?", Q),
        ("my voice notes from yesterday", Q),
        ("why did I cancel the gym", Q),
        ("What time is the flight on Friday?", Q),
        ("ok so where's the spare key", Q),
        ("Have I ever been to that restaurant?", Q),
        ("look up Tom's address", Q),
        // memories
        ("Dinner plan: pasta with Anna on Friday", M),
        ("whatever, buy milk", M),
        ("Parked on level 3, spot B12", M),
        ("wifi password is sunflower42", M),
        ("Gate code 4411", M),
        ("Note: the plumber is called Dave, 07700 900123", M),
        ("remember that Tom is allergic to peanuts", M),
        ("Ran 5km in 28 minutes today 🏃", M),
        ("Idea: a tiny app for splitting bills", M),
        ("Sarah recommended 'The Overstory'", M),
        ("Car service cost £240 at Kwik Fit", M),
        ("Mum's birthday is on 14 March", M),
        ("Passport number 123456789, expires 2031", M),
        ("Booked the Lisbon hotel: Casa do Largo, 3 nights", M),
        ("todo: renew the car insurance", M),
        ("Landlord says the boiler gets fixed next week", M),
        ("Kitchen tiles: going with the green ones from Topps", M),
        ("Meeting with Priya moved to Thursday", M),
        ("the spare key is under the blue pot", M),
        ("Anna's size is M", M),
        ("What a day! Finally finished the report", M),
        ("When I was a kid we went to Brighton every summer", M),
        ("Ask Anna if she's free on Friday?", M),
        ("Is it Tuesday? Anyway the bins go out tonight", M),
        ("how to reset the router: hold the button 10 seconds", M),
        ("fyi the cleaner comes on Wednesdays now", M),
        // reminders
        ("remind me to call mum tomorrow at 3pm", R),
        ("Remind me to take the bins out tonight", R),
        ("set a reminder for the dentist on Monday 9am", R),
        ("reminder: pay rent on the 1st", R),
        ("don't let me forget to water the plants", R),
        ("please remind me in 2 hours to check the oven", R),
    ];

    #[test]
    fn intent_table() {
        let mut wrong = Vec::new();
        for (text, want) in TABLE {
            let got = classify(text);
            if &got.intent != want {
                wrong.push(format!(
                    "{text:?}: got {:?} (sure: {}), want {want:?}",
                    got.intent, got.sure
                ));
                // A confident rule must never be wrong.
                assert!(!got.sure, "confidently wrong on {text:?}: {got:?}");
            }
        }
        let right = TABLE.len() - wrong.len();
        let accuracy = right as f64 / TABLE.len() as f64;
        println!("intent table: {right}/{} correct ({:.1}%)", TABLE.len(), accuracy * 100.0);
        for w in &wrong {
            println!("  miss: {w}");
        }
        assert!(TABLE.len() >= 60);
        assert!(accuracy >= 0.95, "{wrong:#?}");
    }

    #[test]
    fn unsure_cases_are_marked() {
        assert!(!classify("When I was a kid we went to Brighton").sure);
        assert!(!classify("Ask Anna if she's free on Friday?").sure);
        assert!(classify("What did I plan for dinner?").sure);
        assert!(classify("Gate code 4411").sure);
    }

    #[test]
    fn commands_are_case_insensitive_and_tolerate_spaces() {
        assert_eq!(intent(" /HELP "), Intent::Command { name: "help".into(), args: String::new() });
        assert_eq!(
            intent("/ list   last   week"),
            Intent::Command { name: "list".into(), args: "last week".into() }
        );
    }
}
