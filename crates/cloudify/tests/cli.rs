//! The `cloudify` binary as a user runs it: real process, temp data dir, fake Bot API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use cloudify_testkit::fake_telegram::{FakeTelegram, User};
use image::{GrayImage, Luma};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cloudify(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudify"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDIFY_DATA_DIR", data)
        .env("CLOUDIFY_UPDATE_CHECK", "false")
        .env("RUST_LOG", "info");
    c
}

fn run(c: &mut Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Decodes the half-block QR that `cloudify qr` prints, as a phone camera would.
fn decode_terminal_qr(out: &str) -> String {
    let lines: Vec<Vec<char>> = out
        .lines()
        .filter(|l| l.starts_with("\x1b[30;47m"))
        .map(|l| {
            l.replace("\x1b[30;47m", "")
                .replace("\x1b[0m", "")
                .chars()
                .collect()
        })
        .collect();
    assert!(!lines.is_empty(), "no QR in output:\n{out}");
    let (w, h, s) = (lines[0].len() as u32, lines.len() as u32 * 2, 4);
    let img = GrayImage::from_fn(w * s, h * s, |px, py| {
        let (x, y) = ((px / s) as usize, (py / s) as usize);
        let dark = match lines[y / 2][x] {
            '█' => true,
            '▀' => y % 2 == 0,
            '▄' => y % 2 == 1,
            _ => false,
        };
        Luma([if dark { 0 } else { 255 }])
    });
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[test]
fn qr_prints_a_scannable_code_and_saves_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(cloudify(dir.path()).arg("qr"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let payload = decode_terminal_qr(&text);
    // Without a known bot the QR holds the long form, which `/bind` accepts.
    assert!(text.contains(&format!("/bind {payload}")), "{text}");
    let png = image::open(dir.path().join("qr/workspace.png"))
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(png);
    let grids = prepared.detect_grids();
    assert_eq!(grids[0].decode().unwrap().1, payload);
    assert!(text.contains("DingTalk"));
}

#[test]
fn instance_names_collide_into_suffixes() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        assert!(
            run(cloudify(dir.path()).args(["instance", "add", "api", "--dir", "/srv/api"]))
                .status
                .success()
        );
    }
    let list = stdout(&run(cloudify(dir.path()).args(["instance", "list"])));
    assert!(list.contains("api ") && list.contains("api-1 "), "{list}");
    let o = run(cloudify(dir.path()).args(["instance", "add", "x", "--dir", "relative"]));
    assert!(!o.status.success() && stderr(&o).contains("absolute"));
    assert!(
        run(cloudify(dir.path()).args(["instance", "rename", "api-1", "api"]))
            .status
            .success()
    );
    assert!(
        run(cloudify(dir.path()).args(["instance", "remove", "api-1"]))
            .status
            .success()
    );
}

#[test]
fn bad_config_names_the_key_and_its_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), "telegram:\n  tokne: x\n").unwrap();
    let o = run(cloudify(dir.path()).arg("qr"));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("tokne") && err.contains("config.yaml"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("config.yaml")).unwrap();
    let o = run(cloudify(dir.path())
        .arg("doctor")
        .env("OPENCODE_URL", "localhost:4096"));
    assert!(!o.status.success());
    assert!(stdout(&o).contains("OPENCODE_URL"), "{}", stdout(&o));
}

#[test]
fn run_without_any_im_says_which_variables_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(cloudify(dir.path()).arg("run"));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("TELEGRAM_TOKEN") && err.contains("DINGTALK_APP_KEY"),
        "{err}"
    );
}

