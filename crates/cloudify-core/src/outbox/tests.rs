use super::*;
use crate::adapter::{ChatRef, DeliveryError};
use crate::identity::Platform;
use crate::output::{Envelope, Output, Progress};
use proptest::prelude::*;
use std::collections::HashMap;

fn chat(id: &str) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: id.into(),
        is_group: false,
    }
}

fn group(id: &str) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: id.into(),
        is_group: true,
    }
}

fn text(t: &str) -> Envelope {
    Envelope::bare(Output::plain(t))
}

fn live(t: &str) -> Envelope {
    Envelope::bare(Output::Progress(Progress {
        answer: t.into(),
        ..Progress::default()
    }))
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    at: u64,
    chat: ChatRef,
    kind: OpKind,
    body: Option<Envelope>,
}

/// Runs the outbox on virtual time with a platform that answers after `latency` ms using
/// `answer`, until idle or `until`. Returns every call made.
fn simulate(
    ob: &mut Outbox,
    until: u64,
    latency: u64,
    answer: impl FnMut(&Dispatch, u64) -> Result<Option<String>, DeliveryError>,
) -> Vec<Call> {
    simulate_from(ob, 0, until, latency, answer)
}

/// [`simulate`] from `start` on.
fn simulate_from(
    ob: &mut Outbox,
    start: u64,
    until: u64,
    latency: u64,
    mut answer: impl FnMut(&Dispatch, u64) -> Result<Option<String>, DeliveryError>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut in_flight: Vec<(u64, Dispatch)> = Vec::new();
    let mut now = start;
    while now <= until {
        in_flight.sort_by_key(|(t, _)| *t);
        while in_flight.first().is_some_and(|(t, _)| *t <= now) {
            let (_, d) = in_flight.remove(0);
            let r = answer(&d, now);
            ob.complete(d.ticket, r, now);
        }
        while let Some(d) = ob.next(now) {
            calls.push(Call {
                at: now,
                chat: d.chat.clone(),
                kind: d.kind,
                body: d.env.clone(),
            });
            in_flight.push((now + latency, d));
        }
        if ob.is_idle() {
            break;
        }
        now += 1;
    }
    calls
}

fn ok_with_ids() -> impl FnMut(&Dispatch, u64) -> Result<Option<String>, DeliveryError> {
    let mut n = 0;
    move |d, _| {
        n += 1;
        Ok((d.kind == OpKind::Send).then(|| format!("m{n}")))
    }
}

/// The platform's limits, checked on the calls as made. A call reaches the platform some
/// time between its start (`at`) and its completion (`at + latency`), so each pair of calls
/// to one chat is checked in its worst case: the earlier arriving at its completion, the
/// later at its start. A token bucket of `burst` calls refilled one per `per_chat_ms` admits
/// calls i < j only if they are at least `(j − i + 1 − burst) × per_chat_ms` apart.
#[derive(Clone, Copy)]
struct Budgets {
    latency: u64,
    per_chat_ms: u64,
    burst: usize,
    global_per_s: usize,
    group_per_min: usize,
}

impl Budgets {
    fn telegram(latency: u64) -> Self {
        Self {
            latency,
            per_chat_ms: 1000,
            burst: 3,
            global_per_s: 30,
            group_per_min: 20,
        }
    }
}

fn assert_budgets(calls: &[Call], b: Budgets) {
    let mut per_chat: HashMap<&ChatRef, Vec<u64>> = HashMap::new();
    for c in calls {
        per_chat.entry(&c.chat).or_default().push(c.at);
    }
    for (chat, starts) in &per_chat {
        for j in 0..starts.len() {
            for i in 0..j {
                let need = (j - i + 1).saturating_sub(b.burst) as u64 * b.per_chat_ms;
                let gap = starts[j].saturating_sub(starts[i] + b.latency);
                assert!(
                    need == 0 || (starts[j] >= starts[i] + b.latency && gap >= need),
                    "chat {}: calls {i}..={j} within {gap} ms, the bucket needs {need} ms",
                    chat.chat_id
                );
            }
        }
    }
    let (global_per_s, group_per_min) = (b.global_per_s, b.group_per_min);
    for (i, c) in calls.iter().enumerate() {
        let window: Vec<_> = calls[..=i].iter().filter(|o| c.at - o.at < 1000).collect();
        assert!(
            window.len() <= global_per_s,
            "global budget exceeded at {}: {}",
            c.at,
            window.len()
        );
        if c.chat.is_group {
            let minute = calls[..=i]
                .iter()
                .filter(|o| o.chat == c.chat && c.at - o.at < 60_000)
                .count();
            assert!(minute <= group_per_min, "group budget exceeded: {minute}");
        }
    }
}

