//! Per-user ordering: updates of one user are handled one after another (so two prompts
//! reach OpenCode in the order typed), while different users never wait for each other.

use cloudify_core::{Incoming, Router, UserKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A lane closes after this long without updates, so idle users cost no task.
const LANE_IDLE: Duration = Duration::from_secs(120);

pub async fn dispatch(mut rx: mpsc::Receiver<Incoming>, router: Arc<Router>) {
    let mut lanes: HashMap<UserKey, mpsc::Sender<Incoming>> = HashMap::new();
    while let Some(inc) = rx.recv().await {
        let key = inc.user.clone();
        let inc = match lanes.get(&key) {
            Some(lane) => match lane.send(inc).await {
                Ok(()) => continue,
                Err(mpsc::error::SendError(inc)) => inc, // the lane just closed
            },
            None => inc,
        };
        let (ltx, lrx) = mpsc::channel(64);
        let _ = ltx.send(inc).await;
        lanes.insert(key, ltx);
        tokio::spawn(lane(lrx, router.clone()));
        lanes.retain(|_, tx| !tx.is_closed());
    }
}

async fn lane(mut rx: mpsc::Receiver<Incoming>, router: Arc<Router>) {
    while let Ok(Some(inc)) = tokio::time::timeout(LANE_IDLE, rx.recv()).await {
        router.handle(inc).await;
    }
}
