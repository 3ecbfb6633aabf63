//! Who may do what: bans, burned codes, owner-only commands, names, session content in groups,
//! the web terminal.

use super::*;
use crate::i18n::Lang;

/// A web terminal that hands out a credential that changes on every rotation.
#[derive(Default)]
struct FakeTerminal {
    rotations: AtomicU64,
}

#[async_trait]
impl WebTerminal for FakeTerminal {
    async fn describe(&self, private: bool, _: Lang) -> Result<Output, ServiceError> {
        let n = self.rotations.load(Ordering::SeqCst);
        Ok(Output::plain(if private {
            format!("Login: cloudify / secret-{n}")
        } else {
            "credentials only in private".to_string()
        }))
    }
    async fn switch(&self, _: &str, _: Lang) -> Result<Output, ServiceError> {
        Ok(Output::plain("ttyd"))
    }
    async fn rotate(&self) -> Result<(), ServiceError> {
        self.rotations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn world_with_terminal(config: Config) -> (World, Arc<FakeTerminal>) {
    let t = Arc::new(FakeTerminal::default());
    (World::build(config, t.clone()).await, t)
}

async fn members(w: &World, id: Uuid) -> Vec<String> {
    w.router
        .store
        .call(move |s| s.members(id))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, u)| u.key.user_id)
        .collect()
}

#[tokio::test]
async fn a_kicked_user_cannot_rebind_with_anything_they_saw_until_unban() {
    let (w, terminal) = world_with_terminal(Config::default()).await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    let code = binding::dingtalk_code(&inst);
    let long = binding::long_payload(&inst, "", 1);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    w.say("carol", &format!("/bind {code}")).await;

    let out = w.say("alice", "/kick @bob").await;
    assert!(to(&out, "bob")[0].contains("removed you"), "{out:?}");
    assert!(
        to(&out, "alice")
            .iter()
            .any(|m| m.contains("Removed @bob") && m.contains("/unban @bob")),
        "{out:?}"
    );
    assert_eq!(terminal.rotations.load(Ordering::SeqCst), 1, "kick rotates");
    for attempt in [
        format!("/start {token}"),
        format!("/bind {code}"),
        format!("/bind {long}"),
    ] {
        let out = w.say("bob", &attempt).await;
        assert!(
            texts(&out)[0].contains("only after the owner sends /unban"),
            "{attempt}: {out:?}"
        );
    }
    assert_eq!(members(&w, inst.id).await, ["alice", "carol"]);
    // Only the owner lifts a ban.
    let out = w.say("carol", "/unban @bob").await;
    assert!(texts(&out)[0].contains("Only the instance owner"));
    let out = w.say("alice", "/unban @nobody").await;
    assert!(texts(&out)[0].contains("not banned"));
    let out = w.say("alice", "/unban @bob").await;
    assert!(texts(&out)[0].contains("may bind again"), "{out:?}");
    let out = w.say("bob", &format!("/start {token}")).await;
    assert!(to(&out, "bob")[0].contains("Bound to [proj]"), "{out:?}");
}

#[tokio::test]
async fn reset_qr_does_not_lift_a_ban_and_rotates_the_terminal() {
    let (w, terminal) = world_with_terminal(Config::default()).await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    w.say("alice", "/kick bob").await;
    w.say("alice", "/reset-qr").await;
    assert_eq!(terminal.rotations.load(Ordering::SeqCst), 2);
    let fresh = binding::deep_link_token(&w.fresh(inst.id).await);
    let out = w.say("bob", &format!("/start {fresh}")).await;
    assert!(texts(&out)[0].contains("/unban"), "{out:?}");
    // The old link died with the reset, for everyone.
    let out = w.say("alice", &format!("/start {token}")).await;
    assert!(texts(&out)[0].contains("invalid"));
    let out = w.say("alice", &format!("/start {fresh}")).await;
    assert!(texts(&out)[0].contains("owner"), "{out:?}");
}

