//! Cutting styled text into Telegram-sized parts, after formatting.
//!
//! Limits are measured on what Telegram counts (visible characters, as UTF-16 units), not on
//! the HTML; tags are re-balanced per part by [`Styled::html`], so a code block cut in two
//! is closed at the end of one part and reopened (same language) in the next.

use std::ops::Range;

use crate::styled::Styled;

/// Ranges of at most `limit` units each, covering `s` in order; blank ranges are dropped
/// (Telegram refuses an empty message). Cuts prefer, in order: a blank line outside code,
/// a line break outside code, a line break inside code, a space, and finally any character.
pub(crate) fn split(s: &Styled, limit: usize) -> Vec<Range<usize>> {
    let limit = limit.max(2);
    let n = s.len();
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut units = 0;
        while end < n && units + s.char_at(end).len_utf16() <= limit {
            units += s.char_at(end).len_utf16();
            end += 1;
        }
        if end == n {
            parts.push(start..n);
            break;
        }
        let cut = best_cut(s, start, end.max(start + 1));
        parts.push(start..cut);
        start = cut;
    }
    parts.retain(|r| !s.is_blank(r.clone()));
    parts
}

/// The best place in `(start, end]` to end a part; never before the middle, so parts
/// stay reasonably full.
fn best_cut(s: &Styled, start: usize, end: usize) -> usize {
    let lo = (start + (end - start) / 2).max(start + 1);
    let newline = |i: usize| s.char_at(i - 1) == '\n';
    let classes: [&dyn Fn(usize) -> bool; 4] = [
        &|i| i >= 2 && newline(i) && s.char_at(i - 2) == '\n' && !s.in_pre(i - 1),
        &|i| newline(i) && !s.in_pre(i - 1),
        &|i| newline(i),
        &|i| s.char_at(i - 1).is_whitespace(),
    ];
    for class in classes {
        if let Some(i) = (lo..=end).rev().find(|i| class(*i)) {
            return i;
        }
    }
    end
}

/// Where the longest suffix of `s` fitting in `budget` units starts, moved forward to a
/// line start when one is near, so a live message shows whole lines.
pub(crate) fn tail_start(s: &Styled, budget: usize) -> usize {
    let n = s.len();
    let mut start = n;
    let mut units = 0;
    while start > 0 && units + s.char_at(start - 1).len_utf16() <= budget {
        start -= 1;
        units += s.char_at(start).len_utf16();
    }
    if start == 0 {
        return 0;
    }
    let window = start + (n - start) / 4;
    (start..window)
        .find(|i| s.char_at(*i) == '\n')
        .map_or(start, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::styled::Tag;

    #[test]
    fn prefers_paragraphs_and_keeps_code_whole() {
        let mut s = Styled::new();
        s.plain(&"a".repeat(60));
        s.plain("\n\n");
        s.plain(&"b".repeat(20));
        s.plain("\n");
        s.tagged(&"c\n".repeat(10), &[Tag::Pre(None)]);
        let parts = split(&s, 100);
        assert_eq!(s.text(parts[0].clone()), format!("{}\n\n", "a".repeat(60)));
        assert!(s.text(parts[1].clone()).starts_with("bbbb"));
        assert!(parts.iter().all(|r| s.units(r.clone()) <= 100));
    }

    #[test]
    fn long_code_is_cut_at_lines_and_reopened() {
        let mut s = Styled::new();
        s.tagged(&"let x = 1;\n".repeat(30), &[Tag::Pre(Some("rust".into()))]);
        let parts = split(&s, 100);
        assert!(parts.len() > 3);
        for r in &parts {
            let html = s.html(r.clone());
            assert!(
                html.starts_with("<pre><code class=\"language-rust\">"),
                "{html}"
            );
            assert!(
                html.ends_with("\n</code></pre>") || r.end == s.len(),
                "{html}"
            );
        }
    }

    #[test]
    fn hard_cut_without_spaces() {
        let mut s = Styled::new();
        s.plain(&"x".repeat(250));
        let parts = split(&s, 100);
        assert_eq!(parts, vec![0..100, 100..200, 200..250]);
    }

    #[test]
    fn tail_keeps_whole_lines() {
        let mut s = Styled::new();
        s.plain("first line\nsecond line\nthird");
        let start = tail_start(&s, 20);
        assert_eq!(s.text(start..s.len()), "second line\nthird");
        assert_eq!(tail_start(&s, 1000), 0);
    }
}