#[test]
fn one_chat_gets_a_burst_of_three_then_one_call_per_second() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    for i in 0..10 {
        ob.send(chat("a"), text(&format!("m{i}")), 1);
    }
    let calls = simulate(&mut ob, 60_000, 50, ok_with_ids());
    assert_eq!(calls.len(), 10);
    assert_budgets(&calls, Budgets::telegram(50));
    let at: Vec<u64> = calls.iter().map(|c| c.at).collect();
    // Back to back (one call on the wire at a time), then one per interval after the
    // completion that emptied the bucket.
    assert_eq!(at[..4], [0, 50, 100, 1050]);
    assert!(at.windows(2).skip(3).all(|w| w[1] - w[0] == 1000), "{at:?}");
    // FIFO order is kept.
    let bodies: Vec<_> = calls.iter().map(|c| c.body.clone().unwrap()).collect();
    assert_eq!(
        bodies,
        (0..10).map(|i| text(&format!("m{i}"))).collect::<Vec<_>>()
    );
}

#[test]
fn fan_out_to_many_chats_stays_within_the_global_budget() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    for u in 0..100 {
        for m in 0..3 {
            ob.send(chat(&format!("u{u}")), text(&format!("{m}")), 1);
        }
    }
    let calls = simulate(&mut ob, 120_000, 30, ok_with_ids());
    assert_eq!(calls.len(), 300);
    assert_budgets(&calls, Budgets::telegram(30));
    // And it is not needlessly slow: 300 calls at 30/s take about 10 s.
    assert!(
        calls.last().unwrap().at < 11_000,
        "took {}ms",
        calls.last().unwrap().at
    );
}

#[test]
fn the_global_budget_holds_where_the_calls_arrive() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    for u in 0..120 {
        ob.send(chat(&format!("u{u}")), text("hi"), 1);
    }
    // Every call takes 400 ms; those made in even seconds spend it all on the way to the
    // platform (a busy runtime, a slow network), the others arrive at once. Budgeting by
    // dispatch time would let 60 arrive within one second.
    let calls = simulate(&mut ob, 60_000, 400, ok_with_ids());
    assert_eq!(calls.len(), 120);
    let mut arrivals: Vec<u64> = calls
        .iter()
        .map(|c| c.at + if (c.at / 1000) % 2 == 0 { 400 } else { 0 })
        .collect();
    arrivals.sort_unstable();
    for (i, t) in arrivals.iter().enumerate() {
        let window = arrivals[..=i].iter().filter(|a| t - *a < 1000).count();
        assert!(
            window <= 30,
            "{window} calls arrived in the second up to {t}"
        );
    }
}

#[test]
fn groups_get_at_most_twenty_calls_a_minute() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    for i in 0..45 {
        ob.send(group("g"), text(&i.to_string()), 1);
    }
    let calls = simulate(&mut ob, 400_000, 10, ok_with_ids());
    assert_eq!(calls.len(), 45);
    assert_budgets(&calls, Budgets::telegram(10));
    assert!(calls[20].at >= 60_000);
}

#[test]
fn multi_message_outputs_spend_their_whole_cost() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    ob.send(chat("a"), text("long, split in 3"), 3);
    ob.send(chat("a"), text("next"), 1);
    ob.send(chat("a"), text("after"), 1);
    // As if all three parts arrived at once: the bucket is empty, so each next call
    // waits a full interval.
    let calls = simulate(&mut ob, 60_000, 10, ok_with_ids());
    let at: Vec<u64> = calls.iter().map(|c| c.at).collect();
    assert_eq!(at, [0, 1000, 2000]);
}

