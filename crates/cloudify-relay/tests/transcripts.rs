//! The relay core on every recorded OpenCode transcript (`SseParser` → `TurnTracker` →
//! `RelayCore`, virtual time): the exact effects users see, for a quick turn (events 1 ms
//! apart: the whole turn is over before the live message is due) and a slow one (100 ms).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudify_opencode::{Event, TurnEvent};
use cloudify_relay::core::{Effect, Input, TurnEnd};
use common::{Pipeline, events};
use std::time::Duration;

const QUICK: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(100);

/// The effects other than live-message edits (those are checked where they matter).
fn shown(p: &Pipeline) -> Vec<&str> {
    p.log
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("update-live"))
        .collect()
}

fn updates(p: &Pipeline) -> Vec<&str> {
    p.log
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("update-live"))
        .collect()
}

fn buttons(kind: &str, id: &str) -> String {
    if kind == "approve" {
        format!(
            "[✅ Allow once = /approve {id} once] [♾ Always = /approve {id} always] [⛔ Reject = /approve {id} reject]"
        )
    } else {
        format!("[Yes = /answer {id} 1] [No = /answer {id} 2] [⛔ Reject = /answer {id} reject]")
    }
}

#[test]
fn quick_text_turns_are_the_answer_alone() {
    for (name, wake) in [
        ("sse-text.txt", 1007),
        ("sse-text-async.txt", 1005),
        ("sse-text-global.txt", 1012),
    ] {
        let p = Pipeline::replay(name, QUICK);
        assert_eq!(
            p.log,
            [
                format!("wake-at +{wake}ms"),
                "answer: Hello from the fake LLM!\n\n✅ Done · 0s".into()
            ],
            "{name}"
        );
    }
}

#[test]
fn slow_text_turns_show_the_live_message_then_the_answer_then_the_summary() {
    let p = Pipeline::replay("sse-text.txt", SLOW);
    assert_eq!(
        shown(&p),
        [
            "wake-at +1700ms",
            "show-live: ⏳ Working… 1s | Hello",
            "answer: Hello from the fake LLM!\n\n✅ Done · 2s",
            "close-live: ✅ Done · 2s",
        ]
    );
    // The answer grows in the live message word by word.
    let u = updates(&p);
    assert!(
        u.contains(&"update-live: ⏳ Working… 1s | Hello from the"),
        "{u:#?}"
    );
    assert_eq!(
        u.last(),
        Some(&"update-live: ⏳ Working… 1s | Hello from the fake LLM!")
    );
    let p = Pipeline::replay("sse-text-global.txt", SLOW);
    assert_eq!(
        shown(&p),
        [
            "wake-at +2200ms",
            "show-live: ⏳ Working… 1s",
            "answer: Hello from the fake LLM!\n\n✅ Done · 3s",
            "close-live: ✅ Done · 3s",
        ]
    );
}

#[test]
fn tool_turns_show_tool_lines_and_count_tools() {
    for (name, answer, line) in [
        ("sse-tool.txt", "Tool finished: hi.", "bash: echo hi"),
        (
            "sse-tool-write.txt",
            "Tool finished: Wrote file successfully..",
            "write: ",
        ),
    ] {
        let p = Pipeline::replay(name, QUICK);
        assert_eq!(
            p.log[1..],
            [format!("answer: {answer}\n\n✅ Done · 0s · 1 tool call(s)")],
            "{name}"
        );
        let p = Pipeline::replay(name, SLOW);
        assert_eq!(
            shown(&p)[1..],
            [
                "show-live: ⏳ Working… 1s | Running a tool. ".to_string(),
                format!("answer: {answer}\n\n✅ Done · 3s · 1 tool call(s)"),
                "close-live: ✅ Done · 3s · 1 tool call(s)".into(),
            ],
            "{name}"
        );
        let u = updates(&p);
        let running = format!("▶ 🔧 {line}");
        let finished = format!("✓ 🔧 {line}");
        assert!(u.iter().any(|l| l.contains(&running)), "{name}: {u:#?}");
        let first_done = u.iter().position(|l| l.contains(&finished)).unwrap();
        // Once finished, the line stays and the running marker is gone.
        assert!(
            u[first_done..].iter().all(|l| !l.contains(&running)),
            "{name}"
        );
    }
}

#[test]
fn the_todo_list_shows_in_the_live_message() {
    let p = Pipeline::replay("sse-todo.txt", SLOW);
    assert_eq!(shown(&p).len(), 4, "{:#?}", p.log);
    let u = updates(&p);
    assert!(
        u.iter()
            .any(|l| l.contains("| ▶ Write tests") && l.contains("| ☐ ")),
        "{u:#?}"
    );
    assert!(u.iter().any(|l| l.contains("✓ 🔧 todowrite")), "{u:#?}");
}

