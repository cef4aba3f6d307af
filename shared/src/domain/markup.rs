//! WhatsApp's inline markup, `*bold*`, `_italic_` and `~strikethrough~`, read the way WhatsApp
//! reads it, so replies can be checked for what it cannot show.
//!
//! A marker opens a span at the start of a line or after a character that is not a letter or
//! digit, when a non-space follows; it closes at the next same marker on that line that follows
//! a non-space and is not followed by a letter or digit. So `New_York` and `5 * 3` hold no
//! markup, and no span crosses a line break.
//!
//! Nesting (`_Reply */forget <n>* to delete one._`) is not shown as both styles: WhatsApp and
//! the console show some of the markers as literal characters. mnemo's replies never nest
//! ([`nesting`] finds where one does; the reply tests use it).

use std::fmt;

/// One of WhatsApp's inline styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Italic,
    Strike,
}

impl Style {
    pub fn marker(self) -> char {
        match self {
            Style::Bold => '*',
            Style::Italic => '_',
            Style::Strike => '~',
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Style::Bold => "bold",
            Style::Italic => "italic",
            Style::Strike => "strikethrough",
        })
    }
}

/// A styled span: `open` and `close` are the byte offsets of its two markers in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub style: Style,
    pub open: usize,
    pub close: usize,
}

impl Span {
    fn contains(&self, other: &Span) -> bool {
        self.open < other.open && other.close < self.close
    }

    fn crosses(&self, other: &Span) -> bool {
        self.open < other.open && other.open < self.close && self.close < other.close
    }
}

/// Every styled span of `text`, by style, then by position.
pub fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split('\n') {
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for style in [Style::Bold, Style::Italic, Style::Strike] {
            let m = style.marker();
            let mut i = 0;
            while i < chars.len() {
                if chars[i].1 == m && can_open(&chars, i) {
                    let close =
                        (i + 2..chars.len()).find(|&j| chars[j].1 == m && can_close(&chars, j));
                    if let Some(j) = close {
                        out.push(Span {
                            style,
                            open: line_start + chars[i].0,
                            close: line_start + chars[j].0,
                        });
                        i = j + 1;
                        continue;
                    }
                }
                i += 1;
            }
        }
        line_start += line.len() + 1;
    }
    out
}

fn can_open(chars: &[(usize, char)], i: usize) -> bool {
    let before = i.checked_sub(1).map(|b| chars[b].1);
    let after = chars.get(i + 1).map(|c| c.1);
    before.is_none_or(|c| !c.is_alphanumeric())
        && after.is_some_and(|c| !c.is_whitespace() && c != chars[i].1)
}

fn can_close(chars: &[(usize, char)], j: usize) -> bool {
    let before = chars[j - 1].1;
    let after = chars.get(j + 1).map(|c| c.1);
    !before.is_whitespace() && before != chars[j].1 && after.is_none_or(|c| !c.is_alphanumeric())
}

/// Two spans of which one sits inside (or across) the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nesting {
    pub outer: Span,
    pub inner: Span,
    /// The line they are on.
    pub line: String,
}

impl fmt::Display for Nesting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.outer.close < self.inner.close { "crosses" } else { "inside" };
        write!(f, "{} {how} {} in “{}”", self.inner.style, self.outer.style, self.line)
    }
}

/// The first place where `text` nests (or crosses) one style inside another, if any.
pub fn nesting(text: &str) -> Option<Nesting> {
    let all = spans(text);
    let (outer, inner) = all
        .iter()
        .find_map(|a| all.iter().find(|b| a.contains(b) || a.crosses(b)).map(|b| (*a, *b)))?;
    let start = text[..outer.open].rfind('\n').map_or(0, |i| i + 1);
    let end = text[outer.open..].find('\n').map_or(text.len(), |i| outer.open + i);
    Some(Nesting { outer, inner, line: text[start..end].to_string() })
}

/// `text` with its markers' styles: `(style, inner text)` for each span, in order of position,
/// for tests that want to say what is shown bold.
pub fn styled(text: &str) -> Vec<(Style, &str)> {
    let mut all = spans(text);
    all.sort_by_key(|s| s.open);
    all.into_iter().map(|s| (s.style, &text[s.open + 1..s.close])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_whatsapps_word_boundaries() {
        assert_eq!(
            styled("*1.* note · _today_ ~old~"),
            vec![(Style::Bold, "1."), (Style::Italic, "today"), (Style::Strike, "old")]
        );
        // Inside words, around spaces and across lines: not markup.
        assert!(spans("*/tz America/New_York* or Asia/Ho_Chi_Minh").len() == 1);
        assert!(spans("5 * 3 * 2").is_empty());
        assert!(spans("a_b_c").is_empty());
        assert!(spans("*bold\nline*").is_empty());
        assert!(spans("** and __").is_empty());
        // Punctuation may follow a closing marker and precede an opening one.
        assert_eq!(styled("(*/list more*)."), vec![(Style::Bold, "/list more")]);
    }

    #[test]
    fn nesting_is_found_and_flat_text_passes() {
        let n = nesting("🔎 found:\n_Reply */forget <n>* to delete one._").unwrap();
        assert_eq!((n.outer.style, n.inner.style), (Style::Italic, Style::Bold));
        assert_eq!(n.to_string(), "bold inside italic in “_Reply */forget <n>* to delete one._”");
        assert!(nesting("*bold _italic_ bold*").is_some());
        assert!(nesting("*a _b* c_").unwrap().to_string().starts_with("italic crosses bold"));
        assert_eq!(nesting("Reply */forget <n>* to delete one."), None);
        assert_eq!(nesting("*a* _b_\n_c_ *d*"), None);
    }
}
