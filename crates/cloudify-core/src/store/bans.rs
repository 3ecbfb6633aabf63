//! Bans: who an owner removed with `/kick`. A banned user cannot bind to that instance again,
//! with any link or code, until the owner sends `/unban`. `/reset-qr` does not lift bans.
//! Also the binders waiting for the owner's approval (`binding.approve_new_users`).

use super::users::platform_col;
use super::{Result, Store};
use crate::identity::UserKey;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

impl Store {
    pub fn ban(&mut self, key: &UserKey, instance: Uuid, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO bans (platform, user_id, instance_id, banned_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (platform, user_id, instance_id) DO UPDATE SET banned_at = excluded.banned_at",
            params![key.platform.as_str(), key.user_id, instance.to_string(), now],
        )?;
        Ok(())
    }

    /// Lifts a ban; `false` when there was none.
    pub fn unban(&mut self, key: &UserKey, instance: Uuid) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM bans WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
            params![key.platform.as_str(), key.user_id, instance.to_string()],
        )? > 0)
    }

    pub fn is_banned(&self, key: &UserKey, instance: Uuid) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM bans WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
                params![key.platform.as_str(), key.user_id, instance.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Everyone banned from an instance, oldest ban first.
    pub fn banned(&self, instance: Uuid) -> Result<Vec<UserKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT platform, user_id FROM bans WHERE instance_id = ?1 ORDER BY banned_at, rowid",
        )?;
        let rows = stmt.query_map([instance.to_string()], |r| {
            Ok(UserKey {
                platform: platform_col(r, 0)?,
                user_id: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Bumps `qr_version` without touching bindings: every link and code shown so far stops
    /// working, members stay (a code seen in a group chat). Returns the new version.
    pub fn burn_codes(&mut self, instance: Uuid) -> Result<u32> {
        self.conn.execute(
            "UPDATE instances SET qr_version = qr_version + 1 WHERE id = ?1",
            [instance.to_string()],
        )?;
        Ok(self.conn.query_row(
            "SELECT qr_version FROM instances WHERE id = ?1",
            [instance.to_string()],
            |r| r.get(0),
        )?)
    }

    /// Records that `key` waits for the owner's approval to bind to `instance`.
    pub fn add_pending(&mut self, key: &UserKey, instance: Uuid, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pending_bindings (platform, user_id, instance_id, asked_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                key.platform.as_str(),
                key.user_id,
                instance.to_string(),
                now
            ],
        )?;
        Ok(())
    }

    /// Removes a waiting binder; `false` when they were not waiting.
    pub fn take_pending(&mut self, key: &UserKey, instance: Uuid) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM pending_bindings WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
            params![key.platform.as_str(), key.user_id, instance.to_string()],
        )? > 0)
    }
}