#[test]
fn permissions_are_shown_once_and_resolved_with_their_outcome() {
    for (name, id, label, outcome, answer, tools) in [
        (
            "sse-permission.txt",
            "per_1ff250a09001zUEXvL1G8ijoNP",
            "bash: echo permitted",
            "✅ Allowed once",
            "Tool finished: permitted.",
            "0s · 1 tool call(s)",
        ),
        (
            "sse-permission-legacy.txt",
            "per_1ff254de5001ait7R3Tlsj6iiN",
            "bash: echo legacy",
            "✅ Allowed once",
            "Tool finished: legacy.",
            "0s · 1 tool call(s)",
        ),
        (
            "sse-permission-reject.txt",
            "per_1ff2521ae001efHaG2db05z3un",
            "bash: echo nope",
            "⛔ Rejected",
            "Tool finished: The user rejected permission to use this specific tool call .",
            "0s · 1 tool call(s)",
        ),
        (
            "sse-permission-reject-nomsg.txt",
            "per_1ff253d10001l9dDkrld7QxH9h",
            "bash: echo nope2",
            "⛔ Rejected",
            "Running a tool.",
            "2s · 1 tool call(s)",
        ),
    ] {
        let p = Pipeline::replay(name, QUICK);
        let cmd = label.split_once(": ").unwrap().1;
        assert_eq!(
            shown(&p)[1..],
            [
                "show-live: ⏳ Working… 0s | Running a tool. ".to_string(),
                format!(
                    "show-prompt: 🔐 OpenCode asks for permission: {label} | detail: {cmd} {}",
                    buttons("approve", id)
                ),
                format!("resolve-prompt {id}: {outcome}: {label}"),
                format!("answer: {answer}\n\n✅ Done · {tools}"),
                format!("close-live: ✅ Done · {tools}"),
            ],
            "{name}"
        );
    }
}

#[test]
fn an_edit_permission_shows_the_file_and_its_diff() {
    let p = Pipeline::replay("sse-permission-edit.txt", QUICK);
    let id = "per_1ff399bd2001WLQ81WMUPQ5Wna";
    let label = "edit: /workspace/proj-ask/new.txt";
    assert_eq!(
        shown(&p)[1..],
        [
            "show-live: ⏳ Working… 0s | Running a tool.  | ▶ 🔧 write: /workspace/proj-ask/new.txt"
                .to_string(),
            format!(
                "show-prompt: 🔐 OpenCode asks for permission: {label} | detail: Index: /workspace/proj-ask/new.txt {}",
                buttons("approve", id)
            ),
            format!("resolve-prompt {id}: ✅ Allowed once: {label}"),
            "answer: Tool finished: Wrote file successfully..\n\n✅ Done · 0s · 1 tool call(s)".into(),
            "close-live: ✅ Done · 0s · 1 tool call(s)".into(),
        ]
    );
    let Some(Effect::ShowPrompt(cloudify_relay::core::PromptView::Permission { detail, .. })) = p
        .effects
        .iter()
        .find(|e| matches!(e, Effect::ShowPrompt(_)))
    else {
        panic!()
    };
    assert!(detail.as_deref().unwrap().contains("+"), "{detail:?}");
}

