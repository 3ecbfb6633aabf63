//! Launches the real, pinned `opencode serve` for end-to-end tests.
//!
//! * The binary comes from `CLOUDIFY_OPENCODE_BIN`, else the tool cache filled by
//!   `scripts/install-opencode.sh` (run on demand: a missing binary is installed, never a skip).
//! * Each server gets its own temp root: `HOME`, `XDG_*`, and a project directory; the
//!   environment is cleared so nothing of the developer's opencode setup leaks in.
//! * Config comes via `OPENCODE_CONFIG_CONTENT` and points at a [`FakeLlm`]; the npm registry
//!   points at a closed loopback port so the plugin install at bootstrap does nothing.
//! * `kill` + `restart` reuse the port and the data dirs (sessions survive, as in production).
//! * Dropping the server kills its whole process group.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

use crate::fake_llm::FakeLlm;

/// The opencode-ai version the project is tested against.
pub const OPENCODE_VERSION: &str = "1.18.33";

/// Options of a test server.
#[derive(Debug, Clone, Default)]
pub struct OpencodeOptions {
    /// `"permission": {"bash":"ask","edit":"ask"}` (OpenCode's default runs tools unasked).
    pub ask_permissions: bool,
    /// Sets `OPENCODE_SERVER_PASSWORD` (basic auth, user `opencode`).
    pub password: Option<String>,
    /// Extra top-level config keys merged over the generated config.
    pub extra_config: Option<Value>,
}

/// A running `opencode serve`; killed (with its children) on drop.
pub struct OpencodeServer {
    bin: PathBuf,
    root: tempfile::TempDir,
    port: u16,
    config: String,
    password: Option<String>,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

static BINARY: OnceCell<PathBuf> = OnceCell::const_new();

fn tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CLOUDIFY_TOOLS_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/cloudify-tools")
}

/// Path of the pinned opencode binary, installing it when missing.
///
/// # Errors
/// When the install script fails (no npm, no registry): tests must fail, not skip.
pub async fn opencode_binary() -> anyhow::Result<PathBuf> {
    BINARY.get_or_try_init(find_or_install).await.cloned()
}

