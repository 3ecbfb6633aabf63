//! The Watcher against a tiny HTTP server that answers `/event` with junk first: garbage
//! bytes, a truncated chunked body, an oversized line, the wrong content type, a 500, a
//! stream that stalls mid-frame. No panic, it reconnects each time, and the well-formed
//! stream served last works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cloudify_opencode::{Client, ClientConfig, TurnEvent, Watcher, WatcherConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n";

fn junk_streams() -> Vec<Vec<u8>> {
    let close = |body: &[u8]| [SSE_HEAD.as_bytes(), b"connection: close\r\n\r\n", body].concat();
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    garbage.extend_from_slice(b"\r\n\r\ndata: {\"type\":\n\ndata: \xff\xfe\x00\n\n:");
    let mut oversized = b"data: ".to_vec();
    oversized.resize(17 * 1024 * 1024, b'x');
    oversized.extend_from_slice(b"\n\ndata: {\"type\":\"server.heartbeat\"}\n\n");
    vec![
        close(&garbage),
        // A connected event, then junk, then the server goes away mid-frame.
        close(b"data: {\"type\":\"server.connected\",\"properties\":{}}\n\ndata: {\"type\":\"session.status\",\"prop"),
        [SSE_HEAD.as_bytes(), b"transfer-encoding: chunked\r\n\r\n10\r\ndata: {\"ty"].concat(),
        close(&oversized),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html>".to_vec(),
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbad".to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 999\r\n\r\ndata: x".to_vec(),
        b"not http at all\r\n\r\n".to_vec(),
    ]
}

const GOOD: &[u8] = b"data: {\"type\":\"server.connected\",\"properties\":{}}\n\n\
: keep-alive\n\n\
data: {\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_fuzz\",\"status\":{\"type\":\"busy\"}}}\n\n";

async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if sock.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn serve(sock: &mut TcpStream, event_calls: &AtomicUsize) {
    let Some(head) = read_head(sock).await else {
        return;
    };
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    if path.starts_with("/event") {
        let n = event_calls.fetch_add(1, Ordering::SeqCst);
        match junk_streams().get(n) {
            Some(junk) => {
                let _ = sock.write_all(junk).await;
                // A stalled stream: the watcher's own stall timeout must end it.
                if n == 6 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
            None => {
                let head = format!("{SSE_HEAD}\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(GOOD).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
        return;
    }
    let body = if path.starts_with("/session/status") {
        "{}"
    } else {
        "[]"
    };
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(reply.as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_event_streams_then_a_good_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let event_calls = Arc::new(AtomicUsize::new(0));
    let calls = event_calls.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let calls = calls.clone();
            tokio::spawn(async move { serve(&mut sock, &calls).await });
        }
    });
    let client = Client::new(
        ClientConfig::new(&format!("http://{addr}"))
            .unwrap()
            .directory("/w")
            .request_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let cfg = WatcherConfig {
        progress_interval: Duration::from_millis(50),
        stall_timeout: Duration::from_millis(700),
        reconnect_base: Duration::from_millis(10),
        reconnect_cap: Duration::from_millis(50),
        ..WatcherConfig::default()
    };
    let (watcher, mut rx) = Watcher::spawn(client, cfg);
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        let mut seen = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let TurnEvent::Started { session_id } = &ev {
                assert_eq!(session_id, "ses_fuzz");
                return seen;
            }
            seen.push(ev);
        }
        panic!("the watcher stopped: {seen:?}");
    })
    .await
    .expect("the good stream's turn starts");
    assert!(event_calls.load(Ordering::SeqCst) > junk_streams().len());
    // The connected event inside a junk stream counted, and so did losing it.
    assert!(
        started
            .iter()
            .any(|e| matches!(e, TurnEvent::Disconnected { .. })),
        "{started:?}"
    );
    assert!(
        matches!(started.last(), Some(TurnEvent::Connected)),
        "{started:?}"
    );
    watcher.shutdown().await;
}
