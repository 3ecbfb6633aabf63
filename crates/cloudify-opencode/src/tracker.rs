//! Pure turn state machine: events (and REST snapshots) in, [`TurnEvent`]s out. No I/O, no
//! clock of its own (the caller passes `now`), so every trap of API.md §5/§7 is unit-tested.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::tool_summary::summarize;
use crate::turn_event::{
    Progress, RetryInfo, ToolActivity, ToolStatus, ToolUpdate, TurnError, TurnErrorKind, TurnEvent,
    TurnResult,
};
use crate::types::{
    ApiErrorInfo, MessageInfo, MessageWithParts, Part, PermissionRequest, QuestionRequest, Role,
    SessionStatus, Todo, ToolState,
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

    /// Applies a REST snapshot of one session after a reconnect or a missing final message.
    /// `status` is the session's entry of `GET /session/status` (`None` = idle), `messages`
    /// the newest messages of `GET /session/{id}/message` (chronological).
    pub fn resync(
        &mut self,
        session_id: &str,
        status: Option<&SessionStatus>,
        messages: &[MessageWithParts],
        now: Instant,
    ) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        let s = self.sessions.entry(session_id.to_owned()).or_default();
        let busy = matches!(
            status,
            Some(SessionStatus::Busy | SessionStatus::Retry { .. })
        );
        if busy {
            s.idle = false;
            start_turn(s, session_id, now, &mut out);
        }
        if s.turn.is_none() {
            return out;
        }
        // The turn's answer lives in the assistant messages after the newest user message.
        let tail_start = messages
            .iter()
            .rposition(|m| m.info.role == Role::User)
            .map_or(0, |i| i + 1);
        for m in &messages[tail_start..] {
            if let Some(t) = s.turn.as_mut() {
                t.messages.entry(m.info.id.clone()).or_default().info = Some(m.info.clone());
                t.dirty = true;
            }
            for p in &m.parts {
                apply_part(s, session_id, p, Source::Rest, now, &mut out);
            }
        }
        for m in messages.iter().filter(|m| m.info.role == Role::User) {
            s.user_messages.insert(m.info.id.clone());
        }
        if let Some(SessionStatus::Retry {
            attempt, message, ..
        }) = status
        {
            s.retry = Some(RetryInfo {
                attempt: *attempt,
                message: message.clone(),
            });
            if let Some(t) = s.turn.as_mut() {
                t.stuck_since.get_or_insert(now);
            }
        }
        if !busy {
            s.idle = true;
            let final_known = s.turn.as_ref().is_some_and(|t| {
                t.last_message()
                    .and_then(|m| m.info.as_ref())
                    .is_some_and(MessageInfo::is_final)
                    || t.error.is_some()
            });
            let err = (!final_known).then(|| TurnError {
                kind: TurnErrorKind::Interrupted,
                message: "the turn ended without a final answer (OpenCode restarted?)".into(),
            });
            finish(s, session_id, now, err, &mut out);
        }
        out
    }

    /// Reconciles pending permissions and questions with `GET /permission` / `GET /question`
    /// after a reconnect: new ones are announced, vanished ones resolved with `None`.
    pub fn resync_pending(
        &mut self,
        permissions: &[PermissionRequest],
        questions: &[QuestionRequest],
        now: Instant,
    ) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        let live_p: HashSet<&str> = permissions.iter().map(|p| p.id.as_str()).collect();
        let live_q: HashSet<&str> = questions.iter().map(|q| q.id.as_str()).collect();
        for (sid, s) in &mut self.sessions {
            let gone: Vec<String> = s
                .permissions
                .keys()
                .filter(|k| !live_p.contains(k.as_str()))
                .cloned()
                .collect();
            for id in gone {
                s.permissions.remove(&id);
                emit(
                    s,
                    sid,
                    now,
                    &mut out,
                    TurnEvent::PermissionResolved {
                        session_id: sid.clone(),
                        request_id: id,
                        reply: None,
                    },
                );
            }
            let gone: Vec<String> = s
                .questions
                .keys()
                .filter(|k| !live_q.contains(k.as_str()))
                .cloned()
                .collect();
            for id in gone {
                s.questions.remove(&id);
                emit(
                    s,
                    sid,
                    now,
                    &mut out,
                    TurnEvent::QuestionResolved {
                        session_id: sid.clone(),
                        request_id: id,
                        answers: None,
                    },
                );
            }
        }
        // Stale requests of sessions that are not working (aborted while pending) stay
        // listed by the server forever; only announce those of running turns.
        for p in permissions {
            if self.is_active(&p.session_id) {
                out.extend(self.apply(&Event::PermissionAsked { request: p.clone() }, now));
            }
        }
        for q in questions {
            if self.is_active(&q.session_id) {
                out.extend(self.apply(&Event::QuestionAsked { request: q.clone() }, now));
            }
        }
        out
    }
}

