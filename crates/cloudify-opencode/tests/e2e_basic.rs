//! End-to-end against the real opencode 1.18.33 (installed on demand) and the fake LLM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_opencode::{Error, Prompt, PromptPart, ToolStatus, TurnErrorKind, TurnEvent};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::opencode::{OpencodeOptions, OpencodeServer};
use common::{Harness, client_for, test_watcher_config};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answer_and_rest_surface() {
    let mut h = Harness::default().await;
    let sid = h.new_session().await;
    let prompt = Prompt::text("Say hello please").part(PromptPart::file_bytes(
        "text/plain",
        Some("notes.txt"),
        b"ATTACHED_FILE_MARKER",
    ));
    h.client.prompt_async(&sid, &prompt).await.unwrap();
    let done = h.done(&sid).await;
    assert_eq!(done.text, "Hello from the fake LLM!");
    assert_eq!(done.error, None);
    assert!(done.message_id.as_deref().unwrap().starts_with("msg_"));
    let mine = h.seen_for(&sid);
    let first = mine
        .iter()
        .find(|e| !matches!(e, TurnEvent::SessionUpdated { .. }))
        .unwrap();
    assert!(matches!(first, TurnEvent::Started { .. }), "{mine:#?}");
    assert!(
        mine.iter()
            .any(|e| matches!(e, TurnEvent::Progress(p) if !p.text.is_empty()))
    );
    // The file part reached the model.
    let req = h
        .fake
        .wait_for(Duration::from_secs(1), |r| !r.title)
        .await
        .unwrap();
    assert!(
        req.body.to_string().contains("ATTACHED_FILE_MARKER"),
        "{}",
        req.body
    );

    // REST: paging, sessions, status, errors.
    let page = h.client.messages(&sid, Some(1), None).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].info.id, done.message_id.clone().unwrap());
    let cursor = page.next_cursor.expect("older messages exist");
    let older = h
        .client
        .messages(&sid, Some(10), Some(&cursor))
        .await
        .unwrap();
    assert!(
        older
            .messages
            .iter()
            .all(|m| m.info.id < page.messages[0].info.id)
    );
    assert!(!older.messages.is_empty());
    assert!(
        h.client
            .list_sessions(Some(10), None, true)
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == sid)
    );
    assert_eq!(h.client.get_session(&sid).await.unwrap().id, sid);
    assert!(h.client.session_status().await.unwrap().is_empty());
    assert!(h.client.todo(&sid).await.unwrap().is_empty());
    let providers = h.client.providers().await.unwrap();
    assert!(
        providers
            .providers
            .iter()
            .any(|p| p.id == "fake" && p.models.contains_key("fake-model"))
    );
    assert!(
        h.client
            .agents()
            .await
            .unwrap()
            .iter()
            .any(|a| a.name == "build")
    );
    assert!(matches!(
        h.client.get_json("no/such/route").await,
        Err(Error::NotJson { .. })
    ));
    assert!(
        h.client
            .get_session("ses_doesnotexist")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Abort answers true even for unknown ids (API.md trap): the client just reports it.
    assert!(h.client.abort("ses_doesnotexist").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_tool_run_and_todo() {
    let mut h = Harness::default().await;
    h.fake.on(
        "RUN_BASH",
        Script::new(vec![Reply::tool_call("bash", json!({"command": "echo from-bash", "description": "say it"}))
            .with_text("Running a tool.")])
        .then_tool_call(
            "todowrite",
            json!({"todos": [{"content": "Write tests", "status": "in_progress", "priority": "high"}]}),
        )
        .then_text("All done."),
    );
    let sid = h.new_session().await;
    h.prompt(&sid, "please RUN_BASH now").await;
    let done = h.done(&sid).await;
    assert_eq!(done.text, "All done.");
    assert_eq!(done.error, None);
    assert_eq!(done.tools, 2);
    let tools: Vec<_> = h
        .seen_for(&sid)
        .into_iter()
        .filter_map(|e| {
            if let TurnEvent::Tool(t) = e {
                Some(t.clone())
            } else {
                None
            }
        })
        .collect();
    let bash_done = tools
        .iter()
        .find(|t| t.tool == "bash" && t.status == ToolStatus::Completed)
        .unwrap();
    assert_eq!(bash_done.summary, "echo from-bash");
    assert_eq!(bash_done.output.as_deref(), Some("from-bash\n"));
    assert!(
        tools
            .iter()
            .any(|t| t.tool == "bash" && t.status == ToolStatus::Running)
    );
    assert!(h.seen_for(&sid).iter().any(|e| matches!(e, TurnEvent::Progress(p) if p.todos.iter().any(|t| t.content == "Write tests"))));
    let todo = h.client.todo(&sid).await.unwrap();
    assert_eq!(todo[0].content, "Write tests");
    // The tool result went back to the model.
    let reqs = h.fake.agent_requests();
    assert!(
        reqs.iter()
            .any(|r| r.step == 1 && r.tool_results.iter().any(|t| t.contains("from-bash"))),
        "{reqs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_answered() {
    let mut h = Harness::default().await;
    let q = json!({"questions": [{"question": "Proceed with deploy?", "header": "Deploy",
        "options": [{"label": "Yes", "description": "go"}, {"label": "No", "description": "stop"}]}]});
    h.fake.on(
        "ASK",
        Script::tool_call("question", q).then_text("Deploying."),
    );
    let sid = h.new_session().await;
    h.prompt(&sid, "ASK me").await;
    let TurnEvent::QuestionAsked { request } = h
        .until(|e| matches!(e, TurnEvent::QuestionAsked { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(request.session_id, sid);
    assert_eq!(request.questions[0].options.len(), 2);
    assert_eq!(h.client.questions().await.unwrap()[0].id, request.id);
    assert!(
        h.client
            .reply_question(&request.id, &[vec!["Yes".into()]])
            .await
            .unwrap()
    );
    h.until(|e| matches!(e, TurnEvent::QuestionResolved { answers: Some(a), .. } if a == &vec![vec!["Yes".to_owned()]]))
        .await;
    let done = h.done(&sid).await;
    assert_eq!(done.text, "Deploying.");
    let r = h
        .fake
        .agent_requests()
        .into_iter()
        .find(|r| r.step == 1)
        .unwrap();
    assert!(
        r.tool_results[0].contains("\"Proceed with deploy?\"=\"Yes\""),
        "{:?}",
        r.tool_results
    );
    // Answering again: the server says 404, the client says not-found.
    assert!(
        h.client
            .reply_question(&request.id, &[vec!["No".into()]])
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_mid_stream() {
    let mut h = Harness::default().await;
    h.fake
        .on("SLOW", Reply::slow(300, Duration::from_millis(100)));
    let sid = h.new_session().await;
    h.prompt(&sid, "SLOW please").await;
    h.until(|e| matches!(e, TurnEvent::Progress(p) if p.text.contains("slow-3")))
        .await;
    assert!(h.client.abort(&sid).await.unwrap());
    let done = h.done(&sid).await;
    let err = done.error.expect("aborted turn reports an error");
    assert_eq!(err.kind, TurnErrorKind::Aborted);
    assert!(
        done.text.starts_with("slow-0 slow-1 slow-2 slow-3"),
        "{}",
        done.text
    );
    assert!(!done.text.contains("slow-299"));
    // A second idle after abort must not produce a second Done.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Ok(e) = h.events.try_recv() {
        assert!(!matches!(e, TurnEvent::Done(_)), "second done: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_directories_on_one_server_stay_separate() {
    let mut h = Harness::default().await;
    let other_dir = h.server.new_project_dir("other").unwrap();
    let other = client_for(&h.server, &other_dir);
    let (other_watcher, mut other_events) =
        cloudify_opencode::Watcher::spawn(other.clone(), test_watcher_config());
    let a = h.new_session().await;
    let b = other.create_session(&Default::default()).await.unwrap();
    assert_eq!(b.directory, other_dir.to_str().unwrap());
    assert_ne!(
        h.client.get_session(&a).await.unwrap().directory,
        b.directory
    );
    let listed_a: Vec<String> = h
        .client
        .list_sessions(None, None, false)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let listed_b: Vec<String> = other
        .list_sessions(None, None, false)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(
        listed_a.contains(&a) && !listed_a.contains(&b.id),
        "a={a} b={} listed_a={listed_a:?} listed_b={listed_b:?}",
        b.id
    );
    assert!(listed_b.contains(&b.id) && !listed_b.contains(&a));

    h.prompt(&a, "hello from A").await;
    let done = h.done(&a).await;
    assert_eq!(done.text, "Hello from the fake LLM!");
    assert!(h.seen.iter().all(|e| e.session_id() != Some(b.id.as_str())));
    // B's watcher saw nothing of A.
    let mut b_seen = Vec::new();
    while let Ok(Some(e)) =
        tokio::time::timeout(Duration::from_millis(300), other_events.recv()).await
    {
        b_seen.push(e);
    }
    assert!(
        b_seen.iter().all(|e| e.session_id() != Some(a.as_str())),
        "{b_seen:#?}"
    );
    other_watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_required_when_password_set() {
    let fake = cloudify_testkit::fake_llm::FakeLlm::start().await;
    let opts = OpencodeOptions {
        password: Some("s3cret-pw".into()),
        ..OpencodeOptions::default()
    };
    let server = OpencodeServer::start_with(&fake, opts).await.unwrap();
    let good = client_for(&server, &server.project_dir());
    assert_eq!(good.health().await.unwrap().version, "1.18.33");
    let anon = cloudify_opencode::Client::new(
        cloudify_opencode::ClientConfig::new(&server.url()).unwrap(),
    )
    .unwrap();
    assert!(matches!(anon.health().await, Err(Error::Unauthorized)));
    assert!(matches!(
        anon.session_status().await,
        Err(Error::Unauthorized)
    ));
    assert!(good.session_status().await.unwrap().is_empty());
}
