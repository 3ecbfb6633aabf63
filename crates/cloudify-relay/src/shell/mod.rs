//! The async shell: one link per instance (OpenCode client + watcher + core), a task that
//! feeds the watcher's events and the core's wake-ups into the core, and the execution of
//! the core's effects through an [`Audience`].

mod workspace;

pub use workspace::OpenCodeWorkspace;

use crate::audience::Audience;
use crate::core::{CoreConfig, Effect, Input, RelayCore};
use cloudify_core::fanout::Delivered;
use cloudify_core::services::ServiceError;
use cloudify_core::store::Instance;
use cloudify_core::{Config, SharedStore};
use cloudify_opencode::{
    Client, ClientConfig, Secret as OcSecret, TurnEvent, Watcher, WatcherConfig,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The relay of every instance.
pub struct Relay {
    store: SharedStore,
    config: Arc<Config>,
    audience: Arc<dyn Audience>,
    links: Mutex<HashMap<Uuid, Arc<Link>>>,
}

/// One instance's connection: the client, its watcher and the turn shown to users.
pub(crate) struct Link {
    instance_id: Uuid,
    pub(crate) client: Client,
    url: String,
    directory: String,
    audience: Arc<dyn Audience>,
    shown: tokio::sync::Mutex<Shown>,
    watcher: Mutex<Option<Watcher>>,
}

/// The core and what its effects delivered (the handles later edits need).
struct Shown {
    core: RelayCore,
    live: Vec<Delivered>,
    prompts: HashMap<String, Vec<Delivered>>,
    wake: Option<Instant>,
}

/// The live message shows within this time of a turn's start (and never for a turn that is
/// over sooner), unless live edits are configured to be rarer.
const LIVE_AFTER: Duration = Duration::from_secs(1);

impl Relay {
    #[must_use]
    pub fn new(store: SharedStore, config: Arc<Config>, audience: Arc<dyn Audience>) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            audience,
            links: Mutex::new(HashMap::new()),
        })
    }

    /// Starts watching every instance, so work started elsewhere (the web terminal, the TUI)
    /// reaches the chat too.
    pub async fn start_all(&self) {
        match self.store.call(|s| s.instances()).await {
            Ok(all) => {
                for inst in all {
                    if let Err(e) = self.link(&inst) {
                        tracing::warn!(instance = %inst.name, error = %e, "cannot watch instance");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list instances"),
        }
    }

    /// The link of an instance, created (and its watcher started) on first use, rebuilt when
    /// the instance's URL or directory changed.
    pub(crate) fn link(&self, inst: &Instance) -> Result<Arc<Link>, ServiceError> {
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = links.get(&inst.id)
            && l.url == inst.url
            && l.directory == inst.directory
        {
            return Ok(l.clone());
        }
        let c = &self.config.opencode;
        let password = inst.password.as_ref().unwrap_or(&c.password);
        let mut cfg = ClientConfig::new(&inst.url)
            .map_err(|e| {
                ServiceError::Failed(format!("bad OpenCode URL for [{}]: {e}", inst.name))
            })?
            .directory(&inst.directory);
        if !password.is_empty() {
            cfg = cfg.basic_auth(&c.username, OcSecret::new(password.expose()));
        }
        let client = Client::new(cfg).map_err(|e| ServiceError::Failed(e.to_string()))?;
        let progress_interval = Duration::from_millis(self.config.stream_edit_interval_ms);
        let wcfg = WatcherConfig {
            turn_timeout: Duration::from_secs(c.turn_timeout_secs),
            progress_interval,
            ..WatcherConfig::default()
        };
        let core = RelayCore::new(CoreConfig {
            live_after: LIVE_AFTER.min(progress_interval),
        });
        let (watcher, events) = Watcher::spawn(client.clone(), wcfg);
        let link = Arc::new(Link {
            instance_id: inst.id,
            client,
            url: inst.url.clone(),
            directory: inst.directory.clone(),
            audience: self.audience.clone(),
            shown: tokio::sync::Mutex::new(Shown {
                core,
                live: Vec::new(),
                prompts: HashMap::new(),
                wake: None,
            }),
            watcher: Mutex::new(Some(watcher)),
        });
        if let Some(old) = links.insert(inst.id, link.clone()) {
            old.stop();
        }
        tokio::spawn(pump(link.clone(), events, self.store.clone()));
        Ok(link)
    }
}

/// The clock of the shell (tokio's, so tests with paused time see virtual time).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Link {
    fn stop(&self) {
        if let Some(w) = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            tokio::spawn(w.shutdown());
        }
    }

    /// Applies one input to the core and carries out its effects, in order.
    pub(crate) async fn feed(&self, input: Input) {
        let mut shown = self.shown.lock().await;
        if input == Input::Tick {
            shown.wake = None;
        }
        let effects = shown.core.apply(input, now());
        for effect in effects {
            if let Err(e) = self.execute(&mut shown, effect).await {
                tracing::error!(instance = %self.instance_id, error = %e, "could not relay a turn event");
            }
        }
    }

    /// Records who answered a prompt, so everyone sees "— @alice" on the outcome. The first
    /// answer wins; returns whether this one was first.
    pub(crate) async fn note_answer(&self, request_id: &str, by: &str) -> bool {
        let mut shown = self.shown.lock().await;
        let first = shown.core.answered_by(request_id).is_none();
        let input = Input::Answered {
            request_id: request_id.to_string(),
            by: by.to_string(),
        };
        shown.core.apply(input, now()); // a pure record: no effects
        first
    }

    async fn execute(
        &self,
        shown: &mut Shown,
        effect: Effect,
    ) -> Result<(), cloudify_core::StoreError> {
        let (id, to) = (self.instance_id, self.audience.as_ref());
        match effect {
            Effect::ShowLive(v) => shown.live = to.post(id, &|l| v.render(l)).await?,
            Effect::UpdateLive(v) => {
                for d in &shown.live {
                    to.edit(d, id, v.render(d.lang)).await?;
                }
            }
            Effect::CloseLive(end) => {
                for d in std::mem::take(&mut shown.live) {
                    to.edit(&d, id, end.render_live(d.lang)).await?;
                }
            }
            Effect::Answer(a) => {
                to.post(id, &|l| a.render(l)).await?;
            }
            Effect::ShowPrompt(p) => {
                let delivered = to.post(id, &|l| p.render(l)).await?;
                shown.prompts.insert(p.id().to_string(), delivered);
            }
            Effect::ResolvePrompt {
                request_id,
                outcome,
            } => {
                for d in shown.prompts.remove(&request_id).unwrap_or_default() {
                    to.edit(&d, id, outcome.render(d.lang)).await?;
                }
            }
            Effect::WakeAt(t) => shown.wake = Some(shown.wake.map_or(t, |w| w.min(t))),
        }
        Ok(())
    }
}

/// Feeds one instance's turn events and the core's wake-ups into the core.
async fn pump(link: Arc<Link>, mut events: mpsc::Receiver<TurnEvent>, store: SharedStore) {
    loop {
        let wake = link.shown.lock().await.wake;
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let ev = tokio::select! {
            ev = events.recv() => ev,
            () = sleep => {
                link.feed(Input::Tick).await;
                continue;
            }
        };
        let Some(ev) = ev else { return };
        let id = link.instance_id;
        let inst = match store.read(move |s| s.instance(id)).await {
            Ok(Some(i)) => i,
            Ok(None) => return, // instance removed
            Err(e) => {
                tracing::error!(error = %e, "store unavailable; turn event dropped");
                continue;
            }
        };
        // Only the instance's current session is shown; other sessions are someone's
        // separate work (the TUI, another client).
        if let Some(sid) = ev.session_id()
            && inst.current_session.as_deref() != Some(sid)
        {
            continue;
        }
        if let TurnEvent::Disconnected { reason } = &ev {
            tracing::warn!(instance = %inst.name, %reason, "OpenCode event stream lost; reconnecting");
        }
        link.feed(Input::Turn(ev)).await;
    }
}
