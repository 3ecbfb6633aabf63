//! One turn fanned out to 100 bound users within Telegram's global budget (issue 8).

use crate::harness::{T, World, user};
use cloudify_core::store::SeenUser;
use cloudify_core::{Platform, Store, UserKey};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::fake_telegram::{Call, Event, Message, User};
use serde_json::json;
use std::time::{Duration, Instant};

const USERS: usize = 100;

/// Binds `n` more users straight in the store. Binding them by deep link works too, but each
/// bind tells every earlier member "X joined": 4,950 notices for 100 users, minutes of the
/// 30/s budget spent before the turn this test is about.
fn seed_members(w: &World, n: usize) -> Vec<User> {
    let mut store = Store::open(&w.data.path().join("cloudify.db")).unwrap();
    let inst = store.instances().unwrap()[0].id;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (1..=n)
        .map(|i| {
            let name = format!("member{i:03}");
            let u = user(7000 + i as i64, &name);
            let key = UserKey::new(Platform::Telegram, u.id.to_string());
            let seen = SeenUser {
                key: &key,
                display_name: &name,
                username: u.username.as_deref(),
                client_language: Some("en"),
            };
            store.upsert_user(&seen, now).unwrap();
            store.bind(&key, inst, now).unwrap();
            // The chat exists on Telegram's side, as if the user had pressed Start long ago.
            w.tg.register_user(&u);
            u
        })
        .collect()
}

/// The bot's messages in a chat as they were when sent (later edits not applied).
fn sent(w: &World, chat: i64) -> Vec<Message> {
    w.tg.events(chat)
        .into_iter()
        .filter_map(|e| match e {
            Event::Sent(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Sends and edits: what Telegram's flood limits count.
fn counted(c: &Call) -> bool {
    c.method.starts_with("send") || c.method.starts_with("edit")
}

/// The most counted calls in any one-second window.
fn peak_per_second(calls: &[Call]) -> usize {
    let mut t: Vec<Instant> = calls.iter().filter(|c| counted(c)).map(|c| c.at).collect();
    t.sort();
    let mut lo = 0;
    (0..t.len())
        .map(|hi| {
            while t[hi].duration_since(t[lo]) >= Duration::from_secs(1) {
                lo += 1;
            }
            hi - lo + 1
        })
        .max()
        .unwrap_or(0)
}

/// Why each 429 came: the gap to the chat's previous call, and how many calls the fake
/// counted in the second before it.
fn explain_429s(calls: &[Call]) -> String {
    let ok = |c: &&Call| counted(c) && c.status != 429;
    calls
        .iter()
        .filter(|c| c.status == 429)
        .map(|c| {
            let gap = calls
                .iter()
                .filter(ok)
                .filter(|p| p.chat_id == c.chat_id && p.at < c.at)
                .map(|p| c.at.duration_since(p.at))
                .min();
            let window = calls
                .iter()
                .filter(ok)
                .filter(|p| p.at <= c.at && c.at.duration_since(p.at) < Duration::from_secs(1))
                .count();
            format!(
                "{} chat {:?}: gap {gap:?}, {window} in the second before",
                c.method, c.chat_id
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_turn_reaches_100_users_with_one_answer_each_and_no_429() {
    let w = World::start().await;
    let owner = user(7000, "Owner");
    w.bind(&owner, &w.qr_token(None)).await;
    let mut users = vec![owner.clone()];
    users.extend(seed_members(&w, USERS - 1));
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
        let sent = sent(&w, u.id);
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
        calls.iter().filter(|c| counted(c)).count()
    );
}
