//! Users (per platform) and their bindings to instances.

use super::{Result, Store};
use crate::identity::{Platform, UserKey};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub key: UserKey,
    pub display_name: String,
    pub username: Option<String>,
    /// `zh` / `en` when the user chose with `/lang`; `None` = follow the platform.
    pub language: Option<String>,
    /// What the client reported (Telegram `language_code`).
    pub client_language: Option<String>,
    pub active_instance: Option<Uuid>,
    pub last_seen: i64,
}

impl User {
    /// `@username` where known, else the display name: what collaborators see.
    pub fn handle(&self) -> String {
        match &self.username {
            Some(u) if !u.is_empty() => format!("@{u}"),
            _ if !self.display_name.is_empty() => self.display_name.clone(),
            _ => self.key.user_id.clone(),
        }
    }
}

/// What a platform told us about a user on their latest message.
#[derive(Debug, Clone, Copy)]
pub struct SeenUser<'a> {
    pub key: &'a UserKey,
    pub display_name: &'a str,
    pub username: Option<&'a str>,
    pub client_language: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub user: UserKey,
    pub instance_id: Uuid,
    pub role: Role,
    pub bound_at: i64,
    pub last_active: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindOutcome {
    pub role: Role,
    /// False when the user was already bound (binding again just re-activates it).
    pub newly_bound: bool,
}

fn uuid_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let s: String = r.get(i)?;
    Uuid::parse_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn platform_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Platform> {
    let s: String = r.get(i)?;
    Platform::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown platform {s}").into(),
        )
    })
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        key: UserKey {
            platform: platform_col(r, 0)?,
            user_id: r.get(1)?,
        },
        display_name: r.get(2)?,
        username: r.get(3)?,
        language: r.get(4)?,
        client_language: r.get(5)?,
        active_instance: r
            .get::<_, Option<String>>(6)?
            .and_then(|s| Uuid::parse_str(&s).ok()),
        last_seen: r.get(7)?,
    })
}

fn binding_from_row(r: &Row<'_>) -> rusqlite::Result<Binding> {
    let role: String = r.get(3)?;
    Ok(Binding {
        user: UserKey {
            platform: platform_col(r, 0)?,
            user_id: r.get(1)?,
        },
        instance_id: uuid_col(r, 2)?,
        role: if role == "owner" {
            Role::Owner
        } else {
            Role::Member
        },
        bound_at: r.get(4)?,
        last_active: r.get(5)?,
    })
}

const USER_COLS: &str = "platform, user_id, display_name, username, language, client_language, active_instance, last_seen";
const BINDING_COLS: &str = "platform, user_id, instance_id, role, bound_at, last_active";

