//! OpenAI chat-completions wire format: streaming chunks and plain responses.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::script::{Reply, ReplyKind};

const BREAK_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

static CALL_IDS: AtomicU64 = AtomicU64::new(1);

fn chunk(model: &str, delta: &Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn usage(output: usize) -> Value {
    json!({"prompt_tokens": 42, "completion_tokens": output, "total_tokens": 42 + output})
}

fn tool_calls_json(calls: &[(String, Value)]) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            let id = format!("call_{}", CALL_IDS.fetch_add(1, Ordering::Relaxed));
            json!({"index": i, "id": id, "type": "function",
                   "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect()
}

/// An error the body stream yields to cut the connection mid-stream.
#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake llm: stream broken on purpose")
    }
}

impl std::error::Error for Broken {}

/// The HTTP response for `reply`, streaming or not.
pub(crate) fn respond(reply: Reply, model: String, stream: bool) -> Response {
    let (chunks, calls) = match reply.kind {
        ReplyKind::Error { status, message } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": {"message": message, "type": "server_error", "code": null}});
            return (
                code,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
        }
        ReplyKind::Stream { chunks, tool_calls } => (chunks, tool_calls),
    };
    if !stream {
        let text = chunks.concat();
        let calls = tool_calls_json(&calls);
        let finish = if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        let mut message = json!({"role": "assistant", "content": text});
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        let body = json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage(chunks.len()),
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let delay = reply.chunk_delay;
    let break_after = reply.break_after;
    let body = async_stream::stream! {
        yield Ok::<Bytes, Broken>(sse(&chunk(&model, &json!({"role": "assistant", "content": ""}), None)));
        for (i, c) in chunks.iter().enumerate() {
            if break_after == Some(i) {
                // Let what was sent reach the client first, as a real mid-stream cut does.
                tokio::time::sleep(BREAK_FLUSH).await;
                yield Err(Broken);
                return;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            yield Ok(sse(&chunk(&model, &json!({"content": c}), None)));
        }
        if break_after.is_some_and(|n| n >= chunks.len()) {
            tokio::time::sleep(BREAK_FLUSH).await;
            yield Err(Broken);
            return;
        }
        let finish = if calls.is_empty() { "stop" } else { "tool_calls" };
        if !calls.is_empty() {
            yield Ok(sse(&chunk(&model, &json!({"tool_calls": tool_calls_json(&calls)}), None)));
        }
        let mut last = chunk(&model, &json!({}), Some(finish));
        last["usage"] = usage(chunks.len());
        yield Ok(sse(&last));
        yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Text of an OpenAI message `content` (a string or an array of parts).
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}
