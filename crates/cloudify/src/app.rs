//! What every subcommand shares: the data directory, config, store, default instance,
//! generated secrets.

use anyhow::{Context, Result};
use cloudify_core::store::{DB_FILE, NewInstance};
use cloudify_core::{Config, EnvVars, Secret, SharedStore, Store};
use std::path::{Path, PathBuf};

/// `CLOUDIFY_DATA_DIR`, default `./data` (`/data` in the image).
pub fn data_dir(env: &EnvVars) -> PathBuf {
    PathBuf::from(
        env.get("CLOUDIFY_DATA_DIR")
            .filter(|s| !s.is_empty())
            .unwrap_or("./data"),
    )
}

pub struct App {
    pub data_dir: PathBuf,
    pub config: Config,
    pub store: SharedStore,
}

impl App {
    /// Loads config and opens the store, creating the data layout on first use.
    pub fn open(env: &EnvVars) -> Result<App> {
        let dir = data_dir(env);
        crate::datadir::prepare(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let mut config = Config::load(&dir, env)?;
        if config.opencode.password.is_empty() {
            // The container keeps OpenCode's generated password here (see s6 init-data).
            if let Some(pw) = read_secret(&dir, "opencode_password") {
                config.opencode.password = pw;
            }
        }
        let db = dir.join(DB_FILE);
        let store = Store::open(&db)
            .with_context(|| format!("cannot open the database {}", db.display()))?;
        let app = App {
            data_dir: dir,
            config,
            store: SharedStore::new(store),
        };
        app.ensure_default_instance()?;
        Ok(app)
    }

    /// The instance of `opencode.url` + `opencode.directory`, created on first start.
    fn ensure_default_instance(&self) -> Result<()> {
        let c = &self.config.opencode;
        let (url, dir) = (c.url.clone(), c.directory.clone());
        self.store.call_now(|s| {
            if !s.instances()?.is_empty() {
                return Ok(());
            }
            // The directory's base name, folded to the naming rule (`My Project` → `my-project`).
            let name = Path::new(&dir)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(cloudify_core::names::sanitize)
                .unwrap_or_else(|| "opencode".into());
            let new = NewInstance {
                name,
                url,
                directory: dir,
                password: None,
            };
            s.add_instance(&new, now_secs())?;
            Ok(())
        })?;
        Ok(())
    }

    /// Finds an instance by name, or the only/first one when no name is given.
    pub fn instance(&self, name: Option<&str>) -> Result<cloudify_core::store::Instance> {
        let all = self.store.call_now(|s| s.instances())?;
        match name {
            Some(n) => all
                .into_iter()
                .find(|i| i.name == n || cloudify_core::names::check(n).is_ok_and(|f| f == i.name))
                .with_context(|| format!("no instance named `{n}` (see `cloudify instance list`)")),
            None => all
                .into_iter()
                .next()
                .context("no instance yet (see `cloudify instance add`)"),
        }
    }

    /// The notify token: config, else `secrets/notify_token`, else a new one saved there.
    /// It may only call `POST /api/notify`.
    pub fn notify_token(&self) -> Result<Secret> {
        if !self.config.http.notify_token.is_empty() {
            return Ok(self.config.http.notify_token.clone());
        }
        self.generated_secret("notify_token")
    }

    /// The admin token of the HTTP port (`secrets/admin_token`, created on first use): the only
    /// credential for admin calls such as `POST /api/reset-qr`. It lives only in the bot
    /// account's 0700 `secrets/`, never in the environment, so the agent cannot read it.
    pub fn admin_token(&self) -> Result<Secret> {
        self.generated_secret(ADMIN_TOKEN_FILE)
    }

    /// `secrets/<name>`, or 24 random bytes (hex) stored there first (0600). When two processes
    /// race, the first file to land wins and both use it.
    fn generated_secret(&self, name: &str) -> Result<Secret> {
        if let Some(t) = read_secret(&self.data_dir, name) {
            return Ok(t);
        }
        let mut raw = [0u8; 24];
        rand_fill(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let path = self.data_dir.join("secrets").join(name);
        let tmp = self
            .data_dir
            .join("secrets")
            .join(format!(".{name}.{}", std::process::id()));
        write_new_private(&tmp, token.as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        // hard_link fails when the file exists: never replace a token another process handed out.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Secret::new(token)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read_secret(&self.data_dir, name).with_context(|| {
                    format!("{} is empty: delete it to get a new one", path.display())
                })
            }
            Err(e) => Err(e).with_context(|| format!("cannot write {}", path.display())),
        }
    }
}

/// Writes a fresh file (0600) of this process's own name, complete on disk before it is linked.
fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path); // left by a crashed process with the same pid
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// File name of the admin token under `secrets/`.
pub const ADMIN_TOKEN_FILE: &str = "admin_token";

pub fn rand_fill(buf: &mut [u8]) {
    // The core crate already depends on rand; reuse its signing-key generator's source.
    let key = cloudify_core::store::SigningKey::generate();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = key.0[i % key.0.len()];
    }
}

pub fn read_secret(data_dir: &Path, name: &str) -> Option<Secret> {
    let raw = std::fs::read_to_string(data_dir.join("secrets").join(name)).ok()?;
    let t = raw.trim();
    (!t.is_empty()).then(|| Secret::new(t))
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
