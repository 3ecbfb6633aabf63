//! Sending: webhook vs OpenAPI, images, prompts and cards, progress, errors, secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_core::adapter::{Adapter, DeliveryError, IncomingKind};
use cloudify_core::output::{Button, Envelope, Output, Progress, Prompt};
use cloudify_testkit::fake_dingtalk::{Event, Fault, Message, User};
use common::*;
use serde_json::json;

fn carol() -> User {
    User::new("staff-carol", "Carol")
}

const BATCH: &str = "/v1.0/robot/oToMessages/batchSend";

/// Carol wrote once (so the fake knows her) and her webhook is gone.
async fn known_user_without_webhook(h: &mut Harness) {
    h.fake.inject_text(&carol(), "hi");
    h.next().await;
    h.fake.expire_session_webhooks();
}

#[tokio::test]
async fn expired_webhook_falls_back_to_batch_send() {
    let mut h = start().await;
    known_user_without_webhook(&mut h).await;
    let env = Envelope::bare(Output::Text {
        text: "# Done\n\n| a | b |\n|---|---|\n| 1 | 2 |".into(),
    });
    let id = h.adapter.send(&private("staff-carol"), &env).await.unwrap();
    assert!(id.starts_with("pqk:"), "{id}");
    let sends: Vec<_> = h
        .fake
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::BatchSend(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].msg_key, "sampleMarkdown");
    assert_eq!(sends[0].user_ids, ["staff-carol"]);
    assert!(
        sends[0].markdown_issues.is_empty(),
        "{:?}",
        sends[0].markdown_issues
    );
    // The recall path works for OpenAPI sends.
    h.adapter
        .delete(&private("staff-carol"), &id)
        .await
        .unwrap();
}

#[tokio::test]
async fn short_lived_webhooks_are_not_used_near_expiry() {
    let mut h = start().await;
    h.fake
        .inject(Message::text(carol(), "hi").session_ttl(Duration::from_secs(5)));
    h.next().await;
    h.adapter
        .send(
            &private("staff-carol"),
            &Envelope::bare(Output::plain("yo")),
        )
        .await
        .unwrap();
    let out = h.fake.outgoing();
    assert!(
        matches!(&out[..], [Event::BatchSend(s)] if s.msg_key == "sampleText" && s.msg_param["content"] == "yo"),
        "{out:?}"
    );
}

#[tokio::test]
async fn group_sends_go_to_the_conversation() {
    let mut h = start().await;
    h.fake.inject_group_text(&carol(), "cidTeam", "Team", "hi");
    h.next().await;
    h.fake.expire_session_webhooks();
    h.adapter
        .send(
            &group("cidTeam"),
            &Envelope::bare(Output::notice("build done")),
        )
        .await
        .unwrap();
    assert!(h.fake.outgoing().iter().any(
        |e| matches!(e, Event::GroupSend(s) if s.open_conversation_id.as_deref() == Some("cidTeam"))
    ));
    // A group the robot is not in cannot be reached.
    let err = h
        .adapter
        .send(&group("cidUnknown"), &Envelope::bare(Output::notice("x")))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn qps_limit_is_retry_after_and_nothing_is_repeated() {
    let mut h = start().await;
    known_user_without_webhook(&mut h).await;
    h.fake.fail_next(BATCH, 1, Fault::QpsLimit);
    let env = Envelope::bare(Output::plain("paced"));
    let err = h
        .adapter
        .send(&private("staff-carol"), &env)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeliveryError::RetryAfter(d) if d <= Duration::from_secs(2)),
        "{err:?}"
    );
    h.adapter.send(&private("staff-carol"), &env).await.unwrap();
    h.fake.fail_next(BATCH, 1, Fault::ServerError(503));
    let err = h
        .adapter
        .send(&private("staff-carol"), &env)
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err:?}");
    let sends = h
        .fake
        .outgoing()
        .iter()
        .filter(|e| matches!(e, Event::BatchSend(_)))
        .count();
    assert_eq!(sends, 1, "no internal retries");
}

