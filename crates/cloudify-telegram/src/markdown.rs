//! The agent's Markdown subset → styled text and code blocks.
//!
//! Recognized: fenced code blocks (``` and ~~~, unclosed ones run to the end), inline code,
//! `**bold**`/`__bold__`, `*italic*`/`_italic_`, `~~strike~~`, `[text](http…)` links,
//! headings (bold), `>` quotes, bullets. Anything that does not match cleanly stays literal
//! text; escaping happens when the styled text is serialized, so no input can produce
//! invalid HTML.

use crate::styled::{Styled, Tag};

/// A piece of converted Markdown.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    Rich(Styled),
    Code { lang: Option<String>, code: String },
}

struct Fence {
    ch: char,
    len: usize,
    indent: usize,
    lang: Option<String>,
    lines: Vec<String>,
}

/// Converts Markdown into text blocks and code blocks, in order.
pub(crate) fn parse(md: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut text = Styled::new();
    let mut fence: Option<Fence> = None;
    let mut first_line = true;
    let mut prev_quote = false;
    for line in md.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(f) = fence.as_mut() {
            if is_closing_fence(line, f.ch, f.len) {
                if let Some(f) = fence.take() {
                    flush_text(&mut blocks, &mut text);
                    blocks.push(Block::Code {
                        lang: f.lang,
                        code: f.lines.join("\n"),
                    });
                    first_line = true;
                    prev_quote = false;
                }
            } else {
                f.lines.push(strip_indent(line, f.indent).to_owned());
            }
            continue;
        }
        if let Some(f) = opening_fence(line) {
            fence = Some(f);
            continue;
        }
        let quote = quote_body(line);
        if !first_line {
            // The newline between two quote lines belongs to the quote, so they form one block.
            if quote.is_some() && prev_quote {
                text.tagged("\n", &[Tag::Quote]);
            } else {
                text.plain("\n");
            }
        }
        first_line = false;
        prev_quote = quote.is_some();
        match quote {
            Some(body) => block_line(&mut text, body, &[Tag::Quote]),
            None => block_line(&mut text, line, &[]),
        }
    }
    if let Some(f) = fence {
        // An unclosed fence (a streaming answer, or a sloppy one) is still code.
        flush_text(&mut blocks, &mut text);
        blocks.push(Block::Code {
            lang: f.lang,
            code: f.lines.join("\n"),
        });
    } else {
        flush_text(&mut blocks, &mut text);
    }
    blocks
}

fn flush_text(blocks: &mut Vec<Block>, text: &mut Styled) {
    // Blank lines around a code block are layout, not content.
    let t = std::mem::replace(text, Styled::new());
    if !t.is_blank(0..t.len()) {
        blocks.push(Block::Rich(t));
    }
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

fn opening_fence(line: &str) -> Option<Fence> {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if ch == '`' && info.contains('`') {
        return None; // ```inline``` on one line is a code span
    }
    let lang = info.split_whitespace().next().and_then(sanitize_lang);
    Some(Fence {
        ch,
        len,
        indent,
        lang,
        lines: Vec::new(),
    })
}

fn is_closing_fence(line: &str, ch: char, len: usize) -> bool {
    let t = line.trim();
    t.len() >= len && t.chars().all(|c| c == ch)
}

/// A fence language usable in `class="language-…"`.
pub(crate) fn sanitize_lang(raw: &str) -> Option<String> {
    let lang: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.'))
        .take(32)
        .collect();
    (!lang.is_empty()).then_some(lang)
}

fn quote_body(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(' ').strip_prefix('>')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// One line outside code: headings, bullets and rules, then inline formatting.
fn block_line(out: &mut Styled, line: &str, base: &[Tag]) {
    let trimmed = line.trim_start_matches(' ');
    let indent = &line[..line.len() - trimmed.len()];
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        let mut tags = base.to_vec();
        tags.push(Tag::Bold);
        inline(out, &chars(trimmed[hashes..].trim()), &mut tags);
        return;
    }
    if is_rule(trimmed) {
        out.tagged("──────────", base);
        return;
    }
    let mut tags = base.to_vec();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = trimmed.strip_prefix(bullet) {
            out.tagged(indent, base);
            out.tagged("• ", base);
            inline(out, &chars(rest), &mut tags);
            return;
        }
    }
    inline(out, &chars(line), &mut tags);
}

