//! Text on a cell grid: character widths, tabs, control characters, soft wrap, and input
//! decoding. Pure functions: the layout arithmetic the page tests check.

use std::borrow::Cow;
use std::ops::Range;

use unicode_width::UnicodeWidthChar;

use crate::RenderError;

/// How one character occupies the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    /// Drawn with this glyph over `width` cells (1, or 2 for CJK and emoji).
    Glyph { ch: char, width: u8 },
    /// Tab: `width` blank cells up to the next tab stop.
    Blank { width: u8 },
    /// Zero-width (combining marks, ZWJ, variation selectors): not drawn.
    Zero,
}

/// Classifies `ch` at grid column `col`. Control characters become their visible Unicode
/// "control picture" (␀, ␛, ␍ …) so nothing is silently dropped.
pub(crate) fn cell(ch: char, col: usize, tab: usize) -> Cell {
    match ch {
        '\t' => Cell::Blank {
            width: (tab - col % tab) as u8,
        },
        '\u{0}'..='\u{1f}' => Cell::Glyph {
            // In range by the match arm: 0x2400 + 0..=0x1f are the control pictures.
            ch: char::from_u32(0x2400 + ch as u32).unwrap_or('?'),
            width: 1,
        },
        '\u{7f}' => Cell::Glyph {
            ch: '\u{2421}',
            width: 1,
        },
        _ => match ch.width() {
            Some(0) => Cell::Zero,
            Some(w) => Cell::Glyph {
                ch,
                width: w.min(2) as u8,
            },
            None => Cell::Glyph {
                ch: '\u{fffd}',
                width: 1,
            },
        },
    }
}

/// Width in cells of a cell value.
pub(crate) fn cell_width(c: Cell) -> usize {
    match c {
        Cell::Glyph { width, .. } | Cell::Blank { width } => usize::from(width),
        Cell::Zero => 0,
    }
}

/// Soft-wraps one line (without its newline) at `max_cols` columns. Returns the byte range
/// and used column count of each visual row; an empty line is one empty row. A double-width
/// character never straddles the edge, and tab stops restart on each continuation row.
pub fn wrap_line(line: &str, max_cols: usize, tab: usize) -> Vec<(Range<usize>, usize)> {
    let max_cols = max_cols.max(2);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut col = 0;
    for (i, ch) in line.char_indices() {
        let mut w = cell_width(cell(ch, col, tab));
        if col + w > max_cols && col > 0 {
            rows.push((start..i, col));
            start = i;
            col = 0;
            w = cell_width(cell(ch, 0, tab));
        }
        col = (col + w).min(max_cols);
    }
    rows.push((start..line.len(), col));
    rows
}

/// Columns used by a row of text drawn from column 0.
pub fn text_columns(text: &str, tab: usize) -> usize {
    let mut col = 0;
    for ch in text.chars() {
        col += cell_width(cell(ch, col, tab));
    }
    col
}

/// Input text ready for layout: UTF-8 with `\n` line ends.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// True when invalid UTF-8 was replaced by U+FFFD.
    pub lossy: bool,
}

/// Decodes file bytes: NUL bytes in the first 8 KiB mean binary (an error, since a page of
/// replacement characters helps nobody); invalid UTF-8 elsewhere is replaced and flagged.
/// A UTF-8 byte-order mark is dropped.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, RenderError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(RenderError::Binary);
    }
    Ok(match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => Decoded {
            text: Cow::Borrowed(s),
            lossy: false,
        },
        Cow::Owned(s) => Decoded {
            text: Cow::Owned(s),
            lossy: true,
        },
    })
}

/// Splits text into lines (byte ranges without the line end). CRLF and lone CR at a line
/// end are both treated as line ends' part, so Windows files render like Unix ones.
/// A trailing newline does not start an extra empty line.
pub(crate) fn split_lines(text: &str) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            let end = if i > start && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            lines.push(start..end);
            start = i + 1;
        }
    }
    if start < text.len() {
        let end = if text.ends_with('\r') {
            text.len() - 1
        } else {
            text.len()
        };
        lines.push(start..end.max(start));
    }
    lines
}

