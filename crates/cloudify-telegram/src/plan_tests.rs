use cloudify_core::output::{Button, Envelope, Output, Progress, Prompt, TodoLine};
use proptest::prelude::*;

use super::*;
use crate::html_check::visible;

fn fmt() -> Format {
    Format {
        max_text: 4096,
        max_caption: 1024,
        inline_code_max_lines: 10,
    }
}

fn texts(steps: &[Step]) -> Vec<&Part> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Text { part, .. } => Some(part),
            Step::Media { .. } => None,
        })
        .collect()
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Every text part parses, fits, and shows exactly its plain fallback.
fn assert_valid(steps: &[Step]) {
    for part in texts(steps) {
        let shown = visible(&part.html).unwrap_or_else(|e| panic!("{e}: {}", part.html));
        assert_eq!(shown, part.plain);
        assert!(units(&shown) <= 4096, "{} units", units(&shown));
        assert!(!shown.trim().is_empty());
    }
}

fn paragraph(i: usize) -> String {
    format!("Paragraph {i} with **bold**, `code <T>` and a [link](https://example.com/{i}) & more text here. ")
        .repeat(3)
}

#[test]
fn a_long_answer_splits_into_valid_parts_in_order() {
    let answer: String = (0..70).map(|i| paragraph(i) + "\n\n").collect();
    assert!(answer.len() > 9000);
    let steps = plan(&Envelope::bare(Output::Text { text: answer }), &fmt());
    assert_valid(&steps);
    let parts = texts(&steps);
    assert!(parts.len() >= 3, "{}", parts.len());
    let joined: String = parts.iter().map(|p| p.plain.as_str()).collect();
    for i in [0, 35, 69] {
        assert!(
            joined.contains(&format!("Paragraph {i} with bold")),
            "paragraph {i} lost"
        );
    }
    // Cut at paragraph boundaries: no part starts mid-sentence.
    for p in &parts[1..] {
        assert!(
            p.plain.trim_start().starts_with("Paragraph"),
            "{:?}",
            &p.plain[..40]
        );
    }
}

#[test]
fn short_code_inline_long_code_rendered() {
    let short: String = (1..=5).map(|i| format!("let x{i} = {i} < 2;\n")).collect();
    let long: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    let md = format!("Before\n```rust\n{short}```\nMiddle\n```python\n{long}```\nAfter");
    let steps = plan(&Envelope::bare(Output::Text { text: md }), &fmt());
    assert_valid(&steps);
    assert_eq!(steps.len(), 3, "{steps:#?}");
    let Step::Text { part, .. } = &steps[0] else {
        panic!()
    };
    assert!(
        part.html
            .contains("<pre><code class=\"language-rust\">let x1 = 1 &lt; 2;"),
        "{}",
        part.html
    );
    assert!(part.html.contains("Middle"));
    let Step::Media {
        media: Media::Render(RenderJob::Code { code, hint, .. }),
        ..
    } = &steps[1]
    else {
        panic!()
    };
    assert_eq!(code.lines().count(), 40);
    assert_eq!(hint.as_deref(), Some("python"));
    let Step::Text { part, .. } = &steps[2] else {
        panic!()
    };
    assert_eq!(part.plain, "After");
}

#[test]
fn threshold_zero_renders_every_block() {
    let f = Format {
        inline_code_max_lines: 0,
        ..fmt()
    };
    let steps = plan(
        &Envelope::bare(Output::Text {
            text: "```\nx\n```".into(),
        }),
        &f,
    );
    assert!(matches!(
        steps.as_slice(),
        [Step::Media {
            media: Media::Render(_),
            ..
        }]
    ));
}

#[test]
fn header_first_footer_last() {
    let env = Envelope {
        instance_id: None,
        header: Some("[proj]".into()),
        body: Output::Text {
            text: "a\n```\n".to_owned() + &"x\n".repeat(20) + "```\nb",
        },
        footer: Some("📡 Online: @a".into()),
    };
    let steps = plan(&env, &fmt());
    let Step::Text { part, .. } = &steps[0] else {
        panic!()
    };
    assert_eq!(part.html, "<b>[proj]</b>\na");
    let Step::Text { part, .. } = &steps[2] else {
        panic!()
    };
    assert_eq!(part.plain, "b\n\n📡 Online: @a");
    // A lone image carries both in its caption.
    let env = Envelope {
        body: Output::Diff {
            title: Some("src/a.rs".into()),
            patch: "@@ -1 +1 @@\n-a\n+b".into(),
        },
        ..env
    };
    let steps = plan(&env, &fmt());
    let [
        Step::Media {
            media: Media::Render(RenderJob::Diff { .. }),
            caption: Some(c),
        },
    ] = steps.as_slice()
    else {
        panic!()
    };
    assert_eq!(c.plain, "[proj]\nsrc/a.rs\n\n📡 Online: @a");
}

