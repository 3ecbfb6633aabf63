//! Commands and collaboration on Telegram, against the real OpenCode.

use crate::harness::{T, World, user};
use cloudify_testkit::fake_llm::{Reply, Script};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_question_is_answered_with_a_button() {
    let w = World::start().await;
    let alice = user(201, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let q = json!({"questions": [{"question": "Proceed with deploy?", "header": "Deploy",
        "options": [{"label": "Yes", "description": "go"}, {"label": "No", "description": "stop"}]}]});
    w.llm.on(
        "ASKME",
        Script::tool_call("question", q).then_text("Deploying now."),
    );
    w.says(&alice, "ASKME").await;
    let ask =
        w.tg.wait_for_message(
            201,
            |m| m.text().contains("OpenCode asks: Proceed with deploy?") && !m.buttons().is_empty(),
            T,
        )
        .await;
    let yes = ask
        .buttons()
        .into_iter()
        .find(|(label, _)| label == "Yes")
        .expect("a Yes button")
        .1;
    w.tg.press_button_on(&alice, 201, ask.message_id, &yes);
    w.wait_answer(201, "Deploying now.").await;
    // The answer may overtake the prompt's outcome edit (a new message goes before queued edits).
    w.tg.wait_until(T, |tg| {
        tg.message(201, ask.message_id)
            .filter(|m| m.text().contains("Answered: Yes"))
            .map(|_| ())
    })
    .await;
    let resolved = w.tg.message(201, ask.message_id).unwrap();
    assert!(
        resolved.text().contains("Answered: Yes") && resolved.buttons().is_empty(),
        "{}",
        resolved.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_turn_and_everyone_is_told() {
    let w = World::start().await;
    let alice = user(202, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm
        .on("FOREVER", Reply::slow(400, Duration::from_millis(100)));
    w.says(&alice, "FOREVER").await;
    w.wait_text(202, "Working").await;
    w.says(&alice, "/cancel").await;
    w.wait_text(202, "stopped the running task").await;
    w.wait_text(202, "Stopped after").await;
    w.says(&alice, "/cancel").await;
    w.wait_text(202, "Nothing is running").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_session_and_picking_a_session_from_the_list() {
    let w = World::start().await;
    let alice = user(203, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.llm.on("FIRST", Script::text("first answer"));
    w.says(&alice, "FIRST").await;
    w.wait_answer(203, "first answer").await;
    w.says(&alice, "/new").await;
    w.wait_text(203, "started a new session").await;
    w.llm.on("SECOND", Script::text("second answer"));
    w.says(&alice, "SECOND").await;
    w.wait_answer(203, "second answer").await;
    w.says(&alice, "/sessions").await;
    let list = w.wait_text(203, "Sessions").await;
    let buttons = list.buttons();
    assert!(buttons.len() >= 2, "{buttons:?}");
    // Pick the one that is not current.
    let (_, pick) = buttons
        .iter()
        .find(|(label, _)| !label.starts_with('▶'))
        .expect("another session")
        .clone();
    w.tg.press_button_on(&alice, 203, list.message_id, &pick);
    w.wait_text(203, "switched the current session").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_share_a_turn_and_see_who_is_online() {
    let w = World::start().await;
    let (alice, bob) = (user(204, "Alice"), user(205, "Bob"));
    let token = w.qr_token(None);
    w.bind(&alice, &token).await;
    w.bind(&bob, &token).await;
    w.wait_text(204, "@bob joined").await;
    w.llm.on(
        "SHARED",
        Reply::chunks(["shared ", "answer"]).chunk_delay(Duration::from_millis(1500)),
    );
    w.says(&alice, "SHARED").await;
    let live = w.wait_text(205, "asked by @alice").await;
    assert!(live.from_bot());
    for chat in [204, 205] {
        let m = w.wait_answer(chat, "shared answer").await;
        assert!(
            m.text().contains("Online: @alice, @bob") || m.text().contains("Online: @bob, @alice"),
            "{}",
            m.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_qr_kicks_everyone_and_old_codes_die() {
    let w = World::start().await;
    let (alice, bob) = (user(206, "Alice"), user(207, "Bob"));
    let token = w.qr_token(None);
    w.bind(&alice, &token).await;
    w.bind(&bob, &token).await;
    w.says(&bob, "/reset_qr").await;
    w.wait_text(207, "Only the instance owner").await;
    w.says(&alice, "/reset_qr").await;
    w.wait_text(207, "reset the QR code").await;
    w.wait_text(206, "were removed").await;
    w.tg.user_starts(&bob, Some(&token));
    w.tg.wait_for_message(207, |m| m.text().contains("invalid"), T)
        .await;
    w.says(&bob, "still there?").await;
    w.wait_text(207, "not bound").await;
    let fresh = w.qr_token(None);
    assert_ne!(fresh, token);
    w.bind(&bob, &fresh).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_between_two_instances_routes_prompts() {
    let mut w = World::start().await;
    let second_dir = w.opencode.new_project_dir("second").unwrap();
    w.kill_bot();
    let out = w
        .cloudify()
        .args([
            "instance",
            "add",
            "second",
            "--dir",
            second_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.start_bot().await;
    let alice = user(208, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.bind(&alice, &w.qr_token(Some("second"))).await;
    w.says(&alice, "/list").await;
    w.wait_text(208, "▶ second").await;
    w.llm.on("WHERE", Script::text("answer here"));
    w.says(&alice, "WHERE").await;
    let m = w.wait_answer(208, "answer here").await;
    assert!(
        m.text().starts_with("[second]"),
        "bound to two instances: header shows which: {}",
        m.text()
    );
    let first = w.opencode.project_dir();
    let name = first.file_name().unwrap().to_str().unwrap().to_string();
    w.says(&alice, &format!("/switch {name}")).await;
    w.wait_text(208, "Active instance is now").await;
    w.llm.on("THERE", Script::text("answer there"));
    w.says(&alice, "THERE").await;
    let m = w.wait_answer(208, "answer there").await;
    assert!(m.text().starts_with(&format!("[{name}]")), "{}", m.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn web_terminal_credentials_only_in_a_private_chat() {
    let mut w = World::start().await;
    let secrets = w.data.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("ttyd_user"), "dev\n").unwrap();
    std::fs::write(secrets.join("ttyd_password"), "tty-pass-8812\n").unwrap();
    w.kill_bot();
    std::fs::write(
        w.data.path().join("config.yaml"),
        "web_terminal:\n  public_url: https://dev.example.com\n",
    )
    .unwrap();
    w.start_bot().await;
    let alice = user(209, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    w.says(&alice, "/web").await;
    let private = w.wait_text(209, "Web terminal (ttyd)").await;
    assert!(
        private.text().contains("dev / tty-pass-8812"),
        "{}",
        private.text()
    );
    let group = cloudify_testkit::fake_telegram::Group::new(-1009, "team");
    w.tg.user_sends_group_text(&group, &alice, "/web");
    let in_group =
        w.tg.wait_for_message(-1009, |m| m.text().contains("Web terminal (ttyd)"), T)
            .await;
    assert!(
        !in_group.text().contains("tty-pass-8812"),
        "never in a group: {}",
        in_group.text()
    );
    assert!(in_group.text().contains("private chat"));
    w.says(&alice, "/web-terminal code-server").await;
    w.wait_text(209, "code-server is not installed").await;
}
