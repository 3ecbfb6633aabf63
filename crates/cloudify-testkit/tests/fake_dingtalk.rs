//! The fake DingTalk against a small raw client (reqwest + tokio-tungstenite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cloudify_testkit::fake_dingtalk::{
    AckProblemKind, CardOp, Event, FakeConfig, FakeDingTalk, Fault, FrameKind, Message, User,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMsg;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const KEY: &str = "dingappkey";
const SECRET: &str = "appsecret";
const SEC: Duration = Duration::from_secs(5);
const BOT: &str = "/v1.0/im/bot/messages/get";
const CARD_CB: &str = "/v1.0/card/instances/callback";

fn alice() -> User {
    User::new("staff001", "Alice")
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(fake: &FakeDingTalk) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: fake.api_url(),
        }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.header("x-acs-dingtalk-access-token", t);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
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

    async fn token(&self) -> String {
        let body = json!({"appKey": KEY, "appSecret": SECRET});
        let (status, v) = self.post("/v1.0/oauth2/accessToken", None, body).await;
        assert_eq!(status, 200, "{v}");
        v["accessToken"].as_str().unwrap().to_string()
    }

    async fn register(&self, secret: &str, topics: &[&str]) -> (u16, Value) {
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

    async fn connect(&self) -> Ws {
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
async fn next_frame(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(WsMsg::Text(t)))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(WsMsg::Pong(_) | WsMsg::Ping(_)))) => {}
            _ => return None,
        }
    }
}

async fn ack(ws: &mut Ws, frame: &Value, data: Value) {
    let ack = json!({
        "code": 200,
        "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"},
        "message": "OK",
        "data": data.to_string(),
    });
    ws.send(WsMsg::Text(ack.to_string().into())).await.unwrap();
}

fn data(frame: &Value) -> Value {
    serde_json::from_str(frame["data"].as_str().expect("data is a string")).unwrap()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn fake_with(f: impl FnOnce(&mut FakeConfig)) -> FakeDingTalk {
    let mut cfg = FakeConfig::new(KEY, SECRET);
    f(&mut cfg);
    FakeDingTalk::start_with(cfg).await
}

#[tokio::test]
async fn token_fetch_wrong_secret_and_expiry() {
    let fake = fake_with(|c| c.token_ttl = Duration::from_millis(300)).await;
    let client = Client::new(&fake);
    let bad = json!({"appKey": KEY, "appSecret": "nope"});
    let (status, v) = client.post("/v1.0/oauth2/accessToken", None, bad).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalidClientSecret"))
    );
    assert!(v["requestid"].is_string());

    let token = client.token().await;
    fake.add_user(&alice());
    let send = json!({"robotCode": KEY, "userIds": ["staff001"], "msgKey": "sampleText",
        "msgParam": json!({"content": "hi"}).to_string()});
    let (status, v) = client
        .post(
            "/v1.0/robot/oToMessages/batchSend",
            Some(&token),
            send.clone(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["processQueryKey"].is_string());

    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, v) = client
        .post("/v1.0/robot/oToMessages/batchSend", Some(&token), send)
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("InvalidAuthentication"))
    );

    // Legacy endpoint: HTTP 200 with errcode.
    let url = format!("{}/gettoken?appkey={KEY}&appsecret=bad", fake.oapi_url());
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(v["errcode"], 40089);
}

