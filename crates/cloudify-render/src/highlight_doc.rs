//! Highlighting a whole document, in parallel where that is provably the same as serial.
//!
//! syntect's parser state flows from line to line, so the document is cut into one chunk
//! per core at likely top-level lines (after a blank line, unindented) and every chunk
//! starts from a fresh state. Stitching then checks each guess: the previous chunk's true
//! end state is run over the chunk's first line, and if the resulting state equals the
//! speculative one, every later line of the chunk is exactly what a serial run produces.
//! Otherwise (the cut fell inside a block comment or string) the chunk is redone serially
//! from the true state. Diffs are cut at hunk headers, where highlighting restarts anyway.

use std::sync::Arc;

use rayon::prelude::*;
use syntect::highlighting::Theme;
use syntect::parsing::{SyntaxReference, SyntaxSet};

use crate::doc::{Doc, Kind};
use crate::highlight::{Highlighter, Span, Spans, State, Styles};

/// Chunks shorter than this are not worth a thread.
const MIN_CHUNK: usize = 40;
/// Minimum distance from the even split point searched for a top-level line.
const SEARCH: usize = 80;

/// Highlights lines in order; diffs get one highlighter per side, reset at every hunk, so
/// deleted and added code each parse as coherent source.
pub(crate) struct DocHighlighter<'r> {
    ss: &'r SyntaxSet,
    theme: &'r Theme,
    syntaxes: &'r [&'r SyntaxReference],
    pub styles: Styles,
    old: Highlighter<'r>,
    new: Highlighter<'r>,
}

impl<'r> DocHighlighter<'r> {
    pub(crate) fn new(
        ss: &'r SyntaxSet,
        theme: &'r Theme,
        syntaxes: &'r [&'r SyntaxReference],
    ) -> Self {
        let syntax = syntaxes
            .first()
            .copied()
            .unwrap_or_else(|| ss.find_syntax_plain_text());
        Self {
            ss,
            theme,
            syntaxes,
            styles: Styles::new(),
            old: Highlighter::new(ss, syntax, theme),
            new: Highlighter::new(ss, syntax, theme),
        }
    }

    fn reset(&mut self, file: usize) {
        let syntax = self
            .syntaxes
            .get(file)
            .copied()
            .unwrap_or_else(|| self.ss.find_syntax_plain_text());
        self.old = Highlighter::new(self.ss, syntax, self.theme);
        self.new = Highlighter::new(self.ss, syntax, self.theme);
    }

    pub(crate) fn next(&mut self, doc: &Doc<'_>, i: usize) -> Spans {
        let line = &doc.lines[i];
        let visible = line.text.len();
        // The source text with its newline, as syntect's newline syntaxes expect.
        let end = (line.text.end + 1).min(doc.text.len());
        let with_nl = doc.text.get(line.text.start..end).unwrap_or("");
        let styles = &mut self.styles;
        match line.kind {
            Kind::Hunk | Kind::File => {
                self.reset(usize::from(line.file));
                Arc::new([])
            }
            Kind::Meta => Arc::new([]),
            Kind::Code | Kind::Add => self.new.line(with_nl, visible, styles),
            Kind::Del => self.old.line(with_nl, visible, styles),
            Kind::Context => {
                self.old.line(with_nl, visible, styles);
                self.new.line(with_nl, visible, styles)
            }
        }
    }

    /// State of code highlighting (what must match across a chunk boundary).
    fn state(&self) -> State {
        self.new.snapshot()
    }
}

/// Where to cut: about `n / chunks` apart, moved forward to a line that likely starts at
/// the top level (code) or to a hunk/file header (diffs, where no check is needed).
fn cut_points(doc: &Doc<'_>, chunks: usize) -> Vec<usize> {
    let n = doc.lines.len();
    let mut cuts = vec![0];
    for k in 1..chunks {
        let target = n * k / chunks;
        // Nearest candidate within half a chunk either way: an uneven split that holds
        // beats an even one that must be redone (a Rust `impl` block can be 500 lines).
        let reach = (n / chunks / 2).max(SEARCH);
        let good = |i: usize| {
            let l = &doc.lines[i];
            if doc.is_diff {
                return matches!(l.kind, Kind::Hunk | Kind::File);
            }
            let text = doc.line_text(l);
            let prev_blank = i > 0 && doc.line_text(&doc.lines[i - 1]).trim().is_empty();
            prev_blank
                && text.starts_with(|c: char| !c.is_whitespace() && !matches!(c, '}' | ')' | ']'))
        };
        let last = *cuts.last().unwrap_or(&0);
        let cut = (0..reach)
            .flat_map(|d| [target + d, target.wrapping_sub(d)])
            .find(|&i| i > last && i < n && good(i));
        match cut {
            Some(c) => cuts.push(c),
            // Diffs without a header nearby stay in one chunk: a guess could be wrong.
            None if doc.is_diff => {}
            None if target > *cuts.last().unwrap_or(&0) => cuts.push(target),
            _ => {}
        }
    }
    cuts
}

struct Chunk {
    spans: Vec<Spans>,
    styles: Styles,
    /// State after the chunk's first line, started fresh.
    after_first: State,
    end: State,
}