#[test]
fn notify_without_a_running_bot_warns_without_failing_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let o = run(cloudify(dir.path())
        .args(["notify", "build", "done"])
        .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{port}")));
    assert!(o.status.success());
    assert!(stderr(&o).contains("not delivered"));
    let o = run(cloudify(dir.path())
        .args(["notify", "--strict", "x"])
        .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{port}")));
    assert!(!o.status.success());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_wizard_checks_the_token_and_writes_a_private_config() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = cloudify(dir.path())
        .arg("setup")
        .env(
            "TELEGRAM_API_URL",
            tg.api_url().as_str().trim_end_matches('/'),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answers = format!(
        "123:wrong-token-abcdefgh\n{}\n\nsocks5://u:p@127.0.0.1:1080\n",
        tg.token()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answers.as_bytes())
        .unwrap();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("✗ Telegram refused this token"), "{out}");
    assert!(out.contains("✓ bot @cloudify_test_bot"), "{out}");
    assert!(!out.contains(tg.token()), "the token is never echoed");
    let path = dir.path().join("config.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains(tg.token()) && yaml.contains("socks5://u:p@127.0.0.1:1080"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cloudify run did not become healthy");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_binds_by_deep_link_answers_commands_and_relays_notifications() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("run.log")).unwrap();
    let configure = |c: &mut Command| {
        c.env("TELEGRAM_TOKEN", tg.token())
            .env(
                "TELEGRAM_API_URL",
                tg.api_url().as_str().trim_end_matches('/'),
            )
            .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{port}"))
            .env("OPENCODE_URL", "http://127.0.0.1:9");
    };
    let mut cmd = cloudify(dir.path());
    configure(&mut cmd);
    let _daemon = Daemon(
        cmd.arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_healthy(port).await;
    let health: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["platforms"][0], "telegram");

    // Once the bot knows its username, the QR holds a t.me deep link.
    let mut qr = cloudify(dir.path());
    configure(&mut qr);
    let text = stdout(&run(qr.arg("qr")));
    let link = decode_terminal_qr(&text);
    let token = link
        .strip_prefix("https://t.me/cloudify_test_bot?start=")
        .expect(&link)
        .to_string();
    assert!(token.len() <= 64);

    let alice = User::new(42, "Alice").username("alice").language_code("en");
    let t = Duration::from_secs(10);
    tg.user_sends_text(&alice, "hello?");
    tg.wait_for_message(42, |m| m.text().contains("not bound"), t)
        .await;
    tg.user_starts(&alice, Some(&format!("{}x", &token[..token.len() - 1])));
    tg.wait_for_message(42, |m| m.text().contains("invalid"), t)
        .await;
    tg.user_starts(&alice, Some(&token));
    tg.wait_for_message(42, |m| m.text().contains("Bound to [workspace]"), t)
        .await;
    tg.wait_for_message(42, |m| m.text().contains("OpenCode"), t)
        .await;
    assert!(!tg.commands().is_empty(), "the command menu was registered");

    let mut notify = cloudify(dir.path());
    configure(&mut notify);
    let o = run(notify.args(["notify", "deploy", "finished"]));
    assert!(
        o.status.success() && stdout(&o).contains("1 user"),
        "{}",
        stderr(&o)
    );
    tg.wait_for_message(42, |m| m.text().contains("deploy finished"), t)
        .await;

    let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    assert!(
        !log.contains(tg.token()),
        "the bot token never reaches the log"
    );
    assert_eq!(tg.rate_limited_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_check_reports_a_newer_version_and_a_live_promotion_in_status() {
    use axum::{Json, Router, extract::Query, routing::get};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let log = seen.clone();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let app = Router::new().route(
        "/v1/check-update",
        get(move |Query(q): Query<HashMap<String, String>>| {
            log.lock().unwrap().push(q);
            async move {
                Json(
                    serde_json::json!({"latest": "9.9.9", "url": "https://example.invalid/release",
                    "promotion": {"text": "Half-price proxies this week", "expires_at": expires}}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!("update_check:\n  enabled: true\n  url: http://127.0.0.1:{port}/v1/check-update\n"),
    )
    .unwrap();
    let http = free_port();
    let mut cmd = cloudify(dir.path());
    cmd.env_remove("CLOUDIFY_UPDATE_CHECK")
        .env("TELEGRAM_TOKEN", tg.token())
        .env(
            "TELEGRAM_API_URL",
            tg.api_url().as_str().trim_end_matches('/'),
        )
        .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{http}"))
        .env("OPENCODE_URL", "http://127.0.0.1:9");
    let _daemon = Daemon(
        cmd.arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(http).await;
    let mut qr = cloudify(dir.path());
    qr.env("TELEGRAM_TOKEN", tg.token()).env(
        "TELEGRAM_API_URL",
        tg.api_url().as_str().trim_end_matches('/'),
    );
    let link = decode_terminal_qr(&stdout(&run(qr.arg("qr"))));
    let token = link.split("start=").nth(1).unwrap().to_string();
    let alice = User::new(77, "Alice").username("alice").language_code("en");
    tg.user_starts(&alice, Some(&token));
    let status = tg
        .wait_for_message(77, |m| m.text().contains("9.9.9"), Duration::from_secs(15))
        .await;
    assert!(
        status.text().contains("Half-price proxies this week"),
        "{}",
        status.text()
    );
    let q = seen.lock().unwrap()[0].clone();
    assert_eq!(
        q.get("version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(q.contains_key("platform") && q.get("instance").is_some_and(|i| i.len() == 16));
    assert_eq!(q.len(), 3, "nothing else is sent: {q:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_wizard_checks_dingtalk_credentials_with_the_token_endpoint() {
    use cloudify_testkit::fake_dingtalk::FakeDingTalk;
    let dt = FakeDingTalk::start("dingwizardkey", "wizard-secret-77").await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = cloudify(dir.path())
        .arg("setup")
        .env("DINGTALK_API_URL", dt.api_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Skip Telegram; a wrong DingTalk secret, then the right one; no proxy.
    let answers = "\ndingwizardkey\nwrong-secret\ndingwizardkey\nwizard-secret-77\n\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answers.as_bytes())
        .unwrap();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("✗ DingTalk refused"), "{out}");
    assert!(out.contains("✓ credentials accepted"), "{out}");
    assert!(
        !out.contains("wizard-secret-77"),
        "the secret is never echoed"
    );
    let yaml = std::fs::read_to_string(dir.path().join("config.yaml")).unwrap();
    assert!(yaml.contains("dingwizardkey") && yaml.contains("wizard-secret-77"));
}

#[test]
fn instance_names_that_could_be_paths_are_refused_at_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(300);
    // (argv cannot carry a NUL; the router and HTTP tests cover it.)
    for bad in ["../x", "a/b", "/abs", "..", &long, "\u{0430}pp", "my app"] {
        let o = run(cloudify(dir.path()).args(["instance", "add", bad, "--dir", "/srv/x"]));
        assert!(!o.status.success(), "{bad:?} was accepted");
        assert!(
            stderr(&o).contains("not a valid instance name"),
            "{}",
            stderr(&o)
        );
        let o = run(cloudify(dir.path()).args(["instance", "rename", "workspace", bad]));
        assert!(!o.status.success(), "rename to {bad:?} was accepted");
    }
    let list = stdout(&run(cloudify(dir.path()).args(["instance", "list"])));
    assert_eq!(list.lines().count(), 2, "only the default instance: {list}");
    assert!(!dir.path().join("x.png").exists() && !dir.path().join("qr/a").exists());
    // Case folds; the QR PNG lands inside qr/.
    let o = run(cloudify(dir.path()).args(["instance", "add", "Web-App", "--dir", "/srv/w"]));
    assert!(stdout(&o).contains("[web-app]"), "{}", stdout(&o));
    assert!(
        run(cloudify(dir.path()).args(["qr", "--instance", "WEB-APP"]))
            .status
            .success()
    );
    assert!(dir.path().join("qr/web-app.png").is_file());
}

/// `cloudify run` with the fake Bot API, stdout and stderr into `log`.
fn start_daemon(dir: &Path, tg: &FakeTelegram, port: u16, log: &str) -> Daemon {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let err = log.try_clone().unwrap();
    Daemon(
        telegram_env(&mut cloudify(dir), tg, port)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap(),
    )
}

fn telegram_env<'a>(c: &'a mut Command, tg: &FakeTelegram, port: u16) -> &'a mut Command {
    c.env("TELEGRAM_TOKEN", tg.token())
        .env(
            "TELEGRAM_API_URL",
            tg.api_url().as_str().trim_end_matches('/'),
        )
        .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("OPENCODE_URL", "http://127.0.0.1:9")
}

#[tokio::test(flavor = "multi_thread")]
async fn once_an_owner_is_bound_no_start_logs_the_link_or_code() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let daemon = start_daemon(dir.path(), &tg, port, "first.log");
    wait_healthy(port).await;
    let text = stdout(&run(
        telegram_env(&mut cloudify(dir.path()), &tg, port).arg("qr")
    ));
    let token = decode_terminal_qr(&text)
        .rsplit("start=")
        .next()
        .unwrap()
        .to_string();
    let code = text
        .lines()
        .find(|l| l.contains("DingTalk"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    let first = std::fs::read_to_string(dir.path().join("first.log")).unwrap();
    assert!(
        first.contains(&code),
        "nobody bound yet: the log shows the code\n{first}"
    );

    let alice = User::new(42, "Alice").username("alice").language_code("en");
    tg.user_starts(&alice, Some(&token));
    tg.wait_for_message(
        42,
        |m| m.text().contains("Bound to"),
        Duration::from_secs(10),
    )
    .await;
    drop(daemon);

    let _daemon = start_daemon(dir.path(), &tg, port, "second.log");
    wait_healthy(port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(
        !second.contains(&token) && !second.contains(&code) && !second.contains("start="),
        "{second}"
    );
    // What start scripts call prints nothing that binds; `cloudify qr` on request still does.
    let o = run(telegram_env(&mut cloudify(dir.path()), &tg, port).args(["qr", "--if-unbound"]));
    assert!(o.status.success());
    assert!(
        !stdout(&o).contains(&code) && !stdout(&o).contains("start="),
        "{}",
        stdout(&o)
    );
    let o = run(telegram_env(&mut cloudify(dir.path()), &tg, port).arg("qr"));
    assert!(stdout(&o).contains(&code));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_port_refuses_instance_names_that_break_the_rule() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _daemon = start_daemon(dir.path(), &tg, port, "run.log");
    wait_healthy(port).await;
    let token = std::fs::read_to_string(dir.path().join("secrets/notify_token")).unwrap();
    let client = reqwest::Client::new();
    let notify = |instance: String| {
        client
            .post(format!("http://127.0.0.1:{port}/api/notify"))
            .bearer_auth(token.trim())
            .json(&serde_json::json!({ "text": "hi", "instance": instance }))
            .send()
    };
    let long = "a".repeat(300);
    for bad in ["../x", "a/b", "/abs", "a\0b", &long, "\u{0430}pp"] {
        let r = notify(bad.to_string()).await.unwrap();
        assert_eq!(r.status(), 400, "{bad:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains("not a valid instance name"), "{body}");
    }
    let r = notify("WORKSPACE".into()).await.unwrap();
    assert_eq!(r.status(), 200, "names fold case");
    assert_eq!(notify("nope".into()).await.unwrap().status(), 404);
}