fn start_turn(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
    match s.turn.as_mut() {
        Some(t) => t.idle_since = None, // busy again: a queued prompt continues the loop
        None => {
            s.turn = Some(Turn::new(now));
            s.retry = None;
            out.push(TurnEvent::Started {
                session_id: sid.to_owned(),
            });
        }
    }
}

fn on_idle(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
    s.idle = true;
    s.retry = None;
    if let Some(t) = s.turn.as_mut() {
        t.idle_since.get_or_insert(now);
    }
    try_finish(s, sid, now, out);
}

/// Done only when idle AND the last assistant message is final (late parts follow idle).
fn try_finish(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
    let Some(t) = s.turn.as_ref() else { return };
    if t.idle_since.is_none() || !s.idle {
        return;
    }
    let ready = match t.last_message().and_then(|m| m.info.as_ref()) {
        // `finish: "tool-calls"` means the loop normally goes on with another message; it
        // only ends there after a bare reject. A stale duplicate idle of the previous turn
        // (they arrive up to ~1.5 s apart after an abort) can land right here, so let the
        // caller confirm with `GET /session/status` after the grace period instead.
        Some(info) => {
            info.is_final()
                && (info.error.is_some() || info.finish.as_deref() != Some("tool-calls"))
        }
        // No assistant message at all: an error before the LLM was called (unknown model).
        None => t.error.is_some() || t.timed_out_at.is_some(),
    };
    if ready {
        finish(s, sid, now, None, out);
    }
}

fn finish(
    s: &mut SessionTrack,
    sid: &str,
    now: Instant,
    error: Option<TurnError>,
    out: &mut Vec<TurnEvent>,
) {
    if s.turn.is_none() {
        return;
    }
    flush_progress(s, sid, now, out);
    // Requests of an ended turn are stale even though the server keeps listing them.
    for id in std::mem::take(&mut s.permissions).into_keys() {
        out.push(TurnEvent::PermissionResolved {
            session_id: sid.to_owned(),
            request_id: id,
            reply: None,
        });
    }
    for id in std::mem::take(&mut s.questions).into_keys() {
        out.push(TurnEvent::QuestionResolved {
            session_id: sid.to_owned(),
            request_id: id,
            answers: None,
        });
    }
    let Some(t) = s.turn.take() else { return };
    s.retry = None;
    let last = t.last_message();
    let msg_error = last
        .and_then(|m| m.info.as_ref())
        .and_then(|i| i.error.as_ref());
    let mut error = error.or_else(|| t.error.as_ref().or(msg_error).map(TurnError::from_api));
    let text = t.text();
    if error.is_none()
        && text.is_empty()
        && let Some(retry) = &t.last_retry
    {
        // Aborted during retry back-off: OpenCode sends no session.error then.
        error = Some(TurnError {
            kind: TurnErrorKind::Aborted,
            message: format!("stopped while retrying: {retry}"),
        });
    }
    if t.timed_out_at.is_some() {
        let why = error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        error = Some(TurnError {
            kind: TurnErrorKind::TimedOut,
            message: format!(
                "turn aborted after the turn timeout while OpenCode kept retrying: {why}"
            ),
        });
    }
    out.push(TurnEvent::Done(TurnResult {
        session_id: sid.to_owned(),
        text,
        message_id: t.messages.keys().next_back().cloned(),
        duration: now.duration_since(t.started),
        error,
        tools: t.tools_run,
    }));
}

