//! Syntax detection and highlighting into compact per-line spans.

use std::collections::HashMap;
use std::sync::Arc;

use syntect::highlighting::{FontStyle, HighlightIterator, HighlightState, Theme};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

use crate::fonts::{Face, Rgb};
use crate::theme::UI_STYLES;

/// A run of one style ending at byte `end` of the line (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub end: u32,
    pub style: u8,
}

/// Highlighted spans of one line, shared between the pages that show it.
pub(crate) type Spans = Arc<[Span]>;

/// Interned (colour, face) pairs of one document. Bounded so a page palette always has
/// room for anti-aliasing levels: colours beyond the cap map to the nearest one.
#[derive(Debug, Clone)]
pub(crate) struct Styles {
    pub list: Vec<(Rgb, Face)>,
    index: HashMap<(Rgb, Face), u8>,
}

pub(crate) const MAX_STYLES: usize = 40;

impl Styles {
    pub(crate) fn new() -> Self {
        let mut s = Self {
            list: Vec::new(),
            index: HashMap::new(),
        };
        // Pushed, not interned: chrome styles keep their fixed indices even when two share
        // a colour.
        s.list.extend(UI_STYLES);
        s
    }

    pub(crate) fn intern(&mut self, rgb: Rgb, face: Face) -> u8 {
        if let Some(&i) = self.index.get(&(rgb, face)) {
            return i;
        }
        if self.list.len() >= MAX_STYLES {
            let dist = |c: Rgb| -> i32 {
                (0..3)
                    .map(|k| (i32::from(c[k]) - i32::from(rgb[k])).pow(2))
                    .sum()
            };
            let best = (0..self.list.len())
                .min_by_key(|&i| dist(self.list[i].0))
                .unwrap_or(0);
            return best as u8;
        }
        let i = self.list.len() as u8;
        self.list.push((rgb, face));
        self.index.insert((rgb, face), i);
        i
    }
}

/// Aliases for fence languages and extensions the default syntax set lacks or names
/// differently.
fn alias(token: &str) -> Option<&'static str> {
    Some(match token {
        "ts" | "tsx" | "typescript" | "jsx" | "mjs" | "cjs" | "javascriptreact" | "node" => {
            "JavaScript"
        }
        "sh" | "bash" | "zsh" | "shell" | "console" | "shellscript" | "ksh" => {
            "Bourne Again Shell (bash)"
        }
        "golang" => "Go",
        "py3" | "python3" | "pyi" => "Python",
        "jsonc" | "json5" | "ipynb" | "lock" => "JSON",
        "vue" | "svelte" | "htm" | "xhtml" => "HTML",
        "yml" => "YAML",
        "kt" | "kts" | "kotlin" | "scala" | "groovy" | "gradle" => "Java",
        "cc" | "cxx" | "hpp" | "hh" | "c++" | "cpp" => "C++",
        "rs" => "Rust",
        "md" | "markdown" | "mdx" => "Markdown",
        "dockerfile" | "containerfile" | "toml" | "ini" | "cfg" | "conf" | "env" => {
            "Bourne Again Shell (bash)"
        }
        "patch" | "diff" => "Diff",
        _ => return None,
    })
}

/// Picks a syntax from a file name or fence language, then from the content (shebang,
/// `<?xml`, mode lines), else plain text.
pub(crate) fn detect<'s>(ss: &'s SyntaxSet, hint: Option<&str>, text: &str) -> &'s SyntaxReference {
    if let Some(hint) = hint.map(str::trim).filter(|h| !h.is_empty()) {
        let name = hint.rsplit(['/', '\\']).next().unwrap_or(hint);
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e);
        let found = ext
            .and_then(|e| ss.find_syntax_by_extension(e))
            .or_else(|| ss.find_syntax_by_extension(name))
            .or_else(|| ss.find_syntax_by_token(&lower))
            .or_else(|| ext.and_then(alias).and_then(|n| ss.find_syntax_by_name(n)))
            .or_else(|| alias(&lower).and_then(|n| ss.find_syntax_by_name(n)));
        if let Some(s) = found {
            return s;
        }
    }
    let first = text.lines().next().unwrap_or("");
    if let Some(s) = ss.find_syntax_by_first_line(first) {
        return s;
    }
    let trimmed = text.trim_start();
    let by_content = if trimmed.starts_with("diff --git") || trimmed.starts_with("--- ") {
        Some("Diff")
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') && trimmed.ends_with(']') {
        Some("JSON")
    } else if trimmed.starts_with("<!DOCTYPE html") || trimmed.starts_with("<html") {
        Some("HTML")
    } else if trimmed.starts_with('<') {
        Some("XML")
    } else {
        None
    };
    by_content
        .and_then(|n| ss.find_syntax_by_name(n))
        .unwrap_or_else(|| ss.find_syntax_plain_text())
}

