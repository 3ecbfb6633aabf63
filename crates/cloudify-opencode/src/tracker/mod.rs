//! Pure turn state machine: events (and REST snapshots) in, [`TurnEvent`]s out. No I/O, no
//! clock of its own (the caller passes `now`), so every trap of API.md §5/§7 is unit-tested.

mod lifecycle;
mod resync;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use lifecycle::{
    Source, apply_part, emit, finish, flush_progress, on_idle, resolve_question, start_turn,
    try_finish,
};

use crate::event::Event;
use crate::turn_event::{RetryInfo, ToolActivity, ToolStatus, TurnError, TurnEvent};
use crate::types::{
    ApiErrorInfo, MessageInfo, PermissionRequest, QuestionRequest, Role, SessionStatus, Todo,
};

/// Turn state of every session of one instance.
#[derive(Debug, Default)]
pub struct TurnTracker {
    sessions: HashMap<String, SessionTrack>,
}

#[derive(Debug, Default)]
struct SessionTrack {
    retry: Option<RetryInfo>,
    idle: bool,
    title: Option<String>,
    todos: Vec<Todo>,
    permissions: BTreeMap<String, PermissionRequest>,
    questions: BTreeMap<String, QuestionRequest>,
    user_messages: HashSet<String>,
    turn: Option<Turn>,
}

#[derive(Debug)]
struct Turn {
    started: Instant,
    /// Assistant messages of this turn by id (`msg_` ids sort chronologically).
    messages: BTreeMap<String, AssistantMessage>,
    error: Option<ApiErrorInfo>,
    idle_since: Option<Instant>,
    /// First `retry` since the last forward progress (a finished step or tool).
    stuck_since: Option<Instant>,
    timed_out_at: Option<Instant>,
    /// Message of the last `retry` status, reported if the turn ends empty-handed.
    last_retry: Option<String>,
    tools_run: usize,
    dirty: bool,
}

#[derive(Debug, Default)]
struct AssistantMessage {
    info: Option<MessageInfo>,
    /// Parts by id (`prt_` ids sort chronologically).
    parts: BTreeMap<String, PartRec>,
}

#[derive(Debug)]
enum PartRec {
    /// Text and whether its final snapshot (with `time.end`) arrived.
    Text(String, bool),
    Tool {
        tool: String,
        status: ToolStatus,
        summary: String,
    },
    Other,
}

impl Turn {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            messages: BTreeMap::new(),
            error: None,
            idle_since: None,
            stuck_since: None,
            timed_out_at: None,
            last_retry: None,
            tools_run: 0,
            dirty: true,
        }
    }

    /// Text of the newest assistant message that has any.
    fn text(&self) -> String {
        self.messages
            .values()
            .rev()
            .map(AssistantMessage::text)
            .find(|t| !t.is_empty())
            .unwrap_or_default()
    }

    fn running_tool(&self) -> Option<ToolActivity> {
        self.messages
            .values()
            .rev()
            .flat_map(|m| m.parts.values().rev())
            .find_map(|p| match p {
                PartRec::Tool {
                    tool,
                    status: ToolStatus::Running,
                    summary,
                } => Some(ToolActivity {
                    tool: tool.clone(),
                    summary: summary.clone(),
                }),
                _ => None,
            })
    }

    fn last_message(&self) -> Option<&AssistantMessage> {
        self.messages.values().next_back()
    }
}