#[test]
fn always_allowed_permission_covers_the_next_turns() {
    let p = Pipeline::replay("sse-permission-always.txt", QUICK);
    let prompts = p
        .log
        .iter()
        .filter(|l| l.starts_with("show-prompt"))
        .count();
    assert_eq!(prompts, 1, "{:#?}", p.log);
    let answers: Vec<&str> = p
        .log
        .iter()
        .filter(|l| l.starts_with("answer"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        answers,
        [
            "answer: Tool finished: first.\n\n✅ Done · 0s · 1 tool call(s)",
            "answer: Tool finished: second.\n\n✅ Done · 0s · 1 tool call(s)",
            "answer: Tool finished: third.\n\n✅ Done · 0s · 1 tool call(s)",
        ]
    );
    assert!(p.log.contains(
        &"resolve-prompt per_1ff257204001oEea696w5CI5UO: ♾ Always allowed: bash: echo first".into()
    ));
    // The first turn waited for a person (live message); the next two were quick (none).
    assert_eq!(
        p.log.iter().filter(|l| l.starts_with("show-live")).count(),
        1
    );
    assert_eq!(
        p.log.iter().filter(|l| l.starts_with("close-live")).count(),
        1
    );
}

#[test]
fn questions_are_shown_with_options_and_resolved() {
    for (name, id, question, outcome) in [
        (
            "sse-question.txt",
            "que_1ff24e20f00164FFmZNK7Uhjtf",
            "Proceed with deploy?",
            "💬 Answered: Yes",
        ),
        (
            "sse-question-reject.txt",
            "que_1ff3d7faa001xmyESPHcR4Dp8O",
            "Proceed?",
            "⛔ Declined to answer",
        ),
    ] {
        let p = Pipeline::replay(name, SLOW);
        let s = shown(&p);
        assert_eq!(
            s[2..4],
            [
                format!(
                    "show-prompt: ❓ OpenCode asks: {question}\n1. Yes — go\n2. No — stop {}",
                    buttons("answer", id)
                ),
                format!("resolve-prompt {id}: {outcome}"),
            ],
            "{name}"
        );
        assert!(s[4].starts_with("answer: "), "{name}");
        assert!(s[5].starts_with("close-live: ✅ Done"), "{name}");
    }
}

#[test]
fn an_abort_ends_as_stopped_with_the_partial_answer() {
    let p = Pipeline::replay("sse-abort.txt", QUICK);
    assert_eq!(
        p.log[1..],
        ["answer: ERROR slow-0 slow-1 slow-2 slow-3 slow-4\n\n⏹ Stopped after 0s"]
    );
    let p = Pipeline::replay("sse-abort.txt", SLOW);
    assert_eq!(
        shown(&p),
        [
            "wake-at +1700ms",
            "show-live: ⏳ Working… 1s | slow-0 slow-1 ",
            "answer: ERROR slow-0 slow-1 slow-2 slow-3 slow-4\n\n⏹ Stopped after 1s",
            "close-live: ⏹ Stopped after 1s",
        ]
    );
}

#[test]
fn an_aborted_permission_is_voided_before_the_turn_ends() {
    let p = Pipeline::replay("sse-permission-abort.txt", SLOW);
    let id = "per_1ff39c2ac001v9mIAIpgzy8Auj";
    assert_eq!(
        shown(&p)[1..],
        [
            "show-live: ⏳ Working… 1s | Running a tool. ".to_string(),
            format!(
                "show-prompt: 🔐 OpenCode asks for permission: bash: echo waiting | detail: echo waiting {}",
                buttons("approve", id)
            ),
            format!("resolve-prompt {id}: ⌛ No longer needed: bash: echo waiting"),
            "answer: ERROR Running a tool.\n\n⏹ Stopped after 2s".into(),
            "close-live: ⏹ Stopped after 2s".into(),
        ]
    );
    assert!(
        updates(&p)
            .last()
            .unwrap()
            .contains("✗ 🔧 bash: echo waiting")
    );
}

#[test]
fn model_errors_end_as_failures() {
    for (name, line) in [
        (
            "sse-error-400.txt",
            "❌ Failed after 0s: fake upstream error 400",
        ),
        (
            "sse-error-unknown-model.txt",
            "❌ Failed after 0s: Model not found: nope/x. Did you mean: standardcompute?",
        ),
    ] {
        for step in [QUICK, SLOW] {
            let p = Pipeline::replay(name, step);
            assert_eq!(p.log[1..], [format!("answer: ERROR {line}")], "{name}");
        }
    }
}

#[test]
fn retries_replace_the_working_line_until_the_turn_is_stopped() {
    let p = Pipeline::replay("sse-error-500.txt", SLOW);
    assert_eq!(
        shown(&p),
        [
            "wake-at +1700ms",
            "show-live: ⚠️ The model call failed; retry 2: fake upstream error 500",
            "answer: ERROR ⏹ Stopped after 2s",
            "close-live: ⏹ Stopped after 2s",
        ]
    );
    assert_eq!(
        updates(&p).last(),
        Some(&"update-live: ⚠️ The model call failed; retry 5: fake upstream error 500")
    );
    let p = Pipeline::replay("sse-error-midstream.txt", SLOW);
    assert_eq!(
        shown(&p)[2..],
        [
            "answer: Hello from\n\n✅ Done · 3s",
            "close-live: ✅ Done · 3s"
        ]
    );
    // The failed attempt's text is dropped while the retry streams anew.
    let u = updates(&p);
    assert!(u.contains(
        &"update-live: ⚠️ The model call failed; retry 4: {\"message\":\"fake mid-stream failure\",\"type\":\"server_error\"}"
    ));
}

#[test]
fn a_prompt_queued_while_busy_continues_the_same_turn() {
    let p = Pipeline::replay("sse-busy-second-prompt.txt", SLOW);
    assert_eq!(
        shown(&p),
        [
            "wake-at +1700ms",
            "show-live: ⏳ Working… 1s",
            "answer: Hello from the fake LLM!\n\n✅ Done · 9s",
            "close-live: ✅ Done · 9s",
        ]
    );
    let p = Pipeline::replay("sse-busy-second-prompt.txt", QUICK);
    assert_eq!(
        p.log[1..],
        ["answer: Hello from the fake LLM!\n\n✅ Done · 0s"]
    );
}

#[test]
fn dispose_restart_and_v2_transcripts_alone_show_nothing() {
    for name in [
        "sse-dispose-event.txt",
        "sse-dispose-global-event.txt",
        "sse-restart-event.txt",
        "sse-restart-global-event.txt",
        "sse-v2-session-replay.txt",
    ] {
        for step in [QUICK, SLOW] {
            assert!(Pipeline::replay(name, step).log.is_empty(), "{name}");
        }
    }
}

/// A turn cut in the middle: the events of `name` up to the first text delta.
fn half_turn(name: &str) -> (Pipeline, String) {
    let mut p = Pipeline::new();
    let evs = events(name);
    let cut = evs
        .iter()
        .position(|e| matches!(e, Event::PartDelta { .. }))
        .unwrap();
    for e in &evs[..=cut] {
        p.event(e, SLOW);
    }
    p.advance(Duration::from_secs(1)); // long enough for the live message
    let sid = p.core.running().unwrap().to_string();
    (p, sid)
}

#[test]
fn an_opencode_restart_mid_turn_ends_the_turn_as_interrupted() {
    let (mut p, sid) = half_turn("sse-text.txt");
    assert!(p.log.iter().any(|l| l.starts_with("show-live")));
    let before = p.log.len();
    // The watcher loses the stream, reconnects to the restarted server (whose transcript
    // is just `server.connected`), and resyncs: the session is idle, its turn had no final
    // message.
    p.input(Input::Turn(TurnEvent::Disconnected {
        reason: "stream ended".into(),
    }));
    for e in events("sse-restart-event.txt") {
        p.event(&e, SLOW);
    }
    let evs = p.tracker.resync(&sid, None, &[], p.now);
    p.turn_events(evs);
    p.input(Input::Turn(TurnEvent::Connected));
    assert_eq!(
        p.log[before..],
        [
            "update-live: 🔌 Lost the connection to OpenCode; reconnecting… | Hello",
            "answer: ERROR Hello\n\n⚠️ OpenCode restarted in the middle of the task, so it did not finish. Send the request again.",
            "close-live: ⚠️ OpenCode restarted in the middle of the task, so it did not finish. Send the request again.",
        ]
    );
}

#[test]
fn cancel_makes_an_interrupted_turn_a_stopped_one() {
    let (mut p, sid) = half_turn("sse-text.txt");
    p.input(Input::Cancelled);
    let evs = p.tracker.resync(&sid, None, &[], p.now);
    p.turn_events(evs);
    let Some(Effect::Answer(a)) = p.effects.iter().find(|e| matches!(e, Effect::Answer(_))) else {
        panic!()
    };
    assert!(matches!(a.end, TurnEnd::Aborted { .. }), "{a:?}");
}

#[test]
fn a_dispose_mid_turn_changes_nothing_users_see() {
    for name in ["sse-dispose-event.txt", "sse-dispose-global-event.txt"] {
        let (mut p, _) = half_turn("sse-tool.txt");
        let before = p.log.len();
        for e in events(name) {
            p.event(&e, QUICK);
        }
        assert_eq!(p.log.len(), before, "{name}: {:#?}", &p.log[before..]);
    }
}

#[test]
fn every_transcript_is_covered_and_every_turn_ends_once() {
    let names = common::transcripts();
    assert_eq!(names.len(), 26);
    for name in names {
        for step in [QUICK, SLOW] {
            let p = Pipeline::replay(&name, step);
            let starts = p.log.iter().filter(|l| l.starts_with("wake-at")).count();
            let answers = p.log.iter().filter(|l| l.starts_with("answer")).count();
            assert_eq!(starts, answers, "{name}: {:#?}", p.log);
            let lives = p.log.iter().filter(|l| l.starts_with("show-live")).count();
            let closes = p.log.iter().filter(|l| l.starts_with("close-live")).count();
            assert_eq!(lives, closes, "{name}");
            // The answer comes before the summary edit of its live message.
            for (i, l) in p.log.iter().enumerate() {
                if l.starts_with("close-live") {
                    assert!(
                        p.log[..i].last().unwrap().starts_with("answer")
                            || p.log[..i].last().unwrap().starts_with("resolve-prompt")
                    );
                }
            }
        }
    }
}
