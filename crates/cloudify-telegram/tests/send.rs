//! Output → Bot API calls, checked by the fake (which parses HTML like Telegram and
//! enforces its limits).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudify_core::output::{Button, Envelope, Output, Progress, Prompt};
use cloudify_core::{Adapter, DeliveryError};
use cloudify_testkit::fake_telegram::Event;
use common::*;

fn text(t: impl Into<String>) -> Envelope {
    Envelope::bare(Output::Text { text: t.into() })
}

fn nine_thousand() -> String {
    (0..90)
        .map(|i| format!("Paragraph {i}: **bold** with `inline <code>` & [a link](https://example.com/{i}). More words follow here, and more.\n\n"))
        .collect::<String>()
        + &"Tail sentence. ".repeat(150)
}

fn no_parse_errors(tg: &cloudify_testkit::fake_telegram::FakeTelegram) {
    let bad: Vec<_> = tg
        .calls()
        .into_iter()
        .filter(|c| c.error.as_deref().is_some_and(|e| e.contains("parse")))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[tokio::test]
async fn a_9000_char_answer_arrives_as_clean_parts_without_429() {
    let (tg, adapter) = setup().await;
    let alice = alice();
    tg.register_user(&alice);
    let answer = nine_thousand();
    let env = text(answer);
    let cost = adapter.cost(&env);
    let id = adapter.send(&private(&alice), &env).await.unwrap();
    let msgs = tg.messages(alice.id);
    assert_eq!(msgs.len() as u32, cost, "cost predicts the calls");
    assert!(msgs.len() >= 3);
    assert_eq!(id, msgs.last().unwrap().message_id.to_string());
    for m in &msgs {
        assert!(m.text().chars().count() <= 4096);
    }
    for m in &msgs[..msgs.len() - 1] {
        assert!(
            m.entities().iter().any(|e| e.kind == "bold"),
            "formatting survives the split"
        );
    }
    let all: String = msgs
        .iter()
        .map(cloudify_testkit::fake_telegram::Message::text)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("Paragraph 0: bold with inline <code> & a link"));
    assert!(all.contains("Paragraph 89"));
    assert!(all.chars().count() >= 9000, "9,000 visible characters");
    assert!(
        msgs[1].text().starts_with("Paragraph"),
        "split at a paragraph: {:?}",
        &msgs[1].text()[..30]
    );
    assert_eq!(tg.rate_limited_count(), 0, "parts are paced one per second");
    no_parse_errors(&tg);
}

#[tokio::test]
async fn short_code_is_inline_and_long_code_is_a_photo() {
    let (tg, adapter) = setup().await;
    let alice = alice();
    tg.register_user(&alice);
    let five: String = (1..=5)
        .map(|i| format!("    let v{i} = a < b && c > d;\n"))
        .collect();
    let forty: String = (1..=40).map(|i| format!("def f{i}(x):\n")).collect();
    let md = format!("Short one:\n```rust\n{five}```\nLong one:\n```python\n{forty}```\nDone.");
    let env = text(md);
    let cost = adapter.cost(&env);
    adapter.send(&private(&alice), &env).await.unwrap();
    let msgs = tg.messages(alice.id);
    assert_eq!(msgs.len(), 3);
    assert_eq!(cost, 3);
    let pre = msgs[0]
        .entities()
        .iter()
        .find(|e| e.kind == "pre")
        .expect("inline code block");
    assert_eq!(pre.language.as_deref(), Some("rust"));
    assert!(msgs[0].text().contains("let v1 = a < b && c > d;"));
    let photo = msgs[1]
        .photo
        .as_ref()
        .expect("the 40-line block as a photo");
    assert_eq!(photo.format, "png");
    assert!(photo.width > 300 && photo.height > 300);
    assert_eq!(msgs[2].text(), "Done.");
    assert_eq!(tg.rate_limited_count(), 0);
}

#[tokio::test]
async fn a_diff_is_a_photo_with_its_title() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let patch = "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n fn a() {}\n-fn b() {}\n+fn b() -> u8 { 1 }\n fn c() {}\n";
    let env = Envelope {
        header: Some("[proj]".into()),
        ..Envelope::bare(Output::Diff {
            title: Some("src/lib.rs".into()),
            patch: patch.into(),
        })
    };
    let id = adapter.send(&private(&alice), &env).await.unwrap();
    let msgs = tg.messages(alice.id);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].photo.is_some());
    assert_eq!(msgs[0].text(), "[proj]\nsrc/lib.rs");
    assert_eq!(id, format!("m{}", msgs[0].message_id));
    // A media message is edited through its caption.
    adapter
        .edit(
            &private(&alice),
            &id,
            &Envelope::bare(Output::notice("applied ✅")),
        )
        .await
        .unwrap();
    assert_eq!(
        tg.message(alice.id, msgs[0].message_id).unwrap().text(),
        "applied ✅"
    );
}