/// Parser + highlighter state after some line: equal states mean equal output from here on.
pub(crate) type State = (ParseState, HighlightState);

/// Line-by-line highlighter: parser state flows from one line to the next.
pub(crate) struct Highlighter<'a> {
    ss: &'a SyntaxSet,
    hl: syntect::highlighting::Highlighter<'a>,
    parse: ParseState,
    state: HighlightState,
    plain: bool,
}

impl<'a> Highlighter<'a> {
    pub(crate) fn new(ss: &'a SyntaxSet, syntax: &'a SyntaxReference, theme: &'a Theme) -> Self {
        let hl = syntect::highlighting::Highlighter::new(theme);
        let state = HighlightState::new(&hl, ScopeStack::new());
        let plain = syntax.name == "Plain Text";
        Self {
            ss,
            hl,
            parse: ParseState::new(syntax),
            state,
            plain,
        }
    }

    pub(crate) fn snapshot(&self) -> State {
        (self.parse.clone(), self.state.clone())
    }

    pub(crate) fn restore(&mut self, s: State) {
        (self.parse, self.state) = s;
    }

    /// Highlights `line` (with its `\n`, as the newline syntaxes expect); spans end at
    /// `visible_len`, the line without its line end.
    pub(crate) fn line(&mut self, line: &str, visible_len: usize, styles: &mut Styles) -> Spans {
        let all = Span {
            end: visible_len as u32,
            style: 0,
        };
        if self.plain {
            return Arc::new([all]);
        }
        let Ok(ops) = self.parse.parse_line(line, self.ss) else {
            // A regex engine limit on a pathological line: show it unhighlighted.
            return Arc::new([all]);
        };
        let mut spans: Vec<Span> = Vec::with_capacity(ops.len() + 1);
        let mut pos = 0usize;
        for (style, piece) in HighlightIterator::new(&mut self.state, &ops, line, &self.hl) {
            pos += piece.len();
            let end = pos.min(visible_len) as u32;
            let fg = [style.foreground.r, style.foreground.g, style.foreground.b];
            let face = if style.font_style.contains(FontStyle::BOLD) {
                Face::Bold
            } else if style.font_style.contains(FontStyle::ITALIC) {
                Face::Italic
            } else {
                Face::Regular
            };
            let id = styles.intern(fg, face);
            match spans.last_mut() {
                Some(last) if last.style == id => last.end = end,
                Some(last) if last.end >= end => {}
                _ => spans.push(Span { end, style: id }),
            }
        }
        if spans.last().is_none_or(|s| (s.end as usize) < visible_len) {
            spans.push(all);
        }
        spans.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_name_fence_and_content() {
        let ss = SyntaxSet::load_defaults_newlines();
        let name = |h: Option<&str>, t: &str| detect(&ss, h, t).name.clone();
        assert_eq!(name(Some("src/main.rs"), ""), "Rust");
        assert_eq!(name(Some("rust"), ""), "Rust");
        assert_eq!(name(Some("py"), ""), "Python");
        assert_eq!(name(Some("app.tsx"), ""), "JavaScript");
        assert_eq!(name(Some("Makefile"), ""), "Makefile");
        assert_eq!(name(Some("C++"), ""), "C++");
        assert_eq!(name(None, "#!/usr/bin/env python3\nprint(1)\n"), "Python");
        assert_eq!(
            name(None, "#!/bin/bash\necho hi\n"),
            "Bourne Again Shell (bash)"
        );
        assert_eq!(name(None, "{\"a\": 1}"), "JSON");
        assert_eq!(name(Some("notes.unknownext"), "hello"), "Plain Text");
    }

    #[test]
    fn spans_cover_the_visible_line() {
        let ss = SyntaxSet::load_defaults_newlines();
        let ts = syntect::highlighting::ThemeSet::load_defaults();
        let theme = &ts.themes[crate::theme::SYNTECT_THEME];
        let mut h = Highlighter::new(&ss, detect(&ss, Some("x.rs"), ""), theme);
        let mut styles = Styles::new();
        let spans = h.line("fn main() { let x = \"s\"; }\n", 26, &mut styles);
        assert_eq!(spans.last().map(|s| s.end), Some(26));
        assert!(spans.windows(2).all(|w| w[0].end < w[1].end));
        assert!(
            spans.len() >= 4,
            "keywords, names and strings differ: {spans:?}"
        );
    }
}
