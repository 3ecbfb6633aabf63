use super::*;

fn agent_body(messages: &Value, stream: bool) -> Value {
    json!({"model": MODEL, "stream": stream, "tools": [{"type":"function","function":{"name":"bash"}}], "messages": messages})
}

async fn post(fake: &FakeLlm, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Data lines of an SSE body, `[DONE]` excluded, plus whether `[DONE]` was seen.
async fn sse_chunks(resp: reqwest::Response) -> (Vec<Value>, bool) {
    let text = resp.text().await.unwrap();
    let mut done = false;
    let mut out = Vec::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            done = true;
        } else {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    (out, done)
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn default_text_streams_in_deltas_with_done() {
    let fake = FakeLlm::start().await;
    let resp = post(
        &fake,
        &agent_body(&json!([{"role":"user","content":"hi"}]), true),
    )
    .await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (chunks, done) = sse_chunks(resp).await;
    assert!(done);
    assert_eq!(content(&chunks), "Hello from the fake LLM!");
    assert!(chunks.len() > 4, "word deltas expected");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[tokio::test]
async fn tool_call_then_follow_up_by_step() {
    let fake = FakeLlm::start().await;
    fake.on(
        "RUN",
        Script::tool_call("bash", json!({"command":"echo x"})).then_text("done"),
    );
    let first = json!([{"role":"user","content":[{"type":"text","text":"please RUN it"}]}]);
    let (chunks, _) = sse_chunks(post(&fake, &agent_body(&first, true)).await).await;
    let call = chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .unwrap();
    assert_eq!(call["function"]["name"], "bash");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap()["command"],
        "echo x"
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    let second = json!([
        {"role":"user","content":"please RUN it"},
        {"role":"assistant","content":"","tool_calls":[call]},
        {"role":"tool","tool_call_id":"c","content":"x\n"}
    ]);
    let (chunks, _) = sse_chunks(post(&fake, &agent_body(&second, true)).await).await;
    assert_eq!(content(&chunks), "done");
    let reqs = fake.agent_requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].step, 1);
    assert_eq!(reqs[1].last_role, "tool");
    assert_eq!(reqs[1].tool_results, ["x\n"]);
    assert_eq!(reqs[1].rule.as_deref(), Some("RUN"));
}

#[tokio::test]
async fn title_request_does_not_consume_and_non_stream_works() {
    let fake = FakeLlm::start().await;
    fake.on("X", Script::error(400, "no"));
    let body =
        json!({"model": MODEL, "stream": false, "messages": [{"role":"user","content":"X"}]});
    let v: Value = post(&fake, &body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], TITLE);
    assert!(fake.requests()[0].title);
    assert!(fake.agent_requests().is_empty());
}

#[tokio::test]
async fn errors_and_broken_streams() {
    let fake = FakeLlm::start().await;
    fake.on("E500", Script::error(500, "boom"));
    fake.on("BREAK", Reply::chunks(["a", "b", "c"]).break_after(2));
    let resp = post(
        &fake,
        &agent_body(&json!([{"role":"user","content":"E500"}]), true),
    )
    .await;
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "boom"
    );
    let mut resp = post(
        &fake,
        &agent_body(&json!([{"role":"user","content":"BREAK"}]), true),
    )
    .await;
    let mut got = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("stream ended cleanly"),
            Err(e) => break e,
        }
    };
    let got = String::from_utf8(got).unwrap();
    assert!(
        got.contains(r#""content":"b""#),
        "deltas before the break arrive: {got}"
    );
    assert!(!got.contains("[DONE]"));
    drop(err);
}

#[tokio::test]
async fn slow_stream_honours_delay_and_wait_for() {
    let fake = FakeLlm::start().await;
    fake.on("SLOW", Reply::slow(3, Duration::from_millis(100)));
    let t = std::time::Instant::now();
    let (chunks, done) = sse_chunks(
        post(
            &fake,
            &agent_body(&json!([{"role":"user","content":"SLOW"}]), true),
        )
        .await,
    )
    .await;
    assert!(done);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(content(&chunks), "slow-0 slow-1 slow-2 ");
    assert!(
        fake.wait_for(Duration::from_millis(10), |r| r.user_text == "SLOW")
            .await
            .is_some()
    );
    assert!(
        fake.wait_for(Duration::from_millis(10), |r| r.user_text == "nope")
            .await
            .is_none()
    );
}
