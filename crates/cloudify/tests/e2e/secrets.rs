//! Known secret values never appear in a log line or an outbound message (issue 8).

use crate::harness::{DT_SECRET, World, user};
use base64::Engine;
use cloudify_testkit::fake_dingtalk::{Event, User as DtUser};
use cloudify_testkit::fake_llm::Script;
use cloudify_testkit::opencode::OpencodeOptions;
use serde_json::json;

const OC_PASSWORD: &str = "oc-pass-Zq81-never-log";

/// A whole session at `RUST_LOG=trace` on both platforms, with an agent that reads the
/// secrets out loud (in prose, in a code block and in a command it asks to run): not one
/// secret value reaches the log or any chat.
#[tokio::test(flavor = "multi_thread")]
async fn known_secrets_never_reach_a_log_line_or_a_chat() {
    let mut w = World::start_full(
        OpencodeOptions {
            ask_permissions: true,
            password: Some(OC_PASSWORD.into()),
            ..Default::default()
        },
        true,
        None,
    )
    .await;
    // The loudest logging there is, for every crate (HTTP clients included).
    w.kill_bot();
    w.extra_env.push(("RUST_LOG".into(), "trace".into()));
    std::fs::write(w.log_path(), "").unwrap();
    w.start_bot().await;

    let tg_token = w.tg.token().to_string();
    let tg_tail = tg_token.split_once(':').unwrap().1.to_string();
    let notify = std::fs::read_to_string(w.data.path().join("secrets/notify_token")).unwrap();
    let notify = notify.trim().to_string();

    let alice = user(901, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let dev = DtUser::new("staff-secret", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;

    // The agent "found" the secrets and repeats them everywhere it can.
    let leak = format!(
        "Found them: the bot token {tg_token}, the DingTalk app secret is {DT_SECRET}, \
         opencode password {OC_PASSWORD}, notify {notify}.\n```sh\nexport T={tg_token}\n\
         curl -u opencode:{OC_PASSWORD} http://localhost\n```\nLEAK-DONE"
    );
    w.llm.on(
        "LEAKY",
        Script::tool_call(
            "bash",
            json!({"command": format!("echo {DT_SECRET} {tg_tail}"), "description": "print"}),
        )
        .then_text(&leak),
    );
    w.says(&alice, "LEAKY please").await;
    let ask = w.wait_text(901, "asks for permission").await;
    assert!(ask.text().contains("echo ***"), "{}", ask.text());
    let (_, data) = ask.buttons().into_iter().next().expect("buttons");
    w.tg.press_button_on(&alice, 901, ask.message_id, &data);
    w.wait_answer(901, "LEAK-DONE").await;
    w.dt_wait("LEAK-DONE").await;

    // Commands, a notification over the HTTP port, a DingTalk prompt.
    w.says(&alice, "/status").await;
    w.wait_text(901, "📊").await;
    w.says(&alice, "/help").await;
    w.wait_text(901, "/sessions").await;
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/api/notify", w.http_port))
        .bearer_auth(&notify)
        .json(&json!({"text": "deploy finished NOTE-1"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    w.wait_text(901, "NOTE-1").await;
    w.llm.on("DTASK", Script::text("dingtalk answer DT-DONE"));
    w.dt().inject_text(&dev, "DTASK");
    w.dt_wait("DT-DONE").await;

    // Every secret this session used, including what the peers issued at run time.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("opencode:{OC_PASSWORD}"));
    let mut secrets = vec![
        tg_token.clone(),
        tg_tail,
        DT_SECRET.to_string(),
        OC_PASSWORD.to_string(),
        basic,
        notify,
    ];
    for e in w.dt().events() {
        match e {
            Event::TokenIssued { token, .. } => secrets.push(token),
            Event::Registered(r) => secrets.push(r.ticket),
            _ => {}
        }
    }
    assert!(
        secrets.len() > 7,
        "DingTalk issued tokens and tickets: {secrets:?}"
    );

    let log = w.log();
    assert!(log.contains(" DEBUG "), "verbose logging was on:\n{log}");
    let to_telegram: String =
        w.tg.calls()
            .iter()
            .map(|c| c.params.to_string())
            .collect::<Vec<_>>()
            .join("\n");
    let to_dingtalk: String = w
        .dt()
        .outgoing()
        .iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join("\n");
    for s in &secrets {
        if let Some(line) = log.lines().find(|l| l.contains(s.as_str())) {
            panic!("secret {s:?} in the log: {line}");
        }
        assert!(
            !to_telegram.contains(s.as_str()),
            "secret {s:?} sent to Telegram"
        );
        assert!(
            !to_dingtalk.contains(s.as_str()),
            "secret {s:?} sent to DingTalk"
        );
    }
    // The answer still arrived, with the secrets masked.
    let answer = w.wait_answer(901, "LEAK-DONE").await;
    assert!(
        answer.text().contains("the DingTalk app secret is ***"),
        "{}",
        answer.text()
    );
}
