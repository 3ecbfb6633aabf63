#![allow(clippy::unwrap_used, clippy::expect_used)]

use cloudify_core::output::{Button, Envelope, Output, Progress, Prompt, TodoLine};

use crate::plan::{Format, Step, plan, progress_markdown};
use crate::render::RenderJob;

fn fmt(cards: bool) -> Format {
    Format {
        max_text: 3000,
        ai_card: cards,
        prompt_card: cards,
    }
}

#[test]
fn text_with_code_alternates_markdown_and_images() {
    let mut env = Envelope::bare(Output::Text {
        text: "Here:\n\n```py\nprint(1)\n```\n\nDone.".into(),
    });
    env.header = Some("[proj]".into());
    env.footer = Some("📡 在线用户: @a".into());
    let steps = plan(&env, &fmt(false));
    assert_eq!(steps.len(), 3);
    assert!(
        matches!(&steps[0], Step::Markdown { text, .. } if text.starts_with("[proj]\n\nHere:"))
    );
    assert_eq!(
        steps[1],
        Step::Render(RenderJob::Code {
            code: "print(1)".into(),
            hint: Some("py".into()),
            title: None
        })
    );
    assert!(matches!(&steps[2], Step::Markdown { text, .. } if text.ends_with("@a")));
}

#[test]
fn code_only_text_still_carries_framing() {
    let mut env = Envelope::bare(Output::Text {
        text: "```\nx\n```".into(),
    });
    env.footer = Some("footer".into());
    let steps = plan(&env, &fmt(false));
    assert!(matches!(steps.as_slice(), [Step::Render(_), Step::Text(t)] if t == "footer"));
}

#[test]
fn prompts_list_their_commands() {
    let p = Prompt {
        text: "Run `rm -rf target`?".into(),
        detail: Some("rm -rf target".into()),
        buttons: vec![vec![
            Button::new("Allow once", "/approve per_1 once"),
            Button::new("Reject", "/approve per_1 reject"),
        ]],
    };
    let env = Envelope::bare(Output::Prompt(p.clone()));
    let steps = plan(&env, &fmt(false));
    let [Step::Markdown { text, .. }] = steps.as_slice() else {
        panic!("{steps:?}")
    };
    assert!(text.contains("/approve per_1 once") && text.contains("/approve per_1 reject"));
    assert!(
        cloudify_testkit::fake_dingtalk::unsupported_markdown(text).is_empty(),
        "{text}"
    );
    let steps = plan(&env, &fmt(true));
    assert!(
        matches!(&steps[..], [Step::PromptCard { content, buttons }] if content.contains("/approve per_1 once") && buttons.len() == 1)
    );
}

#[test]
fn progress_is_one_message_or_one_card() {
    let p = Progress {
        status: "⏳ 工作中 3s".into(),
        answer: "so far ```rust\nlet x = 1;\n```".into(),
        tool: Some("🔧 bash: ls".into()),
        todos: vec![TodoLine {
            done: true,
            active: false,
            text: "plan".into(),
        }],
    };
    let env = Envelope::bare(Output::Progress(p.clone()));
    let steps = plan(&env, &fmt(false));
    assert_eq!(steps.len(), 1);
    assert!(
        matches!(&steps[0], Step::Markdown { text, .. } if text.contains("✅ plan") && text.contains("bash: ls") && !text.contains('`'))
    );
    let steps = plan(&env, &fmt(true));
    assert!(matches!(
        &steps[..],
        [Step::AiCard {
            has_content: true,
            ..
        }]
    ));
    // Long answers keep their tail.
    let long = Progress {
        answer: format!("{}END", "x".repeat(5000)),
        ..p
    };
    let text = progress_markdown(&long, 3000, false);
    assert!(text.chars().count() <= 3000 && text.ends_with("END"));
}

#[test]
fn every_output_kind_has_a_plan() {
    let f = fmt(false);
    let cases = [
        Output::plain("a"),
        Output::notice("n"),
        Output::Tool {
            line: "🔧 x".into(),
        },
        Output::Code {
            language: Some("rust".into()),
            code: "fn a(){}".into(),
            file_name: Some("a.rs".into()),
        },
        Output::Diff {
            title: None,
            patch: "+a".into(),
        },
        Output::Error {
            message: "boom".into(),
            trace: Some("at x".into()),
        },
        Output::Image {
            png: vec![1],
            caption: "qr".into(),
        },
    ];
    let counts: Vec<usize> = cases
        .into_iter()
        .map(|o| plan(&Envelope::bare(o), &f).len())
        .collect();
    assert_eq!(counts, [1, 1, 1, 1, 1, 2, 2]);
}
