use super::*;
use std::fs;

fn load(
    yaml: Option<&str>,
    env: &[(&str, &str)],
) -> (Result<Config, ConfigError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(y) = yaml {
        fs::write(dir.path().join(CONFIG_FILE), y).unwrap();
    }
    let env = EnvVars::from_pairs(env.iter().copied());
    (Config::load(dir.path(), &env), dir)
}

#[test]
fn defaults_match_the_spec() {
    let (c, _d) = load(None, &[]);
    let c = c.unwrap();
    assert_eq!(c.telegram.api_url, "https://api.telegram.org");
    assert_eq!(c.opencode.url, "http://127.0.0.1:4096");
    assert_eq!(c.opencode.username, "opencode");
    assert_eq!(c.opencode.directory, "/workspace");
    assert_eq!(c.opencode.turn_timeout_secs, 1800);
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:4097");
    assert_eq!(c.web_terminal.port, 7681);
    assert_eq!(c.message_image_threshold, 10);
    assert_eq!(c.max_offline_messages, 20);
    assert_eq!(c.presence_minutes, 15);
    assert_eq!(c.stream_edit_interval_ms, 1500);
    assert!(c.update_check.enabled);
    assert!(!c.telegram_enabled() && !c.dingtalk_enabled());
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let yaml = "telegram:\n  token: \"111:AAAAAAAAAAAA\"\n  api_url: http://file.example\nmax_offline_messages: 5\n";
    let (c, _d) = load(Some(yaml), &[("TELEGRAM_API_URL", "http://127.0.0.1:9")]);
    let c = c.unwrap();
    assert_eq!(c.telegram.api_url, "http://127.0.0.1:9");
    assert_eq!(c.telegram.token.expose(), "111:AAAAAAAAAAAA");
    assert_eq!(c.max_offline_messages, 5);
    assert!(c.telegram_enabled());
}

#[test]
fn every_env_var_reaches_its_key() {
    let env = [
        ("TELEGRAM_TOKEN", "42:abcdefghijk"),
        ("DINGTALK_APP_KEY", "dingkey"),
        ("DINGTALK_APP_SECRET", "dingsecret"),
        ("DINGTALK_AGENT_ID", "123"),
        ("DINGTALK_API_URL", "http://127.0.0.1:1"),
        ("DINGTALK_OAPI_URL", "http://127.0.0.1:2"),
        ("OPENCODE_URL", "http://127.0.0.1:3"),
        ("OPENCODE_SERVER_PASSWORD", "pw"),
        ("OPENCODE_DIRECTORY", "/srv/project"),
        ("RESIDENTIAL_PROXY_URL", "http://u:p@127.0.0.1:8"),
        ("WEB_TERMINAL_URL", "https://dev.example.com"),
        ("CLOUDIFY_HTTP_LISTEN", "0.0.0.0:5000"),
        ("CLOUDIFY_UPDATE_CHECK", "false"),
    ];
    let (c, _d) = load(None, &env);
    let c = c.unwrap();
    assert_eq!(c.telegram.token.expose(), "42:abcdefghijk");
    assert_eq!(c.dingtalk.app_key, "dingkey");
    assert_eq!(c.dingtalk.app_secret.expose(), "dingsecret");
    assert_eq!(c.dingtalk.agent_id, "123");
    assert_eq!(c.dingtalk.api_url, "http://127.0.0.1:1");
    assert_eq!(c.dingtalk.oapi_url, "http://127.0.0.1:2");
    assert_eq!(c.dingtalk_robot_code(), "dingkey");
    assert_eq!(c.opencode.url, "http://127.0.0.1:3");
    assert_eq!(c.opencode.password.expose(), "pw");
    assert_eq!(c.opencode.directory, "/srv/project");
    assert!(
        c.proxy.enabled,
        "setting RESIDENTIAL_PROXY_URL enables the proxy"
    );
    assert_eq!(c.active_proxy().unwrap().expose(), "http://u:p@127.0.0.1:8");
    assert_eq!(c.web_terminal.public_url, "https://dev.example.com");
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:5000");
    assert!(!c.update_check.enabled);
    assert_eq!(
        ENV_KEYS.len(),
        env.len() + 1,
        "TELEGRAM_API_URL is tested elsewhere"
    );
}

