//! Styled text: every visible character with the stack of Telegram HTML tags around it.
//!
//! Keeping characters and styles apart (instead of building an HTML string) makes every
//! later step safe by construction: a part cut anywhere serializes to balanced tags, the
//! visible length is exact, and the plain-text fallback is the same characters.

use std::collections::HashMap;
use std::ops::Range;

/// One Telegram HTML formatting tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Tag {
    Bold,
    Italic,
    Strike,
    Quote,
    /// An `http(s)` link; the URL is checked by the caller.
    Link(String),
    /// Inline code.
    Code,
    /// A code block with an optional (sanitized) language.
    Pre(Option<String>),
}

impl Tag {
    fn open(&self, out: &mut String) {
        match self {
            Tag::Bold => out.push_str("<b>"),
            Tag::Italic => out.push_str("<i>"),
            Tag::Strike => out.push_str("<s>"),
            Tag::Quote => out.push_str("<blockquote>"),
            Tag::Code => out.push_str("<code>"),
            Tag::Pre(None) => out.push_str("<pre>"),
            Tag::Pre(Some(lang)) => {
                out.push_str("<pre><code class=\"language-");
                escape_attr_into(lang, out);
                out.push_str("\">");
            }
            Tag::Link(url) => {
                out.push_str("<a href=\"");
                escape_attr_into(url, out);
                out.push_str("\">");
            }
        }
    }

    fn close(&self, out: &mut String) {
        out.push_str(match self {
            Tag::Bold => "</b>",
            Tag::Italic => "</i>",
            Tag::Strike => "</s>",
            Tag::Quote => "</blockquote>",
            Tag::Code => "</code>",
            Tag::Pre(None) => "</pre>",
            Tag::Pre(Some(_)) => "</code></pre>",
            Tag::Link(_) => "</a>",
        });
    }
}

/// Escapes text for Telegram HTML: `<`, `>` and `&` are the only special characters.
pub(crate) fn escape_into(c: char, out: &mut String) {
    match c {
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '&' => out.push_str("&amp;"),
        c => out.push(c),
    }
}

fn escape_attr_into(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == '"' {
            out.push_str("&quot;");
        } else {
            escape_into(c, out);
        }
    }
}

/// An interned tag stack.
pub(crate) type StyleId = u32;

/// Visible characters, each with its tag stack (outermost first).
#[derive(Debug, Clone, Default)]
pub(crate) struct Styled {
    chars: Vec<char>,
    styles: Vec<StyleId>,
    table: Vec<Vec<Tag>>,
    index: HashMap<Vec<Tag>, StyleId>,
}

impl Styled {
    pub(crate) fn new() -> Self {
        let mut s = Self::default();
        s.style(&[]);
        s
    }

    /// Interns a tag stack.
    pub(crate) fn style(&mut self, tags: &[Tag]) -> StyleId {
        if let Some(id) = self.index.get(tags) {
            return *id;
        }
        let id = StyleId::try_from(self.table.len()).unwrap_or(0);
        self.table.push(tags.to_vec());
        self.index.insert(tags.to_vec(), id);
        id
    }

    pub(crate) fn push(&mut self, c: char, style: StyleId) {
        self.chars.push(c);
        self.styles.push(style);
    }

    pub(crate) fn push_str(&mut self, s: &str, style: StyleId) {
        for c in s.chars() {
            self.push(c, style);
        }
    }

    /// Appends plain (unformatted) text.
    pub(crate) fn plain(&mut self, s: &str) {
        self.push_str(s, 0);
    }

    /// Appends `s` with the given tags.
    pub(crate) fn tagged(&mut self, s: &str, tags: &[Tag]) {
        let id = self.style(tags);
        self.push_str(s, id);
    }

    /// Appends a range of another styled text, keeping its styles.
    pub(crate) fn append(&mut self, other: &Styled, range: Range<usize>) {
        let mut map: HashMap<StyleId, StyleId> = HashMap::new();
        for i in range {
            let theirs = other.styles[i];
            let ours = match map.get(&theirs) {
                Some(id) => *id,
                None => {
                    let id = self.style(&other.table[theirs as usize]);
                    map.insert(theirs, id);
                    id
                }
            };
            self.push(other.chars[i], ours);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.chars.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub(crate) fn char_at(&self, i: usize) -> char {
        self.chars[i]
    }

    pub(crate) fn last_char(&self) -> Option<char> {
        self.chars.last().copied()
    }

    /// Whether the character at `i` is inside a code block.
    pub(crate) fn in_pre(&self, i: usize) -> bool {
        self.table[self.styles[i] as usize]
            .iter()
            .any(|t| matches!(t, Tag::Pre(_)))
    }

    /// Whether the text has no visible content once Telegram trims it.
    pub(crate) fn is_blank(&self, range: Range<usize>) -> bool {
        self.chars[range].iter().all(|c| c.is_whitespace())
    }

    /// Telegram's length of a range: UTF-16 code units (never less than code points).
    pub(crate) fn units(&self, range: Range<usize>) -> usize {
        self.chars[range].iter().map(|c| c.len_utf16()).sum()
    }

    pub(crate) fn total_units(&self) -> usize {
        self.units(0..self.len())
    }

    /// The characters of a range, for the plain-text fallback.
    pub(crate) fn text(&self, range: Range<usize>) -> String {
        self.chars[range].iter().collect()
    }

    /// Telegram HTML for a range: tags opened and closed around each run, always balanced.
    pub(crate) fn html(&self, range: Range<usize>) -> String {
        let mut out = String::with_capacity(range.len() + 16);
        let mut open: &[Tag] = &[];
        for i in range {
            let want = &self.table[self.styles[i] as usize];
            if want != open {
                let common = open
                    .iter()
                    .zip(want.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                for tag in open[common..].iter().rev() {
                    tag.close(&mut out);
                }
                for tag in &want[common..] {
                    tag.open(&mut out);
                }
                open = want;
            }
            escape_into(self.chars[i], &mut out);
        }
        for tag in open.iter().rev() {
            tag.close(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_share_tags_and_close_in_order() {
        let mut s = Styled::new();
        s.plain("a<");
        s.tagged("b", &[Tag::Bold]);
        s.tagged("c", &[Tag::Bold, Tag::Italic]);
        s.tagged("&", &[Tag::Link("https://x.y/?a=\"1\"&b".into())]);
        assert_eq!(
            s.html(0..s.len()),
            "a&lt;<b>b<i>c</i></b><a href=\"https://x.y/?a=&quot;1&quot;&amp;b\">&amp;</a>"
        );
        assert_eq!(s.html(3..4), "<b><i>c</i></b>");
        assert_eq!(s.text(0..s.len()), "a<bc&");
    }

    #[test]
    fn pre_with_language() {
        let mut s = Styled::new();
        s.tagged("x < 1", &[Tag::Pre(Some("rust".into()))]);
        assert_eq!(
            s.html(0..s.len()),
            "<pre><code class=\"language-rust\">x &lt; 1</code></pre>"
        );
        assert!(s.in_pre(0));
    }

    #[test]
    fn units_count_utf16() {
        let mut s = Styled::new();
        s.plain("a😀");
        assert_eq!(s.total_units(), 3);
    }
}