async fn find_or_install() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("CLOUDIFY_OPENCODE_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        bail!("CLOUDIFY_OPENCODE_BIN={} does not exist", bin.display());
    }
    // Fast path: the script leaves `.verified` after a successful `--version` check.
    let prefix = tools_dir().join(format!("opencode-{OPENCODE_VERSION}"));
    let cached = prefix.join("node_modules/opencode-linux-x64/bin/opencode");
    if prefix.join(".verified").is_file() && cached.is_file() {
        return Ok(cached);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-opencode.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("OPENCODE_VERSION", OPENCODE_VERSION)
        .stderr(Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed with {}", script.display(), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = stdout.lines().last().map(str::trim).unwrap_or_default();
    if bin.is_empty() || !Path::new(bin).is_file() {
        bail!("install script printed no binary path: {stdout:?}");
    }
    Ok(PathBuf::from(bin))
}

fn closed_port() -> u16 {
    // Bound then released: nothing listens there, so npm/bun fail fast instead of going online.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(9, |a| a.port())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn merge(base: &mut Value, extra: &Value) {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
}

impl OpencodeServer {
    /// Starts a server wired to `llm` with default options.
    ///
    /// # Errors
    /// Install, spawn or health failures.
    pub async fn start(llm: &FakeLlm) -> anyhow::Result<Self> {
        Self::start_with(llm, OpencodeOptions::default()).await
    }

    /// Starts a server wired to `llm`.
    ///
    /// # Errors
    /// Install, spawn or health failures.
    pub async fn start_with(llm: &FakeLlm, opts: OpencodeOptions) -> anyhow::Result<Self> {
        let bin = opencode_binary().await?;
        let root = tempfile::Builder::new()
            .prefix("cloudify-opencode-")
            .tempdir()?;
        for d in ["home", "config", "data", "cache", "state", "project", "tmp"] {
            std::fs::create_dir_all(root.path().join(d))?;
        }
        let mut config = llm.opencode_config();
        if opts.ask_permissions {
            config["permission"] = json!({"bash": "ask", "edit": "ask"});
        }
        if let Some(extra) = &opts.extra_config {
            merge(&mut config, extra);
        }
        let mut server = Self {
            bin,
            root,
            // `--port 0` is not "random" in 1.18.33: it takes 4096 when that is free, so
            // parallel tests would collide. Pick a free port ourselves.
            port: free_port()?,
            config: config.to_string(),
            password: opts.password,
            child: None,
            log: Arc::default(),
        };
        server.spawn().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The basic-auth password, if set.
    #[must_use]
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The default project directory (the server's cwd).
    #[must_use]
    pub fn project_dir(&self) -> PathBuf {
        self.root.path().join("project")
    }

    /// Creates another project directory next to the default one.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new_project_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.root.path().join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// stdout + stderr of the server so far (for assertion messages).
    #[must_use]
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILLs the server and its children (a crash, not a clean stop).
    pub async fn kill(&mut self) {
        self.signal("-KILL");
        if let Some(mut c) = self.child.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), c.wait()).await;
        }
    }

    /// SIGTERM and wait for exit (open SSE streams end cleanly).
    pub async fn stop(&mut self) {
        self.signal("-TERM");
        let exited = match self.child.as_mut() {
            Some(c) => tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .is_ok(),
            None => true,
        };
        if !exited {
            self.signal("-KILL");
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait().await;
        }
    }

    /// Starts again on the same port with the same data dirs (after `kill` or `stop`).
    ///
    /// # Errors
    /// Spawn or health failures.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            self.kill().await;
        }
        let mut last = None;
        // The port can stay busy for a moment after a kill.
        for _ in 0..20 {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("restart failed")))
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            // Negative pid = the whole process group (bash tool children included).
            let _ = std::process::Command::new("kill")
                .args([sig, "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let r = self.root.path();
        let registry = format!("http://127.0.0.1:{}/", closed_port());
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "serve",
            "--hostname",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
        ])
        .current_dir(r.join("project"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", r.join("home"))
        .env("XDG_CONFIG_HOME", r.join("config"))
        .env("XDG_DATA_HOME", r.join("data"))
        .env("XDG_CACHE_HOME", r.join("cache"))
        .env("XDG_STATE_HOME", r.join("state"))
        .env("TMPDIR", r.join("tmp"))
        .env("SHELL", "/bin/bash")
        .env("LANG", "C.UTF-8")
        .env("OPENCODE_CONFIG_CONTENT", &self.config)
        .env("npm_config_registry", &registry)
        .env("NPM_CONFIG_REGISTRY", &registry)
        .env("BUN_CONFIG_REGISTRY", &registry)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
        for flag in [
            "OPENCODE_DISABLE_AUTOUPDATE",
            "OPENCODE_DISABLE_MODELS_FETCH",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS",
            "OPENCODE_DISABLE_SHARE",
            "OPENCODE_DISABLE_LSP_DOWNLOAD",
            "OPENCODE_DISABLE_CLAUDE_CODE",
            "OPENCODE_DISABLE_EXTERNAL_SKILLS",
        ] {
            cmd.env(flag, "1");
        }
        if let Some(pw) = &self.password {
            cmd.env("OPENCODE_SERVER_PASSWORD", pw);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", self.bin.display()))?;
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        if let Some(out) = child.stdout.take() {
            let log = self.log.clone();
            tokio::spawn(async move {
                let mut port_tx = Some(port_tx);
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(port) = line
                        .split("listening on http://127.0.0.1:")
                        .nth(1)
                        .and_then(|p| p.trim().trim_end_matches('/').parse::<u16>().ok())
                        && let Some(tx) = port_tx.take()
                    {
                        let _ = tx.send(port);
                    }
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let log = self.log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        self.child = Some(child);
        let Ok(Ok(port)) = tokio::time::timeout(Duration::from_secs(60), port_rx).await else {
            self.kill().await;
            bail!("opencode did not report its port; log:\n{}", self.logs());
        };
        self.port = port;
        if let Err(e) = self.wait_healthy(Duration::from_secs(60)).await {
            self.kill().await;
            return Err(e.context(format!("log:\n{}", self.logs())));
        }
        Ok(())
    }

    /// Polls `/global/health` with a short per-try timeout (the port hangs during start-up).
    async fn wait_healthy(&self, deadline: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(800))
            .build()?;
        let until = tokio::time::Instant::now() + deadline;
        let url = format!("{}/global/health", self.url());
        loop {
            let mut rb = http.get(&url);
            if let Some(pw) = &self.password {
                rb = rb.basic_auth("opencode", Some(pw));
            }
            if let Ok(resp) = rb.send().await
                && resp.status().is_success()
                && let Ok(v) = resp.json::<Value>().await
                && v["healthy"] == true
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                bail!("opencode not healthy after {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for OpencodeServer {
    fn drop(&mut self) {
        self.signal("-KILL");
    }
}
