//! Turn lifecycle: start, idle, finish, progress flushing and part application.

use std::time::Instant;

use super::{PartRec, SessionTrack, Turn};
use crate::tool_summary::summarize;
use crate::turn_event::{
    Progress, ToolStatus, ToolUpdate, TurnError, TurnErrorKind, TurnEvent, TurnResult,
};
use crate::types::{Part, ToolState};

pub(super) fn start_turn(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
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

pub(super) fn on_idle(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
    s.idle = true;
    s.retry = None;
    if let Some(t) = s.turn.as_mut() {
        t.idle_since.get_or_insert(now);
    }
    try_finish(s, sid, now, out);
}

/// Done only when idle AND the last assistant message is final (late parts follow idle).
pub(super) fn try_finish(s: &mut SessionTrack, sid: &str, now: Instant, out: &mut Vec<TurnEvent>) {
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

pub(super) fn finish(
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

pub(super) fn flush_progress(
    s: &mut SessionTrack,
    sid: &str,
    now: Instant,
    out: &mut Vec<TurnEvent>,
) {
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
pub(super) fn emit(
    s: &mut SessionTrack,
    sid: &str,
    now: Instant,
    out: &mut Vec<TurnEvent>,
    ev: TurnEvent,
) {
    flush_progress(s, sid, now, out);
    out.push(ev);
}

pub(super) fn resolve_question(
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
pub(super) enum Source {
    /// `message.part.updated`: authoritative.
    Event,
    /// REST: an unfinished text part is stored empty until it ends, so it must not wipe
    /// text we already streamed.
    Rest,
}

pub(super) fn apply_part(
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
