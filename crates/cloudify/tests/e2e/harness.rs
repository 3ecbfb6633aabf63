//! One test world: fake LLM → real opencode ← cloudify run → fake Telegram.
//! The relay benchmark (benches/relay_latency.rs) builds its world with this file too.

use cloudify_core::store::SeenUser;
use cloudify_core::{Platform, Store, UserKey};
use cloudify_testkit::fake_dingtalk::FakeDingTalk;
use cloudify_testkit::fake_llm::FakeLlm;
use cloudify_testkit::fake_telegram::{FakeTelegram, Message, User};
use cloudify_testkit::opencode::{OpencodeOptions, OpencodeServer};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const T: Duration = Duration::from_secs(30);
pub const DT_KEY: &str = "dingcloudifytest";
pub const DT_SECRET: &str = "dt-secret-do-not-log-9931";

pub struct World {
    pub llm: FakeLlm,
    pub opencode: OpencodeServer,
    pub tg: FakeTelegram,
    pub dt: Option<FakeDingTalk>,
    pub data: tempfile::TempDir,
    pub http_port: u16,
    /// Set after the defaults on every `cloudify` command (e.g. a louder RUST_LOG).
    pub extra_env: Vec<(String, String)>,
    bot: Option<Child>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl World {
    pub async fn start() -> World {
        Self::start_with(OpencodeOptions {
            ask_permissions: true,
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(opts: OpencodeOptions) -> World {
        Self::start_full(opts, false, None).await
    }

    /// Telegram and, when asked, DingTalk; `config_yaml` goes to config.yaml before start.
    pub async fn start_full(
        opts: OpencodeOptions,
        dingtalk: bool,
        config_yaml: Option<&str>,
    ) -> World {
        let mut w = Self::build(opts, dingtalk, config_yaml).await;
        w.start_bot().await;
        w
    }

    /// The world with `cloudify run` not started yet (see [`World::start_bot`]).
    pub async fn build(opts: OpencodeOptions, dingtalk: bool, config_yaml: Option<&str>) -> World {
        let llm = FakeLlm::start().await;
        let opencode = OpencodeServer::start_with(&llm, opts)
            .await
            .expect("opencode starts");
        let tg = FakeTelegram::start().await;
        let dt = if dingtalk {
            Some(FakeDingTalk::start(DT_KEY, DT_SECRET).await)
        } else {
            None
        };
        let data = tempfile::tempdir().unwrap();
        if let Some(y) = config_yaml {
            std::fs::write(data.path().join("config.yaml"), y).unwrap();
        }
        World {
            llm,
            opencode,
            tg,
            dt,
            data,
            http_port: free_port(),
            extra_env: Vec::new(),
            bot: None,
        }
    }

    /// The 8-character DingTalk code `cloudify qr` shows for the default instance.
    pub fn dingtalk_code(&self) -> String {
        let out = self
            .cloudify()
            .arg("qr")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = text
            .lines()
            .find(|l| l.contains("DingTalk"))
            .unwrap_or_else(|| panic!("{text}"));
        line.split_whitespace().last().unwrap().to_string()
    }

    pub fn dt(&self) -> &FakeDingTalk {
        self.dt.as_ref().expect("world started with DingTalk")
    }

    /// Waits until the bot sent DingTalk anything containing `needle`.
    pub async fn dt_wait(&self, needle: &str) {
        let n = needle.to_string();
        let found = self
            .dt()
            .wait_for(move |e| e.is_outgoing() && format!("{e:?}").contains(&n), T)
            .await;
        if found.is_err() {
            panic!(
                "DingTalk never got {needle:?}; outgoing: {:#?}",
                self.dt().outgoing()
            );
        }
    }

    pub fn cloudify(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cloudify"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CLOUDIFY_DATA_DIR", self.data.path())
            .env("CLOUDIFY_UPDATE_CHECK", "false")
            .env("TELEGRAM_TOKEN", self.tg.token())
            .env(
                "TELEGRAM_API_URL",
                self.tg.api_url().as_str().trim_end_matches('/'),
            )
            .env(
                "CLOUDIFY_HTTP_LISTEN",
                format!("127.0.0.1:{}", self.http_port),
            )
            .env("OPENCODE_URL", self.opencode.url())
            .env("OPENCODE_DIRECTORY", self.opencode.project_dir())
            .env("RUST_LOG", "info,cloudify=debug,cloudify_opencode=debug");
        if let Some(dt) = &self.dt {
            c.env("DINGTALK_APP_KEY", DT_KEY)
                .env("DINGTALK_APP_SECRET", DT_SECRET)
                .env("DINGTALK_API_URL", dt.api_url())
                .env("DINGTALK_OAPI_URL", dt.oapi_url());
        }
        if let Some(pw) = self.opencode.password() {
            c.env("OPENCODE_SERVER_PASSWORD", pw);
        }
        c.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn log_path(&self) -> PathBuf {
        self.data.path().join("cloudify.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub async fn start_bot(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = self
            .cloudify()
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.bot = Some(child);
        let deadline = Instant::now() + T;
        let url = format!("http://127.0.0.1:{}/healthz", self.http_port);
        while Instant::now() < deadline {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cloudify run never became healthy:\n{}", self.log());
    }

    pub fn kill_bot(&mut self) {
        if let Some(mut c) = self.bot.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The deep-link token `cloudify qr` shows for the default instance.
    pub fn qr_token(&self, instance: Option<&str>) -> String {
        let mut c = self.cloudify();
        c.arg("qr");
        if let Some(i) = instance {
            c.args(["--instance", i]);
        }
        let out = c.stdin(Stdio::null()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with("https://t.me/"))
            .unwrap_or_else(|| panic!("{text}"));
        link.split("start=").nth(1).unwrap().to_string()
    }

    /// Binds a user by deep link and waits for the welcome.
    pub async fn bind(&self, user: &User, token: &str) {
        self.tg.user_starts(user, Some(token));
        self.tg
            .wait_for_message(
                user.id,
                |m| m.text().contains("Bound to") || m.text().contains("already bound"),
                T,
            )
            .await;
    }

    /// Binds Telegram users `ids` (named `{prefix}{n:03}`) to the default instance straight
    /// in the store. Binding them by deep link works too, but each bind tells every earlier
    /// member "X joined": 4,950 notices for 100 users, minutes of the 30/s budget.
    pub fn seed_members(&self, ids: std::ops::Range<i64>, prefix: &str) -> Vec<User> {
        let mut store = Store::open(&self.data.path().join("cloudify.db")).unwrap();
        let inst = store.instances().unwrap()[0].id;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        ids.enumerate()
            .map(|(n, id)| {
                let u = user(id, &format!("{prefix}{n:03}"));
                let key = UserKey::new(Platform::Telegram, id.to_string());
                let seen = SeenUser {
                    key: &key,
                    display_name: &u.first_name,
                    username: u.username.as_deref(),
                    client_language: Some("en"),
                };
                store.upsert_user(&seen, now).unwrap();
                store.bind(&key, inst, now).unwrap();
                // The chat exists on Telegram's side, as if the user had pressed Start long ago.
                self.tg.register_user(&u);
                u
            })
            .collect()
    }

    pub async fn says(&self, user: &User, text: &str) {
        self.tg.user_sends_text(user, text);
    }

    /// The final answer of a turn (not the live message, which shows the answer so far).
    pub async fn wait_answer(&self, chat: i64, needle: &str) -> Message {
        let n = needle.to_string();
        self.tg
            .wait_for_message(
                chat,
                move |m| m.text().contains(&n) && !m.text().contains("Working…"),
                T,
            )
            .await
    }

    pub async fn wait_text(&self, chat: i64, needle: &str) -> Message {
        let n = needle.to_string();
        self.tg
            .wait_for_message(chat, move |m| m.text().contains(&n), T)
            .await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill_bot();
        if std::thread::panicking() {
            eprintln!(
                "---- cloudify log ----\n{}\n---- opencode log ----\n{}",
                self.log(),
                self.opencode.logs()
            );
        }
    }
}

pub fn user(id: i64, name: &str) -> User {
    User::new(id, name)
        .username(&name.to_lowercase())
        .language_code("en")
}