#[test]
fn a_quick_turn_gets_its_answer_at_once() {
    // The live message went out at the start; 400 ms later the turn is over: the summary
    // edit and the answer both fit the bucket, and the answer goes first.
    let mut ob = Outbox::new(OutboxPolicy {
        per_chat_interval_ms: 1050,
        ..OutboxPolicy::default()
    });
    let live_id = ob.send(chat("a"), live("working"), 1);
    let mut calls = simulate(&mut ob, 10_000, 10, ok_with_ids());
    ob.edit(chat("a"), live_id, live("done"));
    ob.send(chat("a"), text("the answer"), 1);
    calls.extend(simulate_from(&mut ob, 400, 10_000, 10, ok_with_ids()));
    let got: Vec<(u64, OpKind, Option<Envelope>)> =
        calls.into_iter().map(|c| (c.at, c.kind, c.body)).collect();
    assert_eq!(
        got,
        [
            (0, OpKind::Send, Some(live("working"))),
            (400, OpKind::Send, Some(text("the answer"))),
            (410, OpKind::Edit, Some(live("done"))),
        ]
    );
}

#[test]
fn a_new_message_overtakes_queued_edits_but_never_another_send() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    let live_id = ob.send(chat("a"), live("v0"), 1);
    let prompt = ob.send(chat("a"), text("prompt"), 1);
    assert_eq!(simulate(&mut ob, 10_000, 10, ok_with_ids()).len(), 2);
    ob.edit(chat("a"), live_id, live("v1"));
    ob.send(chat("a"), text("first news"), 1);
    ob.edit(chat("a"), prompt, text("prompt, answered"));
    ob.send(chat("a"), text("second news"), 1);
    ob.edit(chat("a"), live_id, live("v2")); // replaces v1 where v1 waits
    ob.delete(chat("a"), live_id); // drops it
    ob.send(chat("a"), text("after the delete"), 1);
    let calls = simulate_from(&mut ob, 5_000, 60_000, 10, ok_with_ids());
    let got: Vec<(OpKind, Option<Envelope>)> =
        calls.into_iter().map(|c| (c.kind, c.body)).collect();
    assert_eq!(
        got,
        [
            (OpKind::Send, Some(text("first news"))),
            (OpKind::Send, Some(text("second news"))),
            (OpKind::Edit, Some(text("prompt, answered"))),
            (OpKind::Delete, None),
            (OpKind::Send, Some(text("after the delete"))),
        ]
    );
    // While a call is on the wire, a new message queues behind it, whatever it is.
    ob.edit(chat("a"), prompt, text("prompt, again"));
    let d = ob.next(20_000).unwrap();
    assert_eq!(d.kind, OpKind::Edit);
    ob.send(chat("a"), text("behind the edit"), 1);
    ob.complete(d.ticket, Ok(None), 20_010);
    let next = ob.next(20_010).unwrap();
    assert_eq!(next.env, Some(text("behind the edit")));
}

#[test]
fn rapid_edits_coalesce_to_the_newest() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    let id = ob.send(chat("a"), live("v0"), 1);
    assert!(ob.next(0).is_some_and(|d| d.kind == OpKind::Send));
    // 50 edits while the send is on the wire and the chat budget is spent.
    for i in 1..=50 {
        ob.edit(chat("a"), id, live(&format!("v{i}")));
    }
    assert_eq!(ob.queued(), 2, "the in-flight send plus one coalesced edit");
    let calls = simulate(&mut ob, 10_000, 10, {
        let mut first = true;
        move |d, _| {
            let r = if first && d.kind == OpKind::Send {
                Some("m1".to_string())
            } else {
                None
            };
            first = false;
            Ok(r)
        }
    });
    // The send was dispatched before simulate started; simulate completes it as ticketless.
    let edits: Vec<_> = calls.iter().filter(|c| c.kind == OpKind::Edit).collect();
    assert!(edits.len() <= 1, "{edits:?}");
}

#[test]
fn edits_before_the_send_goes_out_update_the_send() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    ob.send(chat("a"), text("first"), 1);
    let id = ob.send(chat("a"), live("v0"), 1);
    ob.edit(chat("a"), id, live("v1"));
    ob.edit(chat("a"), id, live("v2"));
    let calls = simulate(&mut ob, 10_000, 10, ok_with_ids());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].body, Some(live("v2")));
}

