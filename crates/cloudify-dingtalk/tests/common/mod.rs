//! Shared setup: a fake DingTalk, an adapter pointed at it with fast timings, its stream
//! running into a channel.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cloudify_core::Secret;
use cloudify_core::adapter::{Adapter, ChatRef, Incoming};
use cloudify_core::identity::Platform;
use cloudify_dingtalk::{DingTalkAdapter, DingTalkOptions, StreamTiming};
use cloudify_testkit::fake_dingtalk::{Event, FakeConfig, FakeDingTalk};
use tokio::sync::mpsc;

pub const APP_KEY: &str = "dingtestkey";
pub const SECRET: &str = "s3cr3t-app-secret-value";

pub struct Harness {
    pub fake: FakeDingTalk,
    pub adapter: Arc<DingTalkAdapter>,
    pub rx: mpsc::Receiver<Incoming>,
    pub run: tokio::task::JoinHandle<()>,
}

pub fn fast_timing() -> StreamTiming {
    StreamTiming {
        ping_interval: Duration::from_millis(300),
        dead_after: Duration::from_millis(1200),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        healthy_after: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(5),
    }
}

pub fn options(fake: &FakeDingTalk) -> DingTalkOptions {
    let mut o = DingTalkOptions::new(APP_KEY, Secret::new(SECRET));
    o.api_url = fake.api_url();
    o.oapi_url = fake.oapi_url();
    o.timing = fast_timing();
    o
}

pub async fn start() -> Harness {
    start_with(|_| {}, |_| {}, 64).await
}

pub async fn start_with(
    fake_cfg: impl FnOnce(&mut FakeConfig),
    opts: impl FnOnce(&mut DingTalkOptions),
    capacity: usize,
) -> Harness {
    let mut cfg = FakeConfig::new(APP_KEY, SECRET);
    fake_cfg(&mut cfg);
    let fake = FakeDingTalk::start_with(cfg).await;
    let mut o = options(&fake);
    opts(&mut o);
    let adapter = Arc::new(DingTalkAdapter::new(o).unwrap());
    let (tx, rx) = mpsc::channel(capacity);
    let a = adapter.clone();
    let run = tokio::spawn(async move {
        a.run(tx).await.unwrap();
    });
    fake.wait_for(
        |e| matches!(e, Event::Connected { .. }),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    Harness {
        fake,
        adapter,
        rx,
        run,
    }
}

impl Harness {
    pub async fn next(&mut self) -> Incoming {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("no incoming within 5 s")
            .expect("sink closed")
    }

    /// Nothing more arrives within `wait`.
    pub async fn quiet(&mut self, wait: Duration) {
        if let Ok(Some(i)) = tokio::time::timeout(wait, self.rx.recv()).await {
            panic!("unexpected incoming {i:?}");
        }
    }
}

pub fn private(staff: &str) -> ChatRef {
    ChatRef {
        platform: Platform::DingTalk,
        chat_id: staff.into(),
        is_group: false,
    }
}

pub fn group(cid: &str) -> ChatRef {
    ChatRef {
        platform: Platform::DingTalk,
        chat_id: cid.into(),
        is_group: true,
    }
}
