//! The agent's Markdown → DingTalk's Markdown subset (IM.md §1.11).
//!
//! DingTalk shows code blocks, inline code, tables, strikethrough, nested lists and most
//! HTML raw. Fenced code blocks are cut out as [`Segment::Code`] (sent as images); the rest
//! is rewritten line by line: backticks dropped, table rows become list items, `~~` dropped,
//! indented list items flattened, HTML tags defused. Words are never dropped.

/// A piece of an agent message in order: DingTalk Markdown, or a code block to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Markdown(String),
    Code {
        /// First word of the fence's info string (the language), for highlighting.
        lang: Option<String>,
        /// The whole info string (may name a file or carry attributes).
        info: String,
        code: String,
    },
}

/// `(fence char, fence length, info string)` when `line` opens a fenced code block.
fn fence_open(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let c = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = rest.chars().take_while(|x| *x == c).count();
    if n < 3 {
        return None;
    }
    let info = rest[n..].trim();
    // A backtick fence's info string cannot contain backticks (CommonMark).
    if c == '`' && info.contains('`') {
        return None;
    }
    Some((c, n, info))
}

fn fence_closes(line: &str, c: char, n: usize) -> bool {
    let t = line.trim();
    t.len() >= n && t.chars().all(|x| x == c)
}

/// Splits fenced code blocks out of `md`; the remaining text is converted to the subset.
pub(crate) fn segments(md: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut text: Vec<&str> = Vec::new();
    let mut lines = md.lines();
    let flush = |text: &mut Vec<&str>, out: &mut Vec<Segment>| {
        let converted = subset(&text.join("\n"));
        if !converted.trim().is_empty() {
            out.push(Segment::Markdown(converted.trim_matches('\n').to_owned()));
        }
        text.clear();
    };
    while let Some(line) = lines.next() {
        let Some((c, n, info)) = fence_open(line) else {
            text.push(line);
            continue;
        };
        flush(&mut text, &mut out);
        let lang = info
            .split_whitespace()
            .next()
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        let mut code = Vec::new();
        for l in lines.by_ref() {
            if fence_closes(l, c, n) {
                break;
            }
            code.push(l);
        }
        let code = code.join("\n");
        if !code.trim().is_empty() {
            let info = info.to_owned();
            out.push(Segment::Code { lang, info, code });
        } else if !info.is_empty() {
            // An empty block: nothing to draw, but keep what its fence said.
            text.push(info);
        }
    }
    flush(&mut text, &mut out);
    out
}

/// True for a table separator row such as `|---|:--:|`.
fn is_table_separator(cells: &[&str]) -> bool {
    !cells.is_empty()
        && cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|x| matches!(x, '-' | ':' | ' ')))
}

