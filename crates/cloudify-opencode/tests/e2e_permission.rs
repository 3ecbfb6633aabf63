//! Permission flows against the real opencode with `"permission": {"bash":"ask","edit":"ask"}`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudify_opencode::{PermissionReply, PermissionRequest, ToolStatus, TurnEvent};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::opencode::OpencodeOptions;
use common::{Harness, test_watcher_config};
use serde_json::json;

async fn asking() -> Harness {
    let opts = OpencodeOptions {
        ask_permissions: true,
        ..OpencodeOptions::default()
    };
    Harness::start(opts, test_watcher_config()).await
}

fn bash_script(cmd: &str) -> Script {
    Script::new(vec![
        Reply::tool_call("bash", json!({"command": cmd, "description": "run it"}))
            .with_text("Running a tool."),
    ])
    .then_text("Tool finished.")
}

async fn asked(h: &mut Harness, sid: &str) -> PermissionRequest {
    let sid = sid.to_owned();
    match h.until(move |e| matches!(e, TurnEvent::PermissionAsked { request } if request.session_id == sid)).await {
        TurnEvent::PermissionAsked { request } => request,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_once() {
    let mut h = asking().await;
    h.fake.on("PERM", bash_script("echo permitted"));
    let sid = h.new_session().await;
    h.prompt(&sid, "PERM please").await;
    let req = asked(&mut h, &sid).await;
    assert_eq!(req.permission, "bash");
    assert_eq!(req.metadata["command"], "echo permitted");
    assert_eq!(req.always, ["echo *"]);
    assert!(
        h.client
            .permissions()
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == req.id)
    );
    // While waiting the turn is busy and the tool is shown as running.
    assert!(h.client.session_status().await.unwrap().contains_key(&sid));
    assert!(
        h.client
            .reply_permission(&req.id, PermissionReply::Once, None)
            .await
            .unwrap()
    );
    h.until(|e| {
        matches!(
            e,
            TurnEvent::PermissionResolved {
                reply: Some(PermissionReply::Once),
                ..
            }
        )
    })
    .await;
    let done = h.done(&sid).await;
    assert_eq!(done.text, "Tool finished.");
    assert!(h.seen.iter().any(|e| matches!(e, TurnEvent::Tool(t) if t.status == ToolStatus::Completed && t.output.as_deref() == Some("permitted\n"))));
    // Replying twice is a 404 (PermissionNotFoundError).
    assert!(
        h.client
            .reply_permission(&req.id, PermissionReply::Once, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_always_covers_later_sessions() {
    let mut h = asking().await;
    h.fake.on("FIRST", bash_script("echo first"));
    h.fake.on("SECOND", bash_script("echo second"));
    let s1 = h.new_session().await;
    h.prompt(&s1, "FIRST").await;
    let req = asked(&mut h, &s1).await;
    h.client
        .reply_permission(&req.id, PermissionReply::Always, None)
        .await
        .unwrap();
    h.until(|e| {
        matches!(
            e,
            TurnEvent::PermissionResolved {
                reply: Some(PermissionReply::Always),
                ..
            }
        )
    })
    .await;
    assert_eq!(h.done(&s1).await.text, "Tool finished.");

    let s2 = h.new_session().await;
    h.prompt(&s2, "SECOND").await;
    let done = h.done(&s2).await;
    assert_eq!(done.text, "Tool finished.");
    assert!(
        !h.seen_for(&s2)
            .iter()
            .any(|e| matches!(e, TurnEvent::PermissionAsked { .. })),
        "`echo *` was approved for good"
    );
    assert!(
        h.seen_for(&s2)
            .iter()
            .any(|e| matches!(e, TurnEvent::Tool(t) if t.output.as_deref() == Some("second\n")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_reject_with_message_continues() {
    let mut h = asking().await;
    h.fake
        .on("NOPE", bash_script("echo nope").then_text("unused"));
    let sid = h.new_session().await;
    h.prompt(&sid, "NOPE").await;
    let req = asked(&mut h, &sid).await;
    h.client
        .reply_permission(&req.id, PermissionReply::Reject, Some("use ls instead"))
        .await
        .unwrap();
    h.until(|e| {
        matches!(
            e,
            TurnEvent::PermissionResolved {
                reply: Some(PermissionReply::Reject),
                ..
            }
        )
    })
    .await;
    let done = h.done(&sid).await;
    // The loop went on: the LLM was called again with the feedback as the tool result.
    assert_eq!(done.text, "Tool finished.");
    let follow = h
        .fake
        .agent_requests()
        .into_iter()
        .find(|r| r.step == 1)
        .expect("second LLM call");
    assert!(
        follow
            .tool_results
            .iter()
            .any(|t| t.contains("use ls instead")),
        "{:?}",
        follow.tool_results
    );
    assert!(
        h.seen
            .iter()
            .any(|e| matches!(e, TurnEvent::Tool(t) if t.status == ToolStatus::Error))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_reject_without_message_stops() {
    let mut h = asking().await;
    h.fake.on("NOPE", bash_script("echo nope"));
    let sid = h.new_session().await;
    h.prompt(&sid, "NOPE").await;
    let req = asked(&mut h, &sid).await;
    h.client
        .reply_permission(&req.id, PermissionReply::Reject, None)
        .await
        .unwrap();
    let done = h.done(&sid).await;
    assert_eq!(done.text, "Running a tool.");
    assert_eq!(done.error, None);
    let err = h
        .seen
        .iter()
        .find_map(|e| {
            if let TurnEvent::Tool(t) = e {
                t.error.clone()
            } else {
                None
            }
        })
        .unwrap();
    assert!(err.contains("rejected permission"), "{err}");
    assert!(
        h.fake.agent_requests().iter().all(|r| r.step == 0),
        "no LLM call after a bare reject"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_with_pending_permission_clears_it() {
    let mut h = asking().await;
    h.fake.on("PERM", bash_script("echo later"));
    let sid = h.new_session().await;
    h.prompt(&sid, "PERM").await;
    let req = asked(&mut h, &sid).await;
    h.client.abort(&sid).await.unwrap();
    let rid = req.id.clone();
    h.until(move |e| matches!(e, TurnEvent::PermissionResolved { request_id, reply: None, .. } if *request_id == rid))
        .await;
    let done = h.done(&sid).await;
    assert!(done.error.is_some());
    // The server still lists the stale request (API.md §6): the tracker does not.
    assert!(
        h.client
            .permissions()
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == req.id)
    );
}
