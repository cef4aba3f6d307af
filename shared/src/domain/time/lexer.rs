//! The one lexer both grammars read: words, lowercased, with their byte spans in the text.
//!
//! Words are split on white space and commas; a word keeps its letters, digits and `@` and loses
//! the punctuation around it ("(yesterday)," → `yesterday`), so its span covers only what was
//! kept and a grammar can cut a phrase out of the original text. `’` is read as `'`, `a.m.` and
//! `p.m.` as `am` and `pm`, and a word of dashes alone (`-`, `–`, `—`) as `-` ("3 – 10 March").

/// One word of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    /// Lowercased and normalized (see the module's header).
    pub w: String,
    /// Byte span in the original text.
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// The word without a possessive `'s` ("last week's" → `week`).
    pub fn stem(&self) -> &str {
        self.w.strip_suffix("'s").unwrap_or(&self.w)
    }

    pub fn is_dash(&self) -> bool {
        self.w == "-"
    }
}

/// The words of `text`, in order.
pub fn lex(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || c == ',' {
            if let Some(s) = start.take() {
                push(text, s, i, &mut out);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(text, s, text.len(), &mut out);
    }
    out
}

fn push(text: &str, s: usize, e: usize, out: &mut Vec<Tok>) {
    let raw = &text[s..e];
    let keep = |c: char| c.is_alphanumeric() || c == '@';
    let first = raw.find(keep);
    let last = raw.char_indices().rev().find(|(_, c)| keep(*c)).map(|(i, c)| i + c.len_utf8());
    let (Some(a), Some(b)) = (first, last) else {
        if raw.chars().all(|c| matches!(c, '-' | '–' | '—')) {
            out.push(Tok { w: "-".into(), start: s, end: e });
        }
        return;
    };
    let mut w = raw[a..b].to_lowercase().replace('’', "'");
    for (dotted, plain) in [("a.m", "am"), ("p.m", "pm")] {
        if let Some(stem) = w.strip_suffix(dotted) {
            w = format!("{stem}{plain}");
        }
    }
    out.push(Tok { w, start: s + a, end: s + b });
}

/// The word at `i`, or `""` past the end (so matchers can look ahead freely).
pub fn word(toks: &[Tok], i: usize) -> &str {
    toks.get(i).map_or("", |t| t.w.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text).into_iter().map(|t| t.w).collect()
    }

    #[test]
    fn words_spans_and_normal_forms() {
        assert_eq!(
            words("Remind me (tomorrow), at 4 p.m. – O’Clock"),
            ["remind", "me", "tomorrow", "at", "4", "pm", "-", "o'clock"]
        );
        assert_eq!(words("March 3rd,2026 @ 9"), ["march", "3rd", "2026", "@", "9"]);
        let text = "  last week’s notes?";
        let toks = lex(text);
        assert_eq!(&text[toks[1].start..toks[1].end], "week’s");
        assert_eq!(toks[1].stem(), "week");
        assert_eq!(words("?! ... ,,"), Vec::<String>::new());
    }
}
