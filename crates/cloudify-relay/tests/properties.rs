//! Properties of the relay core over generated turns: prompts shown once, one end per turn,
//! nothing after it, and the quick-turn rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cloudify_opencode::{
    PermissionReply, PermissionRequest, Progress, ToolStatus, ToolUpdate, TurnEvent, TurnResult,
};
use cloudify_relay::core::{CoreConfig, Effect, Input, RelayCore};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const S: &str = "ses_p";

#[derive(Debug, Clone)]
enum Op {
    Ask(u8),
    Resolve(u8),
    Progress,
    Tool,
    Retry,
    Disconnect,
    Connect,
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4).prop_map(Op::Ask),
        (0u8..4).prop_map(Op::Resolve),
        Just(Op::Progress),
        Just(Op::Tool),
        Just(Op::Retry),
        Just(Op::Disconnect),
        Just(Op::Connect),
        (0u16..700).prop_map(Op::Wait),
    ]
}

fn pid(i: u8) -> String {
    format!("per_{i}")
}

fn input(op: &Op) -> Option<Input> {
    let ev = match op {
        Op::Ask(i) => TurnEvent::PermissionAsked {
            request: PermissionRequest {
                id: pid(*i),
                session_id: S.into(),
                permission: "bash".into(),
                patterns: vec![format!("echo {i}")],
                metadata: serde_json::Value::Null,
                always: Vec::new(),
                tool: None,
            },
        },
        Op::Resolve(i) => TurnEvent::PermissionResolved {
            session_id: S.into(),
            request_id: pid(*i),
            reply: Some(PermissionReply::Once),
        },
        Op::Progress => TurnEvent::Progress(Progress {
            session_id: S.into(),
            text: "so far".into(),
            tool: None,
            todos: Vec::new(),
            retry: None,
            elapsed: Duration::ZERO,
        }),
        Op::Tool => TurnEvent::Tool(ToolUpdate {
            session_id: S.into(),
            message_id: "m".into(),
            part_id: "p".into(),
            call_id: "c".into(),
            tool: "bash".into(),
            status: ToolStatus::Completed,
            summary: "ls".into(),
            input: serde_json::Value::Null,
            output: None,
            error: None,
        }),
        Op::Retry => TurnEvent::Retrying {
            session_id: S.into(),
            attempt: 1,
            message: "busy".into(),
        },
        Op::Disconnect => TurnEvent::Disconnected { reason: "x".into() },
        Op::Connect => TurnEvent::Connected,
        Op::Wait(_) => return None,
    };
    Some(Input::Turn(ev))
}

fn done() -> Input {
    Input::Turn(TurnEvent::Done(TurnResult {
        session_id: S.into(),
        text: "answer".into(),
        message_id: None,
        duration: Duration::from_secs(1),
        error: None,
        tools: 0,
    }))
}

/// Drives the core like the shell: wake-ups honoured when the clock passes them.
struct Driver {
    core: RelayCore,
    now: Instant,
    wake: Option<Instant>,
    /// (time, effect) per apply call.
    calls: Vec<(Instant, Vec<Effect>)>,
}

impl Driver {
    fn new() -> Self {
        Self {
            core: RelayCore::new(CoreConfig::default()),
            now: Instant::now(),
            wake: None,
            calls: Vec::new(),
        }
    }

    fn apply(&mut self, i: Input) {
        let fx = self.core.apply(i, self.now);
        for e in &fx {
            if let Effect::WakeAt(t) = e {
                self.wake = Some(self.wake.map_or(*t, |w| w.min(*t)));
            }
        }
        self.calls.push((self.now, fx));
    }

    fn wait(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(w) = self.wake.filter(|w| *w <= target) {
            self.wake = None;
            self.now = self.now.max(w);
            self.apply(Input::Tick);
        }
        self.now = target;
    }

    fn run(&mut self, ops: &[Op]) {
        for op in ops {
            match input(op) {
                Some(i) => self.apply(i),
                None => {
                    if let Op::Wait(ms) = op {
                        self.wait(Duration::from_millis(u64::from(*ms)));
                    }
                }
            }
        }
    }

    fn effects(&self) -> impl Iterator<Item = &Effect> {
        self.calls.iter().flat_map(|(_, fx)| fx)
    }
}

