//! Domain logic of OpenCode Cloudify, with no network I/O of its own.
//!
//! Config, the SQLite store, instances, QR binding, the router, commands, i18n, the
//! platform-neutral `Output` model, the outbox policy and the `Adapter` trait live here.
//! Must not depend on any IM SDK or on the OpenCode client: those sit behind traits.

pub mod config;
pub mod fsutil;
pub mod secret;

pub use config::{Config, ConfigError, EnvVars};
pub use secret::Secret;
pub mod identity;
pub mod store;

pub use identity::{Platform, UserKey};
pub use store::{SharedStore, Store, StoreError};
pub mod adapter;
pub mod binding;
pub mod i18n;
pub mod links;
pub mod names;
pub mod outbox;
pub mod output;
pub mod rate_window;
pub mod redact;

pub use adapter::{
    Adapter, ChatRef, DeliveryError, FetchFile, Fetched, Incoming, IncomingKind, PlatformLimits,
    RemoteFile,
};
pub use output::{Button, Envelope, Output, Progress, Prompt};
pub mod clock;
pub mod commands;
pub mod fanout;
pub mod router;
pub mod services;

pub use clock::{Clock, SystemClock};
pub use fanout::Fanout;
pub use router::{Router, Services};