/// Highlights every line of `doc`; the result equals a serial run line for line.
pub(crate) fn highlight(
    ss: &SyntaxSet,
    theme: &Theme,
    syntaxes: &[&SyntaxReference],
    doc: &Doc<'_>,
) -> (Vec<Spans>, Styles) {
    let n = doc.lines.len();
    let chunks = rayon::current_num_threads().min(n / MIN_CHUNK).max(1);
    let cuts = if chunks > 1 {
        cut_points(doc, chunks)
    } else {
        vec![0]
    };
    let ranges: Vec<(usize, usize)> = cuts
        .iter()
        .zip(cuts.iter().skip(1).chain([&n]))
        .map(|(&a, &b)| (a, b))
        .collect();

    let mut results: Vec<Chunk> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut h = DocHighlighter::new(ss, theme, syntaxes);
            let mut spans = Vec::with_capacity(b - a);
            let mut after_first = None;
            for i in a..b {
                spans.push(h.next(doc, i));
                if after_first.is_none() {
                    after_first = Some(h.state());
                }
            }
            let end = h.state();
            Chunk {
                spans,
                styles: h.styles,
                after_first: after_first.unwrap_or_else(|| end.clone()),
                end,
            }
        })
        .collect();

    // Stitch serially, merging style tables into the first chunk's.
    let mut iter = results.drain(..);
    let Some(first) = iter.next() else {
        return (Vec::new(), Styles::new());
    };
    let mut styles = first.styles;
    let mut all = first.spans;
    let mut end = first.end;
    let mut h = DocHighlighter::new(ss, theme, syntaxes);
    for (chunk, &(a, b)) in iter.zip(ranges.iter().skip(1)) {
        let exact = if doc.is_diff {
            true
        } else {
            // Re-run the first line from the true state and compare.
            h.styles = std::mem::replace(&mut styles, Styles::new());
            h.new.restore(end.clone());
            let first_line = h.next(doc, a);
            styles = std::mem::replace(&mut h.styles, Styles::new());
            all.push(first_line);
            h.state() == chunk.after_first
        };
        if exact {
            let remap: Vec<u8> = chunk
                .styles
                .list
                .iter()
                .map(|&(rgb, face)| styles.intern(rgb, face))
                .collect();
            let skip = usize::from(!doc.is_diff);
            all.extend(chunk.spans.into_iter().skip(skip).map(|s| {
                s.iter()
                    .map(|sp| Span {
                        end: sp.end,
                        style: remap[usize::from(sp.style)],
                    })
                    .collect::<Spans>()
            }));
            end = chunk.end;
        } else {
            tracing::debug!(
                line = a,
                "highlight chunk guess was wrong; redoing it serially"
            );
            h.styles = std::mem::replace(&mut styles, Styles::new());
            for i in a + 1..b {
                all.push(h.next(doc, i));
            }
            styles = std::mem::replace(&mut h.styles, Styles::new());
            end = h.state();
        }
    }
    (all, styles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syntect::highlighting::ThemeSet;

    fn serial(
        ss: &SyntaxSet,
        theme: &Theme,
        syn: &[&SyntaxReference],
        doc: &Doc<'_>,
    ) -> Vec<Vec<(u32, (crate::fonts::Rgb, crate::fonts::Face))>> {
        let mut h = DocHighlighter::new(ss, theme, syn);
        let spans: Vec<Spans> = (0..doc.lines.len()).map(|i| h.next(doc, i)).collect();
        resolve(&spans, &h.styles)
    }

    fn resolve(
        spans: &[Spans],
        styles: &Styles,
    ) -> Vec<Vec<(u32, (crate::fonts::Rgb, crate::fonts::Face))>> {
        spans
            .iter()
            .map(|l| {
                l.iter()
                    .map(|s| (s.end, styles.list[usize::from(s.style)]))
                    .collect()
            })
            .collect()
    }

    fn check(text: &str, name: &str) {
        let ss = SyntaxSet::load_defaults_newlines();
        let ts = ThemeSet::load_defaults();
        let theme = &ts.themes[crate::theme::SYNTECT_THEME];
        let syn = [crate::highlight::detect(&ss, Some(name), text)];
        let doc = Doc::code(text);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let (spans, styles) = pool.install(|| highlight(&ss, theme, &syn, &doc));
        assert_eq!(spans.len(), doc.lines.len());
        assert_eq!(
            resolve(&spans, &styles),
            serial(&ss, theme, &syn, &doc),
            "{name}"
        );
    }

    #[test]
    fn parallel_equals_serial_when_the_guess_is_right() {
        check(include_str!("../benches/data/s1000.rs"), "x.rs");
    }

    #[test]
    fn parallel_equals_serial_when_a_cut_falls_inside_a_comment() {
        // A block comment spanning the middle: every candidate cut line sits inside it.
        let mut text = String::from("fn a() {}\n/*\n");
        for i in 0..200 {
            text.push_str(&format!("\nfn commented_{i}() {{}}\n"));
        }
        text.push_str("*/\nfn b() { let s = \"x\"; }\n");
        check(&text, "x.rs");
    }

    #[test]
    fn cuts_land_after_blank_lines_or_hunks() {
        let text: String = (0..300)
            .map(|i| {
                if i % 10 == 0 {
                    "\n".to_owned()
                } else {
                    format!("fn f{i}() {{}}\n")
                }
            })
            .collect();
        let doc = Doc::code(&text);
        let cuts = cut_points(&doc, 2);
        assert_eq!(cuts.len(), 2);
        assert!(doc.line_text(&doc.lines[cuts[1] - 1]).is_empty());
        let diff = Doc::diff(include_str!("../benches/data/d300.diff"));
        for c in cut_points(&diff, 3).into_iter().skip(1) {
            assert!(matches!(diff.lines[c].kind, Kind::Hunk | Kind::File));
        }
    }
}
