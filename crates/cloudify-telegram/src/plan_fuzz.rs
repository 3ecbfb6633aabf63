//! Fuzz-style properties of the Telegram formatter and splitter: for any input, every part
//! is accepted by Telegram's HTML parser (the fake's, which follows TDLib), fits the limit as
//! Telegram counts it, shows exactly its plain fallback, carries nothing raw from the input
//! (`<script>`), and together the parts show every visible character of the input.

use cloudify_core::output::{Envelope, Output};
use cloudify_testkit::fake_telegram::parse_html;
use cloudify_testkit::fuzz::{any_text, boundary_text, config, nasty_text};
use proptest::prelude::*;

use super::*;

const LIMIT: usize = 4096;

/// Markdown syntax that may turn into formatting (and so disappear from the visible text),
/// plus what the formatter adds for it (bullets, rules, ellipses).
const MARKUP: &[char] = &[
    '*', '_', '~', '`', '#', '>', '[', ']', '(', ')', '-', '+', '\\', '•', '─', '…',
];

fn fmt(inline_code_max_lines: usize) -> Format {
    Format {
        max_text: LIMIT,
        max_caption: 1024,
        inline_code_max_lines,
    }
}

/// What a user sees of one part, with link targets written after their labels (the URL of
/// `[label](url)` is shown on tap, not lost). Checks the part on the way.
fn shown_part(part: &Part) -> Result<String, TestCaseError> {
    let (text, entities) = parse_html(&part.html)
        .map_err(|e| TestCaseError::fail(format!("Telegram refuses {:?}: {e}", part.html)))?;
    prop_assert_eq!(&text, &part.plain);
    let units = text.encode_utf16().count();
    prop_assert!(units <= LIMIT, "{units} UTF-16 units");
    prop_assert!(!text.trim().is_empty(), "blank part");
    prop_assert!(
        !part.html.to_ascii_lowercase().contains("<script"),
        "raw tag from the input: {}",
        part.html
    );
    let utf16: Vec<u16> = text.encode_utf16().collect();
    let mut links: Vec<(usize, String)> = entities
        .into_iter()
        .filter_map(|e| Some((e.offset + e.length, e.url?)))
        .collect();
    links.sort_by_key(|(end, _)| *end);
    let mut out = String::new();
    let mut at = 0;
    for (end, url) in links {
        out.push_str(&String::from_utf16_lossy(&utf16[at..end]));
        out.push_str(&url);
        at = end;
    }
    out.push_str(&String::from_utf16_lossy(&utf16[at..]));
    Ok(out)
}

fn texts(steps: &[Step]) -> impl Iterator<Item = &Part> {
    steps.iter().filter_map(|s| match s {
        Step::Text { part, .. } => Some(part),
        Step::Media { .. } => None,
    })
}

fn significant(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !c.is_whitespace() && !MARKUP.contains(c))
        .collect()
}

/// The input without the lines that open a code fence (their info string names a language,
/// which goes into an attribute, not into the text).
fn without_fence_openers(md: &str) -> String {
    let mut fence: Option<(char, usize)> = None;
    let mut out = Vec::new();
    for line in md.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some((ch, len)) = fence {
            let t = line.trim();
            if t.len() >= len && t.chars().all(|c| c == ch) {
                fence = None;
            }
            out.push(line);
            continue;
        }
        let trimmed = line.trim_start_matches(' ');
        let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(ch) = ch {
            let len = trimmed.chars().take_while(|c| *c == ch).count();
            if len >= 3 && !(ch == '`' && trimmed[len..].contains('`')) {
                fence = Some((ch, len));
                continue;
            }
        }
        out.push(line);
    }
    out.join("\n")
}

/// `needle` appears in `hay` in order (extra characters in `hay` are allowed).
fn is_subsequence(needle: &[char], hay: &[char]) -> Option<usize> {
    let mut it = hay.iter();
    for (i, c) in needle.iter().enumerate() {
        if !it.any(|h| h == c) {
            return Some(i);
        }
    }
    None
}

fn check_text(md: &str) -> Result<(), TestCaseError> {
    // Every code block inline, so everything the input says must appear in the text parts.
    let steps = plan(
        &Envelope::bare(Output::Text { text: md.into() }),
        &fmt(usize::MAX),
    );
    let mut shown = String::new();
    for part in texts(&steps) {
        shown.push_str(&shown_part(part)?);
    }
    let want = significant(&without_fence_openers(md));
    let got = significant(&shown);
    if let Some(i) = is_subsequence(&want, &got) {
        let near: String = want[i.saturating_sub(10)..(i + 10).min(want.len())]
            .iter()
            .collect();
        return Err(TestCaseError::fail(format!(
            "lost {:?} (near {near:?}) of {md:?}; shown {shown:?}",
            want[i]
        )));
    }
    // With the default threshold long code becomes images; the text parts stay valid.
    let steps = plan(&Envelope::bare(Output::Text { text: md.into() }), &fmt(10));
    for part in texts(&steps) {
        shown_part(part)?;
    }
    Ok(())
}

fn markdownish() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => nasty_text(80),
        1 => any_text(200),
        1 => boundary_text(LIMIT),
        1 => boundary_text(2 * LIMIT),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn fuzz_markdown_parts_are_valid_and_lose_nothing(md in markdownish()) {
        check_text(&md)?;
    }

    #[test]
    fn fuzz_plain_text_is_shown_verbatim(
        text in prop_oneof![nasty_text(60), any_text(300), boundary_text(LIMIT)],
        header in proptest::option::of(nasty_text(4)),
        footer in proptest::option::of(nasty_text(4)),
    ) {
        let env = Envelope { header: header.clone(), footer: footer.clone(), ..Envelope::bare(Output::Plain { text: text.clone() }) };
        let steps = plan(&env, &fmt(10));
        let mut shown = String::new();
        for part in texts(&steps) {
            shown.push_str(&shown_part(part)?);
        }
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let mut want = String::new();
        for s in [header.as_deref(), Some(text.as_str()), footer.as_deref()].into_iter().flatten() {
            // Header and footer only appear when they have something visible.
            want.push_str(&strip(s));
        }
        prop_assert_eq!(strip(&shown), want);
    }

    #[test]
    fn fuzz_edits_fit_one_message(md in markdownish(), limit in prop_oneof![Just(4096usize), Just(1024), 1usize..64]) {
        let env = Envelope { header: Some("[a&b]".into()), footer: Some("<i>".into()), ..Envelope::bare(Output::Text { text: md }) };
        let (part, _) = single(&env, &fmt(10), limit);
        let (text, _) = parse_html(&part.html).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&text, &part.plain);
        prop_assert!(text.encode_utf16().count() <= limit.max(1));
    }
}

#[test]
fn fence_openers_are_found_like_the_parser_does() {
    assert_eq!(
        without_fence_openers("a\n```rust x\ncode\n```\n~~~\nb"),
        "a\ncode\n```\nb"
    );
    assert_eq!(without_fence_openers("```x`y\nz"), "```x`y\nz");
}