/// After a turn only its own prompts come again (a resync listing them); a prompt never
/// seen before is new work, not a repeat.
fn repeats_only(tail: Vec<Op>, during: &[Op]) -> Vec<Op> {
    tail.into_iter()
        .filter(|o| {
            !matches!(o, Op::Ask(i) if !during.iter().any(|x| matches!(x, Op::Ask(j) if j == i)))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// However prompt events interleave and repeat (a resync lists them again), each prompt
    /// is shown at most once, resolved at most once and only after it was shown, and none
    /// is left open when the turn ends.
    #[test]
    fn prompts_are_shown_once_and_closed_by_the_end(ops in prop::collection::vec(op(), 0..60), tail in prop::collection::vec(op(), 0..30)) {
        let mut d = Driver::new();
        d.apply(Input::Turn(TurnEvent::Started { session_id: S.into() }));
        d.run(&ops);
        d.apply(done());
        let tail = repeats_only(tail, &ops);
        d.run(&tail);
        let mut shown: HashMap<String, usize> = HashMap::new();
        let mut resolved: HashMap<String, usize> = HashMap::new();
        for e in d.effects() {
            match e {
                Effect::ShowPrompt(p) => {
                    *shown.entry(p.id().to_string()).or_default() += 1;
                }
                Effect::ResolvePrompt { request_id, .. } => {
                    prop_assert!(shown.contains_key(request_id), "resolved before shown");
                    *resolved.entry(request_id.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
        prop_assert!(shown.values().all(|n| *n == 1), "{shown:?}");
        prop_assert!(resolved.values().all(|n| *n == 1), "{resolved:?}");
        // Prompts shown during the turn are all closed by its end.
        prop_assert_eq!(shown.len(), resolved.len());
    }

    /// A started turn ends with exactly one answer, the summary edit (if any) comes after
    /// it, and events repeated after the end show nothing.
    #[test]
    fn one_end_per_turn_and_nothing_after_it(ops in prop::collection::vec(op(), 0..60), tail in prop::collection::vec(op(), 0..30)) {
        let mut d = Driver::new();
        d.apply(Input::Turn(TurnEvent::Started { session_id: S.into() }));
        // Only prompts asked during the turn repeat after it (a resync listing them again).
        let during: Vec<Op> = ops.clone();
        d.run(&during);
        d.apply(done());
        let end_call = d.calls.len() - 1;
        let tail = repeats_only(tail, &during);
        d.run(&tail);
        let answers = d.effects().filter(|e| matches!(e, Effect::Answer(_))).count();
        prop_assert_eq!(answers, 1);
        let end = &d.calls[end_call].1;
        prop_assert!(matches!(end.first(), Some(Effect::Answer(_))), "{end:?}");
        let lives = d.effects().filter(|e| matches!(e, Effect::ShowLive(_))).count();
        let closes = d.effects().filter(|e| matches!(e, Effect::CloseLive(_))).count();
        prop_assert_eq!(lives, closes);
        prop_assert!(lives <= 1);
        if lives == 1 {
            prop_assert!(matches!(end.last(), Some(Effect::CloseLive(_))));
        }
        for (_, fx) in &d.calls[end_call + 1..] {
            prop_assert!(fx.is_empty(), "after the end: {fx:?}");
        }
    }

    /// A turn over before the live message is due (and that asked nobody anything) is one
    /// message, the answer; a longer one shows its live message exactly when it is due.
    #[test]
    fn quick_turns_have_no_live_message(ops in prop::collection::vec(op().prop_filter("no prompts", |o| !matches!(o, Op::Ask(_))), 0..40)) {
        let mut d = Driver::new();
        let start = d.now;
        d.apply(Input::Turn(TurnEvent::Started { session_id: S.into() }));
        d.run(&ops);
        let lasted = d.now - start;
        d.apply(done());
        let shown_at: Vec<Instant> = d
            .calls
            .iter()
            .filter(|(_, fx)| fx.iter().any(|e| matches!(e, Effect::ShowLive(_))))
            .map(|(t, _)| *t)
            .collect();
        if lasted < CoreConfig::default().live_after {
            prop_assert!(shown_at.is_empty());
            let all: Vec<&Effect> = d.effects().filter(|e| !matches!(e, Effect::WakeAt(_))).collect();
            prop_assert_eq!(all.len(), 1);
        } else {
            prop_assert_eq!(shown_at, vec![start + CoreConfig::default().live_after]);
        }
    }
}