#[tokio::test]
async fn registration_validates_secret_and_subscriptions() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    let (status, v) = client.register("wrong", &[BOT]).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("authFailed")));
    let bad_subs = json!({"clientId": KEY, "clientSecret": SECRET,
        "subscriptions": [{"type": "EVENT", "topic": "chat_update_title"}]});
    let (status, v) = client
        .post("/v1.0/gateway/connections/open", None, bad_subs)
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalidParameter"))
    );
    let (status, v) = client.register(SECRET, &[BOT]).await;
    assert_eq!(status, 200);
    assert!(
        v["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    assert_eq!(fake.registration_count(), 1);
    assert_eq!(fake.registrations()[0].ua.as_deref(), Some("raw-test/0.1"));
}

#[tokio::test]
async fn tickets_are_single_use_and_expire() {
    let fake = fake_with(|c| c.ticket_ttl = Duration::from_millis(200)).await;
    let client = Client::new(&fake);
    let (_, v) = client.register(SECRET, &[BOT]).await;
    let url = format!(
        "{}?ticket={}",
        v["endpoint"].as_str().unwrap(),
        v["ticket"].as_str().unwrap()
    );
    let _ws = tokio_tungstenite::connect_async(&url).await.unwrap();
    let err = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    let (_, v) = client.register(SECRET, &[BOT]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!(
        "{}?ticket={}",
        v["endpoint"].as_str().unwrap(),
        v["ticket"].as_str().unwrap()
    );
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
    assert_eq!(fake.total_connections(), 1);
}

#[tokio::test]
async fn injected_message_is_acked_with_latency() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    // Injected before any connection: queued, delivered on connect.
    let sent = fake.inject_text(&alice(), "hello");
    assert!(sent.message_id.is_none());
    let mut ws = client.connect().await;
    let frame = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(frame["type"], "CALLBACK");
    assert!(
        frame["headers"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string)
    );
    let d = data(&frame);
    assert_eq!(
        (d["msgtype"].as_str(), d["text"]["content"].as_str()),
        (Some("text"), Some("hello"))
    );
    assert_eq!(
        (d["conversationType"].as_str(), d["senderStaffId"].as_str()),
        (Some("1"), Some("staff001"))
    );
    assert_eq!(d["msgId"], sent.payload_id.as_str());
    ack(&mut ws, &frame, json!({"response": "OK"})).await;
    let mid = frame["headers"]["messageId"].as_str().unwrap();
    let record = fake.wait_for_ack(mid, SEC).await.unwrap();
    assert_eq!(
        (record.code, record.kind, record.late),
        (200, FrameKind::Callback, false)
    );
    assert!(record.latency < Duration::from_secs(1));
    assert!(fake.ack_problems().is_empty(), "{:?}", fake.ack_problems());
    assert_eq!(fake.connection_count(), 1);

    // Malformed and unknown ACKs are recorded, not accepted.
    let bad = json!({"code": 200, "headers": {"messageId": "nope", "contentType": "application/json"}, "data": "{}"});
    ws.send(WsMsg::Text(bad.to_string().into())).await.unwrap();
    let sent = fake.inject_text(&alice(), "again");
    let frame = next_frame(&mut ws, SEC).await.unwrap();
    let obj = json!({"code": 200, "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"}, "data": {"response": null}});
    ws.send(WsMsg::Text(obj.to_string().into())).await.unwrap();
    let p = fake
        .wait_for(
            |e| matches!(e, Event::AckProblem(p) if matches!(p.kind, AckProblemKind::Malformed(_))),
            SEC,
        )
        .await
        .unwrap();
    assert!(format!("{p:?}").contains("data must be a string"));
    assert!(
        fake.ack_problems()
            .iter()
            .any(|p| p.kind == AckProblemKind::UnknownMessageId)
    );
    let _ = sent;
}

#[tokio::test]
async fn missing_ack_is_flagged_and_redelivered() {
    let fake = fake_with(|c| {
        c.ack_deadline = Duration::from_millis(100);
        c.redeliver_after = Duration::from_millis(300);
        c.redeliver_callbacks = true;
    })
    .await;
    let mut ws = Client::new(&fake).connect().await;
    fake.inject_text(&alice(), "ping me twice");
    let first = next_frame(&mut ws, SEC).await.unwrap();
    let again = next_frame(&mut ws, SEC).await.unwrap();
    assert_ne!(first["headers"]["messageId"], again["headers"]["messageId"]);
    assert_eq!(
        data(&first)["msgId"],
        data(&again)["msgId"],
        "same msgId: the client must dedupe"
    );
    assert!(
        fake.ack_problems()
            .iter()
            .any(|p| p.kind == AckProblemKind::Missing)
    );
    ack(&mut ws, &again, json!({"response": "OK"})).await;
    fake.wait_for(|e| matches!(e, Event::Acked(_)), SEC)
        .await
        .unwrap();

    // Events: an ACK with status LATER asks for redelivery.
    let mut ws2 = Client::new(&fake).connect().await;
    let _ = ws2.close(None).await;
    fake.wait_for(
        |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    by_client: true,
                    ..
                }
            )
        },
        SEC,
    )
    .await
    .unwrap();
    let ev = fake.inject_event("chat_update_title", json!({"title": "x"}));
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["eventId"].as_str()),
        (Some("EVENT"), Some(ev.payload_id.as_str()))
    );
    ack(&mut ws, &f, json!({"status": "LATER", "message": "busy"})).await;
    let f2 = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(f2["headers"]["eventId"], ev.payload_id.as_str());
}

