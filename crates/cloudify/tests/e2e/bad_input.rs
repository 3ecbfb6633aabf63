//! Bad input: forged codes at scale, huge and odd messages, injection attempts (issue 8).
//! (10,000 forged credentials against the binder itself: cloudify-core router tests.)

use crate::harness::{T, World, user};
use cloudify_testkit::fake_dingtalk::User as DtUser;
use cloudify_testkit::fake_llm::Script;
use cloudify_testkit::opencode::OpencodeOptions;
use std::time::Duration;

/// Right-to-left override, zero-width joiners and spaces, a BOM, 40 stacked combining marks,
/// an emoji ZWJ family, CJK, and HTML / Markdown that would be markup if passed through.
fn odd_text() -> String {
    let zalgo: String = std::iter::once('e')
        .chain(std::iter::repeat_n('\u{0301}', 40))
        .collect();
    format!(
        "ODDTEXT \u{202E}txet.exe\u{202C} a\u{200B}b\u{200D}c\u{FEFF} {zalgo} 👨\u{200D}👩\u{200D}👧 中文 \
         <script>alert(1)</script> <b>unclosed <i>tags</b> &bogus; &amp;amp; </pre> \
         **bold [click](javascript:alert(1)) `tick ``` _under *star ~strike ||spoiler|| \\"
    )
}

/// Every Bot API call the bot made that Telegram would have refused as bad formatting.
fn parse_errors(w: &World) -> Vec<String> {
    w.tg.calls()
        .into_iter()
        .filter_map(|c| c.error)
        .filter(|e| e.contains("parse"))
        .collect()
}

