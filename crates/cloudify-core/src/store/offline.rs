//! The offline backlog: output a user could not receive, newest `cap` kept per instance.

use super::{Result, Store};
use crate::identity::UserKey;
use rusqlite::params;
use uuid::Uuid;

/// What a user missed on one instance: kept entries (oldest first) and how many older
/// ones were dropped for the cap, so the "you missed N" summary tells the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct MissedMessages {
    pub instance_id: Uuid,
    pub entries: Vec<(i64, String)>,
    pub dropped: u32,
}

impl MissedMessages {
    /// Everything missed, including what the cap dropped.
    pub fn total(&self) -> u32 {
        self.entries.len() as u32 + self.dropped
    }
}

impl Store {
    /// Keeps `payload` for a user who could not be reached; trims to the newest `cap`.
    pub fn push_offline(
        &mut self,
        key: &UserKey,
        instance: Uuid,
        payload: &str,
        cap: u32,
        now: i64,
    ) -> Result<()> {
        let (p, u, i) = (
            key.platform.as_str(),
            key.user_id.as_str(),
            instance.to_string(),
        );
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT INTO offline_messages (platform, user_id, instance_id, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![p, u, i, payload, now],
        )?;
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM offline_messages WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
            params![p, u, i],
            |r| r.get(0),
        )?;
        let excess = count - i64::from(cap.max(1));
        if excess > 0 {
            tx.execute(
                "DELETE FROM offline_messages WHERE id IN (SELECT id FROM offline_messages \
                 WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3 ORDER BY id LIMIT ?4)",
                params![p, u, i, excess],
            )?;
            tx.execute(
                "INSERT INTO offline_overflow (platform, user_id, instance_id, dropped) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (platform, user_id, instance_id) \
                 DO UPDATE SET dropped = dropped + excluded.dropped",
                params![p, u, i, excess],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The user's backlog per instance, without removing it (see [`Store::ack_offline`]).
    pub fn offline_for(&self, key: &UserKey) -> Result<Vec<MissedMessages>> {
        let mut stmt = self.conn.prepare(
            "SELECT instance_id, id, payload FROM offline_messages \
             WHERE platform = ?1 AND user_id = ?2 ORDER BY instance_id, id",
        )?;
        let rows = stmt.query_map(params![key.platform.as_str(), key.user_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out: Vec<MissedMessages> = Vec::new();
        for row in rows {
            let (inst, id, payload) = row?;
            let Ok(instance_id) = Uuid::parse_str(&inst) else {
                continue;
            };
            match out.last_mut() {
                Some(m) if m.instance_id == instance_id => m.entries.push((id, payload)),
                _ => out.push(MissedMessages {
                    instance_id,
                    entries: vec![(id, payload)],
                    dropped: 0,
                }),
            }
        }
        for m in &mut out {
            m.dropped = self
                .conn
                .query_row(
                    "SELECT dropped FROM offline_overflow WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
                    params![key.platform.as_str(), key.user_id, m.instance_id.to_string()],
                    |r| r.get(0),
                )
                .unwrap_or(0);
        }
        Ok(out)
    }

    /// Forgets backlog entries up to `upto_id` once they were handed to the outbox again.
    pub fn ack_offline(&mut self, key: &UserKey, instance: Uuid, upto_id: i64) -> Result<()> {
        let (p, u, i) = (
            key.platform.as_str(),
            key.user_id.as_str(),
            instance.to_string(),
        );
        let tx = self.conn.savepoint()?;
        tx.execute(
            "DELETE FROM offline_messages WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3 AND id <= ?4",
            params![p, u, i, upto_id],
        )?;
        tx.execute(
            "DELETE FROM offline_overflow WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
            params![p, u, i],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn has_offline(&self, key: &UserKey) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM offline_messages WHERE platform = ?1 AND user_id = ?2)",
            params![key.platform.as_str(), key.user_id],
            |r| r.get(0),
        )?)
    }
}
