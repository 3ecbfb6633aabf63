//! Replays every recorded transcript (opencode-ai 1.18.33, tests/fixtures/sse-*.txt) through
//! the SSE parser, the event decoder and the turn tracker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cloudify_opencode::{
    Event, GlobalEvent, PermissionReply, SseParser, TurnErrorKind, TurnEvent, TurnResult,
    TurnTracker,
};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn events(name: &str) -> Vec<Event> {
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    // Odd chunk size on purpose: boundaries fall inside lines and characters.
    for chunk in fixture(name).chunks(97) {
        parser.push(chunk, &mut frames);
    }
    // The recordings lost the blank line that terminates the last event on the wire.
    parser.push(b"\n", &mut frames);
    let global = name.contains("global");
    frames
        .iter()
        .map(|f| {
            if global {
                GlobalEvent::parse(&f.data).event
            } else {
                Event::parse(&f.data)
            }
        })
        .collect()
}

fn counts(evs: &[Event]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in evs {
        *m.entry(e.kind().to_owned()).or_default() += 1;
    }
    m
}

struct Replay {
    out: Vec<TurnEvent>,
    tracker: TurnTracker,
    end: Instant,
}

/// Feeds events one millisecond apart, collecting progress after each, like the watcher.
fn replay(name: &str) -> Replay {
    let mut tracker = TurnTracker::new();
    let mut out = Vec::new();
    let mut now = Instant::now();
    for e in events(name) {
        now += Duration::from_millis(1);
        out.extend(tracker.apply(&e, now));
        out.extend(tracker.take_progress(now));
    }
    // The watcher's housekeeping: turns idle without a clear end are confirmed from REST
    // (status idle, no newer messages) after the grace period.
    now += Duration::from_secs(2);
    for sid in tracker.awaiting_final(now, Duration::from_millis(1500)) {
        out.extend(tracker.resync(&sid, None, &[], now));
    }
    Replay {
        out,
        tracker,
        end: now,
    }
}

fn dones(r: &Replay) -> Vec<&TurnResult> {
    r.out
        .iter()
        .filter_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .collect()
}

fn count(r: &Replay, pred: impl Fn(&TurnEvent) -> bool) -> usize {
    r.out.iter().filter(|e| pred(e)).count()
}

fn only_done(name: &str) -> TurnResult {
    let r = replay(name);
    let d = dones(&r);
    assert_eq!(d.len(), 1, "{name}: {:#?}", r.out);
    assert_eq!(
        count(&r, |e| matches!(e, TurnEvent::Started { .. })),
        1,
        "{name}"
    );
    d[0].clone()
}