#[test]
fn unchanged_edits_are_skipped() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    let id = ob.send(chat("a"), live("same"), 1);
    let calls = simulate(&mut ob, 10_000, 10, ok_with_ids());
    assert_eq!(calls.len(), 1);
    ob.edit(chat("a"), id, live("same"));
    assert!(ob.is_idle(), "an edit to what is shown makes no call");
    ob.edit(chat("a"), id, live("changed"));
    ob.edit(chat("a"), id, live("changed"));
    assert_eq!(ob.queued(), 1);
}

#[test]
fn retry_after_is_honoured_without_counting_an_attempt() {
    let mut ob = Outbox::new(OutboxPolicy {
        max_attempts: 1,
        ..OutboxPolicy::default()
    });
    ob.send(chat("a"), text("x"), 1);
    let mut limited = 3;
    let calls = simulate(&mut ob, 100_000, 5, |_, _| {
        if limited > 0 {
            limited -= 1;
            Err(DeliveryError::RetryAfter(std::time::Duration::from_secs(7)))
        } else {
            Ok(Some("m".into()))
        }
    });
    assert_eq!(calls.len(), 4, "three 429s then success, never given up");
    for w in calls.windows(2) {
        assert!(w[1].at - w[0].at >= 7000);
    }
}

#[test]
fn transient_failures_back_off_and_keep_order() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    ob.send(chat("a"), text("1"), 1);
    ob.send(chat("a"), text("2"), 1);
    let mut fails = 2;
    let calls = simulate(&mut ob, 100_000, 5, |_, _| {
        if fails > 0 {
            fails -= 1;
            Err(DeliveryError::Transient("502".into()))
        } else {
            Ok(Some("m".into()))
        }
    });
    let bodies: Vec<_> = calls.iter().map(|c| c.body.clone().unwrap()).collect();
    assert_eq!(bodies, vec![text("1"), text("1"), text("1"), text("2")]);
    assert!(calls[1].at - calls[0].at >= 2000 && calls[2].at - calls[1].at >= 4000);
}

#[test]
fn unreachable_chats_hand_everything_but_progress_to_the_backlog() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    ob.send(chat("a"), text("1"), 1);
    ob.send(chat("a"), live("working"), 1);
    ob.send(chat("a"), text("2"), 1);
    let d = ob.next(0).unwrap();
    let c = ob.complete(
        d.ticket,
        Err(DeliveryError::Unreachable("blocked".into())),
        0,
    );
    assert_eq!(c, Completion::Undeliverable(vec![text("1"), text("2")]));
    assert!(ob.is_idle());
}

#[test]
fn giving_up_after_max_attempts_keeps_output() {
    let mut ob = Outbox::new(OutboxPolicy {
        max_attempts: 3,
        ..OutboxPolicy::default()
    });
    ob.send(chat("a"), text("1"), 1);
    let mut results = Vec::new();
    let mut now = 0;
    while !ob.is_idle() && now < 1_000_000 {
        if let Some(d) = ob.next(now) {
            results.push(ob.complete(d.ticket, Err(DeliveryError::Transient("down".into())), now));
        }
        now += 100;
    }
    assert_eq!(
        results.last(),
        Some(&Completion::Undeliverable(vec![text("1")]))
    );
    assert_eq!(results.len(), 3);
}

#[test]
fn rejected_output_is_dropped_and_the_queue_moves_on() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    let id = ob.send(chat("a"), text("bad"), 1);
    let d = ob.next(0).unwrap();
    ob.edit(chat("a"), id, text("bad2"));
    ob.send(chat("a"), text("good"), 1);
    let c = ob.complete(d.ticket, Err(DeliveryError::Rejected("400".into())), 5);
    assert!(matches!(c, Completion::Dropped(_)));
    let calls = simulate(&mut ob, 10_000, 5, ok_with_ids());
    let bodies: Vec<_> = calls.iter().map(|c| c.body.clone().unwrap()).collect();
    assert_eq!(
        bodies,
        vec![text("good")],
        "the edit of a refused message is skipped"
    );
}

#[test]
fn deleting_an_unsent_message_sends_nothing() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    ob.send(chat("a"), text("1"), 1);
    let id = ob.send(chat("a"), live("w"), 1);
    ob.edit(chat("a"), id, live("w2"));
    ob.delete(chat("a"), id);
    let calls = simulate(&mut ob, 10_000, 5, ok_with_ids());
    assert_eq!(calls.len(), 1);
}

