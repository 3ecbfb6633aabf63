//! Who keeps access, through the real `cloudify run` and both fake platforms: a kick sticks
//! until `/unban`, a code posted in a group is burned.

use crate::harness::{T, World, user};
use cloudify_testkit::fake_dingtalk::User as DtUser;
use cloudify_testkit::opencode::OpencodeOptions;
use std::time::{Duration, Instant};

async fn both_platforms() -> World {
    World::start_full(OpencodeOptions::default(), true, None).await
}

/// How many things the bot sent DingTalk that contain `needle`.
fn dt_count(w: &World, needle: &str) -> usize {
    w.dt()
        .outgoing()
        .iter()
        .filter(|e| format!("{e:?}").contains(needle))
        .count()
}

/// Waits until DingTalk got one more message containing `needle` than `before`.
async fn dt_wait_new(w: &World, needle: &str, before: usize) {
    let deadline = Instant::now() + T;
    while dt_count(w, needle) <= before {
        assert!(
            Instant::now() < deadline,
            "DingTalk never got a new {needle:?}; outgoing: {:#?}",
            w.dt().outgoing()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kick_sticks_on_telegram_and_dingtalk_until_the_owner_unbans() {
    let w = both_platforms().await;
    let token = w.qr_token(None);
    let code = w.dingtalk_code();
    let alice = user(7001, "Alice");
    let bob = user(7002, "Bob");
    w.bind(&alice, &token).await;
    w.bind(&bob, &token).await;
    let dev = DtUser::new("staff-777", "小李");
    w.dt().inject_text(&dev, &format!("/bind {code}"));
    w.dt_wait("已绑定实例").await;

    w.says(&alice, "/kick @bob").await;
    w.wait_text(bob.id, "removed you").await;
    w.wait_text(alice.id, "/unban @bob").await;
    w.says(&alice, "/kick 小李").await;
    w.dt_wait("你已被所有者移出").await;

    // Everything they have seen is refused: the link, the code.
    w.tg.user_starts(&bob, Some(&token));
    w.wait_text(bob.id, "only after the owner sends /unban")
        .await;
    w.dt().inject_text(&dev, &format!("/bind {code}"));
    w.dt_wait("只有所有者发送 /unban").await;

    w.says(&alice, "/unban 小李").await;
    w.wait_text(alice.id, "may bind again").await;
    let bound = dt_count(&w, "已绑定实例");
    w.dt().inject_text(&dev, &format!("/bind {code}"));
    dt_wait_new(&w, "已绑定实例", bound).await;
    // Bob is still out.
    let refused = |w: &World| {
        w.tg.texts(bob.id)
            .iter()
            .filter(|t| t.contains("only after the owner sends /unban"))
            .count()
    };
    let before = refused(&w);
    w.tg.user_starts(&bob, Some(&token));
    let deadline = Instant::now() + T;
    while refused(&w) <= before {
        assert!(Instant::now() < deadline, "{:?}", w.tg.texts(bob.id));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!w.log().contains(&code), "codes stay out of the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_posted_in_a_dingtalk_group_is_burned_and_the_owner_gets_a_new_one() {
    let w = both_platforms().await;
    let token = w.qr_token(None);
    let code = w.dingtalk_code();
    let alice = user(7101, "Alice");
    w.bind(&alice, &token).await;
    let dev = DtUser::new("staff-778", "小王");
    w.dt().add_group("cid-team", "Team");
    w.dt()
        .inject_group_text(&dev, "cid-team", "Team", &format!("/bind {code}"));
    w.dt_wait("绑定码发到了群里").await;
    w.wait_text(alice.id, "posted in a group chat").await;
    // The owner's new QR carries a new link; the posted code and the old link are dead.
    let new_code = w.dingtalk_code();
    assert_ne!(new_code, code);
    let new_token = w.qr_token(None);
    assert_ne!(new_token, token);
    w.dt().inject_text(&dev, &format!("/bind {code}"));
    w.dt_wait("绑定码无效").await;
    let eve = user(7102, "Eve");
    w.tg.user_starts(&eve, Some(&token));
    w.wait_text(eve.id, "invalid").await;
    // The owner stayed bound, and the new code works.
    w.says(&alice, "/status").await;
    w.wait_text(alice.id, "OpenCode").await;
    w.dt().inject_text(&dev, &format!("/bind {new_code}"));
    w.dt_wait("已绑定实例").await;
}