#[tokio::test]
async fn a_code_posted_in_a_group_is_burned_and_the_owner_gets_a_new_one() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    let code = binding::dingtalk_code(&inst);
    w.say("alice", &format!("/start {token}")).await;
    let out = w.say_in("mallory", &format!("/bind {code}"), true).await;
    let group = to(&out, "-100");
    assert!(
        group[0].contains("posted in this group") && group[0].contains("private chat"),
        "{out:?}"
    );
    let fresh = w.fresh(inst.id).await;
    assert_eq!(fresh.qr_version, inst.qr_version + 1);
    let new_link = format!(
        "https://t.me/cloudify_test_bot?start={}",
        binding::deep_link_token(&fresh)
    );
    let alice: Vec<_> = out.iter().filter(|(c, _)| c.chat_id == "alice").collect();
    assert!(
        matches!(&alice[0].1.body, Output::Notice { text } if text.contains("posted in a group"))
    );
    assert!(
        matches!(&alice[1].1.body, Output::Image { png, .. } if png == new_link.as_bytes()),
        "{alice:?}"
    );
    // The code seen in the group, and the old link, bind nobody; the owner stays bound.
    for old in [format!("/bind {code}"), format!("/start {token}")] {
        let out = w.say("mallory", &old).await;
        assert!(texts(&out)[0].contains("invalid"), "{old}: {out:?}");
    }
    assert_eq!(members(&w, inst.id).await, ["alice"]);
    let out = w
        .say(
            "bob",
            &format!("/start {}", binding::deep_link_token(&fresh)),
        )
        .await;
    assert!(to(&out, "bob")[0].contains("Bound to [proj]"), "{out:?}");
}

#[tokio::test]
async fn owner_only_commands_refuse_members_clearly() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    for cmd in [
        "/rename evil",
        "/kick @alice",
        "/unban @x",
        "/reset-qr",
        "/qr",
        "/web",
        "/web rotate",
        "/proxy disable",
    ] {
        let out = w.say("bob", cmd).await;
        assert!(
            texts(&out)[0].contains("Only the instance owner"),
            "{cmd}: {out:?}"
        );
    }
    assert_eq!(w.fresh(inst.id).await.name, "proj");
    assert_eq!(members(&w, inst.id).await, ["alice", "bob"]);
}

#[tokio::test]
async fn rename_refuses_names_that_could_be_paths() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let long = "a".repeat(300);
    for bad in ["../x", "a/b", "/abs", "a\0b", long.as_str(), "\u{0430}pp"] {
        let out = w.say("alice", &format!("/rename {bad}")).await;
        assert!(
            texts(&out)[0].contains("is not a valid name"),
            "{bad:?}: {out:?}"
        );
        assert_eq!(w.fresh(inst.id).await.name, "proj");
    }
    let out = w.say("alice", "/rename Web-App").await;
    assert!(texts(&out)[0].contains("[web-app]"), "{out:?}");
}

#[tokio::test]
async fn session_content_asked_in_a_group_goes_to_the_member_privately() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    for cmd in ["/status", "/diff", "/sessions"] {
        let out = w.say_in("alice", cmd, true).await;
        let group = to(&out, "-100");
        assert_eq!(group.len(), 1, "{cmd}: {out:?}");
        assert!(
            group[0].contains("Sent to you in a private chat"),
            "{group:?}"
        );
        assert!(!to(&out, "alice").is_empty(), "{cmd}: {out:?}");
    }
    let out = w.say_in("eve", "/status", true).await;
    assert!(texts(&out)[0].contains("not bound"));
    assert_eq!(out.len(), 1);
}