#[tokio::test]
async fn unknown_users_are_unreachable() {
    let h = start().await;
    let err = h
        .adapter
        .send(&private("nobody"), &Envelope::bare(Output::plain("x")))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn long_code_arrives_as_uploaded_png_images() {
    let mut h = start().await;
    h.fake.inject_text(&carol(), "show me");
    h.next().await;
    let code: String = (0..150).map(|i| format!("let x{i} = {i};\n")).collect();
    let env = Envelope::bare(Output::Text {
        text: format!("Here it is:\n\n```rust\n{code}```\n\nThat's all."),
    });
    let cost = h.adapter.cost(&env);
    h.adapter.send(&private("staff-carol"), &env).await.unwrap();
    let uploads = h.fake.uploads();
    assert_eq!(uploads.len(), 3, "150 lines = 3 pages");
    assert!(
        uploads
            .iter()
            .all(|u| u.image_format.as_deref() == Some("png") && u.media_type == "image")
    );
    let images: Vec<_> = h
        .fake
        .outgoing()
        .into_iter()
        .filter_map(|e| match e {
            Event::BatchSend(s) if s.msg_key == "sampleImageMsg" => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(images.len(), 3);
    for (u, s) in uploads.iter().zip(&images) {
        assert_eq!(s.msg_param["photoURL"], u.media_id.as_str());
    }
    // Text before and after went through the webhook, without code fences.
    let replies: Vec<_> = h
        .fake
        .outgoing()
        .into_iter()
        .filter_map(|e| match e {
            Event::WebhookReply(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(|r| r.markdown_issues.is_empty()));
    let calls = h.fake.outgoing().len() as u32;
    assert_eq!(cost, calls, "cost() predicts the calls");
}

#[tokio::test]
async fn diffs_traces_and_ready_images_are_images() {
    let mut h = start().await;
    h.fake.inject_text(&carol(), "hi");
    h.next().await;
    let chat = private("staff-carol");
    let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
    h.adapter
        .send(
            &chat,
            &Envelope::bare(Output::Diff {
                title: Some("x".into()),
                patch: diff.into(),
            }),
        )
        .await
        .unwrap();
    h.adapter
        .send(
            &chat,
            &Envelope::bare(Output::Error {
                message: "boom".into(),
                trace: Some("at main.rs:1".into()),
            }),
        )
        .await
        .unwrap();
    let qr = cloudify_render::qr::png("hello", 4).unwrap();
    h.adapter
        .send(
            &chat,
            &Envelope::bare(Output::Image {
                png: qr,
                caption: "scan".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(h.fake.uploads().len(), 3);
    let image_sends = h
        .fake
        .outgoing()
        .iter()
        .filter(|e| matches!(e, Event::BatchSend(s) if s.msg_key == "sampleImageMsg"))
        .count();
    assert_eq!(image_sends, 3);
}

fn permission_prompt() -> Prompt {
    Prompt {
        text: "Allow `bash: cargo test`?".into(),
        detail: Some("cargo test --all".into()),
        buttons: vec![vec![
            Button::new("允许一次", "/approve per_x once"),
            Button::new("总是允许", "/approve per_x always"),
            Button::new("拒绝", "/approve per_x reject"),
        ]],
    }
}

#[tokio::test]
async fn prompts_without_a_template_list_the_commands() {
    let mut h = start().await;
    h.fake.inject_text(&carol(), "hi");
    h.next().await;
    h.adapter
        .send(
            &private("staff-carol"),
            &Envelope::bare(Output::Prompt(permission_prompt())),
        )
        .await
        .unwrap();
    let Some(Event::WebhookReply(r)) = h.fake.outgoing().pop() else {
        panic!()
    };
    let text = r.body["markdown"]["text"].as_str().unwrap();
    for c in [
        "/approve per_x once",
        "/approve per_x always",
        "/approve per_x reject",
    ] {
        assert!(text.contains(c), "{text}");
    }
    assert!(r.markdown_issues.is_empty(), "{:?}", r.markdown_issues);
}

#[tokio::test]
async fn prompt_card_buttons_come_back_as_button_commands() {
    let mut h = start_with(
        |_| {},
        |o| {
            o.prompt_card_template = Some("prompt.schema".into());
            o.ai_card_template = Some("ai.schema".into());
        },
        8,
    )
    .await;
    h.fake.inject_text(&carol(), "hi");
    h.next().await;
    let chat = private("staff-carol");
    let env = Envelope::bare(Output::Prompt(permission_prompt()));
    assert_eq!(h.adapter.cost(&env), 1);
    let id = h.adapter.send(&chat, &env).await.unwrap();
    let track = id.strip_prefix("card:").unwrap();
    let card = h.fake.card(track).unwrap();
    assert_eq!(card.template_id, "prompt.schema");
    assert_eq!(card.delivered_to, ["dtv1.card//IM_ROBOT.staff-carol"]);
    assert!(card.param_map["content"].contains("/approve per_x once"));

    // A button with the `command` callback parameter…
    let press = h.fake.inject_card_callback(
        track,
        &carol(),
        "allow",
        &json!({"command": "/approve per_x once"}),
    );
    let got = h.next().await;
    assert_eq!(
        got.kind,
        IncomingKind::Button {
            command: "/approve per_x once".into()
        }
    );
    assert_eq!(got.chat, chat);
    assert_eq!(got.user.user_id, "staff-carol");
    h.fake
        .wait_for_ack_of(&press, Duration::from_secs(1))
        .await
        .unwrap();
    // …or only an action id.
    h.fake
        .inject_card_callback(track, &carol(), "btn_0_2", &json!({}));
    assert_eq!(
        h.next().await.kind,
        IncomingKind::Button {
            command: "/approve per_x reject".into()
        }
    );
    assert!(
        h.fake.ack_problems().is_empty(),
        "{:?}",
        h.fake.ack_problems()
    );

    // The answered prompt loses its buttons in place.
    let done = Envelope::bare(Output::Prompt(Prompt {
        text: "✅ allowed once by Carol".into(),
        detail: None,
        buttons: Vec::new(),
    }));
    h.adapter.edit(&chat, &id, &done).await.unwrap();
    let card = h.fake.card(track).unwrap();
    assert_eq!(card.param_map["buttons"], "[]");
    assert!(card.param_map["content"].contains("allowed once"));
}

#[tokio::test]
async fn progress_streams_through_an_ai_card_and_is_finalized() {
    let mut h = start_with(|_| {}, |o| o.ai_card_template = Some("ai.schema".into()), 8).await;
    assert!(h.adapter.limits().supports_edit);
    h.fake.inject_group_text(&carol(), "cidAi", "AI", "go");
    h.next().await;
    let chat = group("cidAi");
    let p = |answer: &str, status: &str| {
        Envelope::bare(Output::Progress(Progress {
            status: status.into(),
            answer: answer.into(),
            tool: None,
            todos: Vec::new(),
        }))
    };
    let id = h.adapter.send(&chat, &p("", "⏳ 0s")).await.unwrap();
    let track = id.strip_prefix("card:").unwrap().to_owned();
    h.adapter
        .edit(&chat, &id, &p("part 1", "⏳ 2s"))
        .await
        .unwrap();
    h.adapter
        .edit(&chat, &id, &p("part 1 part 2", "⏳ 4s"))
        .await
        .unwrap();
    let card = h.fake.card(&track).unwrap();
    assert_eq!(card.delivered_to, ["dtv1.card//IM_GROUP.cidAi"]);
    let field = &card.streams["msgContent"];
    assert!(
        field.content.ends_with("part 1 part 2") && !field.finalized,
        "{field:?}"
    );
    h.adapter
        .edit(&chat, &id, &p("", "✅ done in 5s"))
        .await
        .unwrap();
    let card = h.fake.card(&track).unwrap();
    let field = &card.streams["msgContent"];
    assert!(
        field.finalized && field.content.contains("done in 5s"),
        "{field:?}"
    );
    assert_eq!(card.param_map["flowStatus"], "3");
    // A late edit after finalizing still succeeds (card data update).
    h.adapter.edit(&chat, &id, &p("", "✅ done")).await.unwrap();
}

#[tokio::test]
async fn progress_without_cards_is_one_cheap_message() {
    let mut h = start().await;
    assert!(!h.adapter.limits().supports_edit);
    assert_eq!(h.adapter.limits().inline_code_max_lines, 0);
    h.fake.inject_text(&carol(), "go");
    h.next().await;
    let env = Envelope::bare(Output::Progress(Progress {
        status: "⏳ 工作中".into(),
        ..Progress::default()
    }));
    assert_eq!(h.adapter.cost(&env), 1);
    h.adapter.send(&private("staff-carol"), &env).await.unwrap();
    assert_eq!(h.fake.outgoing().len(), 1);
}

#[tokio::test]
async fn a_retried_send_continues_where_it_failed() {
    let mut h = start().await;
    h.fake.inject_text(&carol(), "hi");
    h.next().await;
    let env = Envelope::bare(Output::Text {
        text: "Intro\n\n```\nx = 1\n```\n\nOutro".into(),
    });
    let chat = private("staff-carol");
    h.fake.fail_next(BATCH, 1, Fault::QpsLimit);
    let err = h.adapter.send(&chat, &env).await.unwrap_err();
    assert!(matches!(err, DeliveryError::RetryAfter(_)));
    h.adapter.send(&chat, &env).await.unwrap();
    let texts: Vec<String> = h
        .fake
        .outgoing()
        .into_iter()
        .filter_map(|e| match e {
            Event::WebhookReply(r) => r.body["markdown"]["text"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["Intro", "Outro"], "the intro was not repeated");
    let images = h
        .fake
        .outgoing()
        .iter()
        .filter(|e| matches!(e, Event::BatchSend(s) if s.msg_key == "sampleImageMsg"))
        .count();
    assert_eq!(images, 1);
}
