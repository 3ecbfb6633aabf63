//! OpenAPI side: sessionWebhook, sends, uploads, downloads, cards, QPS.

use std::time::Duration;

use cloudify_testkit::fake_dingtalk::{CardOp, Event, FakeDingTalk, Fault, Message};
use serde_json::{Value, json};

use crate::client::*;

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
    let fenced =
        json!({"msgtype": "markdown", "markdown": {"title": "t", "text": "```rs\nfn x() {}\n```"}});
    let v: Value = http
        .post(&url)
        .json(&fenced)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 0, "DingTalk accepts it and shows it raw");
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
    let issues: Vec<Vec<String>> = fake
        .outgoing()
        .iter()
        .filter_map(|e| match e {
            Event::WebhookReply(r) => Some(r.markdown_issues.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(issues, [vec![], vec!["code block".to_string()]]);
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