impl Store {
    /// Records that a user was seen, with the names the platform gave us.
    pub fn upsert_user(&mut self, seen: &SeenUser<'_>, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO users (platform, user_id, display_name, username, client_language, last_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (platform, user_id) DO UPDATE SET \
               display_name = excluded.display_name, username = excluded.username, \
               client_language = COALESCE(excluded.client_language, client_language), \
               last_seen = excluded.last_seen",
            params![
                seen.key.platform.as_str(),
                seen.key.user_id,
                seen.display_name,
                seen.username,
                seen.client_language,
                now
            ],
        )?;
        Ok(())
    }

    pub fn user(&self, key: &UserKey) -> Result<Option<User>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE platform = ?1 AND user_id = ?2"),
                params![key.platform.as_str(), key.user_id],
                user_from_row,
            )
            .optional()?)
    }

    pub fn set_user_language(&mut self, key: &UserKey, lang: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET language = ?1 WHERE platform = ?2 AND user_id = ?3",
            params![lang, key.platform.as_str(), key.user_id],
        )?;
        Ok(())
    }

    pub fn set_active_instance(&mut self, key: &UserKey, instance: Option<Uuid>) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET active_instance = ?1 WHERE platform = ?2 AND user_id = ?3",
            params![
                instance.map(|i| i.to_string()),
                key.platform.as_str(),
                key.user_id
            ],
        )?;
        Ok(())
    }

    /// Binds a user to an instance and makes it their active one. The first user bound to
    /// an instance becomes its owner. The user row must exist (see [`Store::upsert_user`]).
    pub fn bind(&mut self, key: &UserKey, instance: Uuid, now: i64) -> Result<BindOutcome> {
        let tx = self.conn.savepoint()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT role FROM bindings WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
                params![key.platform.as_str(), key.user_id, instance.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = match existing {
            Some(role) => BindOutcome {
                role: if role == "owner" {
                    Role::Owner
                } else {
                    Role::Member
                },
                newly_bound: false,
            },
            None => {
                let others: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM bindings WHERE instance_id = ?1",
                    [instance.to_string()],
                    |r| r.get(0),
                )?;
                let role = if others == 0 {
                    Role::Owner
                } else {
                    Role::Member
                };
                tx.execute(
                    "INSERT INTO bindings (platform, user_id, instance_id, role, bound_at, last_active) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![key.platform.as_str(), key.user_id, instance.to_string(), role.as_str(), now],
                )?;
                BindOutcome {
                    role,
                    newly_bound: true,
                }
            }
        };
        tx.execute(
            "UPDATE users SET active_instance = ?1 WHERE platform = ?2 AND user_id = ?3",
            params![instance.to_string(), key.platform.as_str(), key.user_id],
        )?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Removes one binding. An owner who leaves hands ownership to the longest-bound member;
    /// a user whose active instance this was falls back to another binding.
    pub fn unbind(&mut self, key: &UserKey, instance: Uuid) -> Result<bool> {
        let tx = self.conn.savepoint()?;
        let removed = remove_binding(&tx, key, instance)?;
        tx.commit()?;
        Ok(removed)
    }

    /// `/reset-qr`: bumps `qr_version` (every old code stops working) and removes every
    /// binding of the instance. Returns the new version and who was removed.
    pub fn reset_qr(&mut self, instance: Uuid) -> Result<(u32, Vec<UserKey>)> {
        let tx = self.conn.savepoint()?;
        tx.execute(
            "UPDATE instances SET qr_version = qr_version + 1 WHERE id = ?1",
            [instance.to_string()],
        )?;
        let version: u32 = tx.query_row(
            "SELECT qr_version FROM instances WHERE id = ?1",
            [instance.to_string()],
            |r| r.get(0),
        )?;
        let users = bindings_where(&tx, "instance_id = ?1", &instance.to_string())?
            .into_iter()
            .map(|b| b.user)
            .collect::<Vec<_>>();
        for user in &users {
            remove_binding(&tx, user, instance)?;
        }
        tx.commit()?;
        Ok((version, users))
    }

    pub fn bindings_of_user(&self, key: &UserKey) -> Result<Vec<Binding>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {BINDING_COLS} FROM bindings WHERE platform = ?1 AND user_id = ?2 ORDER BY bound_at"
        ))?;
        let rows = stmt.query_map(
            params![key.platform.as_str(), key.user_id],
            binding_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Users who have output waiting in the backlog.
    pub fn users_with_offline(&self) -> Result<Vec<UserKey>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT platform, user_id FROM offline_messages")?;
        let rows = stmt.query_map([], |r| {
            Ok(UserKey {
                platform: platform_col(r, 0)?,
                user_id: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every binding of an instance with its user, oldest first (the owner leads).
    pub fn members(&self, instance: Uuid) -> Result<Vec<(Binding, User)>> {
        let mut out = Vec::new();
        for b in bindings_where(&self.conn, "instance_id = ?1", &instance.to_string())? {
            if let Some(u) = self.user(&b.user)? {
                out.push((b, u));
            }
        }
        Ok(out)
    }

    pub fn binding(&self, key: &UserKey, instance: Uuid) -> Result<Option<Binding>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {BINDING_COLS} FROM bindings \
                     WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3"
                ),
                params![key.platform.as_str(), key.user_id, instance.to_string()],
                binding_from_row,
            )
            .optional()?)
    }

    /// Marks activity on a binding (drives the online footer).
    pub fn touch_binding(&mut self, key: &UserKey, instance: Uuid, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE bindings SET last_active = ?1 WHERE platform = ?2 AND user_id = ?3 AND instance_id = ?4",
            params![now, key.platform.as_str(), key.user_id, instance.to_string()],
        )?;
        Ok(())
    }
}

fn bindings_where(conn: &Connection, clause: &str, arg: &str) -> Result<Vec<Binding>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {BINDING_COLS} FROM bindings WHERE {clause} ORDER BY bound_at, rowid"
    ))?;
    let rows = stmt.query_map([arg], binding_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn remove_binding(conn: &Connection, key: &UserKey, instance: Uuid) -> Result<bool> {
    let (p, u, i) = (
        key.platform.as_str(),
        key.user_id.as_str(),
        instance.to_string(),
    );
    let was_owner = conn
        .query_row(
            "SELECT role FROM bindings WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
            params![p, u, i],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .is_some_and(|r| r == "owner");
    let removed = conn.execute(
        "DELETE FROM bindings WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
        params![p, u, i],
    )? > 0;
    if was_owner {
        conn.execute(
            "UPDATE bindings SET role = 'owner' WHERE rowid = \
             (SELECT rowid FROM bindings WHERE instance_id = ?1 ORDER BY bound_at, rowid LIMIT 1)",
            [&i],
        )?;
    }
    // Fall back to the most recently bound remaining instance, or none.
    conn.execute(
        "UPDATE users SET active_instance = \
           (SELECT instance_id FROM bindings WHERE platform = ?1 AND user_id = ?2 \
            ORDER BY bound_at DESC LIMIT 1) \
         WHERE platform = ?1 AND user_id = ?2 AND active_instance = ?3",
        params![p, u, i],
    )?;
    conn.execute(
        "DELETE FROM offline_messages WHERE platform = ?1 AND user_id = ?2 AND instance_id = ?3",
        params![p, u, i],
    )?;
    Ok(removed)
}
