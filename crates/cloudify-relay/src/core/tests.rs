//! The core on virtual time: quick and long turns, prompts, cancel, reconnects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use cloudify_core::i18n::Lang;
use cloudify_core::output::Output;
use cloudify_opencode::{PermissionReply, PermissionRequest, TurnError};

const S: &str = "ses_1";

fn t0() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn started() -> Input {
    Input::Turn(TurnEvent::Started {
        session_id: S.into(),
    })
}

fn progress(text: &str) -> Input {
    Input::Turn(TurnEvent::Progress(Progress {
        session_id: S.into(),
        text: text.into(),
        tool: None,
        todos: Vec::new(),
        retry: None,
        elapsed: Duration::ZERO,
    }))
}

fn done(text: &str, error: Option<TurnErrorKind>) -> Input {
    Input::Turn(TurnEvent::Done(TurnResult {
        session_id: S.into(),
        text: text.into(),
        message_id: None,
        duration: Duration::from_secs(2),
        error: error.map(|kind| TurnError {
            kind,
            message: "boom".into(),
        }),
        tools: 0,
    }))
}

fn permission(id: &str) -> Input {
    Input::Turn(TurnEvent::PermissionAsked {
        request: PermissionRequest {
            id: id.into(),
            session_id: S.into(),
            permission: "bash".into(),
            patterns: vec!["ls".into()],
            metadata: serde_json::json!({ "command": "ls -la" }),
            always: Vec::new(),
            tool: None,
        },
    })
}

fn names(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .map(|e| match e {
            Effect::ShowLive(_) => "show-live",
            Effect::UpdateLive(_) => "update-live",
            Effect::CloseLive(_) => "close-live",
            Effect::Answer(_) => "answer",
            Effect::ShowPrompt(_) => "show-prompt",
            Effect::ResolvePrompt { .. } => "resolve-prompt",
            Effect::WakeAt(_) => "wake",
        })
        .collect()
}

#[test]
fn a_quick_turn_is_one_message_the_answer() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    let fx = c.apply(started(), t);
    assert_eq!(fx, vec![Effect::WakeAt(t + ms(1000))]);
    assert!(c.apply(progress("Hel"), t + ms(300)).is_empty());
    let fx = c.apply(done("Hello", None), t + ms(400));
    assert_eq!(names(&fx), ["answer"]);
    let Effect::Answer(a) = &fx[0] else { panic!() };
    assert_eq!(
        a.render(Lang::En),
        Output::Text {
            text: "Hello\n\n✅ Done · 2s".into()
        }
    );
    // The wake-up asked for at the start finds the turn over: nothing to show.
    assert!(c.apply(Input::Tick, t + ms(1000)).is_empty());
}

#[test]
fn a_long_turn_shows_its_live_message_at_the_deadline_and_the_answer_before_the_summary() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    c.apply(progress("partial"), t + ms(500));
    // A wake-up that comes early is put off until the deadline.
    assert_eq!(
        c.apply(Input::Tick, t + ms(999)),
        vec![Effect::WakeAt(t + ms(1000))]
    );
    let fx = c.apply(Input::Tick, t + ms(1000));
    let [Effect::ShowLive(v)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(v.answer, "partial");
    assert_eq!(
        v.status,
        LiveStatus::Working {
            elapsed: ms(1000),
            by: None
        }
    );
    assert_eq!(
        names(&c.apply(progress("more"), t + ms(1500))),
        ["update-live"]
    );
    let fx = c.apply(done("all", None), t + ms(2000));
    assert_eq!(names(&fx), ["answer", "close-live"]);
    assert_eq!(
        fx[1],
        Effect::CloseLive(TurnEnd::Done {
            duration: Duration::from_secs(2),
            tools: 0
        })
    );
}

#[test]
fn progress_after_the_deadline_shows_the_live_message_when_the_tick_is_late() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    assert_eq!(names(&c.apply(progress("x"), t + ms(1200))), ["show-live"]);
    assert!(c.apply(Input::Tick, t + ms(1300)).is_empty());
}