fn bullet_rest(t: &str) -> Option<&str> {
    for p in ["- ", "* ", "+ "] {
        if let Some(r) = t.strip_prefix(p) {
            return Some(r);
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && t[digits..].starts_with(". ")).then_some(t)
}

/// Converts Markdown without fenced code blocks to DingTalk's subset. Fences that remain
/// (there should be none) lose their backticks like inline code does.
pub(crate) fn subset(md: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in md.lines() {
        // Backticks (inline code, stray fences) and `~~` are shown raw: drop them first.
        let line = line.replace('`', "").replace("~~", "");
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let mut l = if t.starts_with('|') && t[1..].contains('|') {
            let inner = t.trim_end().trim_start_matches('|').trim_end_matches('|');
            let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
            if is_table_separator(&cells) {
                continue;
            }
            let cells: Vec<&str> = cells.into_iter().filter(|c| !c.is_empty()).collect();
            format!("- {}", cells.join(" · "))
        } else if indent >= 2 && bullet_rest(t).is_some() {
            // Nested items: DingTalk has one list level; keep the depth visible.
            let rest = bullet_rest(t).unwrap_or(t);
            let depth = (indent / 2).min(4);
            let mark = if t.starts_with(|c: char| c.is_ascii_digit()) {
                rest.to_owned()
            } else {
                format!("◦ {rest}")
            };
            format!("- {}{mark}", "\u{3000}".repeat(depth.saturating_sub(1)))
        } else {
            // Leading spaces would make an indented code block (shown raw).
            t.to_owned()
        };
        if l.contains("~~") {
            l = l.replace('~', "");
        }
        out.push(defuse_html(&l));
    }
    // A single newline is often collapsed: end lines inside a paragraph with two spaces.
    let mut text = String::new();
    for (i, l) in out.iter().enumerate() {
        text.push_str(l);
        if i + 1 < out.len() {
            let next_empty = out[i + 1].trim().is_empty();
            if !l.trim().is_empty() && !next_empty {
                text.push_str("  ");
            }
            text.push('\n');
        }
    }
    text
}

/// `<tag>` other than `<font>` is shown raw: turn its `<` into a look-alike.
fn defuse_html(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name: String = after
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        if !name.is_empty() && !name.eq_ignore_ascii_case("font") {
            out.push('‹');
        } else {
            out.push('<');
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// For places without images (the live message): code blocks become quoted lines.
pub(crate) fn subset_quoting_code(md: &str) -> String {
    segments(md)
        .into_iter()
        .map(|s| match s {
            Segment::Markdown(m) => m,
            Segment::Code { code, .. } => code
                .lines()
                .map(|l| format!("> {}", subset(l.trim_start()).trim_end()))
                .collect::<Vec<_>>()
                .join("  \n"),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Splits `text` into pieces of at most `max` characters, at paragraph or line ends
/// where possible.
pub(crate) fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > max {
        let cut = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..cut];
        let at = window
            .rfind("\n\n")
            .or_else(|| window.rfind('\n'))
            .or_else(|| window.rfind(' '))
            .filter(|i| *i > cut / 3)
            .unwrap_or(cut);
        // Never inside a `<font …>` tag: each half would show raw.
        let mut at = match (window[..at].rfind('<'), window[..at].rfind('>')) {
            (Some(lt), gt) if gt.is_none_or(|gt| gt < lt) && lt > cut / 3 => lt,
            _ => at,
        };
        // Nor where the next part would start with `|` (a table row, shown raw).
        while rest[at..].trim_start().starts_with('|') {
            match window[..at].char_indices().next_back() {
                Some((prev, _)) if prev > cut / 3 => at = prev,
                _ => break,
            }
        }
        parts.push(rest[..at].trim_end().to_owned());
        // Leading spaces would turn the next part's first line into an indented block.
        rest = rest[at..].trim_start();
    }
    if !rest.trim().is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// What a cut the splitter could not avoid leaves raw, defused like [`subset`] does: half a
/// `<font …>` tag at the end (its `<` becomes `‹`), a `|` starting the part where a table
/// row would (it becomes `∣`). Same length, so the part still fits.
pub(crate) fn defuse_cut(part: String) -> String {
    let mut out = part;
    if let Some(lt) = out.rfind('<').filter(|lt| !out[*lt..].contains('>')) {
        out.replace_range(lt..=lt, "‹");
    }
    let first = out.find(|c: char| !c.is_whitespace()).unwrap_or(0);
    let line_end = out[first..].find('\n').map_or(out.len(), |i| first + i);
    if out[first..].starts_with('|') && out[first..line_end][1..].contains('|') {
        out.replace_range(first..=first, "∣");
    }
    out
}

/// A notification title: the first non-empty line without Markdown marks, ≤ 24 chars.
pub(crate) fn title(text: &str) -> String {
    let first = text
        .lines()
        .map(|l| l.trim_start_matches(['#', '>', '-', '*', ' ']).trim())
        .find(|l| !l.is_empty())
        .unwrap_or("OpenCode");
    let clean: String = first
        .chars()
        .filter(|c| !matches!(c, '*' | '`' | '[' | ']'))
        .collect();
    let short: String = clean.chars().take(24).collect();
    if short.trim().is_empty() {
        "OpenCode".into()
    } else {
        short
    }
}
