//! DingTalk through the real `cloudify run`, the real OpenCode and the fake DingTalk server.

use crate::harness::{T, World, user};
use cloudify_testkit::fake_dingtalk::{CardOp, Event, User as DtUser};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::opencode::OpencodeOptions;
use serde_json::json;
use std::time::Duration;

fn ding(id: &str, nick: &str) -> DtUser {
    DtUser::new(id, nick)
}

async fn dingtalk_world(cards: bool) -> World {
    let yaml = "dingtalk:\n  ai_card_template: live-card.schema\n  prompt_card_template: prompt-card.schema\n";
    World::start_full(
        OpencodeOptions {
            ask_permissions: true,
            ..Default::default()
        },
        true,
        cards.then_some(yaml),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn dingtalk_user_binds_with_the_code_and_gets_answers_and_code_images() {
    let w = dingtalk_world(false).await;
    let boss = ding("staff-001", "老王");
    w.dt().inject_text(&boss, "帮我看看 SECRET_PLAN");
    w.dt_wait("还没有绑定").await;
    for _ in 0..5 {
        w.dt().inject_text(&boss, "/bind AAAA-BBBB");
    }
    w.dt_wait("绑定码无效").await;
    w.dt()
        .inject_text(&boss, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("绑定尝试失败次数过多").await;
    assert!(
        w.llm
            .requests()
            .iter()
            .all(|r| !r.user_text.contains("SECRET_PLAN"))
    );

    // A fresh sender binds at once with the right code.
    let dev = ding("staff-002", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    let code: String = (1..=30).map(|i| format!("let v{i} = {i};\n")).collect();
    w.llm.on(
        "CODEPLEASE",
        Script::text(&format!("看这段：\n```rust\n{code}```\n好了。")),
    );
    w.dt().inject_text(&dev, "CODEPLEASE");
    w.dt_wait("完成").await;
    let uploads = w.dt().uploads();
    assert!(
        uploads.iter().any(|u| u.png_size.is_some()),
        "the code block went up as a PNG"
    );
    w.dt_wait("sampleImageMsg").await;
    assert!(
        w.dt().ack_problems().is_empty(),
        "{:?}",
        w.dt().ack_problems()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_telegram_user_and_a_dingtalk_user_share_one_turn() {
    let w = dingtalk_world(false).await;
    let alice = user(501, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let dev = ding("staff-010", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    w.tg.wait_for_message(501, |m| m.text().contains("小李"), T)
        .await;
    w.llm
        .on("TOGETHER", Script::text("the same answer for both"));
    w.says(&alice, "TOGETHER").await;
    w.wait_answer(501, "the same answer for both").await;
    w.dt_wait("the same answer for both").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cards_stream_the_turn_and_a_card_button_approves_a_permission() {
    let w = dingtalk_world(true).await;
    let dev = ding("staff-020", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    w.llm.on(
        "CARDRUN",
        Script::tool_call(
            "bash",
            json!({"command": "echo from-card", "description": "echo"}),
        )
        .then(Reply::slow(6, Duration::from_millis(300))),
    );
    w.dt().inject_text(&dev, "CARDRUN");
    // The permission arrives as an interactive card with buttons.
    let created = w
        .dt()
        .wait_for(|e| matches!(e, Event::Card { op: CardOp::Create { template_id, .. }, .. } if template_id == "prompt-card.schema"), T)
        .await
        .expect("prompt card");
    let Event::Card { out_track_id, .. } = created else {
        unreachable!()
    };
    // A person can press only once the card is in the chat.
    let id = out_track_id.clone();
    w.dt()
        .wait_for(
            move |e| matches!(e, Event::Card { out_track_id, op: CardOp::Deliver { .. } } if *out_track_id == id),
            T,
        )
        .await
        .expect("prompt card delivered");
    w.dt()
        .inject_card_callback(&out_track_id, &dev, "btn_0_0", &json!({}));
    // The live card streams the answer and is finalized; the final answer follows.
    w.dt()
        .wait_for(
            |e| {
                matches!(
                    e,
                    Event::Card {
                        op: CardOp::Stream {
                            is_finalize: true,
                            ..
                        },
                        ..
                    }
                )
            },
            Duration::from_secs(60),
        )
        .await
        .expect("the live card is finalized");
    w.dt_wait("slow-5").await;
    assert!(
        w.llm
            .agent_requests()
            .iter()
            .any(|r| r.tool_results.iter().any(|t| t.contains("from-card"))),
        "OpenCode ran the approved command"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disconnect_mid_turn_reconnects_and_the_answer_still_arrives() {
    let w = dingtalk_world(false).await;
    let dev = ding("staff-030", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    let before = w.dt().registration_count();
    w.llm.on(
        "LONGRUN",
        Reply::chunks(["前半，", "后半。"]).chunk_delay(Duration::from_secs(4)),
    );
    w.dt().inject_text(&dev, "LONGRUN");
    w.dt_wait("工作中").await;
    w.dt().send_disconnect();
    w.dt_wait("后半。").await;
    assert!(
        w.dt().registration_count() > before,
        "re-registered with a new ticket"
    );
    // And it still receives after the reconnect.
    w.llm.on("AFTERDROP", Script::text("仍然在线"));
    w.dt().inject_text(&dev, "AFTERDROP");
    w.dt_wait("仍然在线").await;
    assert!(
        !w.log().contains(crate::harness::DT_SECRET),
        "the app secret never reaches the log"
    );
}
