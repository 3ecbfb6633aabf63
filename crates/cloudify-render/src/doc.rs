//! The document model shared by code and diffs: lines with a kind, their text, their
//! numbers; then rows (after soft wrap) and pages (after pagination).

use std::ops::Range;

use crate::text::{split_lines, wrap_line};

/// What a line is; decides its background, gutter and highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Code,
    Context,
    Add,
    Del,
    Hunk,
    File,
    Meta,
}

impl Kind {
    /// Lines that carry source code highlighted in the file's language.
    pub(crate) fn is_code(self) -> bool {
        matches!(self, Kind::Code | Kind::Context | Kind::Add | Kind::Del)
    }
    fn is_header(self) -> bool {
        matches!(self, Kind::Hunk | Kind::File)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub kind: Kind,
    /// Byte range of the visible text in `Doc::text` (without sign and line end).
    pub text: Range<usize>,
    /// Replaces `text` for synthesized lines (file headers, notes).
    pub label: Option<String>,
    /// Old and new line numbers (code uses `new`); 0 means none.
    pub old: u32,
    pub new: u32,
    /// Index into `Doc::files` for diffs (which language highlights this line).
    pub file: u16,
}

#[derive(Debug)]
pub(crate) struct Doc<'t> {
    pub text: &'t str,
    pub lines: Vec<Line>,
    pub is_diff: bool,
    /// Diff: file names (new side, or old when deleted) used to pick syntaxes.
    pub files: Vec<String>,
}

impl<'t> Doc<'t> {
    pub(crate) fn code(text: &'t str) -> Self {
        let mut lines: Vec<Line> = split_lines(text)
            .into_iter()
            .enumerate()
            .map(|(i, r)| Line {
                kind: Kind::Code,
                text: r,
                label: None,
                old: 0,
                new: i as u32 + 1,
                file: 0,
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::note("(empty file)"));
        }
        Self {
            text,
            lines,
            is_diff: false,
            files: Vec::new(),
        }
    }

    pub(crate) fn line_text<'a>(&'a self, l: &'a Line) -> &'a str {
        match &l.label {
            Some(s) => s,
            None => &self.text[l.text.clone()],
        }
    }
}

impl Line {
    pub(crate) fn note(label: &str) -> Self {
        Line {
            kind: Kind::Meta,
            text: 0..0,
            label: Some(label.to_owned()),
            old: 0,
            new: 0,
            file: 0,
        }
    }
}

/// One visual row: a slice of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub line: u32,
    /// Byte range within the line's visible text.
    pub range: Range<usize>,
    /// First row of its line (gets the line number; the others get the wrap mark).
    pub first: bool,
}

/// Wraps every line; returns the rows and the widest row's column count.
pub(crate) fn layout(doc: &Doc<'_>, max_cols: usize, tab: usize) -> (Vec<Row>, usize) {
    let mut rows = Vec::with_capacity(doc.lines.len() + doc.lines.len() / 8);
    let mut widest = 0;
    for (i, l) in doc.lines.iter().enumerate() {
        for (k, (range, cols)) in wrap_line(doc.line_text(l), max_cols, tab)
            .into_iter()
            .enumerate()
        {
            widest = widest.max(cols);
            rows.push(Row {
                line: i as u32,
                range,
                first: k == 0,
            });
        }
    }
    (rows, widest)
}

/// Splits rows into pages of at most `per_page`. For diffs a page ends early (by at most a
/// fifth of a page) so that a hunk or file header starts the next page instead of
/// dangling at the bottom of this one.
pub(crate) fn paginate(rows: &[Row], doc: &Doc<'_>, per_page: usize) -> Vec<Range<usize>> {
    let per_page = per_page.max(1);
    let mut pages = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = (start + per_page).min(rows.len());
        if doc.is_diff && end < rows.len() {
            let slack = per_page / 5;
            let is_break = |i: usize| {
                let r = &rows[i];
                r.first && doc.lines[r.line as usize].kind.is_header()
            };
            // Latest header row in the last fifth; keep consecutive headers together.
            if let Some(h) = (end.saturating_sub(slack).max(start + 1)..=end)
                .rev()
                .find(|&i| is_break(i))
            {
                let mut h = h;
                while h > start + 1 && is_break(h - 1) {
                    h -= 1;
                }
                end = h;
            }
        }
        pages.push(start..end);
        start = end;
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_a_1000_line_file() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let doc = Doc::code(&text);
        let (rows, widest) = layout(&doc, 100, 4);
        assert_eq!(rows.len(), 1000);
        assert_eq!(widest, 8);
        let pages = paginate(&rows, &doc, 60);
        assert_eq!(pages.len(), 17);
        assert!(pages[..16].iter().all(|p| p.len() == 60));
        assert_eq!(pages[16], 960..1000);
    }

    #[test]
    fn wrapped_rows_count_towards_the_page() {
        let text = format!("{}\nshort\n", "x".repeat(250));
        let doc = Doc::code(&text);
        let (rows, widest) = layout(&doc, 100, 4);
        assert_eq!(widest, 100);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows.iter().filter(|r| r.first).count(), 2);
        assert_eq!(paginate(&rows, &doc, 3), vec![0..3, 3..4]);
    }

    #[test]
    fn empty_input_gets_a_note() {
        let doc = Doc::code("");
        assert_eq!(doc.lines.len(), 1);
        assert_eq!(doc.line_text(&doc.lines[0]), "(empty file)");
    }
}