impl AssistantMessage {
    fn text(&self) -> String {
        let texts: Vec<&str> = self
            .parts
            .values()
            .filter_map(|p| match p {
                PartRec::Text(t, _) if !t.trim().is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n\n")
    }
}

impl TurnTracker {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions with a running turn.
    #[must_use]
    pub fn active_sessions(&self) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.turn.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Whether `session_id` has a running turn.
    #[must_use]
    pub fn is_active(&self, session_id: &str) -> bool {
        self.sessions
            .get(session_id)
            .is_some_and(|s| s.turn.is_some())
    }

    /// Pending permission requests we know of.
    #[must_use]
    pub fn pending_permissions(&self) -> Vec<PermissionRequest> {
        self.sessions
            .values()
            .flat_map(|s| s.permissions.values().cloned())
            .collect()
    }

    /// Applies one server event.
    pub fn apply(&mut self, event: &Event, now: Instant) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        let Some(sid) = event.session_id().map(str::to_owned) else {
            return out;
        };
        let s = self.sessions.entry(sid.clone()).or_default();
        match event {
            Event::SessionCreated { session } | Event::SessionUpdated { session }
                if s.title.as_deref() != Some(session.title.as_str()) =>
            {
                s.title = Some(session.title.clone());
                out.push(TurnEvent::SessionUpdated {
                    session: session.clone(),
                });
            }
            Event::SessionDeleted { .. } => {
                self.sessions.remove(&sid);
            }
            Event::SessionStatus { status, .. } => match status {
                SessionStatus::Busy => {
                    s.idle = false;
                    start_turn(s, &sid, now, &mut out);
                }
                SessionStatus::Retry {
                    attempt, message, ..
                } => {
                    s.idle = false;
                    start_turn(s, &sid, now, &mut out);
                    let info = RetryInfo {
                        attempt: *attempt,
                        message: message.clone(),
                    };
                    if let Some(t) = s.turn.as_mut() {
                        t.stuck_since.get_or_insert(now);
                        t.last_retry = Some(message.clone());
                        t.dirty = true;
                        // The failed attempt's streamed text is dead: OpenCode leaves those
                        // parts empty and streams the retry into a new part.
                        for m in t.messages.values_mut() {
                            m.parts.retain(|_, p| !matches!(p, PartRec::Text(_, false)));
                        }
                    }
                    s.retry = Some(info);
                    emit(
                        s,
                        &sid,
                        now,
                        &mut out,
                        TurnEvent::Retrying {
                            session_id: sid.clone(),
                            attempt: *attempt,
                            message: message.clone(),
                        },
                    );
                }
                SessionStatus::Idle => on_idle(s, &sid, now, &mut out),
            },
            Event::SessionIdle { .. } => on_idle(s, &sid, now, &mut out),
            Event::SessionError { error, .. } => {
                if let Some(t) = s.turn.as_mut() {
                    t.error.get_or_insert_with(|| error.clone());
                }
            }
            Event::MessageUpdated { info } => {
                if info.role == Role::User {
                    s.user_messages.insert(info.id.clone());
                } else if let Some(t) = s.turn.as_mut() {
                    t.messages.entry(info.id.clone()).or_default().info = Some(info.clone());
                    t.dirty = true;
                    try_finish(s, &sid, now, &mut out);
                }
            }
            Event::MessageRemoved { message_id, .. } => {
                if let Some(t) = s.turn.as_mut() {
                    t.messages.remove(message_id);
                    t.dirty = true;
                }
            }
            Event::PartUpdated { part } => apply_part(s, &sid, part, Source::Event, now, &mut out),
            Event::PartDelta {
                message_id,
                part_id,
                field,
                delta,
                ..
            } => {
                if let Some(t) = s.turn.as_mut()
                    && field == "text"
                    && let Some(m) = t.messages.get_mut(message_id)
                {
                    match m
                        .parts
                        .entry(part_id.clone())
                        .or_insert_with(|| PartRec::Text(String::new(), false))
                    {
                        PartRec::Text(text, _) => {
                            text.push_str(delta);
                            t.dirty = true;
                        }
                        PartRec::Tool { .. } | PartRec::Other => {}
                    }
                }
            }
            Event::PartRemoved {
                message_id,
                part_id,
                ..
            } => {
                if let Some(m) = s.turn.as_mut().and_then(|t| t.messages.get_mut(message_id)) {
                    m.parts.remove(part_id);
                }
            }
            Event::PermissionAsked { request } => {
                let is_new = s
                    .permissions
                    .insert(request.id.clone(), request.clone())
                    .is_none();
                if is_new {
                    emit(
                        s,
                        &sid,
                        now,
                        &mut out,
                        TurnEvent::PermissionAsked {
                            request: request.clone(),
                        },
                    );
                }
            }
            Event::PermissionReplied {
                request_id, reply, ..
            } => {
                let was_pending = s.permissions.remove(request_id).is_some();
                if was_pending {
                    emit(
                        s,
                        &sid,
                        now,
                        &mut out,
                        TurnEvent::PermissionResolved {
                            session_id: sid.clone(),
                            request_id: request_id.clone(),
                            reply: Some(*reply),
                        },
                    );
                }
            }
            Event::QuestionAsked { request } => {
                let is_new = s
                    .questions
                    .insert(request.id.clone(), request.clone())
                    .is_none();
                if is_new {
                    emit(
                        s,
                        &sid,
                        now,
                        &mut out,
                        TurnEvent::QuestionAsked {
                            request: request.clone(),
                        },
                    );
                }
            }
            Event::QuestionReplied {
                request_id,
                answers,
                ..
            } => {
                resolve_question(s, &sid, request_id, Some(answers.clone()), now, &mut out);
            }
            Event::QuestionRejected { request_id, .. } => {
                resolve_question(s, &sid, request_id, Some(Vec::new()), now, &mut out);
            }
            Event::TodoUpdated { todos, .. } => {
                s.todos.clone_from(todos);
                if let Some(t) = s.turn.as_mut() {
                    t.dirty = true;
                }
            }
            _ => {}
        }
        out
    }

    /// Progress snapshots of every turn that changed since the last call.
    pub fn take_progress(&mut self, now: Instant) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        for (sid, s) in &mut self.sessions {
            flush_progress(s, sid, now, &mut out);
        }
        out
    }

