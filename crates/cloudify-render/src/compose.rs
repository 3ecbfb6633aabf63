//! Draws one page straight into palette indices.
//!
//! Every pixel is "background kind" or "(background, text colour) at coverage level k".
//! A first pass lists the (background, colour) pairs the page uses, which fixes how many
//! anti-aliasing levels fit in 256 palette entries (15 for plain code, ~6 for colourful
//! diffs); the second pass fills backgrounds and blits cached glyph masks as indices. No
//! RGB canvas, no quantisation step, one byte per pixel.

use crate::doc::{Doc, Kind, Row};
use crate::fonts::{EMOJI_TINT, Face, Fonts, Mask, Rgb};
use crate::highlight::{MAX_STYLES, Spans};
use crate::options::Metrics;
use crate::text::{Cell, cell};
use crate::theme::{BG_COUNT, Bg, Ui, bg_colours};

/// Slot for the emoji tint in the pair table (after the interned styles).
const TINT: usize = MAX_STYLES;
const SLOTS: usize = MAX_STYLES + 1;

/// Page geometry shared by all pages of a document (same width, so albums line up).
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub m: Metrics,
    pub width: u32,
    pub gutter_w: u32,
    pub code_x: u32,
    pub title_h: u32,
    pub rows_top: u32,
    pub cols: u32,
    pub old_digits: u32,
    pub new_digits: u32,
    pub diff: bool,
    pub numbers: bool,
    pub tab: usize,
}

fn digits(n: u32) -> u32 {
    n.max(1).ilog10() + 1
}

impl Geometry {
    pub(crate) fn new(m: Metrics, doc: &Doc<'_>, cols: usize, numbers: bool, tab: usize) -> Self {
        let max_old = doc.lines.iter().map(|l| l.old).max().unwrap_or(0);
        let max_new = doc.lines.iter().map(|l| l.new).max().unwrap_or(0);
        let (old_digits, new_digits) = (digits(max_old).max(2), digits(max_new).max(2));
        let gutter_cols = match (numbers, doc.is_diff) {
            (false, _) => 1,
            (true, false) => new_digits + 2,
            (true, true) => old_digits + new_digits + 3,
        };
        let gutter_w = gutter_cols * m.cell_w;
        // Diffs keep one cell for the +/- sign between gutter and code.
        let code_x = gutter_w + if doc.is_diff { 2 } else { 1 } * m.cell_w;
        let cols = cols as u32;
        let title_h = m.line_h + m.pad;
        Self {
            m,
            width: code_x + cols * m.cell_w + m.pad,
            gutter_w,
            code_x,
            title_h,
            rows_top: title_h + m.pad / 2,
            cols,
            old_digits,
            new_digits,
            diff: doc.is_diff,
            numbers,
            tab,
        }
    }

    pub(crate) fn height(&self, rows: usize) -> u32 {
        self.rows_top + rows as u32 * self.m.line_h + self.m.pad
    }
}

/// One page to draw: its rows and the highlighted spans of the lines they show.
pub(crate) struct PageJob<'a> {
    pub doc: &'a Doc<'a>,
    pub rows: &'a [Row],
    /// Spans of lines `first_line..`, indexed by `line - first_line`.
    pub spans: &'a [Spans],
    pub first_line: usize,
    pub styles: &'a [(Rgb, Face)],
    pub title: &'a str,
    pub status: &'a str,
}

pub(crate) struct Canvas {
    pub pixels: Vec<u8>,
    pub palette: Vec<Rgb>,
    pub width: u32,
    pub height: u32,
}

fn backgrounds(kind: Kind) -> (Bg, Bg) {
    match kind {
        Kind::Code | Kind::Context | Kind::Meta => (Bg::Code, Bg::Gutter),
        Kind::Add => (Bg::Add, Bg::AddGutter),
        Kind::Del => (Bg::Del, Bg::DelGutter),
        Kind::Hunk => (Bg::Hunk, Bg::Hunk),
        Kind::File => (Bg::File, Bg::File),
    }
}

