//! Fuzz-style properties of the DingTalk conversion, end to end through `plan` (splitting
//! included): no Markdown message contains what DingTalk would show raw (the fake's
//! checker), every message fits, and no word of the input is lost.

use cloudify_core::output::{Envelope, Output};
use cloudify_testkit::fake_dingtalk::unsupported_markdown;
use cloudify_testkit::fuzz::{any_text, boundary_text, config, nasty_text};
use proptest::prelude::*;

use crate::plan::{Format, Step, plan};
use crate::render::RenderJob;

/// Letters and digits in order, the rest dropped (formatting may change punctuation:
/// backticks go, `<` of a tag becomes `‹`, table pipes become `·`).
fn letters(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn markdownish() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => nasty_text(80),
        1 => any_text(200),
        1 => boundary_text(3000),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn fuzz_text_plans_show_nothing_raw_and_lose_no_word(md in markdownish(), max in prop_oneof![Just(3000usize), 1usize..300]) {
        let f = Format { max_text: max, ai_card: false, prompt_card: false };
        let steps = plan(&Envelope::bare(Output::Text { text: md.clone() }), &f);
        let mut shown = String::new();
        for step in &steps {
            match step {
                Step::Markdown { title, text } => {
                    let issues = unsupported_markdown(text);
                    prop_assert!(issues.is_empty(), "{issues:?} in {text:?} (from {md:?})");
                    prop_assert!(text.chars().count() <= max, "{} chars", text.chars().count());
                    prop_assert!(!title.trim().is_empty());
                    shown.push_str(text);
                }
                Step::Render(RenderJob::Code { code, .. }) => shown.push_str(code),
                other => prop_assert!(false, "unexpected step {other:?}"),
            }
        }
        // Only a fence's info string (the language, used for highlighting) may vanish.
        let fence_info: String = md
            .lines()
            .filter(|l| { let t = l.trim_start(); t.starts_with("```") || t.starts_with("~~~") })
            .collect();
        let (want, got) = (letters(&md), letters(&shown));
        if want != got {
            let info = letters(&fence_info);
            let mut it = got.chars();
            let in_order = want.chars().filter(|c| !info.contains(*c)).all(|c| it.any(|g| g == c));
            prop_assert!(in_order, "lost words: {want:?} vs {got:?}");
        }
    }

    #[test]
    fn fuzz_plain_text_is_kept_whole(text in markdownish(), max in prop_oneof![Just(3000usize), 20usize..300]) {
        let f = Format { max_text: max, ai_card: false, prompt_card: false };
        let steps = plan(&Envelope::bare(Output::Plain { text: text.clone() }), &f);
        let mut shown = String::new();
        for step in &steps {
            let Step::Text(t) = step else { return Err(TestCaseError::fail(format!("{step:?}"))) };
            prop_assert!(t.chars().count() <= max);
            shown.push_str(t);
        }
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        prop_assert_eq!(strip(&shown), strip(&text));
    }
}
