//! Shared harness of the end-to-end tests: fake LLM + real opencode + client + watcher.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cloudify_opencode::{
    Client, ClientConfig, NewSession, Prompt, Secret, TurnEvent, TurnResult, Watcher, WatcherConfig,
};
use cloudify_testkit::fake_llm::FakeLlm;
use cloudify_testkit::opencode::{OpencodeOptions, OpencodeServer};
use tokio::sync::mpsc::Receiver;

pub const WAIT: Duration = Duration::from_secs(60);

pub struct Harness {
    pub fake: FakeLlm,
    pub server: OpencodeServer,
    pub client: Client,
    pub watcher: Watcher,
    pub events: Receiver<TurnEvent>,
    /// Every event received so far, for assertion messages.
    pub seen: Vec<TurnEvent>,
}

pub fn test_watcher_config() -> WatcherConfig {
    WatcherConfig {
        progress_interval: Duration::from_millis(100),
        idle_grace: Duration::from_millis(1000),
        abort_grace: Duration::from_secs(5),
        reconnect_base: Duration::from_millis(100),
        reconnect_cap: Duration::from_millis(800),
        ..WatcherConfig::default()
    }
}

pub fn client_for(server: &OpencodeServer, dir: &std::path::Path) -> Client {
    let mut cfg = ClientConfig::new(&server.url())
        .unwrap()
        .directory(dir.to_str().unwrap());
    if let Some(pw) = server.password() {
        cfg = cfg.basic_auth("opencode", Secret::new(pw));
    }
    Client::new(cfg).unwrap()
}

impl Harness {
    pub async fn start(opts: OpencodeOptions, wcfg: WatcherConfig) -> Self {
        let fake = FakeLlm::start().await;
        let server = OpencodeServer::start_with(&fake, opts)
            .await
            .expect("opencode starts");
        let client = client_for(&server, &server.project_dir());
        client.health().await.expect("healthy");
        let (watcher, events) = Watcher::spawn(client.clone(), wcfg);
        let mut h = Self {
            fake,
            server,
            client,
            watcher,
            events,
            seen: Vec::new(),
        };
        h.until(|e| matches!(e, TurnEvent::Connected)).await;
        h
    }

    pub async fn default() -> Self {
        Self::start(OpencodeOptions::default(), test_watcher_config()).await
    }

    pub async fn new_session(&self) -> String {
        self.client
            .create_session(&NewSession::default())
            .await
            .unwrap()
            .id
    }

    pub async fn prompt(&self, session: &str, text: &str) {
        self.client
            .prompt_async(session, &Prompt::text(text))
            .await
            .unwrap();
    }

    /// Receives events until one matches; returns it. Panics with the history on timeout.
    pub async fn until(&mut self, pred: impl Fn(&TurnEvent) -> bool) -> TurnEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Ok(None) => panic!("watcher stopped; seen: {:#?}", self.seen),
                Err(_) => panic!(
                    "timed out; seen: {:#?}\nfake llm: {:#?}\nopencode log tail: {}",
                    self.seen,
                    self.fake
                        .requests()
                        .iter()
                        .map(|r| (&r.user_text, r.step, r.title))
                        .collect::<Vec<_>>(),
                    tail(&self.server.logs())
                ),
            }
        }
    }

    pub async fn done(&mut self, session: &str) -> TurnResult {
        let sid = session.to_owned();
        match self
            .until(move |e| matches!(e, TurnEvent::Done(d) if d.session_id == sid))
            .await
        {
            TurnEvent::Done(d) => d,
            _ => unreachable!(),
        }
    }

    /// Events of `session` seen so far.
    pub fn seen_for(&self, session: &str) -> Vec<&TurnEvent> {
        self.seen
            .iter()
            .filter(|e| e.session_id() == Some(session))
            .collect()
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