fn is_rule(t: &str) -> bool {
    let t = t.trim_end();
    t.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|r| t.chars().all(|c| c == *r || c == ' ') && t.starts_with(*r))
        && !t.contains("  ")
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Inline code goes on its own: Telegram entities cannot nest inside code, and code inside
/// bold is dropped by some clients. Quotes and links stay around it.
fn code_tags(stack: &[Tag]) -> Vec<Tag> {
    let mut tags: Vec<Tag> = stack
        .iter()
        .filter(|t| matches!(t, Tag::Quote | Tag::Link(_)))
        .cloned()
        .collect();
    tags.push(Tag::Code);
    tags
}

/// Precomputed positions that keep every scan of a line O(1) or O(log n): where each
/// maximal backtick run starts (by length), and the next `[`, `]` and URL end after any
/// index. Without them a line of lone backticks or brackets would be quadratic.
struct Index {
    ticks: std::collections::HashMap<usize, Vec<usize>>,
    next_open: Vec<usize>,
    next_close: Vec<usize>,
    next_url_end: Vec<usize>,
}

impl Index {
    fn new(s: &[char]) -> Self {
        let mut ticks: std::collections::HashMap<usize, Vec<usize>> =
            std::collections::HashMap::new();
        let mut k = 0;
        while k < s.len() {
            if s[k] == '`' {
                let n = run_len(s, k, '`');
                ticks.entry(n).or_default().push(k);
                k += n;
            } else {
                k += 1;
            }
        }
        let next = |hit: &dyn Fn(char) -> bool| {
            let mut v = vec![s.len(); s.len() + 1];
            for k in (0..s.len()).rev() {
                v[k] = if hit(s[k]) { k } else { v[k + 1] };
            }
            v
        };
        Self {
            ticks,
            next_open: next(&|c| c == '['),
            next_close: next(&|c| c == ']'),
            next_url_end: next(&|c| c == ')' || c.is_whitespace()),
        }
    }

    /// The start of a run of exactly `run` backticks at or after `from`.
    fn tick_close(&self, from: usize, run: usize) -> Option<usize> {
        let starts = self.ticks.get(&run)?;
        starts.get(starts.partition_point(|p| *p < from)).copied()
    }
}

/// Inline formatting of one line. `stack` holds the tags already open around `s`.
fn inline(out: &mut Styled, s: &[char], stack: &mut Vec<Tag>) {
    let ix = Index::new(s);
    let mut i = 0;
    // Once no closer exists for a delimiter, later openers of that kind cannot have one
    // either: remember it, so adversarial input ("* * * …") stays linear.
    let mut hopeless = [false; 5];
    let mut style = out.style(stack);
    while i < s.len() {
        let c = s[i];
        match c {
            '\\' if s.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                out.push(s[i + 1], style);
                i += 2;
            }
            '`' => {
                let run = run_len(s, i, '`');
                match ix.tick_close(i + run, run) {
                    Some(end) => {
                        let mut body: &[char] = &s[i + run..end];
                        if body.len() > 2 && body[0] == ' ' && body[body.len() - 1] == ' ' {
                            body = &body[1..body.len() - 1];
                        }
                        let id = out.style(&code_tags(stack));
                        for ch in body {
                            out.push(*ch, id);
                        }
                        i = end + run;
                    }
                    None => {
                        for _ in 0..run {
                            out.push('`', style);
                        }
                        i += run;
                    }
                }
            }
            '*' | '_' | '~' => {
                let run = run_len(s, i, c);
                let tried = [(2, kind_of(c, 2)), (1, kind_of(c, 1))];
                let mut done = false;
                for (width, kind) in tried {
                    let Some((tag, slot)) = kind else { continue };
                    if run < width || hopeless[slot] || !can_open(s, i, width, c) {
                        continue;
                    }
                    match find_close(s, &ix, i + width, width, c) {
                        Some(end) => {
                            let nested = stack.contains(&tag);
                            if !nested {
                                stack.push(tag);
                            }
                            inline(out, &s[i + width..end], stack);
                            if !nested {
                                stack.pop();
                            }
                            i = end + width;
                            done = true;
                        }
                        None => hopeless[slot] = true,
                    }
                    break;
                }
                if !done {
                    for _ in 0..run {
                        out.push(c, style);
                    }
                    i += run;
                }
            }
            '[' if !stack.iter().any(|t| matches!(t, Tag::Link(_))) => match link_at(s, &ix, i) {
                Some((label, url, end)) => {
                    stack.push(Tag::Link(url));
                    inline(out, &s[label], stack);
                    stack.pop();
                    i = end;
                }
                None => {
                    out.push('[', style);
                    i += 1;
                }
            },
            _ => {
                out.push(c, style);
                i += 1;
            }
        }
        // Nested calls may have interned new styles; ours is unchanged but re-fetch cheaply.
        style = out.style(stack);
    }
}