#[tokio::test]
async fn a_very_long_file_is_an_album_and_a_document() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let code: String = (1..=700)
        .map(|i| format!("println!(\"line {i}\");\n"))
        .collect();
    let env = Envelope::bare(Output::Code {
        language: Some("rust".into()),
        code: code.clone(),
        file_name: Some("src/big.rs".into()),
    });
    assert_eq!(adapter.cost(&env), 2);
    adapter.send(&private(&alice), &env).await.unwrap();
    let albums: Vec<_> = tg
        .events(alice.id)
        .into_iter()
        .filter_map(|e| {
            if let Event::MediaGroup { messages, .. } = e {
                Some(messages)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(albums.len(), 1);
    assert_eq!(albums[0].len(), 10);
    assert_eq!(
        albums[0][0].text(),
        "src/big.rs",
        "caption on the first page"
    );
    let doc = tg
        .messages(alice.id)
        .into_iter()
        .find_map(|m| m.document)
        .expect("the whole file as a document");
    assert_eq!(doc.file_name.as_deref(), Some("big.rs"));
    assert_eq!(doc.bytes.as_ref(), code.as_bytes());
}

#[tokio::test]
async fn adversarial_markdown_never_breaks_parsing() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let cases = [
        "<script>alert('x')</script>",
        "**unbalanced bold and *half italic",
        "a < b && c > d; x <<= 2; y >>= 1 &amp; &#x41; &bogus;",
        "`` nested `backticks` `` and ``` triple ` ``` and `unclosed",
        "**bold `code** still`** ~~strike *mixed~~ end*",
        "[link](https://x.y/?q=\"<b>\"&r=1) [bad](javascript:alert(1)) [open](",
        "> quote **bold\n> more</blockquote>\n# </b>heading",
        "```html\n<div class=\"x\">&nbsp;</div>\n```",
        "_snake_case_ __init__ *args **kwargs",
        "😀 emoji 中文 <tg-spoiler> </pre> &",
    ];
    for (i, md) in cases.iter().enumerate() {
        adapter
            .send(&private(&alice), &text(*md))
            .await
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
    }
    no_parse_errors(&tg);
    let texts = tg.texts(alice.id);
    assert_eq!(texts.len(), cases.len());
    assert_eq!(texts[0], "<script>alert('x')</script>");
    assert_eq!(
        texts[2],
        "a < b && c > d; x <<= 2; y >>= 1 &amp; &#x41; &bogus;"
    );
    assert!(texts[7].contains("<div class=\"x\">&nbsp;</div>"));
}

#[tokio::test]
async fn edits_replace_text_and_buttons() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let chat = private(&alice);
    let live = |answer: &str| {
        Envelope::bare(Output::Progress(Progress {
            status: "⏳ Working… 3s".into(),
            answer: answer.into(),
            tool: Some("🔧 bash: ls".into()),
            todos: vec![],
        }))
    };
    let id = adapter.send(&chat, &live("Looking")).await.unwrap();
    adapter
        .edit(&chat, &id, &live("Looking **closer**"))
        .await
        .unwrap();
    let m = tg.message(alice.id, id.parse().unwrap()).unwrap();
    assert!(m.text().contains("Looking closer"));
    assert!(m.entities().iter().any(|e| e.kind == "bold"));
    // Same content again: Telegram says "not modified", which is success.
    adapter
        .edit(&chat, &id, &live("Looking **closer**"))
        .await
        .unwrap();
    let prompt = Envelope::bare(Output::Prompt(Prompt {
        text: "Allow?".into(),
        detail: None,
        buttons: vec![vec![
            Button::new("Yes", "/approve p once"),
            Button::new("No", "/approve p reject"),
        ]],
    }));
    adapter.edit(&chat, &id, &prompt).await.unwrap();
    assert_eq!(
        tg.message(alice.id, id.parse().unwrap())
            .unwrap()
            .buttons()
            .len(),
        2
    );
    adapter
        .edit(
            &chat,
            &id,
            &Envelope::bare(Output::notice("Allowed by @alice")),
        )
        .await
        .unwrap();
    let m = tg.message(alice.id, id.parse().unwrap()).unwrap();
    assert!(
        m.buttons().is_empty(),
        "an edit without buttons removes them"
    );
    assert_eq!(m.text(), "Allowed by @alice");
}

#[tokio::test]
async fn deletes_are_idempotent() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let chat = private(&alice);
    let id = adapter
        .send(&chat, &Envelope::bare(Output::plain("temporary")))
        .await
        .unwrap();
    adapter.delete(&chat, &id).await.unwrap();
    assert!(
        tg.message(alice.id, id.parse().unwrap())
            .unwrap()
            .is_deleted()
    );
    adapter.delete(&chat, &id).await.unwrap();
    assert!(matches!(
        adapter.delete(&chat, &"nope".to_string()).await,
        Err(DeliveryError::Rejected(_))
    ));
}

#[tokio::test]
async fn images_prompts_and_long_buttons() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let chat = private(&alice);
    let qr = Envelope::bare(Output::Image {
        png: png(400, 400),
        caption: "Scan to bind <proj>".into(),
    });
    adapter.send(&chat, &qr).await.unwrap();
    let prompt = Envelope::bare(Output::Prompt(Prompt {
        text: "Pick a session".into(),
        detail: None,
        buttons: vec![
            vec![Button::new("ok", "/sessions ses_1")],
            vec![Button::new(
                "too long",
                format!("/sessions {}", "x".repeat(80)),
            )],
        ],
    }));
    adapter.send(&chat, &prompt).await.unwrap();
    let msgs = tg.messages(alice.id);
    assert_eq!(
        msgs[0].photo.as_ref().map(|p| (p.width, p.height)),
        Some((400, 400))
    );
    assert_eq!(msgs[0].text(), "Scan to bind <proj>");
    assert_eq!(
        msgs[1].buttons(),
        vec![("ok".to_owned(), "/sessions ses_1".to_owned())]
    );
}