fn flush_progress(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
    if let Some(t) = s.turn.as_mut().filter(|t| t.dirty) {
        t.dirty = false;
        out.push(TurnEvent::Progress(Progress {
            session_id: sid.to_owned(),
            text: t.text(),
            tool: t.running_tool(),
            todos: s.todos.clone(),
            retry: s.retry.clone(),
            elapsed: now.duration_since(t.started),
        }));
    }
}

/// Pushes a non-progress event after flushing the session's pending progress.
fn emit(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>, ev: TurnEvent) {
    flush_progress(s, sid, now, out);
    out.push(ev);
}

fn resolve_question(
    s: &mut SessionTrack,
    sid: &str,
    request_id: &str,
    answers: Option<Vec<Vec<String>>>,
    now: Instant,
    out: &mut Vec<TurnEvent>,
) {
    if s.questions.remove(request_id).is_some() {
        emit(
            s,
            sid,
            now,
            out,
            TurnEvent::QuestionResolved {
                session_id: sid.to_owned(),
                request_id: request_id.to_owned(),
                answers,
            },
        );
    }
}

/// Where a part snapshot comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `message.part.updated`: authoritative.
    Event,
    /// REST: an unfinished text part is stored empty until it ends, so it must not wipe
    /// text we already streamed.
    Rest,
}

fn apply_part(
    s: &mut SessionTrack,
    sid: &str,
    part: &Part,
    src: Source,
    now: Instant,
    out: &mut Vec<TurnEvent>,
) {
    let base = part.base();
    let Some(t) = s.turn.as_mut() else { return };
    // Parts of user messages (the prompt itself) are not part of the answer.
    let Some(m) = t.messages.get_mut(&base.message_id) else {
        return;
    };
    match part {
        Part::Text { text, end, .. } => {
            let streamed_more = matches!(m.parts.get(&base.id), Some(PartRec::Text(have, _)) if have.len() > text.len());
            if src == Source::Rest && end.is_none() && streamed_more {
                return;
            }
            m.parts
                .insert(base.id.clone(), PartRec::Text(text.clone(), end.is_some()));
            t.dirty = true;
        }
        Part::StepFinish { .. } => {
            m.parts.insert(base.id.clone(), PartRec::Other);
            t.stuck_since = None;
        }
        Part::Tool {
            call_id,
            tool,
            state,
            ..
        } => {
            let status = match state {
                ToolState::Pending { .. } => None,
                ToolState::Running { .. } => Some(ToolStatus::Running),
                ToolState::Completed { .. } => Some(ToolStatus::Completed),
                ToolState::Error { .. } => Some(ToolStatus::Error),
            };
            let summary = summarize(tool, state);
            let prev = m.parts.get(&base.id).and_then(|p| match p {
                PartRec::Tool { status, .. } => Some(*status),
                _ => None,
            });
            let Some(status) = status else {
                m.parts.entry(base.id.clone()).or_insert(PartRec::Other);
                return;
            };
            m.parts.insert(
                base.id.clone(),
                PartRec::Tool {
                    tool: tool.clone(),
                    status,
                    summary: summary.clone(),
                },
            );
            t.dirty = true;
            if prev == Some(status) {
                return;
            }
            if status != ToolStatus::Running {
                t.tools_run += 1;
                t.stuck_since = None;
            }
            let (output, error) = match state {
                ToolState::Completed { output, .. } => (Some(output.clone()), None),
                ToolState::Error { error, .. } => (None, Some(error.clone())),
                _ => (None, None),
            };
            let ev = TurnEvent::Tool(ToolUpdate {
                session_id: sid.to_owned(),
                message_id: base.message_id.clone(),
                part_id: base.id.clone(),
                call_id: call_id.clone(),
                tool: tool.clone(),
                status,
                summary,
                input: state.input().clone(),
                output,
                error,
            });
            emit(s, sid, now, out, ev);
        }
        _ => {
            m.parts.entry(base.id.clone()).or_insert(PartRec::Other);
        }
    }
}
