//! The pure core: [`RelayCore::apply`] turns one [`Input`] (a watcher's turn event, a user's
//! action, or a wake-up) into [`Effect`]s. No I/O, no clock (time is passed in), no async.

mod prompt;
mod view;

pub use view::{FinalAnswer, LiveStatus, LiveView, Outcome, PromptView, TurnEnd};

use cloudify_core::output::TodoLine;
use cloudify_opencode::{Progress, Todo, ToolStatus, TurnErrorKind, TurnEvent, TurnResult};
use prompt::Prompts;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Finished tool lines kept in the live message.
const TOOL_LINES: usize = 6;

/// What the core reacts to.
// Inputs are passed once and never stored: boxing the big turn event would only add a hop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// What the instance's watcher reported (already filtered to the current session).
    Turn(TurnEvent),
    /// A chat user sent a prompt: the next turn was "asked by" them.
    PromptSent { by: String },
    /// A chat user pressed a prompt's button; the first press names the outcome.
    Answered { request_id: String, by: String },
    /// The answer a chat user gave could not be delivered: the name is taken back.
    AnswerFailed { request_id: String },
    /// `/cancel` aborted the running turn: however it ends, it was stopped, not lost.
    Cancelled,
    /// A wake-up asked for with [`Effect::WakeAt`].
    Tick,
}

/// What the shell does, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Post the live message of the running turn to every bound user.
    ShowLive(LiveView),
    /// Edit every copy of the live message.
    UpdateLive(LiveView),
    /// Shrink the live message to the summary line; the turn's live message is done.
    CloseLive(TurnEnd),
    /// Post the final answer as a new message.
    Answer(FinalAnswer),
    /// Post a prompt with buttons.
    ShowPrompt(PromptView),
    /// Replace every copy of a prompt with its outcome; the prompt is done.
    ResolvePrompt {
        request_id: String,
        outcome: Outcome,
    },
    /// Call [`RelayCore::apply`] with [`Input::Tick`] at this time (or soon after).
    WakeAt(Instant),
}

/// Settings of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreConfig {
    /// A turn that ends within this time after it started gets no live message at all: the
    /// answer is the only message. Longer turns show their live message at this point.
    pub live_after: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            live_after: Duration::from_secs(1),
        }
    }
}

/// One instance's turn as users see it.
#[derive(Debug, Default)]
pub struct RelayCore {
    config: CoreConfig,
    turn: Option<Turn>,
    prompts: Prompts,
    /// Handle of whoever sent the last prompt, for "asked by".
    starter: Option<String>,
    /// request id → handle of the user whose button press came first.
    answered_by: HashMap<String, String>,
    cancelled: bool,
    /// The session whose turn ended last: its stragglers start nothing.
    ended: Option<String>,
}

#[derive(Debug)]
struct Turn {
    session_id: String,
    started: Instant,
    by: Option<String>,
    /// Whether the live message was posted.
    shown: bool,
    tools: VecDeque<String>,
    last: Option<Progress>,
    reconnecting: bool,
    retry: Option<(u32, String)>,
}

impl Turn {
    fn view(&self, now: Instant) -> LiveView {
        let status = if let Some((attempt, message)) = &self.retry {
            LiveStatus::Retrying {
                attempt: *attempt,
                message: message.clone(),
            }
        } else if self.reconnecting {
            LiveStatus::Reconnecting
        } else {
            LiveStatus::Working {
                elapsed: now.saturating_duration_since(self.started),
                by: self.by.clone(),
            }
        };
        let p = self.last.as_ref();
        let mut tools: Vec<String> = self.tools.iter().cloned().collect();
        if let Some(t) = p.and_then(|p| p.tool.as_ref()) {
            tools.push(format!("▶ 🔧 {}: {}", t.tool, t.summary));
        }
        LiveView {
            status,
            answer: p.map(|p| p.text.clone()).unwrap_or_default(),
            tools,
            todos: p
                .map(|p| p.todos.iter().map(todo_line).collect())
                .unwrap_or_default(),
        }
    }

