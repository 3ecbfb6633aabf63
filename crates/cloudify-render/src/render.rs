//! The renderer: loads syntaxes, theme and fonts once; turns documents into PNG pages,
//! highlighting on one thread while finished pages are drawn and encoded in parallel.

use std::sync::{LazyLock, Mutex};

use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::{SyntaxReference, SyntaxSet};

use crate::compose::{Geometry, PageJob, compose};
use crate::doc::{Doc, Kind, layout, paginate};
use crate::fonts::Fonts;
use crate::highlight::{Highlighter, Spans, Styles, detect};
use crate::options::{Metrics, PageOptions};
use crate::text::decode;
use crate::{RenderError, encode, theme};

/// One rendered page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Palette PNG bytes.
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// 0-based page number.
    pub index: usize,
    /// Pages the whole document has (more than were rendered if `max_pages` cut it).
    pub total: usize,
    /// First and last line shown (1-based source lines for code, lines of the rendered
    /// document for diffs).
    pub first_line: u32,
    pub last_line: u32,
}

/// Syntax set, theme and fonts with their glyph cache. Build once (`global`) and share:
/// all methods take `&self` and are safe to call from many threads.
pub struct Renderer {
    syntaxes: SyntaxSet,
    theme: Theme,
    fonts: Fonts,
}

static GLOBAL: LazyLock<Result<Renderer, String>> =
    LazyLock::new(|| Renderer::new().map_err(|e| e.to_string()));

impl Renderer {
    /// The process-wide renderer, created on first use (a few ms).
    pub fn global() -> Result<&'static Renderer, RenderError> {
        GLOBAL.as_ref().map_err(|_| RenderError::Font("(startup)"))
    }

    pub fn new() -> Result<Self, RenderError> {
        let mut themes = ThemeSet::load_defaults();
        let theme = themes
            .themes
            .remove(theme::SYNTECT_THEME)
            .ok_or(RenderError::InvalidOptions("bundled theme missing"))?;
        Ok(Self {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme: theme::tune(theme),
            fonts: Fonts::new()?,
        })
    }

    /// Name of the syntax `render_code` would use ("Rust", "Plain Text", …).
    pub fn language(&self, hint: Option<&str>, text: &str) -> &str {
        &detect(&self.syntaxes, hint, text).name
    }

    /// Renders source code. `hint` is a file name or a fence language; without it the
    /// content decides (shebang, `<?xml`, …).
    pub fn render_code(
        &self,
        text: &str,
        hint: Option<&str>,
        opts: &PageOptions,
    ) -> Result<Vec<Page>, RenderError> {
        let syntax = detect(&self.syntaxes, hint, text);
        let title = opts
            .title
            .clone()
            .or_else(|| hint.map(str::to_owned))
            .unwrap_or_else(|| syntax.name.clone());
        self.render_doc(&Doc::code(text), &[syntax], &title, opts)
    }

    /// Renders file bytes: invalid UTF-8 is shown lossily with a note in the title, binary
    /// content is an error.
    pub fn render_code_bytes(
        &self,
        bytes: &[u8],
        hint: Option<&str>,
        opts: &PageOptions,
    ) -> Result<Vec<Page>, RenderError> {
        let d = decode(bytes)?;
        if !d.lossy {
            return self.render_code(&d.text, hint, opts);
        }
        let mut opts = opts.clone();
        let name = opts
            .title
            .take()
            .or_else(|| hint.map(str::to_owned))
            .unwrap_or_default();
        opts.title = Some(format!(
            "{name} (not UTF-8: invalid bytes shown as \u{fffd})"
        ));
        self.render_code(&d.text, hint, &opts)
    }

    /// Renders a unified diff: old/new numbers, tinted +/- rows, each file's code
    /// highlighted in its own language.
    pub fn render_diff(&self, diff: &str, opts: &PageOptions) -> Result<Vec<Page>, RenderError> {
        let doc = Doc::diff(diff);
        let syntaxes: Vec<&SyntaxReference> = doc
            .files
            .iter()
            .map(|f| detect(&self.syntaxes, Some(f), ""))
            .collect();
        let title = opts
            .title
            .clone()
            .unwrap_or_else(|| match doc.files.as_slice() {
                [one] => one.clone(),
                [] => "diff".to_owned(),
                many => format!("{} files changed", many.len()),
            });
        self.render_doc(&doc, &syntaxes, &title, opts)
    }

    fn render_doc(
        &self,
        doc: &Doc<'_>,
        syntaxes: &[&SyntaxReference],
        title: &str,
        opts: &PageOptions,
    ) -> Result<Vec<Page>, RenderError> {
        opts.validate()?;
        let m = Metrics::new(opts.font_px);
        let tab = usize::from(opts.tab_width);
        let (rows, widest) = layout(doc, usize::from(opts.max_columns), tab);
        let pages = paginate(&rows, doc, usize::from(opts.lines_per_page));
        let cols = widest
            .max(40.min(usize::from(opts.max_columns)))
            .min(usize::from(opts.max_columns));
        let geo = Geometry::new(m, doc, cols, opts.line_numbers);
        let total = pages.len();
        let render_n = total.min(usize::from(opts.max_pages));
        let stats = diff_stats(doc);
        let results: Vec<Mutex<Option<Result<Page, RenderError>>>> =
            (0..render_n).map(|_| Mutex::new(None)).collect();

        rayon::scope(|scope| {
            let mut hl = DocHighlighter::new(self, syntaxes);
            let mut spans: Vec<Spans> = Vec::with_capacity(doc.lines.len());
            for (index, range) in pages.iter().take(render_n).enumerate() {
                let page_rows = &rows[range.clone()];
                let (Some(first), Some(last)) = (page_rows.first(), page_rows.last()) else {
                    continue;
                };
                let (first_line, last_line) = (first.line as usize, last.line as usize);
                while spans.len() <= last_line {
                    let s = hl.next(doc, spans.len());
                    spans.push(s);
                }
                let page_spans: Vec<Spans> = spans[first_line..=last_line].to_vec();
                let styles = hl.styles.list.clone();
                let status = status_text(doc, first_line, last_line, index, total, stats);
                let (geo, results, fonts) = (&geo, &results, &self.fonts);
                scope.spawn(move |_| {
                    let job = PageJob {
                        doc,
                        rows: page_rows,
                        spans: &page_spans,
                        first_line,
                        styles: &styles,
                        title,
                        status: &status,
                    };
                    let canvas = compose(fonts, geo, &job);
                    let page = encode::png(&canvas).map(|png| Page {
                        png,
                        width: canvas.width,
                        height: canvas.height,
                        index,
                        total,
                        first_line: first_line as u32 + 1,
                        last_line: last_line as u32 + 1,
                    });
                    if let Ok(mut slot) = results[index].lock() {
                        *slot = Some(page);
                    }
                });
            }
        });
        results
            .into_iter()
            .filter_map(|slot| slot.into_inner().ok().flatten())
            .collect()
    }
}

