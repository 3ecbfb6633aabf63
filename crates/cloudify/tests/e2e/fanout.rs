//! One turn fanned out to 100 bound users within Telegram's global budget (issue 8).

use crate::harness::{T, World, user};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::fake_telegram::{Message, explain_429s, peak_per_second};
use serde_json::json;
use std::time::{Duration, Instant};

const USERS: usize = 100;

#[tokio::test(flavor = "multi_thread")]
async fn one_turn_reaches_100_users_with_one_answer_each_and_no_429() {
    let w = World::start().await;
    let owner = user(7000, "Owner");
    w.bind(&owner, &w.qr_token(None)).await;
    let mut users = vec![owner.clone()];
    users.extend(w.seed_members(7001..7000 + USERS as i64, "member"));
    // ~4 s of text, the bash call (asks permission), ~4 s more: long enough for the live
    // message to reach all 100 chats (3.3 s at 30/s) before the turn ends.
    let chunk = Duration::from_millis(200);
    let answer: Vec<String> = (0..20).map(|i| format!("fan-{i} ")).collect();
    w.llm.on(
        "FANOUT",
        Script::new(vec![
            Reply::slow(20, chunk).and_tool_call(
                "bash",
                json!({"command": "echo fan-out-ok", "description": "fan out"}),
            ),
            Reply::chunks(answer).chunk_delay(chunk),
        ]),
    );
    let calls_before = w.tg.calls().len();
    let started = Instant::now();
    w.says(&owner, "FANOUT to everyone").await;
    let ask =
        w.tg.wait_for_message(
            owner.id,
            |m| m.text().contains("asks for permission") && !m.buttons().is_empty(),
            T,
        )
        .await;
    let (_, once) = ask
        .buttons()
        .into_iter()
        .find(|(_, data)| data.ends_with(" once"))
        .expect("an allow-once button");
    w.tg.press_button_on(&owner, owner.id, ask.message_id, &once);

    let is_answer = |m: &Message| m.text().contains("fan-19") && !m.text().contains("Working…");
    let all =
        w.tg.wait_until(Duration::from_secs(120), |tg| {
            users
                .iter()
                .all(|u| tg.messages(u.id).iter().any(is_answer))
                .then_some(())
        })
        .await;
    let missing: Vec<i64> = users
        .iter()
        .filter(|u| !w.tg.messages(u.id).iter().any(is_answer))
        .map(|u| u.id)
        .collect();
    assert!(
        all.is_some(),
        "{} users never got the answer: {missing:?}",
        missing.len()
    );
    let took = started.elapsed();
    // Anything still queued (nothing should be) gets a moment to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;

    for u in &users {
        let sent = w.tg.sent_since(u.id, started);
        let texts = || sent.iter().map(Message::text).collect::<Vec<_>>();
        assert!(
            sent.iter().any(|m| m.text().contains("Working…")),
            "no live message for {}: {:#?}",
            u.id,
            texts()
        );
        // A prompt still queued when the owner answered goes out already resolved.
        let prompts = sent
            .iter()
            .filter(|m| {
                m.text()
                    .contains("asks for permission: bash: echo fan-out-ok")
                    || m.text().contains("Allowed once: bash: echo fan-out-ok")
            })
            .count();
        assert_eq!(prompts, 1, "prompts for {}: {:#?}", u.id, texts());
        let answers = sent.iter().filter(|m| is_answer(m)).count();
        assert_eq!(answers, 1, "answers for {}: {:#?}", u.id, texts());
    }
    let calls = w.tg.calls()[calls_before..].to_vec();
    assert_eq!(
        w.tg.rate_limited_count(),
        0,
        "429s (gap to the chat's previous call; calls in the second before):\n{}",
        explain_429s(&calls)
    );
    let peak = peak_per_second(&calls);
    assert!(peak <= 30, "{peak} calls in one second");
    eprintln!(
        "fan-out to {USERS} users: all answered after {took:?}, {} sends + edits, peak {peak}/s",
        calls.iter().filter(|c| c.is_counted()).count()
    );
}
