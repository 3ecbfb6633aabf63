//! Drives an [`Outbox`] against one adapter on tokio time (pausable in tests).

use super::{Completion, Dispatch, LocalId, OpKind, Outbox, OutboxPolicy};
use crate::adapter::{Adapter, ChatRef, DeliveryError};
use crate::output::Envelope;
use async_trait::async_trait;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where undeliverable output goes (the router keeps it in the store per user).
#[async_trait]
pub trait Backlog: Send + Sync + 'static {
    async fn keep(&self, chat: &ChatRef, envelopes: Vec<Envelope>);
}

struct Shared {
    outbox: Mutex<Outbox>,
    adapter: Arc<dyn Adapter>,
    backlog: Arc<dyn Backlog>,
    wake: Notify,
    idle: Notify,
    epoch: Instant,
}

/// A cheap handle to queue output; the paired task (see [`OutboxHandle::spawn`]) delivers it.
#[derive(Clone)]
pub struct OutboxHandle(Arc<Shared>);

impl OutboxHandle {
    /// Starts the delivery task for `adapter` and returns the handle to feed it.
    pub fn spawn(adapter: Arc<dyn Adapter>, backlog: Arc<dyn Backlog>) -> Self {
        let policy = OutboxPolicy::from_limits(&adapter.limits());
        Self::spawn_with(adapter, backlog, policy)
    }

    pub fn spawn_with(
        adapter: Arc<dyn Adapter>,
        backlog: Arc<dyn Backlog>,
        policy: OutboxPolicy,
    ) -> Self {
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(policy)),
            adapter,
            backlog,
            wake: Notify::new(),
            idle: Notify::new(),
            epoch: Instant::now(),
        });
        tokio::spawn(drive(shared.clone()));
        Self(shared)
    }

    fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.0.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn send(&self, chat: ChatRef, env: Envelope) -> LocalId {
        let cost = self.0.adapter.cost(&env);
        let id = self.lock().send(chat, env, cost);
        self.0.wake.notify_one();
        id
    }

    pub fn edit(&self, chat: ChatRef, local: LocalId, env: Envelope) {
        if !self.0.adapter.limits().supports_edit {
            return;
        }
        self.lock().edit(chat, local, env);
        self.0.wake.notify_one();
    }

    pub fn delete(&self, chat: ChatRef, local: LocalId) {
        self.lock().delete(chat, local);
        self.0.wake.notify_one();
    }

    /// Waits until everything queued so far was delivered, kept or dropped.
    pub async fn flush(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.lock().is_idle() {
                return;
            }
            notified.await;
        }
    }
}

fn now_ms(s: &Shared) -> u64 {
    s.epoch.elapsed().as_millis() as u64
}

async fn drive(s: Arc<Shared>) {
    loop {
        // Hold the lock only to pick calls, never across an await.
        let (ready, wakeup, idle) = {
            let mut ob = s.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            let now = now_ms(&s);
            let mut ready = Vec::new();
            while let Some(d) = ob.next(now) {
                ready.push(d);
            }
            ob.forget_idle(now);
            (ready, ob.next_wakeup(), ob.is_idle())
        };
        if idle {
            s.idle.notify_waiters();
        }
        for d in ready {
            tokio::spawn(execute(s.clone(), d));
        }
        if Arc::strong_count(&s) == 1 {
            return; // every handle is gone and nothing is in flight
        }
        let notified = s.wake.notified();
        match wakeup {
            Some(at) => {
                let deadline = s.epoch + std::time::Duration::from_millis(at.max(now_ms(&s) + 1));
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => tokio::select! {
                () = notified => {}
                // Re-check now and then so a dropped handle ends the task.
                () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            },
        }
    }
}

async fn execute(s: Arc<Shared>, d: Dispatch) {
    let result: Result<Option<String>, DeliveryError> = match (d.kind, &d.env, &d.sent_id) {
        (OpKind::Send, Some(env), _) => s.adapter.send(&d.chat, env).await.map(Some),
        (OpKind::Edit, Some(env), Some(id)) => {
            s.adapter.edit(&d.chat, id, env).await.map(|()| None)
        }
        (OpKind::Delete, _, Some(id)) => s.adapter.delete(&d.chat, id).await.map(|()| None),
        _ => Ok(None),
    };
    let completion = {
        let mut ob = s.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        ob.complete(d.ticket, result, now_ms(&s))
    };
    match completion {
        Completion::Done | Completion::Retrying => {}
        Completion::Undeliverable(envs) => {
            tracing::warn!(chat = %d.chat.chat_id, platform = %d.chat.platform, kept = envs.len(),
                "recipient unreachable; output kept for the backlog");
            if !envs.is_empty() {
                s.backlog.keep(&d.chat, envs).await;
            }
        }
        Completion::Dropped(err) => {
            tracing::warn!(chat = %d.chat.chat_id, platform = %d.chat.platform, error = %err,
                "platform refused a message for good");
        }
    }
    s.wake.notify_one();
}
