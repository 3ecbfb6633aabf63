//! The renderer: loads syntaxes, theme and fonts once; turns documents into PNG pages,
//! highlighting on one thread while finished pages are drawn and encoded in parallel.

use std::sync::LazyLock;

use rayon::prelude::*;

use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::{SyntaxReference, SyntaxSet};

use crate::compose::{Geometry, PageJob, compose};
use crate::doc::{Doc, Kind, layout, paginate};
use crate::fonts::Fonts;
use crate::highlight::detect;
use crate::highlight_doc;
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
        let geo = Geometry::new(m, doc, cols, opts.line_numbers, tab);
        let total = pages.len();
        let render_n = total.min(usize::from(opts.max_pages));
        let stats = diff_stats(doc);

        // Highlight first (parallel by chunks), then draw and encode pages in parallel.
        let (spans, styles) = highlight_doc::highlight(&self.syntaxes, &self.theme, syntaxes, doc);
        let styles = &styles.list;
        pages
            .par_iter()
            .take(render_n)
            .enumerate()
            .map(|(index, range)| {
                let page_rows = &rows[range.clone()];
                let first_line = page_rows.first().map_or(0, |r| r.line as usize);
                let last_line = page_rows.last().map_or(0, |r| r.line as usize);
                let status = status_text(doc, first_line, last_line, index, total, stats);
                let job = PageJob {
                    doc,
                    rows: page_rows,
                    spans: &spans[first_line..],
                    first_line,
                    styles,
                    title,
                    status: &status,
                };
                let canvas = compose(&self.fonts, &geo, &job);
                Ok(Page {
                    png: encode::png(&canvas)?,
                    width: canvas.width,
                    height: canvas.height,
                    index,
                    total,
                    first_line: first_line as u32 + 1,
                    last_line: last_line as u32 + 1,
                })
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::highlight_doc::DocHighlighter;
    use crate::theme::{Bg, bg_colours};

    /// Decodes a palette PNG to RGB rows.
    fn rgb(page: &Page) -> (Vec<u8>, u32, u32) {
        let mut dec = png::Decoder::new(std::io::Cursor::new(&page.png));
        dec.set_transformations(png::Transformations::EXPAND);
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        (buf, info.width, info.height)
    }

    fn px(img: &(Vec<u8>, u32, u32), x: u32, y: u32) -> [u8; 3] {
        let i = ((y * img.1 + x) * 3) as usize;
        [img.0[i], img.0[i + 1], img.0[i + 2]]
    }

    /// Rightmost x with a non-background pixel in row `row` of the code area.
    fn ink_right(img: &(Vec<u8>, u32, u32), g: &Geometry, row: u32) -> Option<u32> {
        let y0 = g.rows_top + row * g.m.line_h;
        let bg = px(img, img.1 - 1, y0);
        (g.code_x..img.1)
            .rev()
            .find(|&x| (y0..y0 + g.m.line_h).any(|y| px(img, x, y) != bg))
    }

    #[test]
    fn cjk_keeps_the_column_grid() {
        let r = Renderer::new().unwrap();
        let opts = PageOptions {
            line_numbers: false,
            ..PageOptions::default()
        };
        // Two ideographs (2 cells each) then X, against four ASCII letters then X.
        let text = "中文X\nabcdX\n한글X\n";
        let pages = r.render_code(text, Some("t.txt"), &opts).unwrap();
        let doc = Doc::code(text);
        let g = Geometry::new(Metrics::new(opts.font_px), &doc, 40, false, 4);
        let img = rgb(&pages[0]);
        let ends: Vec<u32> = (0..3)
            .map(|row| ink_right(&img, &g, row).unwrap())
            .collect();
        assert_eq!(
            ends[0], ends[1],
            "X after CJK must sit in column 4 like after ASCII"
        );
        assert_eq!(ends[1], ends[2]);
        // And column 4 really is where X is: between 4 and 5 cells from the code start.
        assert!(ends[0] > g.code_x + 4 * g.m.cell_w && ends[0] < g.code_x + 5 * g.m.cell_w);
    }

    #[test]
    fn diff_rows_get_their_tints() {
        let r = Renderer::new().unwrap();
        let diff = "--- a/x.rs\n+++ b/x.rs\n@@ -1,3 +1,3 @@\n fn a() {}\n-fn b() {}\n+fn c() {}\n fn d() {}\n";
        let opts = PageOptions::default();
        let pages = r.render_diff(diff, &opts).unwrap();
        let doc = Doc::diff(diff);
        let g = Geometry::new(Metrics::new(opts.font_px), &doc, 40, true, 4);
        let img = rgb(&pages[0]);
        let bgs = bg_colours();
        // Rows: file header, hunk, context, del, add, context. Sample the empty right end.
        let at = |row: u32| px(&img, img.1 - 2, g.rows_top + row * g.m.line_h + 1);
        assert_eq!(at(0), bgs[Bg::File as usize]);
        assert_eq!(at(1), bgs[Bg::Hunk as usize]);
        assert_eq!(at(2), bgs[Bg::Code as usize]);
        assert_eq!(at(3), bgs[Bg::Del as usize]);
        assert_eq!(at(4), bgs[Bg::Add as usize]);
        assert_eq!(at(5), bgs[Bg::Code as usize]);
        let gutter = |row: u32| px(&img, 2, g.rows_top + row * g.m.line_h + 1);
        assert_eq!(gutter(3), bgs[Bg::DelGutter as usize]);
        assert_eq!(gutter(4), bgs[Bg::AddGutter as usize]);
        // Green-ish and red-ish, not just "different".
        let (add, del) = (bgs[Bg::Add as usize], bgs[Bg::Del as usize]);
        assert!(add[1] > add[0] && del[0] > del[1]);
    }

    #[test]
    fn added_code_is_highlighted_in_its_language() {
        let r = Renderer::new().unwrap();
        let doc =
            Doc::diff("--- a/x.rs\n+++ b/x.rs\n@@ -0,0 +1 @@\n+fn main() { let s = \"str\"; }\n");
        let syntaxes = vec![detect(&r.syntaxes, Some("x.rs"), "")];
        let mut h = DocHighlighter::new(&r.syntaxes, &r.theme, &syntaxes);
        let spans: Vec<crate::highlight::Spans> =
            (0..doc.lines.len()).map(|i| h.next(&doc, i)).collect();
        let styles: std::collections::HashSet<u8> = spans[2].iter().map(|s| s.style).collect();
        assert!(
            styles.len() >= 3,
            "keyword, string and plain differ: {:?}",
            spans[2]
        );
    }

    #[test]
    fn max_pages_limits_rendering_but_reports_the_total() {
        let r = Renderer::new().unwrap();
        let text: String = (0..100).map(|i| format!("{i}\n")).collect();
        let opts = PageOptions {
            lines_per_page: 10,
            max_pages: 3,
            ..PageOptions::default()
        };
        let pages = r.render_code(&text, None, &opts).unwrap();
        assert_eq!(pages.len(), 3);
        assert!(pages.iter().all(|p| p.total == 10));
        assert_eq!((pages[2].first_line, pages[2].last_line), (21, 30));
    }
}
