//! Fan-out: who receives what. Output about an instance goes to every user bound to it, each
//! in their language, framed with the `[instance]` header (users bound to several instances)
//! and the `📡 Online:` footer; replies go to the chat they answer; what users missed while
//! unreachable is replayed when they are back. The outboxes of every platform live here.
//!
//! Knows the store and the outboxes, never the router, the commands or OpenCode: the router
//! (intake) and the relay both depend on it, so it is built first.

mod backlog;
mod presence;

pub use backlog::StoreBacklog;
pub use presence::online_handles;

use crate::adapter::ChatRef;
use crate::clock::Clock;
use crate::config::Config;
use crate::i18n::{self, Lang};
use crate::identity::{Platform, UserKey};
use crate::outbox::LocalId;
use crate::outbox::runner::OutboxHandle;
use crate::output::{Envelope, Output};
use crate::redact::redact_output;
use crate::store::{SharedStore, StoreError, User};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use uuid::Uuid;

/// A message delivered to one recipient, for later edits (the relay's live message).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub user: UserKey,
    pub chat: ChatRef,
    pub local: LocalId,
    pub lang: Lang,
}

pub struct Fanout {
    store: SharedStore,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    outboxes: RwLock<HashMap<Platform, OutboxHandle>>,
}

impl Fanout {
    pub fn new(store: SharedStore, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            config,
            clock,
            outboxes: RwLock::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Registers the outbox of a platform's adapter.
    pub fn attach(&self, platform: Platform, outbox: OutboxHandle) {
        self.outboxes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(platform, outbox);
    }

    pub fn outbox(&self, platform: Platform) -> Option<OutboxHandle> {
        self.outboxes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&platform)
            .cloned()
    }

    /// The language to answer a user in.
    pub fn lang_of(&self, user: &User) -> Lang {
        Lang::resolve(
            user.language.as_deref(),
            self.config.language,
            user.client_language.as_deref(),
            user.key.platform,
        )
    }

    fn presence_window(&self) -> i64 {
        i64::from(self.config.presence_minutes) * 60
    }

    /// Sends a reply to the chat a message came from.
    pub fn reply(&self, chat: &ChatRef, body: Output) -> Option<LocalId> {
        let outbox = self.outbox(chat.platform)?;
        Some(outbox.send(chat.clone(), Envelope::bare(redact_output(body))))
    }

    /// Sends to one user's private chat, framed for that user (header, footer).
    pub async fn send_to_user(
        &self,
        user: &User,
        instance_id: Option<Uuid>,
        body: Output,
    ) -> Result<Option<Delivered>, StoreError> {
        let lang = self.lang_of(user);
        let env = match instance_id {
            Some(id) => self.frame(user, id, body, lang).await?,
            None => Envelope::bare(redact_output(body)),
        };
        let chat = ChatRef::private(&user.key);
        Ok(self.outbox(user.key.platform).map(|o| Delivered {
            user: user.key.clone(),
            local: o.send(chat.clone(), env),
            chat,
            lang,
        }))
    }

    /// Sends output about an instance to every user bound to it, each in their language.
    /// `except` skips one user (e.g. the one a reply already went to).
    pub async fn broadcast(
        &self,
        instance_id: Uuid,
        except: Option<&UserKey>,
        body: impl Fn(Lang) -> Output,
    ) -> Result<Vec<Delivered>, StoreError> {
        // One store round trip for the whole fan-out (members and everyone's framing): this
        // is the hot path from an OpenCode event to the IM call.
        let window = self.presence_window();
        let now = self.clock.now_secs();
        let (members, frame) = self
            .store
            .read(move |s| {
                let mut members = Vec::new();
                for (_, user) in s.members(instance_id)? {
                    let several = Frame::several(s, &user.key)?;
                    members.push((user, several));
                }
                Ok((members, Frame::load(s, instance_id, now, window)?))
            })
            .await?;
        let mut out = Vec::with_capacity(members.len());
        for (user, several) in members {
            if Some(&user.key) == except {
                continue;
            }
            let lang = self.lang_of(&user);
            let env = frame.envelope(instance_id, several, body(lang), lang);
            let chat = ChatRef::private(&user.key);
            if let Some(o) = self.outbox(user.key.platform) {
                out.push(Delivered {
                    local: o.send(chat.clone(), env),
                    user: user.key,
                    chat,
                    lang,
                });
            }
        }
        Ok(out)
    }

