#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use crate::markdown::{Segment, segments, split, subset, title};

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the fake DingTalk would flag, on the Markdown parts.
fn issues(segs: &[Segment]) -> Vec<String> {
    segs.iter()
        .filter_map(|s| match s {
            Segment::Markdown(m) => Some(cloudify_testkit::fake_dingtalk::unsupported_markdown(m)),
            Segment::Code { .. } => None,
        })
        .flatten()
        .collect()
}

#[test]
fn code_blocks_are_cut_out() {
    let md = "Intro\n\n```rust\nfn main() {}\n```\n\nAfter `x` and ~~old~~.";
    let segs = segments(md);
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[0], Segment::Markdown("Intro".into()));
    assert_eq!(
        segs[1],
        Segment::Code {
            lang: Some("rust".into()),
            info: "rust".into(),
            code: "fn main() {}".into()
        }
    );
    assert_eq!(segs[2], Segment::Markdown("After x and old.".into()));
}

#[test]
fn unterminated_fence_runs_to_the_end() {
    let segs = segments("a\n~~~~\ncode\n```\nmore");
    assert_eq!(
        segs[1],
        Segment::Code {
            lang: None,
            info: String::new(),
            code: "code\n```\nmore".into()
        }
    );
}

#[test]
fn tables_become_lists_and_nesting_is_flattened() {
    let md = "| name | size |\n|---|:--:|\n| a.rs | 10 |\n\n- top\n  - child\n    1. deep";
    let out = subset(md);
    assert!(out.contains("- name · size"), "{out}");
    assert!(out.contains("- a.rs · 10"), "{out}");
    assert!(!out.contains("---"), "{out}");
    assert!(out.contains("◦ child"), "{out}");
    assert!(
        cloudify_testkit::fake_dingtalk::unsupported_markdown(&out).is_empty(),
        "{out}"
    );
}

#[test]
fn html_is_defused_but_font_kept() {
    let out = subset("Vec<String> and <b>x</b> <font color=#f00>red</font> a < b");
    assert!(
        cloudify_testkit::fake_dingtalk::unsupported_markdown(&out).is_empty(),
        "{out}"
    );
    assert!(out.contains("<font color=#f00>red</font>"));
    assert!(out.contains("a < b"));
}

#[test]
fn splitting_prefers_paragraphs() {
    let text = format!("{}\n\n{}", "a".repeat(60), "b".repeat(60));
    let parts = split(&text, 100);
    assert_eq!(parts, vec!["a".repeat(60), "b".repeat(60)]);
    let long = "中".repeat(250);
    let parts = split(&long, 100);
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.chars().count() <= 100));
    assert_eq!(parts.concat(), long);
}

#[test]
fn titles_are_short_and_clean() {
    assert_eq!(title("## **Hello** world\nmore"), "Hello world");
    assert_eq!(title(""), "OpenCode");
    assert_eq!(title(&"字".repeat(40)).chars().count(), 24);
}

#[test]
fn cuts_the_splitter_cannot_avoid_are_defused() {
    use crate::markdown::defuse_cut;
    assert_eq!(defuse_cut("a <fo".into()), "a ‹fo");
    assert_eq!(defuse_cut("||0a <b>".into()), "∣|0a <b>");
    assert_eq!(defuse_cut("a | b |".into()), "a | b |");
    // Found by fuzzing: the part after a cut started with `||` (shown as a table row).
    let md = "🏳\u{fe0f}\u{200d}🌈¡🏳\u{fe0f}\u{200d}🌈aA0ࠀ ||0aAAAAaaaaA0a00Aaa0Aa0aA<!--";
    for part in split(md, 20).into_iter().map(defuse_cut) {
        assert!(
            cloudify_testkit::fake_dingtalk::unsupported_markdown(&part).is_empty(),
            "{part:?}"
        );
    }
}

fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 ]{0,20}",
        Just("```".to_owned()),
        Just("```rust".to_owned()),
        Just("~~~".to_owned()),
        Just("`".to_owned()),
        Just("~~".to_owned()),
        Just("| a | b |".to_owned()),
        Just("|---|---|".to_owned()),
        Just("  - ".to_owned()),
        Just("    ".to_owned()),
        Just("<div>".to_owned()),
        Just("**".to_owned()),
        Just("# ".to_owned()),
        Just("中文".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn never_emits_what_dingtalk_shows_raw(md in markdownish()) {
        let segs = segments(&md);
        let found = issues(&segs);
        prop_assert!(found.is_empty(), "{found:?} in {segs:?}");
        for s in &segs {
            if let Segment::Markdown(m) = s {
                prop_assert!(!m.contains("```") && !m.contains('`'));
            }
        }
    }

    #[test]
    fn words_are_preserved_in_order(md in markdownish()) {
        let mut out = Vec::new();
        for s in segments(&md) {
            match s {
                Segment::Markdown(m) => out.extend(words(&m)),
                Segment::Code { info, code, .. } => {
                    out.extend(words(&info));
                    out.extend(words(&code));
                }
            }
        }
        // Table separator rows and fences carry no words; everything else survives.
        prop_assert_eq!(out.concat(), words(&md).concat());
    }

    #[test]
    fn split_keeps_text_and_bounds(text in "[a-z\\n中 ]{0,600}", max in 20usize..200) {
        let parts = split(&text, max);
        prop_assert!(parts.iter().all(|p| p.chars().count() <= max));
        let joined: String = parts.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let orig: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        prop_assert_eq!(joined, orig);
    }
}
