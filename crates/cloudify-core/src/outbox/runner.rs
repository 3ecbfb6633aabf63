//! Drives an [`Outbox`] against one adapter on tokio time (pausable in tests).

use super::{Completion, Dispatch, LocalId, OpKind, Outbox, OutboxPolicy};
use crate::adapter::{Adapter, ChatRef, DeliveryError};
use crate::output::Envelope;
use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// Where undeliverable output goes (the router keeps it in the store per user).
#[async_trait]
pub trait Backlog: Send + Sync + 'static {
    async fn keep(&self, chat: &ChatRef, envelopes: Vec<Envelope>);
}

struct Shared {
    outbox: Mutex<Outbox>,
    adapter: Arc<dyn Adapter>,
    /// Undeliverable output, queued in the order the outbox gave it up so one writer keeps
    /// it in that order (two failures of one chat can complete while the first is written).
    keep: mpsc::UnboundedSender<(ChatRef, Vec<Envelope>)>,
    /// Batches sent to the writer and not kept yet: `flush` waits for them too.
    keeping: AtomicUsize,
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
        let (keep, to_keep) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(policy)),
            adapter,
            keep,
            keeping: AtomicUsize::new(0),
            wake: Notify::new(),
            idle: Notify::new(),
            epoch: Instant::now(),
        });
        tokio::spawn(drive(shared.clone()));
        tokio::spawn(keep_in_order(Arc::downgrade(&shared), backlog, to_keep));
        Self(shared)
    }

    /// Applies `change` and starts at once whatever the budgets allow now: going through the
    /// drive task would add a task hop to every call (the hot path's latency). The drive task
    /// is still woken for what has to wait.
    fn queue<R>(&self, change: impl FnOnce(&mut Outbox) -> R) -> R {
        let (result, ready) = {
            let mut ob = self.0.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            let result = change(&mut ob);
            (result, take_ready(&mut ob, now_ms(&self.0)))
        };
        for d in ready {
            tokio::spawn(execute(self.0.clone(), d));
        }
        self.0.wake.notify_one();
        result
    }

    pub fn send(&self, chat: ChatRef, env: Envelope) -> LocalId {
        let cost = self.0.adapter.cost(&env);
        self.queue(|ob| ob.send(chat, env, cost))
    }

    pub fn edit(&self, chat: ChatRef, local: LocalId, env: Envelope) {
        if !self.0.adapter.limits().supports_edit {
            return;
        }
        self.queue(|ob| ob.edit(chat, local, env));
    }

    pub fn delete(&self, chat: ChatRef, local: LocalId) {
        self.queue(|ob| ob.delete(chat, local));
    }

    /// Waits until everything queued so far was delivered, kept or dropped.
    pub async fn flush(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.0.is_idle() {
                return;
            }
            notified.await;
        }
    }
}

impl Shared {
    fn is_idle(&self) -> bool {
        self.keeping.load(Ordering::SeqCst) == 0
            && self
                .outbox
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_idle()
    }
}

/// The one writer of the backlog: batches are kept in the order they were given up.
async fn keep_in_order(
    s: std::sync::Weak<Shared>,
    backlog: Arc<dyn Backlog>,
    mut to_keep: mpsc::UnboundedReceiver<(ChatRef, Vec<Envelope>)>,
) {
    while let Some((chat, envs)) = to_keep.recv().await {
        backlog.keep(&chat, envs).await;
        let Some(s) = s.upgrade() else { continue };
        if s.keeping.fetch_sub(1, Ordering::SeqCst) == 1 && s.is_idle() {
            s.idle.notify_waiters();
        }
    }
}

fn now_ms(s: &Shared) -> u64 {
    s.epoch.elapsed().as_millis() as u64
}

/// The calls the budgets allow at `now`.
fn take_ready(ob: &mut Outbox, now: u64) -> Vec<Dispatch> {
    std::iter::from_fn(|| ob.next(now)).collect()
}

async fn drive(s: Arc<Shared>) {
    loop {
        // Hold the lock only to pick calls, never across an await.
        let (ready, wakeup, idle) = {
            let mut ob = s.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            let now = now_ms(&s);
            let ready = take_ready(&mut ob, now);
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
    let mut ob = s.outbox.lock().unwrap_or_else(PoisonError::into_inner);
    match ob.complete(d.ticket, result, now_ms(&s)) {
        Completion::Done | Completion::Retrying => {}
        Completion::Undeliverable(envs) => {
            tracing::warn!(chat = %d.chat.chat_id, platform = %d.chat.platform, kept = envs.len(),
                "recipient unreachable; output kept for the backlog");
            // Queued while the outbox is still locked: the chat's next failure cannot
            // overtake this batch on its way to the store.
            if !envs.is_empty() {
                s.keeping.fetch_add(1, Ordering::SeqCst);
                if s.keep.send((d.chat, envs)).is_err() {
                    s.keeping.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        Completion::Dropped(err) => {
            tracing::warn!(chat = %d.chat.chat_id, platform = %d.chat.platform, error = %err,
                "platform refused a message for good");
        }
    }
    drop(ob);
    s.wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{AdapterError, IncomingSink, PlatformLimits, SentId};
    use crate::identity::Platform;
    use crate::output::Output;
    use std::time::Duration;

    /// Every chat is out of reach.
    struct Blocked;

    #[async_trait]
    impl Adapter for Blocked {
        fn platform(&self) -> Platform {
            Platform::Telegram
        }
        fn limits(&self) -> PlatformLimits {
            PlatformLimits::unpaced()
        }
        async fn run(&self, _: IncomingSink) -> Result<(), AdapterError> {
            Ok(())
        }
        async fn send(&self, _: &ChatRef, _: &Envelope) -> Result<SentId, DeliveryError> {
            Err(DeliveryError::Unreachable("blocked".into()))
        }
        async fn edit(&self, _: &ChatRef, _: &SentId, _: &Envelope) -> Result<(), DeliveryError> {
            Ok(())
        }
        async fn delete(&self, _: &ChatRef, _: &SentId) -> Result<(), DeliveryError> {
            Ok(())
        }
    }

    /// Records what it keeps; the first write is slow, like a store waiting for its lock.
    #[derive(Default)]
    struct SlowFirst(Mutex<Vec<String>>);

    #[async_trait]
    impl Backlog for SlowFirst {
        async fn keep(&self, _: &ChatRef, envelopes: Vec<Envelope>) {
            let first = self
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty();
            if first {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            for env in envelopes {
                if let Output::Text { text } = env.body {
                    kept.push(text);
                }
            }
        }
    }

    #[tokio::test]
    async fn a_slow_backlog_write_is_not_overtaken_and_flush_waits_for_it() {
        let kept = Arc::new(SlowFirst::default());
        let outbox = OutboxHandle::spawn(Arc::new(Blocked), kept.clone());
        let bob = ChatRef {
            platform: Platform::Telegram,
            chat_id: "bob".into(),
            is_group: false,
        };
        let text = |t: &str| Envelope::bare(Output::Text { text: t.into() });
        outbox.send(bob.clone(), text("first"));
        // The first batch fails and is being written (slowly) when the second fails.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.send(bob.clone(), text("second"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.send(bob.clone(), text("third"));
        outbox.flush().await;
        assert_eq!(
            *kept.0.lock().unwrap_or_else(PoisonError::into_inner),
            ["first", "second", "third"]
        );
    }
}
