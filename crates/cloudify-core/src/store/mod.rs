//! The only module that speaks SQL. One SQLite file (WAL, busy timeout), numbered
//! migrations, every multi-statement write in a transaction.
//!
//! Methods are synchronous and fast; async callers run them through [`SharedStore::call`],
//! which moves the work to tokio's blocking pool so SQLite never stalls the runtime, or, for
//! the reads on the path from an OpenCode event to the IM call, [`SharedStore::read`], which
//! skips that hop when the read cannot wait.

mod bans;
mod instances;
mod migrations;
mod offline;
mod settings;
mod users;

pub use instances::{Instance, NewInstance, SigningKey};
pub use offline::MissedMessages;
pub use users::{BindOutcome, Binding, Role, SeenUser, User};

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "cloudify.db";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database was written by a newer cloudify (schema {found}, this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error("no instance named `{0}`")]
    NoSuchInstance(String),
    #[error(transparent)]
    InvalidName(#[from] crate::names::NameError),
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("the store worker stopped")]
    WorkerGone,
}

impl StoreError {
    /// Another connection (another process, e.g. an admin's `sqlite3` shell) holds the lock.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

/// How long a store call waits for a database locked by another process before failing.
/// Updates are already acknowledged to the platform when they reach the store, so giving up
/// early would lose them; waiting only delays them.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(300);

/// How long one statement waits for a lock before SQLite reports the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        // WAL lets readers (e.g. `cloudify qr` while the daemon runs) work beside the writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mut store = Store { conn };
        migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// Runs `f` as one transaction (a savepoint, so store methods may nest their own), and
    /// runs it again while the database is locked by someone else, up to `patience`. Retrying
    /// is safe because a failed attempt is rolled back whole.
    pub fn atomic<R>(
        &mut self,
        patience: Duration,
        f: &mut impl FnMut(&mut Store) -> Result<R>,
    ) -> Result<R> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        let mut warned = false;
        loop {
            match self.attempt(f) {
                Err(e) if e.is_busy() && started.elapsed() < patience => {
                    if !warned {
                        tracing::warn!(
                            "the database is locked by another process; waiting (up to {} s) — \
                             close any `sqlite3` shell open on {DB_FILE}",
                            patience.as_secs()
                        );
                        warned = true;
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
                Ok(v) => {
                    if warned {
                        tracing::info!(
                            waited_ms = started.elapsed().as_millis() as u64,
                            "the database is free again; carrying on"
                        );
                    }
                    return Ok(v);
                }
            }
        }
    }

    /// Runs the read `f` as one snapshot, failing with "busy" instead of waiting for a lock.
    fn read_at_once<R>(&mut self, f: &mut impl FnMut(&Store) -> Result<R>) -> Result<R> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let result = self.attempt(&mut |s: &mut Store| f(s));
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        result
    }

    fn attempt<R>(&mut self, f: &mut impl FnMut(&mut Store) -> Result<R>) -> Result<R> {
        self.conn.execute_batch("SAVEPOINT store_call")?;
        let result = f(self).and_then(|v| {
            self.conn.execute_batch("RELEASE store_call")?;
            Ok(v)
        });
        if result.is_err() {
            // Leaves the database exactly as before the attempt (and ends the transaction).
            let _ = self
                .conn
                .execute_batch("ROLLBACK TO store_call; RELEASE store_call");
        }
        result
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

/// A store shared by async tasks. Cheap to clone.
#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    pub fn new(store: Store) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` with the store on the blocking pool, as one transaction that waits out a
    /// database locked by another process (see [`Store::atomic`]).
    pub async fn call<R, F>(&self, mut f: F) -> Result<R>
    where
        F: FnMut(&mut Store) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic mid-call; the connection itself is still usable.
            let mut guard = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.atomic(LOCK_PATIENCE, &mut f)
        })
        .await
        .map_err(|_| StoreError::WorkerGone)?
    }

    /// Runs the read `f` right here when the connection is free and SQLite answers without
    /// waiting (WAL readers only wait in rare cases), else like [`SharedStore::call`]. For the
    /// hot path: a hop to the blocking pool is a thread wake-up, and on a busy 2-core VPS a
    /// woken thread may wait milliseconds for a CPU; the read itself takes microseconds.
    pub async fn read<R, F>(&self, mut f: F) -> Result<R>
    where
        F: FnMut(&Store) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if let Ok(mut store) = self.0.try_lock() {
            match store.read_at_once(&mut f) {
                Err(e) if e.is_busy() => {}
                done => return done,
            }
        }
        self.call(move |s| f(s)).await
    }

    /// Runs `f` on the current thread (for synchronous callers such as the CLI).
    pub fn call_now<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests;
