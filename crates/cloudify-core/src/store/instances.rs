//! Instances: one OpenCode workspace (server URL + directory) the bot can drive.

use super::{Result, Store, StoreError};
use crate::names;
use crate::secret::Secret;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::fmt;
use uuid::Uuid;

/// The per-instance HMAC key that signs binding codes. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(pub [u8; 32]);

impl SigningKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self(key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub directory: String,
    pub password: Option<Secret>,
    pub key: SigningKey,
    pub qr_version: u32,
    pub current_session: Option<String>,
    pub model: Option<String>,
    pub agent: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewInstance {
    pub name: String,
    pub url: String,
    pub directory: String,
    pub password: Option<Secret>,
}

const COLUMNS: &str = "id, name, url, directory, password, secret_key, qr_version, \
                       current_session, model, agent, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Instance> {
    let id: String = r.get(0)?;
    let key: Vec<u8> = r.get(5)?;
    let bad = |col: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            format!("instances: bad {what}").into(),
        )
    };
    Ok(Instance {
        id: Uuid::parse_str(&id).map_err(|_| bad(0, "id"))?,
        name: r.get(1)?,
        url: r.get(2)?,
        directory: r.get(3)?,
        password: r.get::<_, Option<String>>(4)?.map(Secret::new),
        key: SigningKey(key.try_into().map_err(|_| bad(5, "key length"))?),
        qr_version: r.get(6)?,
        current_session: r.get(7)?,
        model: r.get(8)?,
        agent: r.get(9)?,
        created_at: r.get(10)?,
    })
}

fn unique_name(conn: &Connection, base: &str, except: Option<Uuid>) -> Result<String> {
    let except = except.map(|e| e.to_string());
    let taken = |name: &str| -> Result<bool> {
        let id: Option<String> = conn
            .query_row("SELECT id FROM instances WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(id.is_some() && id != except)
    };
    let mut candidate = base.to_string();
    let mut n = 0;
    while taken(&candidate)? {
        n += 1;
        candidate = names::with_suffix(base, n);
    }
    Ok(candidate)
}

impl Store {
    /// A free name: `base`, else `base-1`, `base-2`, … (SPEC §5 `/rename`).
    pub fn unique_instance_name(&self, base: &str, except: Option<Uuid>) -> Result<String> {
        unique_name(&self.conn, base, except)
    }

    pub fn add_instance(&mut self, new: &NewInstance, now: i64) -> Result<Instance> {
        let base = names::check(&new.name)?;
        let tx = self.conn.savepoint()?;
        let name = unique_name(&tx, &base, None)?;
        let id = Uuid::new_v4();
        let key = SigningKey::generate();
        tx.execute(
            "INSERT INTO instances (id, name, url, directory, password, secret_key, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id.to_string(),
                name,
                new.url,
                new.directory,
                new.password.as_ref().map(|p| p.expose().to_string()),
                key.0.to_vec(),
                now
            ],
        )?;
        tx.commit()?;
        self.instance(id)?
            .ok_or_else(|| StoreError::NoSuchInstance(id.to_string()))
    }

    pub fn instances(&self) -> Result<Vec<Instance>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM instances ORDER BY created_at, name"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn instance(&self, id: Uuid) -> Result<Option<Instance>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM instances WHERE id = ?1"),
                [id.to_string()],
                from_row,
            )
            .optional()?)
    }

    pub fn instance_by_name(&self, name: &str) -> Result<Option<Instance>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM instances WHERE name = ?1"),
                [name],
                from_row,
            )
            .optional()?)
    }

    /// Renames an instance; a taken name gets `-1`, `-2`, …. Returns the name given.
    /// The new name must follow [`names`]' rule.
    pub fn rename_instance(&mut self, id: Uuid, wanted: &str) -> Result<String> {
        let base = names::check(wanted)?;
        let name = self.unique_instance_name(&base, Some(id))?;
        let n = self.conn.execute(
            "UPDATE instances SET name = ?1 WHERE id = ?2",
            params![name, id.to_string()],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchInstance(id.to_string()));
        }
        Ok(name)
    }

    /// Removes an instance with its bindings and backlog (cascade).
    pub fn remove_instance(&mut self, id: Uuid) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM instances WHERE id = ?1", [id.to_string()])?
            > 0)
    }

    pub fn set_current_session(&mut self, id: Uuid, session: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE instances SET current_session = ?1 WHERE id = ?2",
            params![session, id.to_string()],
        )?;
        Ok(())
    }

    pub fn set_model(&mut self, id: Uuid, model: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE instances SET model = ?1 WHERE id = ?2",
            params![model, id.to_string()],
        )?;
        Ok(())
    }

    pub fn set_agent(&mut self, id: Uuid, agent: Option<&str>) -> Result<()> {
        self.conn.execute(
            "UPDATE instances SET agent = ?1 WHERE id = ?2",
            params![agent, id.to_string()],
        )?;
        Ok(())
    }
}
