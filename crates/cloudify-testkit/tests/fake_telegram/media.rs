//! Photos (multipart, decoded dimensions), albums, getFile downloads, documents.

use super::*;

#[tokio::test]
async fn photo_upload_is_decoded_and_checked() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let photo = InputFile::memory(png(800, 600)).file_name("diff.png");
    let m = bot
        .send_photo(ChatId(42), photo)
        .caption("<i>page 1</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let largest = m.photo().unwrap().last().unwrap();
    assert_eq!((largest.width, largest.height), (800, 600));
    assert_eq!(m.caption(), Some("page 1"));
    let stored = tg.messages(42)[0].photo.clone().unwrap();
    assert_eq!(
        (stored.format, stored.width, stored.height),
        ("png", 800, 600)
    );
    let call = &tg.calls_to("sendPhoto")[0];
    assert!(
        call.params["photo"]
            .as_str()
            .unwrap()
            .starts_with("attach://"),
        "teloxide sent multipart"
    );

    for (w, h) in [(2100, 100), (100, 2100), (6000, 4100)] {
        let wide = InputFile::memory(png(w, h)).file_name("wide.png");
        let err = api_err(bot.send_photo(ChatId(42), wide).await);
        assert_eq!(
            err,
            ApiError::Unknown("Bad Request: PHOTO_INVALID_DIMENSIONS".into()),
            "{w}x{h}"
        );
    }
    // Over 10 MB (a valid header followed by padding) is refused too.
    let mut big = png(100, 100);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let big = InputFile::memory(big).file_name("big.png");
    assert_eq!(
        api_err(bot.send_photo(ChatId(42), big).await),
        ApiError::Unknown("Bad Request: PHOTO_INVALID_DIMENSIONS".into())
    );
    let junk = InputFile::memory(b"not an image".to_vec()).file_name("x.png");
    assert_eq!(
        api_err(bot.send_photo(ChatId(42), junk).await),
        ApiError::ImageProcessFailed
    );
}

#[tokio::test]
async fn media_group_of_two_to_ten() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let item = |n: u32| {
        InputMedia::Photo(InputMediaPhoto::new(
            InputFile::memory(png(100 + n, 100)).file_name(format!("{n}.png")),
        ))
    };
    let album = bot
        .send_media_group(ChatId(42), (0..3).map(item))
        .await
        .unwrap();
    assert_eq!(album.len(), 3);
    assert!(
        album.iter().all(
            |m| m.media_group_id() == album[0].media_group_id() && m.media_group_id().is_some()
        )
    );
    let Some(Event::MediaGroup { messages, .. }) = tg.events(42).pop() else {
        panic!("no album event")
    };
    assert_eq!(
        messages
            .iter()
            .map(|m| m.photo.as_ref().unwrap().width)
            .collect::<Vec<_>>(),
        [100, 101, 102]
    );

    assert_eq!(
        api_err(bot.send_media_group(ChatId(42), (0..11).map(item)).await),
        ApiError::TooMuchMessages
    );
    assert!(
        bot.send_media_group(ChatId(42), (0..1).map(item))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn user_files_can_be_fetched_and_documents_sent() {
    let (tg, bot) = relaxed().await;
    let image = png(64, 32);
    tg.user_sends_photo(&alice(), image.clone(), Some("look"));
    tg.user_sends_document(
        &alice(),
        b"log line\n".to_vec(),
        "app.log",
        "text/plain",
        None,
    );
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::Message(photo_msg) = &updates[0].kind else {
        panic!()
    };
    let UpdateKind::Message(doc_msg) = &updates[1].kind else {
        panic!()
    };
    assert_eq!(photo_msg.caption(), Some("look"));

    let largest = photo_msg.photo().unwrap().last().unwrap();
    let file = bot.get_file(largest.file.id.clone()).await.unwrap();
    let mut downloaded = Vec::new();
    bot.download_file(&file.path, &mut downloaded)
        .await
        .unwrap();
    assert_eq!(downloaded, image);

    let doc = doc_msg.document().unwrap();
    assert_eq!(doc.file_name.as_deref(), Some("app.log"));
    let file = bot.get_file(doc.file.id.clone()).await.unwrap();
    let mut bytes = Vec::new();
    bot.download_file(&file.path, &mut bytes).await.unwrap();
    assert_eq!(bytes, b"log line\n");
    assert!(bot.get_file(FileId("nope".into())).await.is_err());

    let sent = bot
        .send_document(
            ChatId(42),
            InputFile::memory(b"diff".to_vec()).file_name("a.diff"),
        )
        .await
        .unwrap();
    assert_eq!(
        sent.document().unwrap().file_name.as_deref(),
        Some("a.diff")
    );
    assert_eq!(
        tg.messages(42)[0].document.as_ref().unwrap().bytes.as_ref(),
        b"diff"
    );
}
