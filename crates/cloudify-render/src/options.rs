//! Page options and the pixel metrics derived from them.

use crate::RenderError;

/// How code and diffs are laid out on pages. `Default` is the phone-friendly choice from
/// RENDERING.md: ≤ 100 columns, ≤ 60 rows per page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageOptions {
    /// Soft-wrap column: longer lines continue on the next row.
    pub max_columns: u16,
    /// Rows (after wrapping) per page.
    pub lines_per_page: u16,
    /// Font size: pixels per em. The cell is 0.6 em wide (JetBrains Mono's advance).
    pub font_px: u16,
    /// Tab stops every this many columns.
    pub tab_width: u8,
    /// Draw line numbers (code) or old/new numbers (diffs).
    pub line_numbers: bool,
    /// Title shown in the page header (usually the file name); `None` shows the language.
    pub title: Option<String>,
    /// Pages beyond this are not rendered (a minified 1 MB line would give thousands);
    /// `Page::total` still tells how many there would be.
    pub max_pages: u16,
}

impl Default for PageOptions {
    fn default() -> Self {
        Self {
            max_columns: 100,
            lines_per_page: 60,
            font_px: 20,
            tab_width: 4,
            line_numbers: true,
            title: None,
            max_pages: 100,
        }
    }
}

impl PageOptions {
    /// Rejects options that cannot produce a readable page.
    pub fn validate(&self) -> Result<(), RenderError> {
        if self.max_columns < 8 || self.max_columns > 1000 {
            return Err(RenderError::InvalidOptions("max_columns must be 8..=1000"));
        }
        if self.lines_per_page == 0 || self.lines_per_page > 1000 {
            return Err(RenderError::InvalidOptions(
                "lines_per_page must be 1..=1000",
            ));
        }
        if !(8..=96).contains(&self.font_px) {
            return Err(RenderError::InvalidOptions("font_px must be 8..=96"));
        }
        if self.tab_width == 0
            || self.tab_width > 16
            || u16::from(self.tab_width) > self.max_columns
        {
            return Err(RenderError::InvalidOptions(
                "tab_width must be 1..=16 and at most max_columns",
            ));
        }
        if self.max_pages == 0 {
            return Err(RenderError::InvalidOptions("max_pages must be at least 1"));
        }
        Ok(())
    }
}

/// Pixel geometry of one cell, derived from the font size. Whole pixels so that glyph
/// masks rasterized once can be blitted at any cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metrics {
    pub em: u16,
    pub cell_w: u32,
    pub line_h: u32,
    /// Baseline offset from the top of a row.
    pub baseline: u32,
    /// Outer padding around the page content.
    pub pad: u32,
}

impl Metrics {
    pub(crate) fn new(font_px: u16) -> Self {
        let em = f32::from(font_px);
        let cell_w = (em * 0.6).round().max(1.0) as u32;
        // 1.4 em rows: airy enough for CJK and descenders, still dense on a phone.
        let line_h = (em * 1.4).round() as u32;
        // JetBrains Mono: ascent 1.02 em, descent 0.3 em; centre that box in the row.
        let baseline = ((line_h as f32 - 1.32 * em) / 2.0 + 1.02 * em).round() as u32;
        Self {
            em: font_px,
            cell_w,
            line_h,
            baseline,
            pad: cell_w,
        }
    }
}