/// Style of text that is not highlighted source.
fn fixed_style(kind: Kind) -> Option<u8> {
    match kind {
        Kind::Hunk => Some(Ui::Hunk as u8),
        Kind::File => Some(Ui::File as u8),
        Kind::Meta => Some(Ui::Meta as u8),
        _ => None,
    }
}

struct Painter<'a> {
    fonts: &'a Fonts,
    g: &'a Geometry,
    styles: &'a [(Rgb, Face)],
    ascii: std::sync::Arc<crate::fonts::AsciiMasks>,
    /// Palette index of level 1 for each (bg, style slot); 0 = unused.
    base: [[u8; SLOTS]; BG_COUNT],
    lut: [u8; 256],
    px: Vec<u8>,
    w: u32,
    h: u32,
}

impl Painter<'_> {
    fn mask(&self, ch: char, face: Face, width: u8) -> std::sync::Arc<Mask> {
        match self.ascii.get(self.fonts, ch, face) {
            Some(m) => m.clone(),
            None => self.fonts.mask(ch, face, width, &self.g.m),
        }
    }

    fn fill(&mut self, x0: u32, x1: u32, y0: u32, y1: u32, bg: Bg) {
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        for y in y0..y1 {
            let row = (y * self.w) as usize;
            self.px[row + x0 as usize..row + x1 as usize].fill(bg as u8);
        }
    }

    fn blit(&mut self, x0: i32, y0: i32, mask: &Mask, base: u8) {
        if base == 0 || mask.w == 0 {
            return;
        }
        let (w, h) = (self.w as i32, self.h as i32);
        let left = x0 + mask.x;
        let mx0 = (-left).max(0) as u32;
        let mx1 = (w - left).clamp(0, mask.w as i32) as u32;
        for my in 0..mask.h {
            let y = y0 + mask.y + my as i32;
            if y < 0 || y >= h {
                continue;
            }
            let src = &mask.cov[(my * mask.w) as usize..((my + 1) * mask.w) as usize];
            let dst_row = (y * w + left) as isize;
            for mx in mx0..mx1 {
                let level = self.lut[src[mx as usize] as usize];
                if level > 0 {
                    self.px[(dst_row + mx as isize) as usize] = base + level - 1;
                }
            }
        }
    }

    /// Draws `text` from pixel `x`, row top `y`, clipped to `max_cols` cells. Styles come
    /// from `spans` (byte offsets relative to `offset`) or a fixed style.
    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        x: u32,
        y: u32,
        text: &str,
        offset: usize,
        spans: Option<&[crate::highlight::Span]>,
        fixed: u8,
        bg: Bg,
        max_cols: u32,
    ) {
        let tab = self.g.tab;
        let mut col = 0usize;
        let mut si = 0usize;
        for (i, ch) in text.char_indices() {
            let c = cell(ch, col, tab);
            let (ch, width) = match c {
                Cell::Glyph { ch, width } => (ch, width),
                Cell::Blank { width } => {
                    // Same clamp as wrap_line: a tab never runs past the wrap column.
                    col = (col + usize::from(width)).min(max_cols as usize);
                    continue;
                }
                Cell::Zero => continue,
            };
            if col + usize::from(width) > max_cols as usize {
                break;
            }
            let style = match spans {
                Some(sp) => {
                    while si + 1 < sp.len() && sp[si].end as usize <= offset + i {
                        si += 1;
                    }
                    sp.get(si).map_or(0, |s| s.style)
                }
                None => fixed,
            };
            if ch != ' ' {
                let face = self
                    .styles
                    .get(usize::from(style))
                    .map_or(Face::Regular, |s| s.1);
                let mask = self.mask(ch, face, width);
                let slot = if mask.tint.is_some() {
                    TINT
                } else {
                    usize::from(style)
                };
                let base = self.base[bg as usize][slot];
                let cx = x + col as u32 * self.g.m.cell_w;
                self.blit(cx as i32, y as i32, &mask, base);
            }
            col += usize::from(width);
        }
    }
}