/// Highlights document lines in order; diffs get one highlighter per side and hunk so
/// deleted and added code each parse as coherent source.
struct DocHighlighter<'r> {
    r: &'r Renderer,
    syntaxes: &'r [&'r SyntaxReference],
    styles: Styles,
    old: Option<Highlighter<'r>>,
    new: Option<Highlighter<'r>>,
}

impl<'r> DocHighlighter<'r> {
    fn new(r: &'r Renderer, syntaxes: &'r [&'r SyntaxReference]) -> Self {
        let mut h = Self {
            r,
            syntaxes,
            styles: Styles::new(),
            old: None,
            new: None,
        };
        h.reset(0);
        h
    }

    fn reset(&mut self, file: usize) {
        let syntax = self
            .syntaxes
            .get(file)
            .copied()
            .unwrap_or_else(|| self.r.syntaxes.find_syntax_plain_text());
        self.old = Some(Highlighter::new(&self.r.syntaxes, syntax, &self.r.theme));
        self.new = Some(Highlighter::new(&self.r.syntaxes, syntax, &self.r.theme));
    }

    fn next(&mut self, doc: &Doc<'_>, i: usize) -> Spans {
        let line = &doc.lines[i];
        let visible = line.text.len();
        // The source text with its newline, as syntect's newline syntaxes expect.
        let end = (line.text.end + 1).min(doc.text.len());
        let with_nl = doc.text.get(line.text.start..end).unwrap_or("");
        let styles = &mut self.styles;
        let empty: Spans = std::sync::Arc::new([]);
        match line.kind {
            Kind::Hunk | Kind::File => {
                self.reset(usize::from(line.file));
                empty
            }
            Kind::Meta => empty,
            Kind::Code | Kind::Add => self
                .new
                .as_mut()
                .map_or(empty.clone(), |h| h.line(with_nl, visible, styles)),
            Kind::Del => self
                .old
                .as_mut()
                .map_or(empty.clone(), |h| h.line(with_nl, visible, styles)),
            Kind::Context => {
                if let Some(h) = self.old.as_mut() {
                    h.line(with_nl, visible, styles);
                }
                self.new
                    .as_mut()
                    .map_or(empty.clone(), |h| h.line(with_nl, visible, styles))
            }
        }
    }
}

fn diff_stats(doc: &Doc<'_>) -> Option<(usize, usize)> {
    doc.is_diff.then(|| {
        let adds = doc.lines.iter().filter(|l| l.kind == Kind::Add).count();
        let dels = doc.lines.iter().filter(|l| l.kind == Kind::Del).count();
        (adds, dels)
    })
}

/// Right side of the title bar: what part of the document this page shows.
fn status_text(
    doc: &Doc<'_>,
    first: usize,
    last: usize,
    index: usize,
    total: usize,
    stats: Option<(usize, usize)>,
) -> String {
    let page = if total > 1 {
        format!("  {}/{}", index + 1, total)
    } else {
        String::new()
    };
    match stats {
        Some((a, d)) => format!("+{a} −{d}{page}"),
        None if total > 1 => {
            let n = doc.lines.iter().filter(|l| l.kind == Kind::Code).count();
            format!("{}–{} of {n}{page}", first + 1, last + 1)
        }
        None => {
            let n = doc.lines.iter().filter(|l| l.kind == Kind::Code).count();
            format!("{n} line{}", if n == 1 { "" } else { "s" })
        }
    }
}
