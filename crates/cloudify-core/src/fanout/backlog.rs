//! Keeps output the outbox could not deliver, per user and instance, in the store.

use crate::adapter::ChatRef;
use crate::outbox::runner::Backlog;
use crate::output::Envelope;
use crate::store::SharedStore;
use async_trait::async_trait;

pub struct StoreBacklog {
    pub store: SharedStore,
    pub cap: u32,
}

#[async_trait]
impl Backlog for StoreBacklog {
    async fn keep(&self, chat: &ChatRef, envelopes: Vec<Envelope>) {
        let Some(user) = chat.private_user() else {
            tracing::warn!(chat = %chat.chat_id, lost = envelopes.len(), "group chat unreachable; output not kept");
            return;
        };
        let cap = self.cap;
        let result = self
            .store
            .call(move |s| {
                let fallback = s.user(&user)?.and_then(|u| u.active_instance);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let mut kept = 0;
                for env in &envelopes {
                    let Some(instance) = env.instance_id.or(fallback) else {
                        continue;
                    };
                    if s.binding(&user, instance)?.is_none() {
                        continue; // no longer bound: the output is not theirs to read
                    }
                    let json = serde_json::to_string(&env).unwrap_or_default();
                    s.push_offline(&user, instance, &json, cap, now)?;
                    kept += 1;
                }
                Ok(kept)
            })
            .await;
        match result {
            Ok(kept) => {
                tracing::info!(chat = %chat.chat_id, kept, "output kept for the offline backlog");
            }
            Err(e) => tracing::error!(error = %e, "could not keep undeliverable output"),
        }
    }
}