/// Odd Unicode and markup injection reach OpenCode byte for byte, and come back (echoed by
/// the model, in prose and inside a code block) as literal text: no parse error, no link,
/// no formatting that the input did not ask for.
#[tokio::test(flavor = "multi_thread")]
async fn odd_unicode_and_injection_attempts_arrive_intact_and_render_as_text() {
    let w = World::start().await;
    let alice = user(801, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let odd = odd_text();
    let answer = format!(
        "You wrote: {odd}\n\n```html\n</code></pre><b>{odd}</b>\n```\nEND-ODD <a href=\"javascript:x\">x</a>"
    );
    w.llm.on("ODDTEXT", Script::text(&answer));
    w.says(&alice, &odd).await;
    let m =
        w.tg.wait_for_message(
            801,
            |m| m.text().contains("END-ODD") && m.text().contains("Done"),
            T,
        )
        .await;
    let seen = w
        .llm
        .agent_requests()
        .into_iter()
        .find(|r| r.user_text.contains("ODDTEXT"))
        .expect("the prompt reached the model");
    assert!(
        seen.user_text.contains(&odd),
        "byte for byte: {:?}",
        seen.user_text
    );
    let shown: String =
        w.tg.messages(801)
            .iter()
            .map(|m| m.text().to_string())
            .collect();
    for literal in [
        "<script>alert(1)</script>",
        "<b>unclosed <i>tags</b>",
        "&bogus;",
        "</code></pre><b>",
        "<a href=\"javascript:x\">x</a>",
        "\u{202E}txet.exe",
        "👨\u{200D}👩\u{200D}👧",
    ] {
        assert!(
            shown.contains(literal),
            "{literal:?} shown as text in {shown:?}"
        );
    }
    assert!(
        m.entities()
            .iter()
            .all(|e| e.url.as_deref().is_none_or(|u| !u.contains("javascript"))),
        "no link was made from the input: {:?}",
        m.entities()
    );
    assert_eq!(parse_errors(&w), Vec::<String>::new());
}

/// A 100 KB answer arrives whole (split or as a file), each part exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_100_kb_answer_arrives_whole_and_once() {
    let w = World::start().await;
    let alice = user(802, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let answer: String = (0..2_000)
        .map(|i| format!("Line {i:04} of the big answer <{i}> & more text here.\n"))
        .collect();
    assert!(answer.len() > 100_000);
    w.llm.on("BIGANSWER", Script::text(&answer));
    w.says(&alice, "BIGANSWER").await;
    // About 25 parts at Telegram's one message per second per chat.
    w.tg.wait_for_message(
        802,
        |m| m.text().contains("Line 1999") && m.text().contains("Done"),
        Duration::from_secs(120),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = String::new();
    for m in w.tg.messages(802) {
        got.push_str(m.text());
        if let Some(doc) = &m.document {
            got.push_str(&String::from_utf8_lossy(&doc.bytes));
        }
    }
    for i in 0..2_000 {
        let line = format!("Line {i:04} of the big answer <{i}> & more text here.");
        assert_eq!(
            got.matches(&line).count(),
            1,
            "{line:?} exactly once (of {} chars received): {:#?}",
            got.len(),
            w.tg.messages(802)
                .iter()
                .map(|m| (
                    m.text().chars().take(80).collect::<String>(),
                    m.document
                        .as_ref()
                        .map(|d| (d.file_name.clone(), d.bytes.len())),
                    m.photo.is_some()
                ))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(parse_errors(&w), Vec::<String>::new());
    assert_eq!(w.tg.rate_limited_count(), 0, "{:?}", w.tg.rate_limited());
}

/// Binary junk as a document and control characters in text: the bot passes them on,
/// answers, and keeps working.
#[tokio::test(flavor = "multi_thread")]
async fn binary_junk_and_control_characters_do_not_break_the_bot() {
    let w = World::start().await;
    let alice = user(803, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let junk: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    w.llm.on("JUNKFILE", Script::text("looked at the junk"));
    w.tg.user_sends_document(
        &alice,
        junk,
        "junk.bin",
        "application/octet-stream",
        Some("JUNKFILE what is this?"),
    );
    w.wait_answer(803, "looked at the junk").await;
    w.llm.on("CTRL", Script::text("control answered"));
    w.says(
        &alice,
        "CTRL \u{1}\u{7}\u{8}\u{1b}[31mred\u{1b}[0m \u{7f} tab\there\r\nnext",
    )
    .await;
    w.wait_answer(803, "control answered").await;
    w.llm.on("AFTERJUNK", Script::text("all good"));
    w.says(&alice, "AFTERJUNK").await;
    w.wait_answer(803, "all good").await;
    assert_eq!(parse_errors(&w), Vec::<String>::new());
}

/// A 100 KB message (DingTalk lets people paste that much) reaches OpenCode whole, as an
/// attached file, and the sender is told so in their language.
#[tokio::test(flavor = "multi_thread")]
async fn a_100_kb_message_reaches_opencode_whole_as_a_file() {
    let w = World::start_full(OpencodeOptions::default(), true, None).await;
    let dev = DtUser::new("staff-100k", "小李");
    w.dt()
        .inject_text(&dev, &format!("/bind {}", w.dingtalk_code()));
    w.dt_wait("已绑定实例").await;
    let paste: String = (0..2_500)
        .map(|i| format!("2026-11-21 12:00:{:02} worker-{i} 日志 line {i}\n", i % 60))
        .collect();
    assert!(paste.len() > 100_000);
    let text = format!("BIGPASTE {paste}TAIL-MARKER-4471");
    w.llm
        .on("attached as message.txt", Script::text("read your paste"));
    w.dt().inject_text(&dev, &text);
    w.dt_wait("message.txt").await; // told, in Chinese, that it went as a file
    w.dt_wait("read your paste").await;
    let req = w
        .llm
        .agent_requests()
        .into_iter()
        .find(|r| r.user_text.contains("attached as message.txt"))
        .expect("the prompt reached the model");
    let body = req.body.to_string();
    assert!(
        body.contains("TAIL-MARKER-4471") && body.contains("worker-2499"),
        "the whole paste reached the model ({} bytes of request)",
        body.len()
    );
}