#[tokio::test]
async fn pings_answered_then_unanswered() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let mut ws = Client::new(&fake).connect().await;
    ws.send(WsMsg::Ping(b"hb".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(pong, WsMsg::Pong(_)));

    // SYSTEM ping: the ACK must echo opaque.
    let ids = fake.send_ping();
    assert_eq!(ids.len(), 1);
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("ping"))
    );
    ack(&mut ws, &f, json!({"opaque": "wrong"})).await;
    fake.wait_for(
        |e| matches!(e, Event::AckProblem(p) if p.kind == AckProblemKind::BadPingEcho),
        SEC,
    )
    .await
    .unwrap();
    fake.send_ping();
    let f = next_frame(&mut ws, SEC).await.unwrap();
    let mark = fake.mark();
    ack(&mut ws, &f, data(&f)).await;
    fake.wait_for_ack(f["headers"]["messageId"].as_str().unwrap(), SEC)
        .await
        .unwrap();

    assert_eq!(fake.stop_answering_pings(), 1);
    ws.send(WsMsg::Ping(b"hb2".to_vec().into())).await.unwrap();
    let silent = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(
        silent.is_err(),
        "a silent server must not answer: {silent:?}"
    );
    assert_eq!(fake.connection_count(), 0);
    assert!(
        fake.wait_for_since(mark, |e| matches!(e, Event::AckProblem(_)), Duration::ZERO)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn disconnect_frame_then_forced_close_then_reregister() {
    let fake = fake_with(|c| c.disconnect_grace = Duration::from_millis(200)).await;
    let client = Client::new(&fake);
    let mut ws = client.connect().await;
    assert_eq!(fake.send_disconnect(), 1);
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("disconnect"))
    );
    assert_eq!(data(&f)["reason"], "connection is expired");
    // A message injected now goes to a fresh connection, not the draining one.
    fake.inject_text(&alice(), "after rotation");
    assert!(
        next_frame(&mut ws, SEC).await.is_none(),
        "server force-closes after the grace period"
    );
    let mut ws2 = client.connect().await;
    let f = next_frame(&mut ws2, SEC).await.unwrap();
    assert_eq!(data(&f)["text"]["content"], "after rotation");
    assert_eq!(
        (fake.registration_count(), fake.total_connections()),
        (2, 2)
    );
}

#[tokio::test]
async fn drop_connection_without_close_frame() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let mut ws = Client::new(&fake).connect().await;
    assert_eq!(fake.drop_connection(), 1);
    let next = tokio::time::timeout(SEC, ws.next()).await.unwrap();
    assert!(
        !matches!(next, Some(Ok(WsMsg::Close(_)))),
        "no close handshake: {next:?}"
    );
    fake.wait_for(
        |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    by_client: false,
                    ..
                }
            )
        },
        SEC,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn session_webhook_reply_recorded_and_expiry_refused() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let http = reqwest::Client::new();
    let sent = fake.inject(Message::text(alice(), "hi").session_ttl(Duration::from_millis(300)));
    let url = sent.session_webhook.unwrap();
    let reply = json!({"msgtype": "markdown", "markdown": {"title": "t", "text": "**ok**"}});
    let v: Value = http
        .post(&url)
        .json(&reply)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 0);
    let bad = json!({"msgtype": "image", "image": {"mediaId": "@x"}});
    let v: Value = http
        .post(&url)
        .json(&bad)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 40035);
    let Event::WebhookReply(r) = fake
        .wait_for(|e| matches!(e, Event::WebhookReply(_)), SEC)
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        (r.msgtype.as_str(), r.conversation_id),
        ("markdown", sent.conversation_id.unwrap())
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let v: Value = http
        .post(&url)
        .json(&reply)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["errcode"].as_i64(), v["errmsg"].as_str()),
        (Some(300001), Some("session 不存在"))
    );
    assert_eq!(fake.outgoing().len(), 1);
}

