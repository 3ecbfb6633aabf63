//! Input generators shared by the fuzz-style property tests of every crate.
//!
//! Two families: arbitrary text (any `char`, controls and NUL included), and text built from
//! the alphabet that breaks formatters and parsers: HTML/Markdown syntax, entities, line-ending
//! mixes, bidi and zero-width marks, deep combining sequences, astral emoji, CJK, and lengths
//! around Telegram's 4096-unit limit.
//!
//! Case counts: [`cases`] gives the CI default unless `PROPTEST_CASES` asks for a long run.

use proptest::prelude::*;

/// `PROPTEST_CASES` when set (the long run of `scripts/fuzz.sh`), else `ci`.
///
/// `ProptestConfig::with_cases(n)` ignores the variable, so every fuzz test goes through this.
pub fn cases(ci: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci)
}

/// A proptest config with [`cases`] and no regression files (the inputs are logged on failure;
/// a found case belongs in a named unit test).
pub fn config(ci: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(ci),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fragments that break naive converters, parsers and length counters.
pub const DANGEROUS: &[&str] = &[
    "<",
    ">",
    "&",
    "\"",
    "'",
    "`",
    "``",
    "```",
    "~~~",
    "*",
    "**",
    "_",
    "__",
    "[",
    "]",
    "(",
    ")",
    "~",
    "~~",
    "|",
    "#",
    "# ",
    "> ",
    "!",
    "- ",
    "* ",
    "+ ",
    "1. ",
    "\\",
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<b><i></b>",
    "<script>alert(1)</script>",
    "<SCRIPT>",
    "<a href=\"x\">",
    "<pre><code class=\"language-rust\">",
    "</code>",
    "<font color=red>",
    "<br/>",
    "<!--",
    "&amp;",
    "&lt;",
    "&#x1F600;",
    "&#128512;",
    "&bogus;",
    "&#0;",
    "&#xD800;",
    "&",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\t",
    "\0",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\u{202E}",
    "\u{200F}",
    "\u{200B}",
    "\u{200D}",
    "\u{FEFF}",
    "\u{2028}",
    "\u{3000}",
    "😀",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "𝕏",
    "中文",
    "字",
    "한국어",
    "العربية",
    "[x](https://e.x/?a=\"1\"&b=<2>)",
    "[l](javascript:alert(1))",
    "![i](https://e.x/i.png)",
    "| a | b |\n|---|---|\n",
    "\n```rust\n",
    "\n```\n",
    "\n~~~\n",
    "    ",
    "  - ",
    "---",
    "***",
];

/// One dangerous fragment.
pub fn dangerous_piece() -> impl Strategy<Value = String> {
    prop::sample::select(DANGEROUS).prop_map(str::to_owned)
}

/// `e` followed by `depth` combining marks (stress for per-character code).
pub fn combining_stack() -> impl Strategy<Value = String> {
    (1usize..=60).prop_map(|depth| {
        let marks = ['\u{301}', '\u{308}', '\u{336}', '\u{20DD}'];
        std::iter::once('e')
            .chain((0..depth).map(|i| marks[i % marks.len()]))
            .collect()
    })
}

/// Text made of dangerous fragments, words, arbitrary characters and combining stacks.
pub fn nasty_text(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => dangerous_piece(),
        3 => "[a-zA-Z0-9]{1,12}",
        1 => " ",
        1 => any::<char>().prop_map(String::from),
        1 => combining_stack(),
    ];
    prop::collection::vec(piece, 0..max_pieces).prop_map(|v| v.concat())
}

/// Any string of arbitrary characters (controls, NUL, private use, astral).
pub fn any_text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max_chars).prop_map(|v| v.into_iter().collect())
}

/// Text whose UTF-16 length lands within a few units of `limit`, with an astral or
/// dangerous character right at the boundary.
pub fn boundary_text(limit: usize) -> impl Strategy<Value = String> {
    (
        "[a-z ]{1,8}",
        0usize..8,
        prop::sample::select(vec![
            "😀", "<", "&", "\n", "```", "**", "中", "\u{301}", " ",
        ]),
        nasty_text(6),
    )
        .prop_map(move |(fill, shift, edge, tail)| {
            let target = (limit + 4).saturating_sub(shift).saturating_sub(2);
            let mut s = fill.repeat(target / fill.len());
            s.truncate(target);
            s.push_str(edge);
            s.push_str(&tail);
            s
        })
}

/// Bytes: arbitrary, or UTF-8 of [`nasty_text`].
pub fn nasty_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        nasty_text(max / 8 + 1).prop_map(String::into_bytes),
    ]
}

/// Arbitrary JSON values (depth-limited), strings from [`nasty_text`].
pub fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_text(6).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
