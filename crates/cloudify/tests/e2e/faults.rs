//! Fault injection: Bot API storms, DingTalk drops, OpenCode restarts (issue 8).
//!
//! Every case checks that nothing is lost and nothing is duplicated: one final answer, every
//! part of it once and in order, the prompt at the LLM once, and a fresh turn afterwards.

use crate::harness::{World, user};
use cloudify_testkit::fake_dingtalk::{AckProblemKind, Event as DtEvent, User as DtUser};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::fake_telegram::{Message, Outage, User};
use cloudify_testkit::opencode::OpencodeOptions;
use serde_json::json;
use std::time::{Duration, Instant};

/// Sections of the long answer; with the filler they need two Telegram messages.
const SECTIONS: usize = 12;
/// The answer's code block is longer than `message_image_threshold`, so it becomes a photo.
const CODE_LINES: usize = 15;
const END: &str = "END-OF-FAULT-ANSWER";

fn section(i: usize) -> String {
    let filler = "The relay keeps this sentence intact while the platform misbehaves. ";
    format!("part-{i:02} {}\n\n", filler.repeat(7))
}

/// A long streamed answer: sections, a code block in the middle, an end marker.
fn long_answer(chunk_delay: Duration) -> Reply {
    let mut chunks: Vec<String> = (1..=SECTIONS / 2).map(section).collect();
    let code: String = (1..=CODE_LINES)
        .map(|i| format!("let fault_code_{i} = {i};\n"))
        .collect();
    chunks.push(format!("```rust\n{code}```\n\n"));
    chunks.extend((SECTIONS / 2 + 1..=SECTIONS).map(section));
    chunks.push(format!("{END}."));
    Reply::chunks(chunks).chunk_delay(chunk_delay)
}

/// How many agent requests started a turn for a prompt containing `trigger`.
fn prompt_count(w: &World, trigger: &str) -> usize {
    w.llm
        .agent_requests()
        .iter()
        .filter(|r| r.step == 0 && r.user_text.contains(trigger))
        .count()
}

fn permission_id(m: &Message) -> String {
    let (_, data) = m.buttons().into_iter().next().expect("buttons");
    data.split_whitespace().nth(1).unwrap().to_string()
}

