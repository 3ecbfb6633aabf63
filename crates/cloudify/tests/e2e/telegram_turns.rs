//! The main path on Telegram: bind, prompt, watch, approve, read the answer.

use crate::harness::{T, World, user};
use cloudify_testkit::fake_llm::{Reply, Script};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn bind_then_prompt_streams_a_live_message_and_sends_the_answer() {
    let w = World::start().await;
    let alice = user(101, "Alice");
    // Unbound: instructions, and nothing reaches OpenCode.
    w.says(&alice, "SECRET_PLAN do something").await;
    w.wait_text(101, "not bound").await;
    let token = w.qr_token(None);
    let mut forged = token.clone();
    forged.replace_range(45..46, if &token[45..46] == "A" { "B" } else { "A" });
    w.tg.user_starts(&alice, Some(&forged));
    w.wait_text(101, "invalid").await;
    w.bind(&alice, &token).await;
    assert!(
        w.llm
            .requests()
            .iter()
            .all(|r| !r.user_text.contains("SECRET_PLAN"))
    );

    w.llm
        .on("STREAM", Reply::slow(40, Duration::from_millis(120)));
    w.says(&alice, "STREAM please").await;
    let live = w.wait_text(101, "Working").await;
    // The live message is edited while the answer streams in.
    w.tg.wait_until(T, |tg| {
        tg.message(101, live.message_id)
            .filter(|m| m.edits.len() >= 2)
            .map(|_| ())
    })
    .await;
    let full = Reply::slow(40, Duration::from_millis(120)).full_text();
    let answer = w.wait_answer(101, full.trim()).await;
    assert!(
        answer.message_id > live.message_id,
        "the answer is a new message, so the phone notifies"
    );
    assert!(answer.text().contains("✅ Done"), "{}", answer.text());
    // The live message shrinks to a one-line summary, after the answer went out.
    let live_id = live.message_id;
    w.tg.wait_until(T, |tg| {
        tg.message(101, live_id)
            .filter(|m| m.text().starts_with("✅ Done"))
            .map(|_| ())
    })
    .await;
    let live = w.tg.message(101, live_id).unwrap();
    assert!(
        live.text().starts_with("✅ Done") && !live.text().contains(full.trim()),
        "{}",
        live.text()
    );
    assert_eq!(w.tg.rate_limited_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_code_becomes_a_photo_short_code_stays_inline_and_long_text_is_split() {
    let w = World::start().await;
    let alice = user(102, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let long_code: String = (1..=40).map(|i| format!("    let x{i} = {i};\n")).collect();
    w.llm.on(
        "LONGCODE",
        Script::text(&format!(
            "Here:\n```rust\nfn main() {{\n{long_code}}}\n```\nEnd."
        )),
    );
    w.says(&alice, "LONGCODE").await;
    w.tg.wait_until(T, |tg| {
        tg.messages(102).into_iter().find(|m| m.photo.is_some())
    })
    .await;

    w.llm.on(
        "SHORTCODE",
        Script::text("Try:\n```sh\necho 1\necho 2\necho 3\necho 4\necho 5\n```"),
    );
    w.says(&alice, "SHORTCODE").await;
    let m = w.wait_answer(102, "echo 5").await;
    assert!(
        m.entities().iter().any(|e| e.kind == "pre"),
        "inline code block: {:?}",
        m.entities()
    );

    let para = "This sentence is part of a long answer about the build. ";
    let long: String = std::iter::repeat_n(para, 170).collect();
    assert!(long.len() > 9000);
    w.llm.on("LONGTEXT", Script::text(&long));
    w.says(&alice, "LONGTEXT").await;
    w.tg.wait_for_message(
        102,
        |m| m.text().contains("part of a long answer") && m.text().contains("✅ Done"),
        T,
    )
    .await;
    let parts: Vec<_> =
        w.tg.messages(102)
            .into_iter()
            .filter(|m| m.text().contains("part of a long answer"))
            .collect();
    assert!(
        parts.len() >= 3,
        "split into several messages: {}",
        parts.len()
    );
    assert!(parts.iter().all(|m| m.text().chars().count() <= 4096));
    let joined: String = parts
        .iter()
        .map(cloudify_testkit::fake_telegram::Message::text)
        .collect::<Vec<_>>()
        .join("");
    assert!(joined.matches("part of a long answer").count() >= 160);
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_buttons_drive_the_agent() {
    let w = World::start().await;
    let alice = user(103, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on(
        "RUNIT",
        Script::tool_call(
            "bash",
            json!({"command": "echo approved-run", "description": "echo"}),
        )
        .then_text("Ran it."),
    );
    w.says(&alice, "RUNIT").await;
    let ask = w.wait_text(103, "asks for permission").await;
    assert!(ask.text().contains("echo approved-run"));
    w.tg.press_button_on(
        &alice,
        103,
        ask.message_id,
        &format!("/approve {} once", permission_id(&ask)),
    );
    w.wait_answer(103, "Ran it.").await;
    w.tg.wait_until(T, |tg| {
        tg.message(103, ask.message_id)
            .filter(|m| m.text().contains("Allowed once"))
            .map(|_| ())
    })
    .await;
    let outcome = w.tg.message(103, ask.message_id).unwrap();
    assert!(
        outcome.text().contains("Allowed once") && outcome.text().contains("@alice"),
        "{}",
        outcome.text()
    );

    w.llm.on(
        "DENYIT",
        Script::tool_call(
            "bash",
            json!({"command": "rm -rf build", "description": "clean"}),
        )
        .then_text("Skipped."),
    );
    w.says(&alice, "DENYIT").await;
    let ask =
        w.tg.wait_for_message(
            103,
            |m| m.text().contains("asks for permission: bash: rm -rf build"),
            T,
        )
        .await;
    w.tg.press_button_on(
        &alice,
        103,
        ask.message_id,
        &format!("/approve {} reject", permission_id(&ask)),
    );
    w.tg.wait_until(T, |tg| {
        tg.message(103, ask.message_id)
            .filter(|m| m.text().contains("Rejected"))
            .map(|_| ())
    })
    .await;
    // A rejected permission stops the agent's turn.
    w.tg.wait_until(T, |tg| {
        tg.messages(103)
            .into_iter()
            .find(|m| {
                m.text().contains("Failed")
                    || m.text().contains("Stopped")
                    || m.text().contains("Done")
            })
            .map(|_| ())
    })
    .await;
}

fn permission_id(m: &cloudify_testkit::fake_telegram::Message) -> String {
    let (_, data) = m.buttons().into_iter().next().expect("buttons");
    data.split_whitespace().nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quick_turn_is_one_message_the_answer_without_a_live_message() {
    let w = World::start().await;
    let alice = user(108, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    // The first turn of a fresh OpenCode is slow (it loads its providers): warm it up, and
    // let the bind's status reply go out first.
    w.llm.on("WARMUP", Script::text("warm"));
    w.says(&alice, "WARMUP").await;
    w.wait_answer(108, "warm").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.llm.on("QUICK", Script::text("quick answer"));
    let since = std::time::Instant::now();
    let calls_before = w.tg.calls().len();
    w.says(&alice, "QUICK please").await;
    let answer = w.wait_answer(108, "quick answer").await;
    assert!(answer.text().contains("✅ Done"), "{}", answer.text());
    // Give a late live message or status edit time to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent: Vec<String> =
        w.tg.sent_since(108, since)
            .iter()
            .map(|m| m.text().to_string())
            .collect();
    assert_eq!(sent.len(), 1, "only the answer: {sent:#?}");
    let calls: Vec<String> = w.tg.calls()[calls_before..]
        .iter()
        .filter(|c| c.chat_id == Some(108))
        .map(|c| c.method.clone())
        .collect();
    assert_eq!(calls, ["sendMessage"], "one Bot API call for a quick turn");
}