#[test]
fn prompts_put_buttons_on_the_last_message() {
    let prompt = |detail: &str| {
        Envelope::bare(Output::Prompt(Prompt {
            text: "Run this? <y/n>".into(),
            detail: Some(detail.into()),
            buttons: vec![vec![
                Button::new("Allow once", "/approve p1 once"),
                Button::new("Reject", "/approve p1 reject"),
            ]],
        }))
    };
    let steps = plan(&prompt("cargo test && rm -rf target"), &fmt());
    assert_valid(&steps);
    let [
        Step::Text {
            part,
            keyboard: Some(kb),
            silent: false,
        },
    ] = steps.as_slice()
    else {
        panic!("{steps:#?}")
    };
    assert_eq!(
        part.html,
        "Run this? &lt;y/n&gt;\n<pre>cargo test &amp;&amp; rm -rf target</pre>"
    );
    assert_eq!(kb.inline_keyboard[0].len(), 2);
    let diff = "--- a/x\n+++ b/x\n".to_owned() + &"+line\n".repeat(30);
    let steps = plan(&prompt(&diff), &fmt());
    assert!(matches!(
        &steps[0],
        Step::Media {
            media: Media::Render(RenderJob::Diff { .. }),
            ..
        }
    ));
    assert!(matches!(
        &steps[1],
        Step::Text {
            keyboard: Some(_),
            ..
        }
    ));
}

#[test]
fn progress_fits_one_message_and_shows_the_tail() {
    let p = Progress {
        status: "⏳ Working… 12s".into(),
        answer: (0..2000).map(|i| format!("word{i} ")).collect::<String>() + "\n**last line**",
        tool: Some("🔧 bash: cargo test".into()),
        todos: vec![
            TodoLine {
                done: true,
                active: false,
                text: "read".into(),
            },
            TodoLine {
                done: false,
                active: true,
                text: "fix".into(),
            },
            TodoLine {
                done: false,
                active: false,
                text: "test".into(),
            },
        ],
    };
    let env = Envelope {
        header: Some("[p]".into()),
        footer: Some("📡 x".into()),
        ..Envelope::bare(Output::Progress(p))
    };
    let steps = plan(&env, &fmt());
    assert_valid(&steps);
    let [Step::Text { part, silent, .. }] = steps.as_slice() else {
        panic!("{} steps", steps.len())
    };
    assert!(silent, "the live message does not notify");
    assert!(
        part.plain
            .starts_with("[p]\n⏳ Working… 12s\n☑ read\n▶ fix\n☐ test\n\n…"),
        "{}",
        &part.plain[..80]
    );
    assert!(
        part.plain
            .contains("last line\n\n🔧 bash: cargo test\n\n📡 x")
    );
    assert!(part.html.contains("<b>last line</b>"));
    let (single, _) = single(&env, &fmt(), 4096);
    assert_eq!(single, *part);
}

#[test]
fn errors_images_and_plain() {
    let e = Output::Error {
        message: "❌ failed".into(),
        trace: Some("at x\nat y".into()),
    };
    let steps = plan(&Envelope::bare(e), &fmt());
    let [
        Step::Media {
            media: Media::Render(RenderJob::Code { doc_name, .. }),
            caption: Some(c),
        },
    ] = steps.as_slice()
    else {
        panic!()
    };
    assert_eq!(
        (doc_name.as_str(), c.plain.as_str()),
        ("trace.txt", "❌ failed")
    );
    let e = Output::Error {
        message: "a <b> & c".into(),
        trace: None,
    };
    let steps = plan(&Envelope::bare(e), &fmt());
    assert_eq!(texts(&steps)[0].html, "a &lt;b&gt; &amp; c");
    let img = Output::Image {
        png: vec![1, 2],
        caption: "Scan <me>".into(),
    };
    let steps = plan(&Envelope::bare(img), &fmt());
    let [
        Step::Media {
            media: Media::Photo(_),
            caption: Some(c),
        },
    ] = steps.as_slice()
    else {
        panic!()
    };
    assert_eq!(c.html, "Scan &lt;me&gt;");
    let plain = Output::Plain {
        text: "**not bold**".into(),
    };
    assert_eq!(
        texts(&plan(&Envelope::bare(plain), &fmt()))[0].html,
        "**not bold**"
    );
    assert!(
        plan(
            &Envelope::bare(Output::Text {
                text: "  \n ".into()
            }),
            &fmt()
        )
        .is_empty()
    );
}