/// Pages a render of `text` will produce with `opts`, without rendering: the same soft wrap
/// the renderer uses. Diffs end pages early at hunk headers, so they get an eighth more.
/// Adapters use it to tell the outbox how many calls a send will cost.
pub fn estimate_pages(text: &str, is_diff: bool, opts: &crate::PageOptions) -> usize {
    let (cols, tab) = (usize::from(opts.max_columns), usize::from(opts.tab_width));
    let rows: usize = text.lines().map(|l| wrap_line(l, cols, tab).len()).sum();
    let rows = if is_diff { rows + rows / 8 } else { rows };
    rows.div_ceil(usize::from(opts.lines_per_page).max(1))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(line: &str, cols: usize) -> Vec<&str> {
        wrap_line(line, cols, 4)
            .into_iter()
            .map(|(r, _)| &line[r])
            .collect()
    }

    #[test]
    fn short_line_is_one_row() {
        assert_eq!(wrap_line("fn main() {}", 100, 4), vec![(0..12, 12)]);
        assert_eq!(wrap_line("", 100, 4), vec![(0..0, 0)]);
    }

    #[test]
    fn long_line_wraps_exactly_at_the_column() {
        let line = "a".repeat(250);
        let r = wrap_line(&line, 100, 4);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], (0..100, 100));
        assert_eq!(r[1], (100..200, 100));
        assert_eq!(r[2], (200..250, 50));
    }

    #[test]
    fn wide_char_moves_to_next_row_instead_of_straddling() {
        // 9 ASCII + a CJK char (2 cells) at 10 columns: the CJK char cannot fit in column 10.
        let line = "abcdefghi中x";
        assert_eq!(rows(line, 10), vec!["abcdefghi", "中x"]);
        let r = wrap_line(line, 10, 4);
        assert_eq!(r[0].1, 9);
        assert_eq!(r[1].1, 3);
    }

    #[test]
    fn cjk_counts_double() {
        assert_eq!(text_columns("中文ab", 4), 6);
        assert_eq!(text_columns("한국어", 4), 6);
        assert_eq!(text_columns("🦀", 4), 2);
    }

    #[test]
    fn tabs_go_to_the_next_stop() {
        assert_eq!(text_columns("\tx", 4), 5);
        assert_eq!(text_columns("ab\tx", 4), 5);
        assert_eq!(text_columns("abcd\tx", 4), 9);
        assert_eq!(text_columns("a\tb\tc", 8), 17);
    }

    #[test]
    fn control_chars_are_visible_and_zero_width_is_skipped() {
        assert_eq!(
            cell('\u{1b}', 0, 4),
            Cell::Glyph {
                ch: '\u{241b}',
                width: 1
            }
        );
        assert_eq!(cell('\u{200d}', 0, 4), Cell::Zero);
        assert_eq!(text_columns("e\u{301}", 4), 1);
    }

    #[test]
    fn crlf_and_trailing_newline() {
        let t = "a\r\nbb\r\n\r\nc";
        let l: Vec<&str> = split_lines(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(l, vec!["a", "bb", "", "c"]);
        assert_eq!(split_lines("x\n").len(), 1);
        assert_eq!(split_lines("").len(), 0);
    }

    #[test]
    fn decode_flags_lossy_and_rejects_binary() {
        let d = decode(b"ok \xff\xfe text").unwrap();
        assert!(d.lossy);
        assert!(d.text.contains('\u{fffd}'));
        assert!(!decode("中文".as_bytes()).unwrap().lossy);
        assert!(matches!(decode(b"\x7fELF\0\0\0"), Err(RenderError::Binary)));
        assert_eq!(decode(b"\xef\xbb\xbfhi").unwrap().text, "hi");
    }
}