/// Runs a tool-using turn that needs approval, then a long streamed answer; breaks the Bot
/// API with `fault` while the answer streams and the final messages are due; recovers after
/// `length`; checks everything arrived once and in order, and that a fresh turn works.
/// Returns the world and when the fault started and ended, for fault-specific checks.
async fn telegram_fault_mid_turn(
    chat: i64,
    fault: Outage,
    length: Duration,
) -> (World, User, Instant, Instant) {
    let w = World::start().await;
    let alice = user(chat, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on(
        "FAULTRUN",
        Script::tool_call(
            "bash",
            json!({"command": "echo fault-probe", "description": "probe"}),
        )
        .then(long_answer(Duration::from_millis(1500))),
    );
    w.says(&alice, "FAULTRUN").await;
    let ask = w.wait_text(chat, "asks for permission").await;
    let live = w.wait_text(chat, "Working").await;
    w.tg.press_button_on(
        &alice,
        chat,
        ask.message_id,
        &format!("/approve {} once", permission_id(&ask)),
    );
    // The tool ran and the answer starts streaming: break the Bot API now, with the
    // permission outcome, live edits and the whole final answer still to deliver.
    let step = w
        .llm
        .wait_for(Duration::from_secs(30), |r| {
            r.step == 1 && r.user_text.contains("FAULTRUN")
        })
        .await
        .expect("the approved tool ran");
    assert!(
        step.tool_results.iter().any(|t| t.contains("fault-probe")),
        "{:?}",
        step.tool_results
    );
    let fault_start = Instant::now();
    w.tg.set_outage(fault);
    tokio::time::sleep(length).await;
    w.tg.set_outage(Outage::Up);
    let fault_end = Instant::now();

    let done =
        w.tg.wait_for_message(
            chat,
            |m| m.text().contains(END) && m.text().contains("✅ Done"),
            Duration::from_secs(120),
        )
        .await;
    assert!(
        done.at > fault_end,
        "the final answer was due during the fault, so it went out after it"
    );
    // Let any duplicate retry surface before counting.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let msgs = w.tg.messages(chat);
    let texts = w.tg.texts(chat);
    let with_end = msgs.iter().filter(|m| m.text().contains(END)).count();
    assert_eq!(with_end, 1, "one final answer: {texts:#?}");
    // The answer proper: everything after the live message except the permission prompt.
    let answer: Vec<&Message> = msgs
        .iter()
        .filter(|m| m.message_id > live.message_id && m.message_id != ask.message_id)
        .collect();
    let mut last_pos = 0;
    for i in 1..=SECTIONS {
        let marker = format!("part-{i:02}");
        let holders: Vec<&&Message> = answer
            .iter()
            .filter(|m| m.text().contains(&marker))
            .collect();
        assert_eq!(holders.len(), 1, "{marker} exactly once: {texts:#?}");
        assert_eq!(
            holders[0].text().matches(&marker).count(),
            1,
            "{marker} not repeated inside a message"
        );
        let pos = holders[0].message_id;
        assert!(pos >= last_pos, "{marker} out of order: {texts:#?}");
        last_pos = pos;
    }
    let photos: Vec<&&Message> = answer.iter().filter(|m| m.photo.is_some()).collect();
    assert_eq!(photos.len(), 1, "the code block went out once as a photo");
    let before = answer
        .iter()
        .find(|m| m.text().contains(&format!("part-{:02}", SECTIONS / 2)))
        .unwrap();
    let after = answer
        .iter()
        .find(|m| m.text().contains(&format!("part-{:02}", SECTIONS / 2 + 1)))
        .unwrap();
    assert!(
        before.message_id < photos[0].message_id && photos[0].message_id < after.message_id,
        "the code photo sits between the sections around it: {texts:#?}"
    );
    // The prompt's outcome and the live summary got through too.
    let ask = w.tg.message(chat, ask.message_id).unwrap();
    assert!(
        ask.text().contains("Allowed once") && ask.text().contains("@alice"),
        "{}",
        ask.text()
    );
    assert!(
        ask.buttons().is_empty(),
        "no buttons left on a settled prompt"
    );
    let live = w.tg.message(chat, live.message_id).unwrap();
    assert!(
        live.is_deleted() || live.text().starts_with("✅ Done"),
        "{}",
        live.text()
    );
    // OpenCode saw the prompt once and ran the tool once.
    assert_eq!(prompt_count(&w, "FAULTRUN"), 1);
    let tool_steps = w
        .llm
        .agent_requests()
        .iter()
        .filter(|r| r.step == 1 && r.user_text.contains("FAULTRUN"))
        .count();
    assert_eq!(tool_steps, 1);

    // A fresh turn works (the poller may still be in its backoff).
    w.llm
        .on("AFTERFAULT", Script::text("fresh turn after the fault"));
    w.says(&alice, "AFTERFAULT").await;
    w.tg.wait_for_message(
        chat,
        |m| m.text().contains("fresh turn after the fault") && m.text().contains("✅ Done"),
        Duration::from_secs(120),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fresh =
        w.tg.texts(chat)
            .iter()
            .filter(|t| t.contains("fresh turn after the fault"))
            .count();
    assert_eq!(fresh, 1, "{:#?}", w.tg.texts(chat));
    assert_eq!(prompt_count(&w, "AFTERFAULT"), 1);
    (w, alice, fault_start, fault_end)
}

#[tokio::test(flavor = "multi_thread")]
async fn bot_api_5xx_for_a_minute_mid_turn_loses_and_repeats_nothing() {
    let (w, _, start, end) =
        telegram_fault_mid_turn(801, Outage::ServerErrors, Duration::from_secs(60)).await;
    // The fault really hit the bot: both kinds of 5xx answered its calls.
    let during: Vec<u16> =
        w.tg.calls()
            .iter()
            .filter(|c| c.at >= start && c.at <= end)
            .map(|c| c.status)
            .collect();
    assert!(during.contains(&502) && during.contains(&500), "{during:?}");
    assert!(during.iter().all(|s| *s >= 500), "{during:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_for_a_minute_is_waited_out_not_hammered() {
    const RETRY_AFTER: u64 = 5;
    let storm = Duration::from_secs(60);
    let (w, _, start, end) = telegram_fault_mid_turn(
        802,
        Outage::Flood {
            retry_after: RETRY_AFTER,
        },
        storm,
    )
    .await;
    let limited: Vec<_> =
        w.tg.rate_limited()
            .into_iter()
            .filter(|r| r.at >= start && r.at <= end)
            .collect();
    assert!(!limited.is_empty(), "the storm hit the bot");
    // Each lane (the poller; the outbox's queue per chat) waits retry_after between calls.
    let mut lanes: std::collections::BTreeMap<(bool, i64), Vec<Instant>> = Default::default();
    for r in &limited {
        lanes
            .entry((r.method == "getUpdates", r.chat_id))
            .or_default()
            .push(r.at);
    }
    // The storm caught the turn's output: the chat's queue kept (slowly) trying.
    let chat_tries = lanes.get(&(false, 802)).map_or(0, Vec::len);
    assert!(
        chat_tries >= 5,
        "{chat_tries} tries for the chat: {limited:#?}"
    );
    let min_gap = Duration::from_millis(RETRY_AFTER * 1000 - 200);
    for (lane, times) in &lanes {
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= min_gap,
                "lane {lane:?} retried after {gap:?} < retry_after {RETRY_AFTER}s: {limited:#?}"
            );
        }
    }
    let per_lane = (storm.as_secs() / RETRY_AFTER + 1) as usize;
    assert!(
        limited.len() <= lanes.len() * per_lane,
        "{} calls in the storm over {} lanes",
        limited.len(),
        lanes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bot_api_hanging_for_70s_mid_turn_times_out_and_retries_once() {
    // Longer than the 60 s request timeout, so calls really time out and are retried.
    let (w, _, _, _) = telegram_fault_mid_turn(803, Outage::Hang, Duration::from_secs(70)).await;
    assert!(
        w.log().contains("timeout"),
        "calls timed out during the hang"
    );
}

/// Outgoing DingTalk calls whose content mentions `needle`.
fn dt_count(w: &World, needle: &str) -> usize {
    w.dt()
        .outgoing()
        .iter()
        .filter(|e| format!("{e:?}").contains(needle))
        .count()
}

/// A DingTalk stream that dies half-open mid-turn: the bot notices within the dead-connection
/// timeout, reconnects, the running turn's answer arrives once, and the new connection works.
/// (A message DingTalk pushed into the dead socket is gone on the real service too.)
#[tokio::test(flavor = "multi_thread")]
async fn a_dingtalk_stream_dead_without_disconnect_is_detected_and_the_turn_delivered() {
    let w = World::start_full(
        OpencodeOptions {
            ask_permissions: true,
            ..Default::default()
        },
        true,
        None,
    )
    .await;
    let dev = DtUser::new("staff-040", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    let connections = w.dt().total_connections();
    w.llm.on(
        "DTLONG",
        Reply::chunks(["前半段落，", "中间段落，", "后半段落。"])
            .chunk_delay(Duration::from_secs(8)),
    );
    w.llm.on("DTRESENT", Script::text("重发的消息到了"));
    // Robot messages are fire-and-forget on the real server (IM.md §1.4: no redelivery
    // without an ACK), so the fake keeps its default and does not redeliver either.
    assert!(!w.dt().config().redeliver_callbacks);
    w.dt().inject_text(&dev, "DTLONG");
    w.dt_wait("工作中").await;
    // Half-open: no FIN, no `disconnect`, no pongs; the server has not noticed yet.
    let mark = w.dt().mark();
    let dead = Instant::now();
    assert_eq!(w.dt().go_half_open(), 1);
    // Sent while the connection is dead: pushed into the void and, like on the real
    // server, gone. Nothing on our side can fetch it; what we owe is noticing quickly.
    let lost = w.dt().inject_text(&dev, "DTQUEUED");
    assert!(lost.message_id.is_some(), "pushed to the dead connection");
    w.dt()
        .wait_for_since(
            mark,
            |e| matches!(e, DtEvent::Connected { .. }),
            Duration::from_secs(60),
        )
        .await
        .expect("the bot noticed the dead stream and reconnected");
    let noticed = dead.elapsed();
    assert!(w.dt().total_connections() > connections);
    assert!(
        noticed <= Duration::from_secs(55),
        "dead connection noticed after {noticed:?}"
    );
    assert!(
        w.log().contains("presumed dead"),
        "dead-connection detection, not a close, ended the old stream"
    );
    // The turn that was running goes on: its answer arrives once (replies use HTTP).
    w.dt_wait("前半段落，中间段落，后半段落。").await;
    // The user sends again on the new connection and is answered once.
    w.dt().inject_text(&dev, "DTRESENT");
    w.dt_wait("重发的消息到了").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        dt_count(&w, "前半段落，中间段落，后半段落。"),
        1,
        "{:#?}",
        w.dt().outgoing()
    );
    assert_eq!(
        dt_count(&w, "重发的消息到了"),
        1,
        "{:#?}",
        w.dt().outgoing()
    );
    assert_eq!(prompt_count(&w, "DTLONG"), 1);
    assert_eq!(prompt_count(&w, "DTRESENT"), 1);
    assert_eq!(prompt_count(&w, "DTQUEUED"), 0, "never delivered to us");
    // And the new connection carries a fresh turn.
    w.llm.on("DTAFTER", Script::text("重连之后照常工作"));
    w.dt().inject_text(&dev, "DTAFTER");
    w.dt_wait("重连之后照常工作").await;
    assert_eq!(prompt_count(&w, "DTAFTER"), 1);
    assert!(
        w.dt().ack_problems().iter().all(|p| !matches!(
            p.kind,
            AckProblemKind::Duplicate
                | AckProblemKind::Malformed(_)
                | AckProblemKind::WrongConnection
        )),
        "{:?}",
        w.dt().ack_problems()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn opencode_killed_mid_turn_is_reported_interrupted_and_not_resent() {
    let mut w = World::start().await;
    let alice = user(805, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm
        .on("KILLME", Reply::slow(60, Duration::from_millis(500)));
    w.says(&alice, "KILLME").await;
    let live = w.wait_text(805, "slow-2").await;
    w.opencode.kill().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.opencode.restart().await.expect("opencode restarts");
    let interrupted = "restarted in the middle of the task";
    let told =
        w.tg.wait_for_message(
            805,
            |m| m.message_id > live.message_id && m.text().contains(interrupted),
            Duration::from_secs(90),
        )
        .await;
    assert!(
        told.text().contains("slow-0"),
        "the partial answer is kept: {}",
        told.text()
    );
    // Give a wrongly resent prompt time to show up.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let texts = w.tg.texts(805);
    let finals: Vec<Message> =
        w.tg.messages(805)
            .into_iter()
            .filter(|m| m.message_id > live.message_id)
            .filter(|m| m.text().contains(interrupted) || m.text().contains("✅ Done"))
            .collect();
    assert_eq!(finals.len(), 1, "one final message: {texts:#?}");
    assert!(
        !texts.iter().any(|t| t.contains("slow-59")),
        "the killed turn did not finish: {texts:#?}"
    );
    let live = w.tg.message(805, live.message_id).unwrap();
    assert!(
        live.is_deleted() || !live.text().contains("Working"),
        "the live message no longer claims to work: {}",
        live.text()
    );
    assert_eq!(prompt_count(&w, "KILLME"), 1, "the prompt was not resent");

    w.llm
        .on("AFTERKILL", Script::text("back after the restart"));
    w.says(&alice, "AFTERKILL").await;
    w.tg.wait_for_message(
        805,
        |m| m.text().contains("back after the restart") && m.text().contains("✅ Done"),
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after =
        w.tg.texts(805)
            .iter()
            .filter(|t| t.contains("back after the restart"))
            .count();
    assert_eq!(after, 1, "{:#?}", w.tg.texts(805));
    assert_eq!(prompt_count(&w, "AFTERKILL"), 1);
    assert_eq!(prompt_count(&w, "KILLME"), 1);
}