/// The tag a delimiter of this char and width stands for, and its `hopeless` slot.
fn kind_of(c: char, width: usize) -> Option<(Tag, usize)> {
    match (c, width) {
        ('*', 2) => Some((Tag::Bold, 0)),
        ('_', 2) => Some((Tag::Bold, 4)),
        ('*', 1) => Some((Tag::Italic, 1)),
        ('_', 1) => Some((Tag::Italic, 2)),
        ('~', 2) => Some((Tag::Strike, 3)),
        _ => None,
    }
}

fn run_len(s: &[char], i: usize, c: char) -> usize {
    s[i..].iter().take_while(|x| **x == c).count()
}

fn can_open(s: &[char], i: usize, width: usize, c: char) -> bool {
    let next = s.get(i + width);
    if next.is_none_or(|n| n.is_whitespace()) {
        return false;
    }
    // snake_case_words are not emphasis.
    !(c == '_' && i > 0 && s[i - 1].is_alphanumeric())
}

/// The start of a delimiter closing one opened before `from`.
fn find_close(s: &[char], ix: &Index, from: usize, width: usize, c: char) -> Option<usize> {
    let mut k = from;
    while k < s.len() {
        match s[k] {
            '\\' => {
                k += 2;
                continue;
            }
            '`' => {
                let run = run_len(s, k, '`');
                k = ix.tick_close(k + run, run).map_or(k + run, |end| end + run);
                continue;
            }
            ch if ch == c => {
                let run = run_len(s, k, c);
                let closes = k > from
                    && !s[k - 1].is_whitespace()
                    && (run == width || (width == 2 && run == 3))
                    && !(c == '_' && s.get(k + run).is_some_and(|n| n.is_alphanumeric()));
                if closes {
                    return Some(if run == 3 { k + 1 } else { k });
                }
                k += run;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    None
}

/// `[label](http…)` at `i`: the label range, the URL and the index after `)`. Labels
/// do not nest brackets (a `[` inside starts its own attempt).
fn link_at(s: &[char], ix: &Index, i: usize) -> Option<(std::ops::Range<usize>, String, usize)> {
    const MAX_URL: usize = 2048;
    let close = ix.next_close[i + 1];
    if close >= s.len()
        || ix.next_open[i + 1] < close
        || close == i + 1
        || s.get(close + 1) != Some(&'(')
    {
        return None;
    }
    let start = close + 2;
    let rest = &s[start..];
    let scheme =
        |p: &str| rest.len() >= p.len() && rest.iter().zip(p.chars()).all(|(a, b)| *a == b);
    if !(scheme("https://") || scheme("http://")) {
        return None;
    }
    let end = ix.next_url_end[start];
    if end >= s.len() || s[end] != ')' || end - start > MAX_URL {
        return None;
    }
    let url: String = s[start..end].iter().collect();
    let ok = url.len() > 8
        && !url
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == '"');
    ok.then(|| (i + 1..close, url, end + 1))
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