#[test]
fn every_transcript_parses_without_loss() {
    let expected: &[(&str, usize)] = &[
        ("sse-abort.txt", 27),
        ("sse-busy-second-prompt.txt", 107),
        ("sse-dispose-event.txt", 3),
        ("sse-dispose-global-event.txt", 8),
        ("sse-error-400.txt", 18),
        ("sse-error-500.txt", 28),
        ("sse-error-midstream.txt", 42),
        ("sse-error-unknown-model.txt", 12),
        ("sse-permission-abort.txt", 30),
        ("sse-permission-always.txt", 136),
        ("sse-permission-edit.txt", 98),
        ("sse-permission-legacy.txt", 48),
        ("sse-permission-reject-nomsg.txt", 29),
        ("sse-permission-reject.txt", 46),
        ("sse-permission.txt", 97),
        ("sse-question-reject.txt", 29),
        ("sse-question.txt", 46),
        ("sse-restart-event.txt", 1),
        ("sse-restart-global-event.txt", 1),
        ("sse-text-async.txt", 28),
        ("sse-text-global.txt", 49),
        ("sse-text.txt", 32),
        ("sse-todo.txt", 45),
        ("sse-tool-write.txt", 47),
        ("sse-tool.txt", 46),
        ("sse-v2-session-replay.txt", 6),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("sse-"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, listed, "a transcript without an expectation");
    for (name, n) in expected {
        let evs = events(name);
        assert_eq!(evs.len(), *n, "{name}");
        assert!(
            matches!(evs[0], Event::ServerConnected) || name.contains("v2"),
            "{name} starts with connected"
        );
        // Every catalogued type decodes into its typed variant; unknown ones stay raw.
        for e in &evs {
            if let Event::Unknown { kind, .. } = e {
                assert!(
                    kind.starts_with("plugin.")
                        || kind.starts_with("session.next.")
                        || [
                            "catalog.updated",
                            "integration.updated",
                            "reference.updated",
                            "sync",
                            "project.updated"
                        ]
                        .contains(&kind.as_str()),
                    "{name}: {kind} should be typed"
                );
            }
        }
    }
}

#[test]
fn event_counts_of_plain_reply() {
    let c = counts(&events("sse-text.txt"));
    assert_eq!(c["message.part.delta"], 6);
    assert_eq!(c["message.updated"], 7);
    assert_eq!(c["session.status"], 4);
    assert_eq!(c["session.idle"], 1);
    let c = counts(&events("sse-text-global.txt"));
    assert_eq!(c["sync"], 17);
    assert_eq!(c["message.part.delta"], 6);
}

#[test]
fn plain_reply_sync_async_and_global() {
    for name in ["sse-text.txt", "sse-text-async.txt", "sse-text-global.txt"] {
        let d = only_done(name);
        assert_eq!(d.text, "Hello from the fake LLM!", "{name}");
        assert_eq!(d.error, None, "{name}");
        assert_eq!(d.tools, 0);
    }
}

#[test]
fn progress_grows_from_deltas_before_done() {
    let r = replay("sse-text.txt");
    let texts: Vec<&str> = r
        .out
        .iter()
        .filter_map(|e| {
            if let TurnEvent::Progress(p) = e {
                Some(p.text.as_str())
            } else {
                None
            }
        })
        .collect();
    assert!(texts.contains(&"Hello"), "{texts:?}");
    assert!(texts.contains(&"Hello from the"), "{texts:?}");
    let done_at = r
        .out
        .iter()
        .position(|e| matches!(e, TurnEvent::Done(_)))
        .unwrap();
    assert!(
        !r.out[done_at + 1..]
            .iter()
            .any(|e| matches!(e, TurnEvent::Progress(_))),
        "no progress after done"
    );
}

#[test]
fn tool_turns_report_tool_lines_and_last_message_text() {
    let r = replay("sse-tool.txt");
    let tools: Vec<_> = r
        .out
        .iter()
        .filter_map(|e| {
            if let TurnEvent::Tool(t) = e {
                Some(t)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(tools.len(), 2, "running + completed: {tools:#?}");
    assert_eq!(tools[0].tool, "bash");
    assert_eq!(tools[1].output.as_deref(), Some("hi\n"));
    let d = dones(&r)[0];
    assert_eq!(d.text, "Tool finished: hi.");
    assert_eq!(d.tools, 1);
    assert!(r.out.iter().any(
        |e| matches!(e, TurnEvent::Progress(p) if p.tool.as_ref().is_some_and(|t| t.tool == "bash"))
    ));

    let d = only_done("sse-tool-write.txt");
    assert_eq!(d.text, "Tool finished: Wrote file successfully..");
}

#[test]
fn todo_list_reaches_progress() {
    let r = replay("sse-todo.txt");
    let todos = r
        .out
        .iter()
        .filter_map(|e| {
            if let TurnEvent::Progress(p) = e {
                Some(&p.todos)
            } else {
                None
            }
        })
        .find(|t| !t.is_empty())
        .unwrap();
    assert_eq!(todos[0].content, "Write tests");
    assert_eq!(todos[0].status, "in_progress");
    assert_eq!(todos.len(), 2);
}

#[test]
fn abort_waits_for_the_late_final_message() {
    let r = replay("sse-abort.txt");
    let d = dones(&r);
    assert_eq!(d.len(), 1, "idle came three times, one done");
    assert_eq!(d[0].text, "slow-0 slow-1 slow-2 slow-3 slow-4 ");
    assert_eq!(d[0].error.as_ref().unwrap().kind, TurnErrorKind::Aborted);
    // Done must come after the message.updated that followed the first idle.
    assert!(r.tracker.active_sessions().is_empty());
}

#[test]
fn llm_errors() {
    let d = only_done("sse-error-400.txt");
    let e = d.error.unwrap();
    assert_eq!(e.kind, TurnErrorKind::Api { status: Some(400) });
    assert!(e.message.contains("fake upstream error 400"));

    let d = only_done("sse-error-unknown-model.txt");
    let e = d.error.unwrap();
    assert_eq!(e.kind, TurnErrorKind::Other("UnknownError".into()));
    assert!(e.message.contains("Model not found"));

    // 5xx: five retries, then the capture aborted during back-off (no session.error).
    let r = replay("sse-error-500.txt");
    assert_eq!(count(&r, |e| matches!(e, TurnEvent::Retrying { .. })), 5);
    let d = dones(&r)[0];
    let e = d.error.as_ref().unwrap();
    assert_eq!(e.kind, TurnErrorKind::Aborted);
    assert!(e.message.contains("fake upstream error 500"), "{e:?}");

    // Broken stream: every retry added a new text part; the surviving text is kept.
    let r = replay("sse-error-midstream.txt");
    assert_eq!(count(&r, |e| matches!(e, TurnEvent::Retrying { .. })), 4);
    assert_eq!(dones(&r)[0].text, "Hello from");
}

#[test]
fn retry_stuck_detection_and_timeout_label() {
    let mut tracker = TurnTracker::new();
    let start = Instant::now();
    let mut now = start;
    let mut out = Vec::new();
    // Stop before the final idle: the turn is still retrying.
    let evs = events("sse-error-500.txt");
    let cut = evs
        .iter()
        .rposition(|e| matches!(e, Event::SessionStatus { .. }))
        .unwrap();
    for e in &evs[..cut] {
        now += Duration::from_millis(1);
        out.extend(tracker.apply(e, now));
    }
    assert!(tracker.stuck(now, Duration::from_secs(5)).is_empty());
    let later = now + Duration::from_secs(6);
    let stuck = tracker.stuck(later, Duration::from_secs(5));
    assert_eq!(stuck.len(), 1);
    tracker.mark_timed_out(&stuck[0], later);
    assert!(
        tracker.stuck(later, Duration::from_secs(5)).is_empty(),
        "aborted once"
    );
    for e in &evs[cut..] {
        out.extend(tracker.apply(e, later));
    }
    let d = out
        .iter()
        .find_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(d.error.as_ref().unwrap().kind, TurnErrorKind::TimedOut);
}

#[test]
fn permissions_once_always_reject_and_legacy() {
    for (name, reply) in [
        ("sse-permission.txt", PermissionReply::Once),
        ("sse-permission-legacy.txt", PermissionReply::Once),
        ("sse-permission-edit.txt", PermissionReply::Once),
        ("sse-permission-reject.txt", PermissionReply::Reject),
        ("sse-permission-reject-nomsg.txt", PermissionReply::Reject),
    ] {
        let r = replay(name);
        let asked = r
            .out
            .iter()
            .position(|e| matches!(e, TurnEvent::PermissionAsked { .. }))
            .unwrap();
        let resolved = r
            .out
            .iter()
            .position(|e| matches!(e, TurnEvent::PermissionResolved { reply: Some(x), .. } if *x == reply))
            .unwrap_or_else(|| panic!("{name}: {:#?}", r.out));
        assert!(asked < resolved, "{name}");
        assert_eq!(dones(&r).len(), 1, "{name}");
    }
    let r = replay("sse-permission-edit.txt");
    let TurnEvent::PermissionAsked { request } = r
        .out
        .iter()
        .find(|e| matches!(e, TurnEvent::PermissionAsked { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(request.permission, "edit");
    assert!(request.metadata["diff"].as_str().unwrap().contains("+++"));

    let d = only_done("sse-permission-reject-nomsg.txt");
    assert_eq!(d.text, "Running a tool. ");
    let r = replay("sse-permission-reject-nomsg.txt");
    assert!(r.out.iter().any(|e| matches!(e, TurnEvent::Tool(t) if t.error.as_deref().is_some_and(|e| e.contains("rejected permission")))));

    // always: two sessions, three turns; the second session's bash ran without asking.
    let r = replay("sse-permission-always.txt");
    assert_eq!(
        count(&r, |e| matches!(e, TurnEvent::PermissionAsked { .. })),
        1
    );
    assert_eq!(dones(&r).len(), 3);
    assert_eq!(dones(&r)[2].text, "Tool finished: third.");
}

#[test]
fn abort_with_pending_permission_drops_it() {
    let r = replay("sse-permission-abort.txt");
    let dropped = r
        .out
        .iter()
        .position(|e| matches!(e, TurnEvent::PermissionResolved { reply: None, .. }))
        .expect("stale permission reported as dropped");
    let done = r
        .out
        .iter()
        .position(|e| matches!(e, TurnEvent::Done(_)))
        .unwrap();
    assert!(dropped < done);
    assert_eq!(
        dones(&r)[0].error.as_ref().unwrap().kind,
        TurnErrorKind::Aborted
    );
    assert!(r.tracker.pending_permissions().is_empty());
}

#[test]
fn questions_answered_and_rejected() {
    let r = replay("sse-question.txt");
    let TurnEvent::QuestionAsked { request } = r
        .out
        .iter()
        .find(|e| matches!(e, TurnEvent::QuestionAsked { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(request.questions[0].options[0].label, "Yes");
    assert!(r.out.iter().any(
        |e| matches!(e, TurnEvent::QuestionResolved { answers: Some(a), .. } if a == &vec![vec!["Yes".to_owned()]])
    ));
    let r = replay("sse-question-reject.txt");
    assert!(r.out.iter().any(
        |e| matches!(e, TurnEvent::QuestionResolved { answers: Some(a), .. } if a.is_empty())
    ));
    assert_eq!(dones(&r).len(), 1);
}

#[test]
fn prompts_queued_while_busy_give_one_done() {
    let d = only_done("sse-busy-second-prompt.txt");
    assert_eq!(d.text, "Hello from the fake LLM!");
}

#[test]
fn dispose_restart_and_v2_produce_no_turns() {
    for name in [
        "sse-dispose-event.txt",
        "sse-dispose-global-event.txt",
        "sse-restart-event.txt",
        "sse-restart-global-event.txt",
        "sse-v2-session-replay.txt",
    ] {
        let r = replay(name);
        assert!(dones(&r).is_empty(), "{name}");
        assert!(r.tracker.awaiting_final(r.end, Duration::ZERO).is_empty());
    }
    assert!(
        events("sse-dispose-event.txt")
            .iter()
            .any(|e| matches!(e, Event::InstanceDisposed { .. }))
    );
    assert!(
        events("sse-dispose-global-event.txt")
            .iter()
            .any(|e| matches!(e, Event::GlobalDisposed))
    );
}

#[test]
fn rest_snapshot_decodes_and_resync_finishes_an_interrupted_turn() {
    let msgs: Vec<cloudify_opencode::MessageWithParts> =
        serde_json::from_slice(&fixture("example-session-messages.json")).unwrap();
    assert_eq!(msgs.len(), 4);
    let sid = msgs[0].info.session_id.clone();
    let mut tracker = TurnTracker::new();
    let now = Instant::now();
    // Reconnect while busy: the turn is picked up from REST.
    let busy = cloudify_opencode::SessionStatus::Busy;
    let out = tracker.resync(&sid, Some(&busy), &msgs, now);
    assert!(matches!(out[0], TurnEvent::Started { .. }));
    // Reconnect after it finished while we were away: the final answer still arrives.
    let out = tracker.resync(&sid, None, &msgs, now + Duration::from_secs(1));
    let d = out
        .iter()
        .find_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(d.text, "Hello from the fake LLM!");
    assert_eq!(d.error, None);
    // Idle session we never saw working: nothing to report.
    assert!(tracker.resync(&sid, None, &msgs, now).is_empty());
    // A turn cut off (last assistant message not final) ends as interrupted.
    let mut cut = msgs.clone();
    cut.last_mut().unwrap().info.time.completed = None;
    tracker.resync(&sid, Some(&busy), &cut, now);
    let out = tracker.resync(&sid, None, &cut, now);
    let d = out
        .iter()
        .find_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(d.error.as_ref().unwrap().kind, TurnErrorKind::Interrupted);
}

fn ev(json: &str) -> Event {
    Event::parse(json)
}

fn status(kind: &str) -> Event {
    ev(&format!(
        r#"{{"type":"session.status","properties":{{"sessionID":"ses_x","status":{{"type":"{kind}"}}}}}}"#
    ))
}

fn assistant(id: &str, finish: &str, completed: bool) -> Event {
    let completed = if completed { r#","completed":2"# } else { "" };
    ev(&format!(
        r#"{{"type":"message.updated","properties":{{"sessionID":"ses_x","info":{{"id":"{id}","role":"assistant","sessionID":"ses_x","finish":"{finish}","time":{{"created":1{completed}}}}}}}}}"#
    ))
}

fn text(msg: &str, part: &str, t: &str) -> Event {
    ev(&format!(
        r#"{{"type":"message.part.updated","properties":{{"sessionID":"ses_x","part":{{"id":"{part}","messageID":"{msg}","sessionID":"ses_x","type":"text","text":"{t}","time":{{"start":1,"end":2}}}}}}}}"#
    ))
}

#[test]
fn stale_idle_after_tool_step_does_not_end_the_turn() {
    let mut t = TurnTracker::new();
    let now = Instant::now();
    let mut out = Vec::new();
    for e in [
        status("busy"),
        assistant("msg_1", "tool-calls", false),
        text("msg_1", "prt_1", "Running a tool."),
        assistant("msg_1", "tool-calls", true),
        // A late duplicate idle of an earlier, aborted turn.
        status("idle"),
    ] {
        out.extend(t.apply(&e, now));
    }
    assert!(
        !out.iter().any(|e| matches!(e, TurnEvent::Done(_))),
        "{out:#?}"
    );
    // The loop goes on: busy again, second message, then the real end.
    for e in [
        status("busy"),
        assistant("msg_2", "stop", false),
        text("msg_2", "prt_2", "All done."),
        assistant("msg_2", "stop", true),
        status("idle"),
    ] {
        out.extend(t.apply(&e, now));
    }
    let d = out
        .iter()
        .find_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(d.text, "All done.");
    assert_eq!(d.tools, 0);
    assert_eq!(
        out.iter()
            .filter(|e| matches!(e, TurnEvent::Started { .. }))
            .count(),
        1
    );
}

#[test]
fn unknown_part_types_and_reasoning_do_not_leak_into_the_answer() {
    let mut t = TurnTracker::new();
    let now = Instant::now();
    let mut out = Vec::new();
    for e in [
        status("busy"),
        assistant("msg_1", "stop", false),
        ev(
            r#"{"type":"message.part.updated","properties":{"sessionID":"ses_x","part":{"id":"prt_r","messageID":"msg_1","sessionID":"ses_x","type":"reasoning","text":""}}}"#,
        ),
        ev(
            r#"{"type":"message.part.delta","properties":{"sessionID":"ses_x","messageID":"msg_1","partID":"prt_r","field":"text","delta":"thinking"}}"#,
        ),
        ev(
            r#"{"type":"message.part.updated","properties":{"sessionID":"ses_x","part":{"id":"prt_z","messageID":"msg_1","sessionID":"ses_x","type":"hologram","x":1}}}"#,
        ),
        text("msg_1", "prt_t", "Answer."),
        assistant("msg_1", "stop", true),
        status("idle"),
    ] {
        out.extend(t.apply(&e, now));
    }
    let d = out
        .iter()
        .find_map(|e| {
            if let TurnEvent::Done(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(d.text, "Answer.");
}
