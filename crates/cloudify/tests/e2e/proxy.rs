//! `/proxy set|status|disable` through a real (loopback) forward proxy that counts traffic.

use crate::harness::{World, user};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP forward proxy (absolute-form requests and CONNECT) that counts connections.
struct CountingProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl CountingProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(client));
            }
        });
        Self { port, connections }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve(mut client: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let target = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let connect = text.starts_with("CONNECT ");
    let authority = if connect {
        target.clone()
    } else {
        let rest = target.split("://").nth(1).unwrap_or_default();
        rest.split('/').next().unwrap_or_default().to_string()
    };
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        return;
    };
    if connect {
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
    } else if upstream.write_all(&head).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_set_routes_bot_traffic_and_disable_stops_it() {
    let mut w = World::start().await;
    let proxy = CountingProxy::start().await;
    let alice = user(401, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let url = format!("http://user:s3cret-pw@127.0.0.1:{}", proxy.port);
    w.says(&alice, &format!("/proxy set {url}")).await;
    let saved = w.wait_text(401, "Proxy saved").await;
    assert!(
        saved.text().contains("user:***@127.0.0.1") && !saved.text().contains("s3cret-pw"),
        "{}",
        saved.text()
    );
    let env = std::fs::read_to_string(w.data.path().join("secrets/proxy.env")).unwrap();
    assert_eq!(
        env,
        format!("HTTP_PROXY={url}\nHTTPS_PROXY={url}\n"),
        "OpenCode's service environment"
    );
    w.kill_bot();
    w.start_bot().await;
    let before = proxy.count();
    w.says(&alice, "/proxy status").await;
    let status = w.wait_text(401, "works").await;
    assert!(!status.text().contains("s3cret-pw"));
    assert!(
        proxy.count() > before,
        "the bot's Telegram traffic goes through the proxy"
    );

    w.says(&alice, "/proxy disable").await;
    w.wait_text(401, "Proxy disabled").await;
    assert_eq!(
        std::fs::read_to_string(w.data.path().join("secrets/proxy.env")).unwrap(),
        ""
    );
    w.kill_bot();
    w.start_bot().await;
    let after = proxy.count();
    w.says(&alice, "/status").await;
    w.wait_text(401, "Proxy: off").await;
    assert_eq!(
        proxy.count(),
        after,
        "no traffic through the proxy once disabled"
    );
    assert!(
        !w.log().contains("s3cret-pw"),
        "the proxy password never reaches the log"
    );
}