    /// Whether the session's running turn already reported an error (aborted, API error):
    /// such a turn is over at idle even if its last message never turns final over REST.
    #[must_use]
    pub fn turn_failed(&self, session_id: &str) -> bool {
        self.sessions
            .get(session_id)
            .and_then(|s| s.turn.as_ref())
            .is_some_and(|t| t.error.is_some())
    }

    /// Sessions that went idle more than `grace` ago without a final assistant message:
    /// the caller re-reads their messages and calls [`TurnTracker::resync`].
    #[must_use]
    pub fn awaiting_final(&self, now: Instant, grace: Duration) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.turn
                    .as_ref()
                    .and_then(|t| t.idle_since)
                    .is_some_and(|i| now.duration_since(i) >= grace)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Sessions in `retry` for `timeout` without progress that we have not aborted yet.
    #[must_use]
    pub fn stuck(&self, now: Instant, timeout: Duration) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.retry.is_some()
                    && s.turn.as_ref().is_some_and(|t| {
                        t.timed_out_at.is_none()
                            && t.stuck_since
                                .is_some_and(|st| now.duration_since(st) >= timeout)
                    })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Sessions we aborted for a timeout more than `grace` ago that still have a turn.
    #[must_use]
    pub fn timed_out_unfinished(&self, now: Instant, grace: Duration) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.turn
                    .as_ref()
                    .and_then(|t| t.timed_out_at)
                    .is_some_and(|at| now.duration_since(at) >= grace)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Records that the caller aborted `session_id` for exceeding the turn timeout; its
    /// `Done` will carry [`TurnErrorKind::TimedOut`].
    pub fn mark_timed_out(&mut self, session_id: &str, now: Instant) {
        if let Some(t) = self
            .sessions
            .get_mut(session_id)
            .and_then(|s| s.turn.as_mut())
        {
            t.timed_out_at = Some(now);
        }
    }

    /// Ends a turn now with whatever is known (used when the server cannot tell us more).
    pub fn force_finish(
        &mut self,
        session_id: &str,
        now: Instant,
        error: Option<TurnError>,
    ) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        if let Some(s) = self.sessions.get_mut(session_id) {
            finish(s, session_id, now, error, &mut out);
        }
        out
    }
}