#[tokio::test]
async fn png_upload_is_decoded_and_usable_as_image_message() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    let token = client.token().await;
    let http = &client.http;
    let upload = |media_type: &str, name: &str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "media",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
        let url = format!(
            "{}/media/upload?access_token={token}&type={media_type}",
            fake.oapi_url()
        );
        async move {
            http.post(url)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = upload("image", "code.png", png(37, 21)).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let media_id = v["media_id"].as_str().unwrap().to_string();
    assert!(media_id.starts_with('@'));
    let u = &fake.uploads()[0];
    assert_eq!(
        (u.png_size, u.image_format.as_deref()),
        (Some((37, 21)), Some("png"))
    );

    assert_eq!(
        upload("sticker", "a.png", png(2, 2)).await["errcode"],
        40004
    );
    assert_eq!(upload("image", "a.exe", png(2, 2)).await["errcode"], 40005);
    assert_eq!(
        upload("image", "fake.png", b"not a png".to_vec()).await["errcode"],
        40005
    );
    fake.configure(|c| c.max_image_bytes = 10);
    assert_eq!(
        upload("image", "big.png", png(8, 8)).await["errcode"],
        40006
    );

    fake.add_user(&alice());
    let send = |photo: &str| {
        json!({"robotCode": KEY, "userIds": ["staff001"], "msgKey": "sampleImageMsg",
            "msgParam": json!({"photoURL": photo}).to_string()})
    };
    let path = "/v1.0/robot/oToMessages/batchSend";
    let (status, v) = client.post(path, Some(&token), send(&media_id)).await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = client.post(path, Some(&token), send("@lAunknown")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn card_create_deliver_stream_finalize_order_and_callback() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    let token = client.token().await;
    let mut ws = client.connect().await;
    fake.inject_text(&alice(), "start");
    let f = next_frame(&mut ws, SEC).await.unwrap();
    ack(&mut ws, &f, json!({"response": "OK"})).await;

    let stream = |content: &str, full: bool, fin: bool| {
        json!({"outTrackId": "t1", "guid": uuid(), "key": "msgContent", "content": content,
            "isFull": full, "isFinalize": fin, "isError": false})
    };
    let (status, v) = client
        .put("/v1.0/card/streaming", &token, stream("x", false, false))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("param.cardNotExist"))
    );

    let bad = json!({"cardTemplateId": "tpl.schema", "outTrackId": "t1", "cardData": {"cardParamMap": {"n": 1}}});
    assert_eq!(
        client
            .post("/v1.0/card/instances", Some(&token), bad)
            .await
            .0,
        400
    );
    let create = json!({"cardTemplateId": "tpl.schema", "outTrackId": "t1", "callbackType": "STREAM",
        "cardData": {"cardParamMap": {"flowStatus": "1"}}, "imRobotOpenSpaceModel": {"supportForward": true}});
    let (status, v) = client
        .post("/v1.0/card/instances", Some(&token), create)
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("t1")), "{v}");
    let (status, _) = client
        .put("/v1.0/card/streaming", &token, stream("x", false, false))
        .await;
    assert_eq!(status, 400, "streaming before deliver is refused");

    let deliver = json!({"outTrackId": "t1", "openSpaceId": "dtv1.card//IM_ROBOT.staff001", "userIdType": 1,
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"}});
    let (status, v) = client
        .post("/v1.0/card/instances/deliver", Some(&token), deliver)
        .await;
    assert_eq!(
        (status, v["result"][0]["success"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    for (c, full, fin) in [
        ("part 1", true, false),
        (" part 2", false, false),
        (" done", false, true),
    ] {
        let (status, v) = client
            .put("/v1.0/card/streaming", &token, stream(c, full, fin))
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = client
        .put("/v1.0/card/streaming", &token, stream("late", false, false))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("param.streamingFinished"))
    );
    let card = fake.card("t1").unwrap();
    let field = &card.streams["msgContent"];
    assert_eq!(
        (field.content.as_str(), field.finalized, field.updates),
        ("part 1 part 2 done", true, 3)
    );
    let ops: Vec<&str> = fake
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Card { op, .. } => Some(match op {
                CardOp::Create { .. } => "create",
                CardOp::Deliver { .. } => "deliver",
                CardOp::Stream {
                    is_finalize: true, ..
                } => "finalize",
                CardOp::Stream { .. } => "stream",
                _ => "other",
            }),
            _ => None,
        })
        .collect();
    assert_eq!(ops, ["create", "deliver", "stream", "stream", "finalize"]);

    // Button press arrives on the stream; the ACK can update the card.
    fake.inject_card_callback("t1", &alice(), "approve", &json!({"choice": "once"}));
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(f["headers"]["topic"], CARD_CB);
    let content: Value = serde_json::from_str(data(&f)["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["cardPrivateData"]["params"]["choice"], "once");
    ack(
        &mut ws,
        &f,
        json!({"response": {"cardData": {"cardParamMap": {"status": "approved"}}}}),
    )
    .await;
    fake.wait_for(
        |e| {
            matches!(
                e,
                Event::Card {
                    op: CardOp::CallbackResponse { .. },
                    ..
                }
            )
        },
        SEC,
    )
    .await
    .unwrap();
    assert_eq!(fake.card("t1").unwrap().param_map["status"], "approved");
}

/// A fresh streaming `guid` per call.
fn uuid() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "guid-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

#[tokio::test]
async fn qps_limit_and_injected_faults() {
    let fake = fake_with(|c| c.qps_limit = Some(2)).await;
    let client = Client::new(&fake);
    let token = client.token().await;
    fake.add_user(&alice());
    let send = json!({"robotCode": KEY, "userIds": ["staff001", "ghost"], "msgKey": "sampleMarkdown",
        "msgParam": json!({"title": "t", "text": "x"}).to_string()});
    let path = "/v1.0/robot/oToMessages/batchSend";
    let (status, v) = client.post(path, Some(&token), send.clone()).await;
    assert_eq!(v["invalidStaffIdList"], json!(["ghost"]), "{v}");
    assert_eq!(status, 200);
    assert_eq!(client.post(path, Some(&token), send.clone()).await.0, 200);
    let (status, v) = client.post(path, Some(&token), send.clone()).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"))
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    fake.fail_next(path, 1, Fault::ServerError(503));
    assert_eq!(client.post(path, Some(&token), send.clone()).await.0, 503);
    fake.fail_next(path, 1, Fault::QpsLimit);
    assert_eq!(client.post(path, Some(&token), send.clone()).await.0, 403);

    // Shape limits: oversized Markdown, msgParam as an object, too many users.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let big = json!({"robotCode": KEY, "userIds": ["staff001"], "msgKey": "sampleMarkdown",
        "msgParam": json!({"title": "t", "text": "x".repeat(16_000)}).to_string()});
    assert_eq!(client.post(path, Some(&token), big).await.0, 400);
    let obj = json!({"robotCode": KEY, "userIds": ["staff001"], "msgKey": "sampleText", "msgParam": {"content": "x"}});
    assert_eq!(client.post(path, Some(&token), obj).await.0, 400);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let many: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
    let crowd = json!({"robotCode": KEY, "userIds": many, "msgKey": "sampleText",
        "msgParam": json!({"content": "x"}).to_string()});
    assert_eq!(client.post(path, Some(&token), crowd).await.0, 400);
    assert_eq!(
        fake.events()
            .iter()
            .filter(|e| matches!(e, Event::BatchSend(_)))
            .count(),
        2
    );
}

#[tokio::test]
async fn group_message_and_file_download() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    let token = client.token().await;
    let mut ws = client.connect().await;
    fake.inject_group_text(&alice(), "cidGroup1", "Team", "status?");
    let d = data(&next_frame(&mut ws, SEC).await.unwrap());
    assert_eq!(
        (
            d["conversationType"].as_str(),
            d["text"]["content"].as_str()
        ),
        (Some("2"), Some(" status?"))
    );
    assert_eq!(d["isInAtList"], true);
    let send = |cid: &str| {
        json!({"robotCode": KEY, "openConversationId": cid, "msgKey": "sampleText",
            "msgParam": json!({"content": "ok"}).to_string()})
    };
    let path = "/v1.0/robot/groupMessages/send";
    assert_eq!(
        client.post(path, Some(&token), send("cidGroup1")).await.0,
        200
    );
    assert_eq!(
        client.post(path, Some(&token), send("cidOther")).await.0,
        400
    );

    let sent = fake.inject_file(&alice(), "notes.pdf", b"%PDF-1.4 fake".to_vec());
    let d = data(&next_frame(&mut ws, SEC).await.unwrap());
    assert_eq!(
        (d["msgtype"].as_str(), d["content"]["fileName"].as_str()),
        (Some("file"), Some("notes.pdf"))
    );
    let code = d["content"]["downloadCode"].as_str().unwrap();
    assert_eq!(code, sent.download_codes[0]);
    let body = json!({"downloadCode": code, "robotCode": KEY});
    let (status, v) = client
        .post("/v1.0/robot/messageFiles/download", Some(&token), body)
        .await;
    assert_eq!(status, 200, "{v}");
    let bytes = reqwest::get(v["downloadUrl"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.4 fake");
    let bad = json!({"downloadCode": "nope", "robotCode": KEY});
    assert_eq!(
        client
            .post("/v1.0/robot/messageFiles/download", Some(&token), bad)
            .await
            .0,
        400
    );

    fake.inject_audio(&alice(), "今天天气", b"#!AMR".to_vec());
    let d = data(&next_frame(&mut ws, SEC).await.unwrap());
    assert_eq!(d["content"]["recognition"], "今天天气");
}