#[test]
fn unknown_key_names_the_key_and_the_file() {
    let (err, d) = load(Some("telegram:\n  tokn: x\n"), &[]);
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("tokn"), "{msg}");
    assert!(msg.contains("telegram"), "{msg}");
    assert!(
        msg.contains(&d.path().join(CONFIG_FILE).display().to_string()),
        "{msg}"
    );
}

#[test]
fn unknown_top_level_key_is_refused() {
    let (err, _d) = load(Some("languag: zh\n"), &[]);
    assert!(err.unwrap_err().to_string().contains("languag"));
}

#[test]
fn bad_enum_value_names_the_key() {
    let (err, _d) = load(Some("language: fr\n"), &[]);
    let err = err.unwrap_err();
    assert_eq!(err.key(), Some("language"), "{err}");
}

#[test]
fn bad_number_names_the_key() {
    let (err, _d) = load(Some("max_offline_messages: lots\n"), &[]);
    assert_eq!(err.unwrap_err().key(), Some("max_offline_messages"));
    let (err, _d) = load(Some("presence_minutes: 0\n"), &[]);
    assert_eq!(err.unwrap_err().key(), Some("presence_minutes"));
}

#[test]
fn bad_env_value_names_the_variable() {
    let (err, _d) = load(None, &[("TELEGRAM_API_URL", "not a url")]);
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.contains("telegram.api_url") && msg.contains("TELEGRAM_API_URL"),
        "{msg}"
    );
    let (err, _d) = load(None, &[("CLOUDIFY_HTTP_LISTEN", "localhost")]);
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.contains("http.listen") && msg.contains("CLOUDIFY_HTTP_LISTEN"),
        "{msg}"
    );
    let (err, _d) = load(None, &[("CLOUDIFY_UPDATE_CHECK", "maybe")]);
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("CLOUDIFY_UPDATE_CHECK")
    );
}

#[test]
fn bad_file_value_names_the_file() {
    let (err, d) = load(Some("opencode:\n  url: ftp://x\n"), &[]);
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("opencode.url"), "{msg}");
    assert!(msg.contains(&d.path().display().to_string()), "{msg}");
}

#[test]
fn yaml_syntax_error_names_the_file() {
    let (err, _d) = load(Some("telegram: [unclosed\n"), &[]);
    assert!(matches!(err.unwrap_err(), ConfigError::File { .. }));
}

#[test]
fn invalid_proxy_url_is_not_echoed() {
    let (err, _d) = load(None, &[("RESIDENTIAL_PROXY_URL", "bob:secretpw@@")]);
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.contains("proxy.url") && !msg.contains("secretpw"),
        "{msg}"
    );
}

#[test]
fn malformed_telegram_token_is_refused_without_echo() {
    let (err, _d) = load(None, &[("TELEGRAM_TOKEN", "oops-not-a-token")]);
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.contains("telegram.token") && !msg.contains("oops-not-a-token"),
        "{msg}"
    );
}

#[test]
fn empty_env_var_counts_as_unset() {
    let (c, _d) = load(None, &[("TELEGRAM_TOKEN", "")]);
    assert!(!c.unwrap().telegram_enabled());
}

#[test]
fn write_then_load_round_trips_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.telegram.token = Secret::new("7:abcdefghij");
    c.language = LanguageSetting::Zh;
    let path = c.write_to(dir.path()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let back = Config::load(dir.path(), &EnvVars::default()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn secret_values_cover_tokens_passwords_and_the_proxy_password() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("123456789:AAH-secret-half-of-the-token-000000000");
    c.dingtalk.app_secret = Secret::new("dt-app-secret");
    c.proxy.url = Secret::new("http://bob:p%40ss-word@proxy.example:8080");
    let v = c.secret_values();
    for want in [
        "123456789:AAH-secret-half-of-the-token-000000000",
        "AAH-secret-half-of-the-token-000000000",
        "dt-app-secret",
        "p%40ss-word",
        "p@ss-word",
    ] {
        assert!(v.iter().any(|s| s == want), "{want} in {v:?}");
    }
    assert!(v.iter().all(|s| !s.is_empty()));
}