#[test]
fn asked_by_names_the_starter_of_the_next_turn_only() {
    let mut c = RelayCore::new(CoreConfig { live_after: ms(0) });
    let t = t0();
    c.apply(
        Input::PromptSent {
            by: "@alice".into(),
        },
        t,
    );
    c.apply(started(), t);
    let fx = c.apply(Input::Tick, t);
    let [Effect::ShowLive(v)] = fx.as_slice() else {
        panic!()
    };
    assert_eq!(
        v.render(Lang::En),
        Output::Progress(cloudify_core::output::Progress {
            status: "⏳ Working… 0s (asked by @alice)".into(),
            ..Default::default()
        })
    );
    c.apply(done("a", None), t);
    c.apply(started(), t);
    let fx = c.apply(Input::Tick, t);
    let [Effect::ShowLive(v)] = fx.as_slice() else {
        panic!()
    };
    assert_eq!(
        v.status,
        LiveStatus::Working {
            elapsed: Duration::ZERO,
            by: None
        }
    );
}

#[test]
fn a_prompt_shows_the_live_message_first_and_is_voided_after_the_answer() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    let fx = c.apply(permission("per_1"), t + ms(100));
    assert_eq!(names(&fx), ["show-live", "show-prompt"]);
    assert_eq!(
        fx[1],
        Effect::ShowPrompt(PromptView::Permission {
            id: "per_1".into(),
            label: "bash: ls -la".into(),
            detail: Some("ls -la".into()),
        })
    );
    let fx = c.apply(done("", Some(TurnErrorKind::Aborted)), t + ms(200));
    assert_eq!(names(&fx), ["answer", "resolve-prompt", "close-live"]);
    let Effect::ResolvePrompt { outcome, .. } = &fx[1] else {
        panic!()
    };
    assert_eq!(
        outcome.render(Lang::En),
        Output::Prompt(cloudify_core::output::Prompt {
            text: "⌛ No longer needed: bash: ls -la".into(),
            detail: None,
            buttons: Vec::new(),
        })
    );
}

#[test]
fn the_first_press_names_the_outcome_and_a_failed_one_is_taken_back() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    c.apply(permission("per_1"), t);
    let press = |by: &str| Input::Answered {
        request_id: "per_1".into(),
        by: by.into(),
    };
    c.apply(press("@bob"), t);
    c.apply(
        Input::AnswerFailed {
            request_id: "per_1".into(),
        },
        t,
    );
    c.apply(press("@alice"), t);
    c.apply(press("@carol"), t);
    assert_eq!(c.answered_by("per_1"), Some("@alice"));
    let fx = c.apply(
        Input::Turn(TurnEvent::PermissionResolved {
            session_id: S.into(),
            request_id: "per_1".into(),
            reply: Some(PermissionReply::Always),
        }),
        t,
    );
    assert_eq!(
        fx,
        vec![Effect::ResolvePrompt {
            request_id: "per_1".into(),
            outcome: Outcome::Permission {
                label: "bash: ls -la".into(),
                reply: Some("always"),
                by: Some("@alice".into()),
            },
        }]
    );
    assert_eq!(c.answered_by("per_1"), None);
}

#[test]
fn a_resolved_prompt_listed_again_after_a_resync_is_not_shown_again() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    assert_eq!(
        names(&c.apply(permission("per_1"), t)),
        ["show-live", "show-prompt"]
    );
    assert!(c.apply(permission("per_1"), t).is_empty());
    c.apply(done("x", Some(TurnErrorKind::Aborted)), t);
    // A new turn of the same session: the server still lists the old request.
    c.apply(started(), t);
    assert!(c.apply(permission("per_1"), t).is_empty());
}

#[test]
fn cancel_turns_an_interrupted_end_into_stopped_and_only_for_that_turn() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    c.apply(Input::Cancelled, t);
    let fx = c.apply(done("", Some(TurnErrorKind::Interrupted)), t);
    assert_eq!(
        fx,
        vec![Effect::Answer(FinalAnswer {
            text: String::new(),
            end: TurnEnd::Aborted {
                duration: Duration::from_secs(2)
            }
        })]
    );
    c.apply(Input::Cancelled, t); // nothing ran: a later turn is not about it
    c.apply(started(), t);
    let fx = c.apply(done("", Some(TurnErrorKind::Interrupted)), t);
    assert_eq!(
        fx,
        vec![Effect::Answer(FinalAnswer {
            text: String::new(),
            end: TurnEnd::Interrupted
        })]
    );
    let Effect::Answer(a) = &fx[0] else { panic!() };
    assert!(matches!(a.render(Lang::En), Output::Error { .. }));
}

