//! A small raw DingTalk client for the fake's tests: reqwest + tokio-tungstenite, no adapter code.

use std::time::Duration;

use cloudify_testkit::fake_dingtalk::{FakeConfig, FakeDingTalk, User};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMsg;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const KEY: &str = "dingappkey";
pub const SECRET: &str = "appsecret";
pub const SEC: Duration = Duration::from_secs(5);
pub const BOT: &str = "/v1.0/im/bot/messages/get";
pub const CARD_CB: &str = "/v1.0/card/instances/callback";

pub fn alice() -> User {
    User::new("staff001", "Alice")
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(fake: &FakeDingTalk) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: fake.api_url(),
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.header("x-acs-dingtalk-access-token", t);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .header("x-acs-dingtalk-access-token", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn token(&self) -> String {
        let body = json!({"appKey": KEY, "appSecret": SECRET});
        let (status, v) = self.post("/v1.0/oauth2/accessToken", None, body).await;
        assert_eq!(status, 200, "{v}");
        v["accessToken"].as_str().unwrap().to_string()
    }

    pub async fn register(&self, secret: &str, topics: &[&str]) -> (u16, Value) {
        let mut subs: Vec<Value> = topics
            .iter()
            .map(|t| json!({"type": "CALLBACK", "topic": t}))
            .collect();
        subs.push(json!({"type": "EVENT", "topic": "*"}));
        let body = json!({"clientId": KEY, "clientSecret": secret, "subscriptions": subs, "ua": "raw-test/0.1"});
        let resp = self
            .http
            .post(format!("{}/v1.0/gateway/connections/open", self.base))
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn connect(&self) -> Ws {
        let (status, v) = self.register(SECRET, &[BOT, CARD_CB]).await;
        assert_eq!(status, 200, "{v}");
        let url = format!(
            "{}?ticket={}",
            v["endpoint"].as_str().unwrap(),
            v["ticket"].as_str().unwrap()
        );
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }
}

/// Next text frame, parsed; `None` on close, error or timeout.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(WsMsg::Text(t)))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(WsMsg::Pong(_) | WsMsg::Ping(_)))) => {}
            _ => return None,
        }
    }
}

pub async fn ack(ws: &mut Ws, frame: &Value, data: Value) {
    let ack = json!({
        "code": 200,
        "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"},
        "message": "OK",
        "data": data.to_string(),
    });
    ws.send(WsMsg::Text(ack.to_string().into())).await.unwrap();
}

pub fn data(frame: &Value) -> Value {
    serde_json::from_str(frame["data"].as_str().expect("data is a string")).unwrap()
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub async fn fake_with(f: impl FnOnce(&mut FakeConfig)) -> FakeDingTalk {
    let mut cfg = FakeConfig::new(KEY, SECRET);
    f(&mut cfg);
    FakeDingTalk::start_with(cfg).await
}

/// A fresh streaming `guid` per call.
pub fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "guid-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
