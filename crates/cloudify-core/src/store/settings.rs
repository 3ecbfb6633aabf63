//! Key-value settings and the processed-update ledger that makes update handling idempotent.

use super::{Result, Store};
use crate::identity::Platform;
use rusqlite::{OptionalExtension, params};

impl Store {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn delete_setting(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Records an incoming update id. Returns false when it was seen before, so a restart
    /// that receives the same update again never sends a prompt to OpenCode twice.
    pub fn mark_processed(
        &mut self,
        platform: Platform,
        update_id: &str,
        now: i64,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO processed_updates (platform, update_id, processed_at) VALUES (?1, ?2, ?3)",
            params![platform.as_str(), update_id, now],
        )?;
        Ok(n == 1)
    }

    /// Drops ledger rows older than `before` (they can no longer be redelivered).
    pub fn prune_processed(&mut self, before: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM processed_updates WHERE processed_at < ?1",
            [before],
        )?)
    }
}