#[test]
fn deleting_a_sent_message_deletes_it() {
    let mut ob = Outbox::new(OutboxPolicy::default());
    let id = ob.send(chat("a"), live("w"), 1);
    simulate(&mut ob, 10_000, 5, ok_with_ids());
    ob.edit(chat("a"), id, live("w2"));
    ob.delete(chat("a"), id);
    let calls = simulate(&mut ob, 10_000, 5, ok_with_ids());
    assert_eq!(
        calls.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![OpKind::Delete]
    );
}

#[derive(Debug, Clone)]
enum Step {
    Send(u8, bool),
    Edit(u8, u8),
    Delete(u8),
    Wait(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..6, any::<bool>()).prop_map(|(c, g)| Step::Send(c, g)),
        6 => (0u8..6, any::<u8>()).prop_map(|(c, v)| Step::Edit(c, v)),
        1 => (0u8..6).prop_map(Step::Delete),
        3 => (0u16..3000).prop_map(Step::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the workload and however the platform answers, no chat, group or the bot
    /// as a whole ever goes over budget, and every send ends up delivered or kept.
    #[test]
    fn budgets_hold_for_any_workload(steps in proptest::collection::vec(step(), 1..120), seed in any::<u64>(), burst in 1u32..5) {
        let mut ob = Outbox::new(OutboxPolicy { per_chat_burst: burst, ..OutboxPolicy::default() });
        let mut live_ids: Vec<(ChatRef, LocalId)> = Vec::new();
        let mut calls: Vec<Call> = Vec::new();
        let mut in_flight: Vec<(u64, Dispatch)> = Vec::new();
        let mut rng = seed;
        let mut now = 0u64;
        let mut sends = 0usize;
        let mut kept = 0usize;
        let mut delivered = 0usize;
        let mut tick = |ob: &mut Outbox, now: u64, in_flight: &mut Vec<(u64, Dispatch)>, calls: &mut Vec<Call>, kept: &mut usize, delivered: &mut usize| {
            in_flight.sort_by_key(|(t, _)| *t);
            while in_flight.first().is_some_and(|(t, _)| *t <= now) {
                let (_, d) = in_flight.remove(0);
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = match (rng >> 33) % 10 {
                    0 => Err(DeliveryError::RetryAfter(std::time::Duration::from_millis((rng >> 40) % 5000))),
                    1 => Err(DeliveryError::Transient("x".into())),
                    _ => Ok((d.kind == OpKind::Send).then(|| "m".to_string())),
                };
                let was_send = d.kind == OpKind::Send;
                let ok = r.is_ok();
                match ob.complete(d.ticket, r, now) {
                    Completion::Undeliverable(v) => *kept += v.len(),
                    Completion::Done if was_send && ok => *delivered += 1,
                    _ => {}
                }
            }
            while let Some(d) = ob.next(now) {
                calls.push(Call { at: now, chat: d.chat.clone(), kind: d.kind, body: None });
                in_flight.push((now + 20, d));
            }
        };
        for s in steps {
            match s {
                Step::Send(c, g) => {
                    let ch = if g { group(&format!("g{c}")) } else { chat(&format!("c{c}")) };
                    let id = ob.send(ch.clone(), text(&format!("s{sends}")), 1);
                    sends += 1;
                    live_ids.push((ch, id));
                }
                Step::Edit(i, v) => if let Some((ch, id)) = live_ids.get(i as usize % live_ids.len().max(1)).cloned() {
                    ob.edit(ch, id, text(&format!("e{v}")));
                },
                Step::Delete(i) => if let Some((ch, id)) = live_ids.get(i as usize % live_ids.len().max(1)).cloned() {
                    ob.delete(ch, id);
                },
                Step::Wait(ms) => for _ in 0..ms { tick(&mut ob, now, &mut in_flight, &mut calls, &mut kept, &mut delivered); now += 1; },
            }
        }
        while (!ob.is_idle() || !in_flight.is_empty()) && now < 50_000_000 {
            tick(&mut ob, now, &mut in_flight, &mut calls, &mut kept, &mut delivered);
            now += 1;
        }
        prop_assert!(ob.is_idle());
        assert_budgets(&calls, Budgets { burst: burst as usize, ..Budgets::telegram(20) });
        prop_assert!(delivered + kept <= sends);
    }
}