    /// Replaces a delivered message (live progress), keeping its framing.
    pub async fn edit(
        &self,
        d: &Delivered,
        instance_id: Uuid,
        body: Output,
    ) -> Result<(), StoreError> {
        let key = d.user.clone();
        let window = self.presence_window();
        let now = self.clock.now_secs();
        // One store round trip: the user still exists (not removed meanwhile) and the framing.
        let framing = self
            .store
            .read(move |s| {
                if s.user(&key)?.is_none() {
                    return Ok(None);
                }
                let frame = Frame::load(s, instance_id, now, window)?;
                Ok(Some((frame, Frame::several(s, &key)?)))
            })
            .await?;
        let Some((frame, several)) = framing else {
            return Ok(());
        };
        let env = frame.envelope(instance_id, several, body, d.lang);
        if let Some(o) = self.outbox(d.chat.platform) {
            o.edit(d.chat.clone(), d.local, env);
        }
        Ok(())
    }

    pub fn delete(&self, d: &Delivered) {
        if let Some(o) = self.outbox(d.chat.platform) {
            o.delete(d.chat.clone(), d.local);
        }
    }

    /// Adds the `[instance]` header (when the user has several) and the online footer.
    async fn frame(
        &self,
        user: &User,
        instance_id: Uuid,
        body: Output,
        lang: Lang,
    ) -> Result<Envelope, StoreError> {
        let key = user.key.clone();
        let window = self.presence_window();
        let now = self.clock.now_secs();
        let (frame, several) = self
            .store
            .read(move |s| {
                let frame = Frame::load(s, instance_id, now, window)?;
                Ok((frame, Frame::several(s, &key)?))
            })
            .await?;
        Ok(frame.envelope(instance_id, several, body, lang))
    }

    /// Sends "you missed N messages" and then the kept output, once the user is back.
    pub async fn replay_backlog(&self, user: &User) -> Result<(), StoreError> {
        let key = user.key.clone();
        let missed = self
            .store
            .call(move |s| {
                if s.has_offline(&key)? {
                    s.offline_for(&key)
                } else {
                    Ok(Vec::new())
                }
            })
            .await?;
        let Some(outbox) = self.outbox(user.key.platform) else {
            return Ok(());
        };
        let lang = self.lang_of(user);
        let chat = ChatRef::private(&user.key);
        for m in missed {
            let id = m.instance_id;
            let name = self
                .store
                .call(move |s| s.instance(id))
                .await?
                .map(|i| i.name)
                .unwrap_or_default();
            let mut summary = i18n::missed(lang, m.total(), &name);
            if m.dropped > 0 {
                summary = format!("{summary}\n{}", i18n::missed_dropped(lang, m.dropped));
            }
            outbox.send(chat.clone(), Envelope::about(id, Output::notice(summary)));
            let mut last = 0;
            for (entry_id, payload) in &m.entries {
                last = *entry_id;
                match serde_json::from_str::<Envelope>(payload) {
                    Ok(env) => {
                        outbox.send(chat.clone(), env);
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable backlog entry skipped"),
                }
            }
            let key = user.key.clone();
            self.store
                .call(move |s| s.ack_offline(&key, id, last))
                .await?;
        }
        Ok(())
    }
}

/// What frames output about an instance: its name (the header, for users bound to several
/// instances) and who is online (the footer).
struct Frame {
    name: Option<String>,
    online: Vec<String>,
}

impl Frame {
    fn load(
        s: &crate::store::Store,
        instance_id: Uuid,
        now: i64,
        window: i64,
    ) -> Result<Frame, StoreError> {
        Ok(Frame {
            name: s.instance(instance_id)?.map(|i| i.name),
            online: online_handles(s, instance_id, now, window)?,
        })
    }

    /// Whether the user is bound to several instances: their output then names the instance.
    fn several(s: &crate::store::Store, key: &UserKey) -> Result<bool, StoreError> {
        Ok(s.bindings_of_user(key)?.len() > 1)
    }

    fn envelope(&self, instance_id: Uuid, several: bool, body: Output, lang: Lang) -> Envelope {
        let footer = (!self.online.is_empty() && !body.is_ephemeral())
            .then(|| i18n::online_footer(lang, &self.online));
        Envelope {
            instance_id: Some(instance_id),
            header: several.then(|| format!("[{}]", self.name.clone().unwrap_or_default())),
            body: redact_output(body),
            footer,
        }
    }
}
