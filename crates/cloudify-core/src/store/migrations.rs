//! Numbered migrations; `PRAGMA user_version` records the last one applied.

use super::{Result, StoreError};
use rusqlite::Connection;

/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    r"
    CREATE TABLE instances (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        url             TEXT NOT NULL,
        directory       TEXT NOT NULL,
        password        TEXT,
        secret_key      BLOB NOT NULL,
        qr_version      INTEGER NOT NULL DEFAULT 1,
        current_session TEXT,
        model           TEXT,
        agent           TEXT,
        created_at      INTEGER NOT NULL
    );
    CREATE TABLE users (
        platform        TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        display_name    TEXT NOT NULL DEFAULT '',
        username        TEXT,
        language        TEXT,
        client_language TEXT,
        active_instance TEXT REFERENCES instances(id) ON DELETE SET NULL,
        last_seen       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (platform, user_id)
    );
    CREATE TABLE bindings (
        platform     TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        role         TEXT NOT NULL CHECK (role IN ('owner', 'member')),
        bound_at     INTEGER NOT NULL,
        last_active  INTEGER NOT NULL,
        PRIMARY KEY (platform, user_id, instance_id),
        FOREIGN KEY (platform, user_id) REFERENCES users(platform, user_id) ON DELETE CASCADE
    );
    CREATE INDEX bindings_by_instance ON bindings(instance_id);
    CREATE TABLE offline_messages (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        platform     TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        payload      TEXT NOT NULL,
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX offline_by_user ON offline_messages(platform, user_id, instance_id, id);
    CREATE TABLE offline_overflow (
        platform     TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        dropped      INTEGER NOT NULL,
        PRIMARY KEY (platform, user_id, instance_id)
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE processed_updates (
        platform     TEXT NOT NULL,
        update_id    TEXT NOT NULL,
        processed_at INTEGER NOT NULL,
        PRIMARY KEY (platform, update_id)
    );
    ",
    // 2: users an owner removed with /kick; they cannot bind again until /unban
    r"
    CREATE TABLE bans (
        platform     TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        banned_at    INTEGER NOT NULL,
        PRIMARY KEY (platform, user_id, instance_id)
    );
    -- binding.approve_new_users: who waits for the owner's approval
    CREATE TABLE pending_bindings (
        platform     TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
        asked_at     INTEGER NOT NULL,
        PRIMARY KEY (platform, user_id, instance_id)
    );
    ",
];

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
