//! Per-instance event watcher: keeps `/event` connected, feeds the [`TurnTracker`], resyncs
//! from REST after every (re)connect and aborts turns stuck in `retry`.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::client::Client;
use crate::error::Error;
use crate::event::Event;
use crate::tracker::TurnTracker;
use crate::turn_event::TurnEvent;
use crate::types::{Role, SessionStatus};

/// Tuning of a [`Watcher`]. Defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct WatcherConfig {
    /// How long a turn may stay in `retry` without progress before we abort it
    /// (`opencode.turn_timeout_secs`, default 1800 s). OpenCode retries 5xx forever.
    pub turn_timeout: Duration,
    /// Minimum spacing of `Progress` events per session; also the housekeeping tick.
    pub progress_interval: Duration,
    /// After idle without a final message, wait this long for late events, then read REST.
    pub idle_grace: Duration,
    /// After our timeout abort, give OpenCode this long to go idle before reporting anyway.
    pub abort_grace: Duration,
    /// No frame for this long (heartbeats come every 10 s) = dead stream, reconnect.
    pub stall_timeout: Duration,
    pub reconnect_base: Duration,
    pub reconnect_cap: Duration,
    /// Messages read per session on resync.
    pub resync_messages: u32,
    /// Capacity of the event channel (the watcher waits when the relay lags).
    pub channel_capacity: usize,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        Self {
            turn_timeout: Duration::from_secs(1800),
            progress_interval: Duration::from_millis(500),
            idle_grace: Duration::from_millis(1500),
            abort_grace: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(35),
            reconnect_base: Duration::from_millis(250),
            reconnect_cap: Duration::from_secs(10),
            resync_messages: 30,
            channel_capacity: 1024,
        }
    }
}

/// Handle of a running watcher task; dropping it stops the task.
#[derive(Debug)]
pub struct Watcher {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching the instance of `client` (its server + directory).
    #[must_use]
    pub fn spawn(client: Client, cfg: WatcherConfig) -> (Self, mpsc::Receiver<TurnEvent>) {
        let (tx, rx) = mpsc::channel(cfg.channel_capacity.max(1));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(client, cfg, tx, stop_rx));
        (
            Self {
                stop,
                task: Some(task),
            },
            rx,
        )
    }

    /// Stops the task and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The receiver is gone: nobody listens, stop.
struct Closed;

struct State {
    client: Client,
    cfg: WatcherConfig,
    tx: mpsc::Sender<TurnEvent>,
    tracker: TurnTracker,
}

impl State {
    async fn send_all(&self, events: Vec<TurnEvent>) -> Result<(), Closed> {
        for ev in events {
            self.tx.send(ev).await.map_err(|_| Closed)?;
        }
        Ok(())
    }

    /// After a (re)connect: what did we miss? `/event` has no replay (API.md §7).
    async fn resync(&mut self) -> Result<(), Closed> {
        let statuses = match self.client.session_status().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "resync: session status failed");
                return Ok(());
            }
        };
        let sessions: BTreeSet<String> = statuses
            .keys()
            .cloned()
            .chain(self.tracker.active_sessions())
            .collect();
        for sid in sessions {
            match self
                .client
                .messages(&sid, Some(self.cfg.resync_messages), None)
                .await
            {
                Ok(page) => {
                    let evs = self
                        .tracker
                        .resync(&sid, statuses.get(&sid), &page.messages, now());
                    tracing::debug!(session = %sid, events = evs.len(), "resynced session");
                    self.send_all(evs).await?;
                }
                Err(e) => tracing::warn!(session = %sid, error = %e, "resync: messages failed"),
            }
        }
        match (
            self.client.permissions().await,
            self.client.questions().await,
        ) {
            (Ok(p), Ok(q)) => {
                let evs = self.tracker.resync_pending(&p, &q, now());
                self.send_all(evs).await?;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "resync: pending requests failed");
            }
        }
        Ok(())
    }

    async fn housekeeping(&mut self) -> Result<(), Closed> {
        let evs = self.tracker.take_progress(now());
        self.send_all(evs).await?;
        let waiting = self.tracker.awaiting_final(now(), self.cfg.idle_grace);
        // An idle event is not the last word: under load OpenCode was seen reporting idle
        // mid-turn and staying busy. Ask for the real status before ending a turn from REST.
        let statuses = if waiting.is_empty() {
            Default::default()
        } else {
            self.client.session_status().await.unwrap_or_default()
        };
        for sid in waiting {
            // Idle came but the final message did not: read it from REST.
            match self
                .client
                .messages(&sid, Some(self.cfg.resync_messages), None)
                .await
            {
                Ok(page) => {
                    let status = statuses.get(&sid);
                    let busy = matches!(
                        status,
                        Some(SessionStatus::Busy | SessionStatus::Retry { .. })
                    );
                    let last_final = page
                        .messages
                        .iter()
                        .rev()
                        .find(|m| m.info.role == Role::Assistant)
                        .is_some_and(|m| m.info.is_final());
                    // Without a final message and without a reconnect (a restart is handled by
                    // the reconnect resync) OpenCode is most likely still working: give it time
                    // before calling the turn interrupted.
                    let gave_up = self
                        .tracker
                        .awaiting_final(now(), INTERRUPT_GRACE)
                        .contains(&sid);
                    if !(busy || last_final || gave_up || self.tracker.turn_failed(&sid)) {
                        tracing::debug!(session = %sid, "idle without a final message; waiting");
                        continue;
                    }
                    let evs = self.tracker.resync(&sid, status, &page.messages, now());
                    self.send_all(evs).await?;
                }
                Err(e) => {
                    tracing::warn!(session = %sid, error = %e, "reading final messages failed");
                }
            }
        }
        for sid in self.tracker.stuck(now(), self.cfg.turn_timeout) {
            tracing::warn!(session = %sid, timeout = ?self.cfg.turn_timeout, "turn stuck in retry, aborting");
            self.tracker.mark_timed_out(&sid, now());
            if let Err(e) = self.client.abort(&sid).await {
                tracing::warn!(session = %sid, error = %e, "abort of stuck turn failed");
            }
        }
        for sid in self
            .tracker
            .timed_out_unfinished(now(), self.cfg.abort_grace)
        {
            let evs = self.tracker.force_finish(&sid, now(), None);
            self.send_all(evs).await?;
        }
        Ok(())
    }
}