    fn push_tool(&mut self, line: String) {
        if self.tools.len() == TOOL_LINES {
            self.tools.pop_front();
        }
        self.tools.push_back(line);
    }
}

impl RelayCore {
    #[must_use]
    pub fn new(config: CoreConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Who pressed a prompt's button first, if anyone did.
    #[must_use]
    pub fn answered_by(&self, request_id: &str) -> Option<&str> {
        self.answered_by.get(request_id).map(String::as_str)
    }

    /// The session of the running turn.
    #[must_use]
    pub fn running(&self) -> Option<&str> {
        self.turn.as_ref().map(|t| t.session_id.as_str())
    }

    /// The heart of the relay: one input in, what to show out.
    pub fn apply(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::PromptSent { by } => self.starter = Some(by),
            Input::Answered { request_id, by } => {
                self.answered_by.entry(request_id).or_insert(by);
            }
            Input::AnswerFailed { request_id } => {
                self.answered_by.remove(&request_id);
            }
            Input::Cancelled => self.cancelled = true,
            Input::Tick => self.show_when_due(now, true, &mut out),
            Input::Turn(ev) => self.turn_event(ev, now, &mut out),
        }
        out
    }

    fn turn_event(&mut self, ev: TurnEvent, now: Instant, out: &mut Vec<Effect>) {
        match ev {
            TurnEvent::Started { session_id } => {
                if self.running() != Some(session_id.as_str()) {
                    self.start(session_id, now, out);
                }
            }
            TurnEvent::Progress(p) => {
                if self.ended.as_deref() == Some(p.session_id.as_str()) {
                    return; // a late snapshot of a turn that is over
                }
                if self.turn.is_none() {
                    // The turn began before we watched its session (`/use`, a restart).
                    self.start(p.session_id.clone(), now, out);
                }
                if let Some(t) = self.turn.as_mut() {
                    t.retry = p.retry.as_ref().map(|r| (r.attempt, r.message.clone()));
                    t.reconnecting = false;
                    t.last = Some(p);
                }
                self.refresh(now, out);
            }
            TurnEvent::Tool(t) => {
                if let Some(turn) = self.turn.as_mut() {
                    match t.status {
                        ToolStatus::Completed => {
                            turn.push_tool(format!("✓ 🔧 {}: {}", t.tool, t.summary));
                        }
                        ToolStatus::Error => {
                            turn.push_tool(format!("✗ 🔧 {}: {}", t.tool, t.summary));
                        }
                        ToolStatus::Running => {}
                    }
                }
            }
            TurnEvent::Retrying {
                attempt, message, ..
            } => {
                if let Some(t) = self.turn.as_mut() {
                    t.retry = Some((attempt, message));
                    self.refresh(now, out);
                }
            }
            TurnEvent::Disconnected { .. } => {
                if let Some(t) = self.turn.as_mut() {
                    t.reconnecting = true;
                    self.refresh(now, out);
                }
            }
            TurnEvent::Connected => {
                if let Some(t) = self.turn.as_mut() {
                    t.reconnecting = false;
                    self.refresh(now, out);
                }
            }
            TurnEvent::PermissionAsked { request } => {
                if let Some(view) = self.prompts.ask_permission(&request) {
                    self.show_live_now(now, out);
                    out.push(Effect::ShowPrompt(view));
                }
            }
            TurnEvent::QuestionAsked { request } => {
                if let Some(view) = self.prompts.ask_question(&request) {
                    self.show_live_now(now, out);
                    out.push(Effect::ShowPrompt(view));
                }
            }
            TurnEvent::PermissionResolved {
                request_id, reply, ..
            } => {
                let by = self.answered_by.remove(&request_id);
                if let Some(e) = self.prompts.resolve_permission(request_id, reply, by) {
                    out.push(e);
                }
            }
            TurnEvent::QuestionResolved {
                request_id,
                answers,
                ..
            } => {
                let by = self.answered_by.remove(&request_id);
                let answer =
                    answers.map(|a| a.into_iter().flatten().collect::<Vec<_>>().join(", "));
                if let Some(e) = self.prompts.resolve_question(request_id, answer, by) {
                    out.push(e);
                }
            }
            TurnEvent::SessionUpdated { .. } => {}
            TurnEvent::Done(r) => self.finish(&r, out),
        }
    }

