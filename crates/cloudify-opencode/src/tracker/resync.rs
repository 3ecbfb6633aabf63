//! Applying REST snapshots: after a reconnect and when a final message is late.

use std::collections::HashSet;
use std::time::Instant;

use super::lifecycle::{Source, apply_part, emit, finish, start_turn};
use super::{RetryInfo, TurnTracker};
use crate::event::Event;
use crate::turn_event::{TurnError, TurnErrorKind, TurnEvent};
use crate::types::{
    MessageInfo, MessageWithParts, PermissionRequest, QuestionRequest, Role, SessionStatus,
};

impl TurnTracker {
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