/// How long an idle session may lack its final message before the turn counts as interrupted.
const INTERRUPT_GRACE: Duration = Duration::from_secs(15);

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn run(
    client: Client,
    cfg: WatcherConfig,
    tx: mpsc::Sender<TurnEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(cfg.reconnect_base, cfg.reconnect_cap);
    let mut st = State {
        client,
        cfg,
        tx,
        tracker: TurnTracker::new(),
    };
    let mut was_connected = false;
    loop {
        // `connected_session` watches `stop` itself.
        let reason =
            match connected_session(&mut st, &mut stop, &mut backoff, &mut was_connected).await {
                Ok(Some(reason)) => reason,
                Ok(None) | Err(Closed) => return,
            };
        if was_connected {
            was_connected = false;
            tracing::info!(reason = %reason, "opencode event stream lost, reconnecting");
            if st
                .tx
                .send(TurnEvent::Disconnected { reason })
                .await
                .is_err()
            {
                return;
            }
        } else {
            tracing::debug!(reason = %reason, "opencode event stream connect failed");
        }
        let delay = backoff.next_delay();
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// One connection: returns why it ended (`Ok(None)` = asked to stop).
async fn connected_session(
    st: &mut State,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    was_connected: &mut bool,
) -> Result<Option<String>, Closed> {
    let connect = tokio::select! {
        _ = stop.changed() => return Ok(None),
        r = st.client.subscribe() => r,
    };
    let stream = match connect {
        Ok(s) => s,
        Err(e @ Error::Unauthorized) => {
            tracing::error!(error = %e, "opencode rejected our credentials");
            return Ok(Some(e.to_string()));
        }
        Err(e) => return Ok(Some(e.to_string())),
    };
    let mut stream = std::pin::pin!(stream);
    let mut ticker = tokio::time::interval(st.cfg.progress_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_frame = Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(None),
            item = stream.next() => {
                last_frame = Instant::now();
                match item {
                    None => return Ok(Some("stream ended".into())),
                    Some(Err(e)) => return Ok(Some(e.to_string())),
                    Some(Ok(Event::ServerConnected)) => {
                        backoff.reset();
                        st.resync().await?;
                        *was_connected = true;
                        st.tx.send(TurnEvent::Connected).await.map_err(|_| Closed)?;
                    }
                    Some(Ok(ev)) => {
                        if let Event::SessionError { session_id, error } = &ev {
                            tracing::info!(session = ?session_id, name = %error.name, "opencode session error");
                        }
                        let evs = st.tracker.apply(&ev, now());
                        st.send_all(evs).await?;
                    }
                }
            }
            _ = ticker.tick() => {
                if last_frame.elapsed() >= st.cfg.stall_timeout {
                    return Ok(Some(format!("no event for {:?}", st.cfg.stall_timeout)));
                }
                st.housekeeping().await?;
            }
        }
    }
}
