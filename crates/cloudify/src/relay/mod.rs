//! The relay: one OpenCode watcher per instance, whose turn events become platform-neutral
//! output for every user bound to that instance, and the `Workspace` service that commands
//! and prompts use. Knows the router and the OpenCode client, never a platform API.

mod live;
mod turn;
mod workspace;

pub use workspace::OpenCodeWorkspace;

use cloudify_core::services::ServiceError;
use cloudify_core::store::Instance;
use cloudify_core::{Config, Router, SharedStore};
use cloudify_opencode::{Client, ClientConfig, Secret as OcSecret, Watcher, WatcherConfig};
use live::TurnState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;
use uuid::Uuid;

/// One instance's connection: the client, its watcher and the turn shown to users.
pub(crate) struct Link {
    pub instance_id: Uuid,
    pub client: Client,
    pub url: String,
    pub directory: String,
    pub state: tokio::sync::Mutex<TurnState>,
    watcher: Mutex<Option<Watcher>>,
}

pub struct Relay {
    store: SharedStore,
    config: Arc<Config>,
    router: OnceLock<Weak<Router>>,
    links: Mutex<HashMap<Uuid, Arc<Link>>>,
}

impl Relay {
    pub fn new(store: SharedStore, config: Arc<Config>) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            router: OnceLock::new(),
            links: Mutex::new(HashMap::new()),
        })
    }

    /// Connects the relay to the router it broadcasts through (the router owns the relay
    /// as its `Workspace`, hence the weak link back).
    pub fn attach(&self, router: &Arc<Router>) {
        let _ = self.router.set(Arc::downgrade(router));
    }

    /// Starts watching every instance, so work started elsewhere (the web terminal, the TUI)
    /// reaches the chat too.
    pub async fn start_all(self: &Arc<Self>) {
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

    /// The link of an instance, created (and its watcher started) on first use.
    pub(crate) fn link(self: &Arc<Self>, inst: &Instance) -> Result<Arc<Link>, ServiceError> {
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
        let wcfg = WatcherConfig {
            turn_timeout: Duration::from_secs(c.turn_timeout_secs),
            progress_interval: Duration::from_millis(self.config.stream_edit_interval_ms),
            ..WatcherConfig::default()
        };
        let (watcher, events) = Watcher::spawn(client.clone(), wcfg);
        let link = Arc::new(Link {
            instance_id: inst.id,
            client,
            url: inst.url.clone(),
            directory: inst.directory.clone(),
            state: tokio::sync::Mutex::new(TurnState::default()),
            watcher: Mutex::new(Some(watcher)),
        });
        if let Some(old) = links.insert(inst.id, link.clone()) {
            old.stop();
        }
        let router = self.router.get().cloned().unwrap_or_default();
        tokio::spawn(turn::pump(
            link.clone(),
            events,
            router,
            self.store.clone(),
            self.config.clone(),
        ));
        Ok(link)
    }
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
}
