//! Nothing lost when something breaks: Bot API outages, long streams, bot restarts.

use crate::harness::{World, user};
use cloudify_testkit::fake_llm::{Reply, Script};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn bot_api_down_for_30s_mid_turn_delivers_everything_once_in_order() {
    let w = World::start().await;
    let alice = user(301, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on(
        "OUTAGE",
        Reply::chunks(["part one. ", "part two. ", "all done."])
            .chunk_delay(Duration::from_secs(4)),
    );
    w.says(&alice, "OUTAGE").await;
    let live = w.wait_text(301, "Working").await;
    w.tg.set_down(true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    w.tg.set_down(false);
    let answer =
        w.tg.wait_for_message(
            301,
            |m| m.text().contains("all done.") && m.text().contains("✅ Done"),
            Duration::from_secs(180),
        )
        .await;
    assert!(answer.message_id > live.message_id);
    // Exactly one final answer, and the live message ended as a summary.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let finals =
        w.tg.messages(301)
            .into_iter()
            .filter(|m| m.text().contains("all done.") && m.text().contains("✅ Done"))
            .count();
    assert_eq!(finals, 1, "{:#?}", w.tg.texts(301));
    assert!(
        w.tg.message(301, live.message_id)
            .unwrap()
            .text()
            .starts_with("✅ Done")
    );
    // The bot still works afterwards.
    w.llm.on("AFTER", Script::text("still here"));
    w.says(&alice, "AFTER").await;
    w.wait_answer(301, "still here").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_three_minute_stream_causes_zero_429s() {
    let w = World::start().await;
    let alice = user(302, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm
        .on("MARATHON", Reply::slow(900, Duration::from_millis(200)));
    w.says(&alice, "MARATHON").await;
    let live = w.wait_text(302, "Working").await;
    w.tg.wait_for_message(
        302,
        |m| m.text().contains("slow-899") && m.text().contains("✅ Done"),
        Duration::from_secs(300),
    )
    .await;
    let edits = w.tg.message(302, live.message_id).unwrap().edits.len();
    assert!(edits >= 60, "the live message kept moving: {edits} edits");
    assert_eq!(w.tg.rate_limited_count(), 0, "{:?}", w.tg.rate_limited());
}

#[tokio::test(flavor = "multi_thread")]
async fn bot_killed_mid_turn_resumes_without_resending_the_prompt() {
    let mut w = World::start().await;
    let alice = user(303, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on(
        "SURVIVE",
        Reply::chunks(["first half, ", "second half."]).chunk_delay(Duration::from_secs(5)),
    );
    w.says(&alice, "SURVIVE").await;
    w.wait_text(303, "Working").await;
    w.kill_bot(); // SIGKILL
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.start_bot().await;
    w.tg.wait_for_message(
        303,
        |m| m.text().contains("second half.") && m.text().contains("✅ Done"),
        Duration::from_secs(60),
    )
    .await;
    let sent = w
        .llm
        .agent_requests()
        .into_iter()
        .filter(|r| r.user_text.contains("SURVIVE"))
        .count();
    assert_eq!(sent, 1, "the prompt reached OpenCode exactly once");
    // Bindings survived the restart.
    w.llm.on("AGAIN", Script::text("bound still"));
    w.says(&alice, "AGAIN").await;
    w.wait_answer(303, "bound still").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_from_the_user_reaches_opencode_as_a_file() {
    let w = World::start().await;
    let alice = user(304, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on("READFILE", Script::text("got the file"));
    w.tg.user_sends_document(
        &alice,
        b"TODO: unique-file-marker-7731\n".to_vec(),
        "notes.txt",
        "text/plain",
        Some("READFILE please"),
    );
    w.wait_answer(304, "got the file").await;
    let req = w
        .llm
        .agent_requests()
        .into_iter()
        .find(|r| r.user_text.contains("READFILE"))
        .unwrap();
    let body = req.body.to_string();
    assert!(
        body.contains("notes.txt") || body.contains("unique-file-marker-7731"),
        "{body}"
    );
}