#[test]
fn reconnecting_and_retrying_replace_the_working_line() {
    let mut c = RelayCore::new(CoreConfig { live_after: ms(0) });
    let t = t0();
    c.apply(started(), t);
    c.apply(Input::Tick, t);
    let fx = c.apply(
        Input::Turn(TurnEvent::Disconnected {
            reason: "eof".into(),
        }),
        t,
    );
    assert!(matches!(&fx[..], [Effect::UpdateLive(v)] if v.status == LiveStatus::Reconnecting));
    let fx = c.apply(Input::Turn(TurnEvent::Connected), t + ms(5000));
    assert!(
        matches!(&fx[..], [Effect::UpdateLive(v)] if matches!(v.status, LiveStatus::Working { elapsed, .. } if elapsed == ms(5000)))
    );
    let fx = c.apply(
        Input::Turn(TurnEvent::Retrying {
            session_id: S.into(),
            attempt: 2,
            message: "overloaded".into(),
        }),
        t,
    );
    let [Effect::UpdateLive(v)] = fx.as_slice() else {
        panic!()
    };
    let Output::Progress(p) = v.render(Lang::En) else {
        panic!()
    };
    assert!(p.status.contains("retry 2: overloaded"), "{}", p.status);
}

#[test]
fn connection_events_without_a_turn_show_nothing() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    assert!(c.apply(Input::Turn(TurnEvent::Connected), t).is_empty());
    assert!(
        c.apply(
            Input::Turn(TurnEvent::Disconnected { reason: "x".into() }),
            t
        )
        .is_empty()
    );
    assert!(c.apply(Input::Tick, t).is_empty());
}

#[test]
fn tool_lines_keep_the_last_six_and_the_running_one() {
    let mut c = RelayCore::new(CoreConfig { live_after: ms(0) });
    let t = t0();
    c.apply(started(), t);
    for i in 0..8 {
        let status = if i == 3 {
            ToolStatus::Error
        } else {
            ToolStatus::Completed
        };
        c.apply(
            Input::Turn(TurnEvent::Tool(cloudify_opencode::ToolUpdate {
                session_id: S.into(),
                message_id: "m".into(),
                part_id: format!("p{i}"),
                call_id: format!("c{i}"),
                tool: "bash".into(),
                status,
                summary: format!("step {i}"),
                input: serde_json::Value::Null,
                output: None,
                error: None,
            })),
            t,
        );
    }
    let Input::Turn(TurnEvent::Progress(mut p)) = progress("") else {
        unreachable!()
    };
    p.tool = Some(cloudify_opencode::ToolActivity {
        tool: "read".into(),
        summary: "src/lib.rs".into(),
    });
    let fx = c.apply(Input::Turn(TurnEvent::Progress(p)), t);
    let [Effect::ShowLive(v)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        v.tools,
        [
            "✓ 🔧 bash: step 2",
            "✗ 🔧 bash: step 3",
            "✓ 🔧 bash: step 4",
            "✓ 🔧 bash: step 5",
            "✓ 🔧 bash: step 6",
            "✓ 🔧 bash: step 7",
            "▶ 🔧 read: src/lib.rs",
        ]
    );
}

#[test]
fn answers_render_by_outcome() {
    let end = TurnEnd::Done {
        duration: Duration::from_secs(65),
        tools: 3,
    };
    let empty = FinalAnswer {
        text: String::new(),
        end,
    };
    assert_eq!(
        empty.render(Lang::En),
        Output::notice("(no text in the answer)\n✅ Done · 1m 05s · 3 tool call(s)")
    );
    let failed = FinalAnswer {
        text: "partial".into(),
        end: TurnEnd::Failed {
            duration: Duration::from_secs(1),
            message: "rate limited".into(),
        },
    };
    let Output::Error { message, .. } = failed.render(Lang::En) else {
        panic!()
    };
    assert!(message.starts_with("partial\n\n❌"), "{message}");
    assert!(message.ends_with("rate limited"), "{message}");
}

#[test]
fn a_late_snapshot_of_an_ended_turn_starts_nothing_but_a_new_turn_does() {
    let mut c = RelayCore::new(CoreConfig::default());
    let t = t0();
    c.apply(started(), t);
    c.apply(done("a", None), t + ms(100));
    assert!(c.apply(progress("late"), t + ms(200)).is_empty());
    assert_eq!(c.running(), None);
    // The turn began before its session was watched (`/use`): its first snapshot starts it.
    let other = Input::Turn(TurnEvent::Progress(Progress {
        session_id: "ses_2".into(),
        text: String::new(),
        tool: None,
        todos: Vec::new(),
        retry: None,
        elapsed: Duration::ZERO,
    }));
    assert_eq!(
        c.apply(other, t + ms(300)),
        vec![Effect::WakeAt(t + ms(1300))]
    );
    assert_eq!(c.running(), Some("ses_2"));
}