#[tokio::test]
async fn the_web_terminal_is_the_owners_unless_opened_to_members() {
    let (w, terminal) = world_with_terminal(Config::default()).await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    let out = w.say("alice", "/web").await;
    assert!(texts(&out)[0].contains("secret-0"));
    let out = w.say_in("alice", "/web", true).await;
    assert!(!texts(&out)[0].contains("secret"), "never in a group");
    let out = w.say("alice", "/web rotate").await;
    assert!(texts(&out)[0].contains("old one no longer works"));
    assert_eq!(terminal.rotations.load(Ordering::SeqCst), 1);
    let out = w.say("alice", "/web").await;
    assert!(texts(&out)[0].contains("secret-1"));

    let mut open = Config::default();
    open.web_terminal.members = true;
    let (w, terminal) = world_with_terminal(open).await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    let out = w.say("bob", "/web").await;
    assert!(texts(&out)[0].contains("secret-0"), "{out:?}");
    let out = w.say("bob", "/web rotate").await;
    assert!(texts(&out)[0].contains("Only the instance owner"));
    assert_eq!(terminal.rotations.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn with_code_ttl_links_and_codes_from_qr_expire() {
    let mut config = Config::default();
    config.binding.code_ttl = 600;
    let (w, _) = world_with_terminal(config).await;
    let inst = w.instance("proj").await;
    // The old-style link (from before code_ttl was set) is refused.
    let out = w
        .say(
            "eve",
            &format!("/start {}", binding::deep_link_token(&inst)),
        )
        .await;
    assert!(texts(&out)[0].contains("invalid"), "{out:?}");
    let now = w.router.now();
    let issue = binding::Issue::new(now, 600);
    let token = binding::deep_link_token_at(&inst, issue);
    let code = binding::dingtalk_code_at(&inst, issue);
    let out = w.say("alice", &format!("/start {token}")).await;
    assert!(texts(&out)[0].contains("Bound to [proj]"), "{out:?}");
    // /qr shows a stamped link.
    let out = w.say("alice", "/qr").await;
    match &out[0].1.body {
        Output::Image { png, .. } => assert_eq!(
            String::from_utf8(png.clone()).unwrap(),
            format!("https://t.me/cloudify_test_bot?start={token}")
        ),
        other => panic!("{other:?}"),
    }
    // Twenty-one minutes later neither the link nor the code binds anyone.
    w.clock.0.fetch_add(21 * 60 * 1000, Ordering::SeqCst);
    let out = w.say("bob", &format!("/start {token}")).await;
    assert!(texts(&out)[0].contains("invalid"), "{out:?}");
    let out = w.say("carol", &format!("/bind {code}")).await;
    assert!(texts(&out)[0].contains("invalid"), "{out:?}");
    assert_eq!(members(&w, inst.id).await, ["alice"]);
}

/// A platform file that counts its downloads.
struct CountingFile(AtomicU64);

#[async_trait]
impl crate::adapter::FetchFile for CountingFile {
    async fn fetch(&self) -> Result<crate::adapter::Fetched, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(crate::adapter::Fetched::File {
            mime: "text/plain".into(),
            bytes: b"hello".to_vec(),
        })
    }
}

#[tokio::test]
async fn a_file_is_downloaded_only_after_the_sender_is_known_to_be_bound() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let file = Arc::new(CountingFile(AtomicU64::new(0)));
    let remote = || IncomingKind::Remote {
        name: "notes.txt".into(),
        caption: Some("read this".into()),
        file: crate::adapter::RemoteFile(file.clone()),
    };
    w.router.handle(w.incoming("eve", remote(), false)).await;
    w.router.handle(w.incoming("eve", remote(), true)).await;
    assert_eq!(
        file.0.load(Ordering::SeqCst),
        0,
        "an outsider's file is never fetched"
    );
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    w.router.handle(w.incoming("alice", remote(), false)).await;
    assert_eq!(file.0.load(Ordering::SeqCst), 1);
    let prompts = w.workspace.prompts.lock().unwrap();
    assert!(matches!(
        &prompts[0].2[..],
        [PromptPart::Text(c), PromptPart::File { name, bytes, .. }]
            if c == "read this" && name == "notes.txt" && bytes == b"hello"
    ));
}

#[tokio::test]
async fn with_approve_new_users_a_newcomer_waits_for_the_owners_button() {
    let mut config = Config::default();
    config.binding.approve_new_users = true;
    let (w, _) = world_with_terminal(config).await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    let out = w.say("alice", &format!("/start {token}")).await;
    assert!(
        texts(&out)[0].contains("owner"),
        "the first binder owns it: {out:?}"
    );
    let out = w.say("bob", &format!("/start {token}")).await;
    assert!(
        to(&out, "bob")[0].contains("waiting for the owner"),
        "{out:?}"
    );
    assert_eq!(members(&w, inst.id).await, ["alice"]);
    let (approve, reject) = match &out
        .iter()
        .find(|(c, _)| c.chat_id == "alice")
        .unwrap()
        .1
        .body
    {
        Output::Prompt(p) => {
            assert!(
                p.text.contains("@bob wants to bind to [proj]"),
                "{}",
                p.text
            );
            (
                p.buttons[0][0].command.clone(),
                p.buttons[0][1].command.clone(),
            )
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(approve, "/approve_user telegram:bob");
    // Nobody but the owner decides; bob is still out.
    let out = w.say("bob", &approve).await;
    assert!(texts(&out)[0].contains("not bound"), "{out:?}");
    let press = |cmd: &str| {
        w.incoming(
            "alice",
            IncomingKind::Button {
                command: cmd.into(),
            },
            false,
        )
    };
    w.router.handle(press(&approve)).await;
    w.outbox.flush().await;
    assert_eq!(members(&w, inst.id).await, ["alice", "bob"]);
    let bob = texts(
        &w.adapter
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c.chat_id == "bob")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert!(bob.iter().any(|t| t.contains("Bound to [proj]")), "{bob:?}");
    // A second press finds nobody waiting.
    let out = w.say("alice", &approve).await;
    assert!(texts(&out)[0].contains("not waiting"));

    let out = w.say("carol", &format!("/start {token}")).await;
    assert!(to(&out, "carol")[0].contains("waiting"));
    let out = w.say("alice", &reject.replace("bob", "carol")).await;
    assert!(to(&out, "carol")[0].contains("declined"), "{out:?}");
    assert!(to(&out, "alice")[0].contains("rejected"));
    assert_eq!(members(&w, inst.id).await, ["alice", "bob"]);
}