fn right_aligned(n: u32, digits: u32) -> String {
    format!("{n:>width$}", width = digits as usize)
}

/// Draws one page into palette indices.
pub(crate) fn compose(fonts: &Fonts, g: &Geometry, job: &PageJob<'_>) -> Canvas {
    let m = g.m;
    let (w, h) = (g.width, g.height(job.rows.len()));
    let line_of = |r: &Row| &job.doc.lines[r.line as usize];
    let spans_of = |r: &Row| job.spans.get(r.line as usize - job.first_line);

    // Pass 1: which (background, colour) pairs occur.
    let mut used = [[false; SLOTS]; BG_COUNT];
    used[Bg::Title as usize][Ui::Title as usize] = true;
    used[Bg::Title as usize][Ui::TitleDim as usize] = true;
    used[Bg::Title as usize][TINT] = !job.title.is_ascii();
    for r in job.rows {
        let line = line_of(r);
        let (bg, gbg) = backgrounds(line.kind);
        let mark = if r.first { Ui::LineNo } else { Ui::WrapMark };
        used[gbg as usize][mark as usize] = true;
        match line.kind {
            Kind::Add => used[bg as usize][Ui::AddSign as usize] = true,
            Kind::Del => used[bg as usize][Ui::DelSign as usize] = true,
            _ => {}
        }
        let text = &job.doc.line_text(line)[r.range.clone()];
        match (fixed_style(line.kind), spans_of(r)) {
            (Some(s), _) => used[bg as usize][usize::from(s)] = true,
            (None, None) => used[bg as usize][Ui::Text as usize] = true,
            (None, Some(sp)) => {
                for s in sp.iter().filter(|s| s.end as usize > r.range.start) {
                    used[bg as usize][usize::from(s.style).min(MAX_STYLES - 1)] = true;
                    if s.end as usize >= r.range.end {
                        break;
                    }
                }
            }
        }
        if !text.is_ascii() {
            used[bg as usize][TINT] = true;
        }
    }
    let pairs = used.iter().flatten().filter(|&&u| u).count().max(1);
    // Levels per pair: as many as fit into 256 entries, at most 15 (+ the background).
    let levels = ((256 - BG_COUNT) / pairs).clamp(1, 15) as u8;
    let bgs = bg_colours();
    let mut palette: Vec<Rgb> = bgs.to_vec();
    let mut base = [[0u8; SLOTS]; BG_COUNT];
    for (b, slots) in used.iter().enumerate() {
        for (s, &u) in slots.iter().enumerate() {
            if !u || palette.len() + usize::from(levels) > 256 {
                continue;
            }
            let fg = if s == TINT {
                EMOJI_TINT
            } else {
                job.styles.get(s).map_or(bgs[0], |x| x.0)
            };
            base[b][s] = palette.len() as u8;
            for k in 1..=levels {
                palette.push(mix(bgs[b], fg, f32::from(k) / f32::from(levels)));
            }
        }
    }
    // Coverage → level, slightly emboldened: light text on dark reads thin with linear blending.
    let mut lut = [0u8; 256];
    for (c, l) in lut.iter_mut().enumerate() {
        let v = (c as f32 / 255.0).powf(0.8);
        *l = (v * f32::from(levels)).round() as u8;
    }

    let mut p = Painter {
        fonts,
        g,
        styles: job.styles,
        ascii: fonts.ascii(&m),
        base,
        lut,
        // Background kind 0 is the code background: a zeroed buffer is already filled.
        px: vec![0u8; (w * h) as usize],
        w,
        h,
    };

    // Pass 2: backgrounds.
    p.fill(0, w, 0, g.title_h, Bg::Title);
    p.fill(0, g.gutter_w, g.title_h, h, Bg::Gutter);
    for (i, r) in job.rows.iter().enumerate() {
        let (bg, gbg) = backgrounds(line_of(r).kind);
        let y = g.rows_top + i as u32 * m.line_h;
        if gbg != Bg::Gutter {
            p.fill(0, g.gutter_w, y, y + m.line_h, gbg);
        }
        if bg != Bg::Code {
            p.fill(g.gutter_w, w, y, y + m.line_h, bg);
        }
    }

    // Pass 3: text.
    let title_y = (g.title_h - m.line_h) / 2;
    let total_cols = w.saturating_sub(2 * m.pad) / m.cell_w;
    // On a page too narrow for both, the title wins and the status is left out.
    let mut status_cols = crate::text::text_columns(job.status, g.tab) as u32;
    if status_cols + 8 > total_cols {
        status_cols = 0;
    }
    let status_x = w.saturating_sub(m.pad + status_cols * m.cell_w);
    let title_room = total_cols.saturating_sub(status_cols + 2);
    let title = fit_title(job.title, title_room as usize);
    p.text(
        m.pad,
        title_y,
        &title,
        0,
        None,
        Ui::Title as u8,
        Bg::Title,
        title_room,
    );
    p.text(
        status_x,
        title_y,
        job.status,
        0,
        None,
        Ui::TitleDim as u8,
        Bg::Title,
        status_cols,
    );
    for (i, r) in job.rows.iter().enumerate() {
        let line = line_of(r);
        let (bg, gbg) = backgrounds(line.kind);
        let y = g.rows_top + i as u32 * m.line_h;
        if g.numbers && line.kind.is_code() {
            let (num_x, num) = if !r.first {
                (g.gutter_w - 2 * m.cell_w, "↪".to_owned())
            } else if g.diff {
                let old = if line.old > 0 {
                    right_aligned(line.old, g.old_digits)
                } else {
                    String::new()
                };
                let new = if line.new > 0 {
                    right_aligned(line.new, g.new_digits)
                } else {
                    String::new()
                };
                p.text(
                    m.cell_w,
                    y,
                    &old,
                    0,
                    None,
                    Ui::LineNo as u8,
                    gbg,
                    g.old_digits,
                );
                ((2 + g.old_digits) * m.cell_w, new)
            } else {
                (m.cell_w, right_aligned(line.new, g.new_digits))
            };
            let style = if r.first { Ui::LineNo } else { Ui::WrapMark };
            p.text(num_x, y, &num, 0, None, style as u8, gbg, 8);
        }
        if r.first {
            let sign = match line.kind {
                Kind::Add => Some(("+", Ui::AddSign)),
                Kind::Del => Some(("-", Ui::DelSign)),
                _ => None,
            };
            if let Some((s, style)) = sign {
                p.text(g.gutter_w + m.cell_w / 2, y, s, 0, None, style as u8, bg, 1);
            }
        }
        let text = &job.doc.line_text(line)[r.range.clone()];
        let fixed = fixed_style(line.kind);
        let spans = if fixed.is_none() {
            spans_of(r).map(|s| &s[..])
        } else {
            None
        };
        let x = if matches!(line.kind, Kind::File | Kind::Hunk) && g.diff {
            m.cell_w
        } else {
            g.code_x
        };
        let room = g.cols + (g.code_x - x) / m.cell_w;
        p.text(
            x,
            y,
            text,
            r.range.start,
            spans,
            fixed.unwrap_or(Ui::Text as u8),
            bg,
            room,
        );
    }
    Canvas {
        pixels: p.px,
        palette,
        width: w,
        height: h,
    }
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

/// Shortens a title to `cols` cells, keeping its end (the file name) behind an ellipsis.
pub(crate) fn fit_title(title: &str, cols: usize) -> String {
    if crate::text::text_columns(title, 4) <= cols {
        return title.to_owned();
    }
    let mut kept: Vec<char> = Vec::new();
    let mut used = 1;
    for ch in title.chars().rev() {
        let w = crate::text::cell_width(cell(ch, 0, 4));
        if used + w > cols {
            break;
        }
        used += w;
        kept.push(ch);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}