    fn start(&mut self, session_id: String, now: Instant, out: &mut Vec<Effect>) {
        self.cancelled = false; // a new turn: an earlier /cancel is not about it
        self.ended = None;
        self.turn = Some(Turn {
            session_id,
            started: now,
            by: self.starter.take(),
            shown: false,
            tools: VecDeque::new(),
            last: None,
            reconnecting: false,
            retry: None,
        });
        out.push(Effect::WakeAt(now + self.config.live_after));
    }

    /// Posts the live message if it is due (a quick turn never gets one); `rearm`: a wake-up
    /// that came early asks for the next one.
    fn show_when_due(&mut self, now: Instant, rearm: bool, out: &mut Vec<Effect>) {
        let live_after = self.config.live_after;
        if let Some(t) = self.turn.as_mut().filter(|t| !t.shown) {
            let due = t.started + live_after;
            if now >= due {
                t.shown = true;
                out.push(Effect::ShowLive(t.view(now)));
            } else if rearm {
                out.push(Effect::WakeAt(due));
            }
        }
    }

    /// Posts the live message at once (the turn waits for a person: it is not quick).
    fn show_live_now(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if let Some(t) = self.turn.as_mut().filter(|t| !t.shown) {
            t.shown = true;
            out.push(Effect::ShowLive(t.view(now)));
        }
    }

    /// Edits the live message, or posts it when it is due and not shown yet.
    fn refresh(&mut self, now: Instant, out: &mut Vec<Effect>) {
        match self.turn.as_ref() {
            Some(t) if t.shown => out.push(Effect::UpdateLive(t.view(now))),
            Some(_) => self.show_when_due(now, false, out),
            None => {}
        }
    }

    fn finish(&mut self, r: &TurnResult, out: &mut Vec<Effect>) {
        let turn = self.turn.take();
        self.ended = Some(r.session_id.clone());
        let cancelled = std::mem::take(&mut self.cancelled);
        let end = turn_end(r, cancelled);
        // The answer first: it is what the user waits for; status edits can follow.
        out.push(Effect::Answer(FinalAnswer {
            text: r.text.trim().to_string(),
            end: end.clone(),
        }));
        // Prompts of this turn still open are void now.
        out.extend(self.prompts.void_all());
        if turn.is_some_and(|t| t.shown) {
            out.push(Effect::CloseLive(end));
        }
    }
}

/// How the turn ended. Under load an aborted turn's last message may never turn final, so
/// the watcher reports it as interrupted; we know better when `/cancel` stopped it.
fn turn_end(r: &TurnResult, cancelled: bool) -> TurnEnd {
    let duration = r.duration;
    match r.error.as_ref().map(|e| (&e.kind, &e.message)) {
        None => TurnEnd::Done {
            duration,
            tools: r.tools,
        },
        Some((TurnErrorKind::Interrupted, _)) if cancelled => TurnEnd::Aborted { duration },
        Some((TurnErrorKind::Aborted, _)) => TurnEnd::Aborted { duration },
        Some((TurnErrorKind::TimedOut, _)) => TurnEnd::TimedOut { duration },
        Some((TurnErrorKind::Interrupted, _)) => TurnEnd::Interrupted,
        Some((_, message)) => TurnEnd::Failed {
            duration,
            message: message.clone(),
        },
    }
}

fn todo_line(t: &Todo) -> TodoLine {
    TodoLine {
        done: t.status == "completed",
        active: t.status == "in_progress",
        text: t.content.clone(),
    }
}

#[cfg(test)]
mod tests;