#[test]
fn long_captions_are_cut_but_keep_the_footer() {
    let env = Envelope {
        footer: Some("FOOT".into()),
        ..Envelope::bare(Output::Image {
            png: vec![1],
            caption: "c".repeat(3000),
        })
    };
    let steps = plan(&env, &fmt());
    let [
        Step::Media {
            caption: Some(c), ..
        },
    ] = steps.as_slice()
    else {
        panic!()
    };
    assert!(units(&c.plain) <= 1024);
    assert!(c.plain.ends_with("…\n\nFOOT"));
}

#[test]
fn edits_are_one_message() {
    let code: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    let env = Envelope::bare(Output::Code {
        language: Some("rust".into()),
        code,
        file_name: Some("a.rs".into()),
    });
    let (part, kb) = single(&env, &fmt(), 4096);
    assert!(kb.is_none());
    assert!(units(&part.plain) <= 4096);
    assert!(part.plain.ends_with('…'));
    visible(&part.html).unwrap();
    let (caption, _) = single(&env, &fmt(), 1024);
    assert!(units(&caption.plain) <= 1024);
}

/// Markdown-ish text full of the characters that break naive converters.
fn nasty() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("**".to_owned()),
        Just("*".to_owned()),
        Just("__".to_owned()),
        Just("_".to_owned()),
        Just("~~".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("\n```rust\n".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("<script>".to_owned()),
        Just("</b>".to_owned()),
        Just("&amp;".to_owned()),
        Just("a < b && c > d".to_owned()),
        Just("[x](https://e.x/?a=\"1\"&b=<2>)".to_owned()),
        Just("[".to_owned()),
        Just("](".to_owned()),
        Just("> ".to_owned()),
        Just("# ".to_owned()),
        Just("- ".to_owned()),
        Just("\\".to_owned()),
        Just("😀".to_owned()),
        Just("中文".to_owned()),
        "[a-z ]{1,12}",
        "\\PC{1,6}",
    ];
    proptest::collection::vec(atoms, 0..80).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_markdown_gives_valid_html(md in nasty()) {
        let steps = plan(&Envelope::bare(Output::Text { text: md }), &fmt());
        assert_valid(&steps);
    }

    #[test]
    fn small_limits_still_give_valid_parts(md in nasty(), limit in 8usize..200) {
        let f = Format { max_text: limit, max_caption: limit, inline_code_max_lines: 50 };
        let steps = plan(&Envelope::bare(Output::Text { text: md.clone() }), &f);
        let mut shown = String::new();
        for part in texts(&steps) {
            let v = visible(&part.html).map_err(|e| TestCaseError::fail(format!("{e}: {}", part.html)))?;
            prop_assert_eq!(&v, &part.plain);
            prop_assert!(units(&v) <= limit);
            shown.push_str(&v);
        }
        // Nothing visible is lost: every non-space character of the converted text survives
        // the split, in order.
        let whole = plan(&Envelope::bare(Output::Text { text: md }), &Format { max_text: usize::MAX / 2, ..f });
        let all: String = texts(&whole).iter().map(|p| p.plain.as_str()).collect();
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        prop_assert_eq!(strip(&shown), strip(&all));
    }

    #[test]
    fn progress_always_fits(answer in nasty(), status in "\\PC{0,50}", n in 0usize..40) {
        let todos = (0..n).map(|i| TodoLine { done: i % 3 == 0, active: i % 3 == 1, text: "t".repeat(i * 10) }).collect();
        let p = Progress { status, answer: answer.repeat(20), tool: Some("🔧 x".into()), todos };
        let env = Envelope { header: Some("[h]".into()), footer: Some("f".into()), ..Envelope::bare(Output::Progress(p)) };
        let (part, _) = single(&env, &fmt(), 4096);
        prop_assert!(units(&part.plain) <= 4096);
        prop_assert_eq!(visible(&part.html).map_err(TestCaseError::fail)?, part.plain);
    }
}
