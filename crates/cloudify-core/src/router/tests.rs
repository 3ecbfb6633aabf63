//! Router and command behaviour with a recording adapter and a recording workspace.

use super::*;
use crate::adapter::{Adapter, AdapterError, DeliveryError, IncomingSink, PlatformLimits, SentId};
use crate::binding;
use crate::commands::PermissionReply;
use crate::config::Config;
use crate::output::Envelope;
use crate::services::{FileDiff, SessionSummary, Unavailable, WorkspaceStatus};
use crate::store::{NewInstance, Store};
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
struct RecordingAdapter {
    sent: Mutex<Vec<(ChatRef, Envelope)>>,
    unreachable: Mutex<HashSet<String>>,
}

#[async_trait]
impl Adapter for RecordingAdapter {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }
    fn limits(&self) -> PlatformLimits {
        PlatformLimits::unpaced()
    }
    async fn run(&self, _sink: IncomingSink) -> Result<(), AdapterError> {
        Ok(())
    }
    async fn send(&self, chat: &ChatRef, out: &Envelope) -> Result<SentId, DeliveryError> {
        if self.unreachable.lock().unwrap().contains(&chat.chat_id) {
            return Err(DeliveryError::Unreachable("blocked".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((chat.clone(), out.clone()));
        Ok(sent.len().to_string())
    }
    async fn edit(&self, _: &ChatRef, _: &SentId, _: &Envelope) -> Result<(), DeliveryError> {
        Ok(())
    }
    async fn delete(&self, _: &ChatRef, _: &SentId) -> Result<(), DeliveryError> {
        Ok(())
    }
}

#[derive(Default)]
struct RecordingWorkspace {
    prompts: Mutex<Vec<(Uuid, String, Vec<PromptPart>)>>,
    approvals: Mutex<Vec<(Uuid, String, PermissionReply)>>,
}

#[async_trait]
impl Workspace for RecordingWorkspace {
    async fn prompt(
        &self,
        inst: &crate::store::Instance,
        from: &Sender,
        parts: Vec<PromptPart>,
    ) -> Result<(), ServiceError> {
        self.prompts
            .lock()
            .unwrap()
            .push((inst.id, from.handle.clone(), parts));
        Ok(())
    }
    async fn status(&self, _: &crate::store::Instance) -> Result<WorkspaceStatus, ServiceError> {
        Ok(WorkspaceStatus {
            healthy: true,
            version: Some("1.18.33".into()),
            ..Default::default()
        })
    }
    async fn sessions(
        &self,
        _: &crate::store::Instance,
    ) -> Result<Vec<SessionSummary>, ServiceError> {
        Ok(vec![SessionSummary {
            id: "ses_1".into(),
            title: "Fix tests".into(),
            updated_ms: 0,
        }])
    }
    async fn new_session(
        &self,
        _: &crate::store::Instance,
    ) -> Result<SessionSummary, ServiceError> {
        Ok(SessionSummary {
            id: "ses_2".into(),
            title: "New".into(),
            updated_ms: 0,
        })
    }
    async fn use_session(
        &self,
        _: &crate::store::Instance,
        id: &str,
    ) -> Result<SessionSummary, ServiceError> {
        Ok(SessionSummary {
            id: id.into(),
            title: "Fix tests".into(),
            updated_ms: 0,
        })
    }
    async fn cancel(&self, _: &crate::store::Instance) -> Result<bool, ServiceError> {
        Ok(false)
    }
    async fn models(
        &self,
        _: &crate::store::Instance,
    ) -> Result<(Vec<String>, Option<String>), ServiceError> {
        Ok((vec!["fake/fake-model".into()], None))
    }
    async fn set_model(&self, _: &crate::store::Instance, _: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn agents(
        &self,
        _: &crate::store::Instance,
    ) -> Result<(Vec<String>, Option<String>), ServiceError> {
        Ok((vec!["build".into(), "plan".into()], Some("build".into())))
    }
    async fn set_agent(&self, _: &crate::store::Instance, _: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    async fn diff(&self, _: &crate::store::Instance) -> Result<Vec<FileDiff>, ServiceError> {
        Ok(vec![FileDiff {
            file: "a.rs".into(),
            patch: "@@ -1 +1 @@\n-a\n+b\n".into(),
            additions: 1,
            deletions: 1,
        }])
    }
    async fn reply_permission(
        &self,
        inst: &crate::store::Instance,
        _from: &Sender,
        id: &str,
        reply: PermissionReply,
    ) -> Result<(), ServiceError> {
        if id == "per_gone" {
            return Err(ServiceError::NotFound(id.into()));
        }
        self.approvals
            .lock()
            .unwrap()
            .push((inst.id, id.into(), reply));
        Ok(())
    }
    async fn answer_question(
        &self,
        _: &crate::store::Instance,
        _from: &Sender,
        _: &str,
        _: Option<Vec<usize>>,
    ) -> Result<(), ServiceError> {
        Ok(())
    }
}

struct PngQr;
impl QrImages for PngQr {
    fn png(&self, text: &str) -> Result<Vec<u8>, String> {
        Ok(text.as_bytes().to_vec())
    }
}

struct TestClock(AtomicU64);
impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct World {
    router: Router,
    adapter: Arc<RecordingAdapter>,
    workspace: Arc<RecordingWorkspace>,
    clock: Arc<TestClock>,
    outbox: OutboxHandle,
    next_update: AtomicU64,
}

impl World {
    async fn new() -> World {
        Self::build(Config::default(), Arc::new(Unavailable("web terminal"))).await
    }

    async fn build(config: Config, terminal: Arc<dyn WebTerminal>) -> World {
        let store = SharedStore::new(Store::open_in_memory().unwrap());
        let adapter = Arc::new(RecordingAdapter::default());
        let workspace = Arc::new(RecordingWorkspace::default());
        let clock = Arc::new(TestClock(AtomicU64::new(1_700_000_000_000)));
        let services = Services {
            workspace: workspace.clone(),
            terminal,
            proxy: Arc::new(Unavailable("proxy")),
            qr: Arc::new(PngQr),
        };
        let router = Router::new(store.clone(), Arc::new(config), services, clock.clone());
        let backlog = Arc::new(StoreBacklog { store, cap: 20 });
        let outbox = OutboxHandle::spawn(adapter.clone(), backlog);
        router.attach(Platform::Telegram, outbox.clone());
        router.set_telegram_bot("cloudify_test_bot");
        World {
            router,
            adapter,
            workspace,
            clock,
            outbox,
            next_update: AtomicU64::new(1),
        }
    }

    async fn instance(&self, name: &str) -> crate::store::Instance {
        let n = NewInstance {
            name: name.into(),
            url: "http://127.0.0.1:4096".into(),
            directory: "/w".into(),
            password: None,
        };
        self.router
            .store
            .call(move |s| s.add_instance(&n, 1))
            .await
            .unwrap()
    }

    async fn fresh(&self, id: Uuid) -> crate::store::Instance {
        self.router
            .store
            .call(move |s| s.instance(id))
            .await
            .unwrap()
            .unwrap()
    }

    fn incoming(&self, user: &str, kind: IncomingKind, group: bool) -> Incoming {
        let key = UserKey::new(Platform::Telegram, user);
        let chat = if group {
            ChatRef {
                platform: Platform::Telegram,
                chat_id: "-100".into(),
                is_group: true,
            }
        } else {
            ChatRef::private(&key)
        };
        Incoming {
            update_id: self.next_update.fetch_add(1, Ordering::SeqCst).to_string(),
            user: key,
            display_name: user.to_uppercase(),
            username: Some(user.into()),
            language_code: Some("en".into()),
            chat,
            kind,
        }
    }

    /// Sends `text` as `user` and returns what the bot sent anywhere because of it.
    async fn say(&self, user: &str, text: &str) -> Vec<(ChatRef, Envelope)> {
        self.say_in(user, text, false).await
    }

    async fn say_in(&self, user: &str, text: &str, group: bool) -> Vec<(ChatRef, Envelope)> {
        let before = self.adapter.sent.lock().unwrap().len();
        self.router
            .handle(self.incoming(user, IncomingKind::Text(text.into()), group))
            .await;
        self.outbox.flush().await;
        self.adapter.sent.lock().unwrap()[before..].to_vec()
    }
}

fn texts(out: &[(ChatRef, Envelope)]) -> Vec<String> {
    out.iter()
        .map(|(_, e)| match &e.body {
            Output::Plain { text } | Output::Notice { text } | Output::Text { text } => {
                text.clone()
            }
            Output::Prompt(p) => p.text.clone(),
            Output::Image { caption, .. } => caption.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn to(out: &[(ChatRef, Envelope)], user: &str) -> Vec<String> {
    let mine: Vec<_> = out
        .iter()
        .filter(|(c, _)| c.chat_id == user)
        .cloned()
        .collect();
    texts(&mine)
}

mod trust;

#[tokio::test]
async fn unbound_users_get_instructions_and_never_reach_opencode() {
    let w = World::new().await;
    w.instance("proj").await;
    let out = w.say("eve", "rm -rf / please").await;
    assert!(texts(&out)[0].contains("not bound"), "{out:?}");
    let out = w.say("eve", "/status").await;
    assert!(texts(&out)[0].contains("not bound"));
    assert!(w.workspace.prompts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn deep_link_binds_first_user_as_owner_and_tells_the_others() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    let out = w.say("alice", &format!("/start {token}")).await;
    let t = texts(&out);
    assert!(
        t[0].contains("Bound to [proj]") && t[0].contains("owner"),
        "{t:?}"
    );
    assert!(
        t[1].contains("OpenCode 1.18.33"),
        "welcome carries the status: {t:?}"
    );
    let out = w.say("bob", &format!("/start {token}")).await;
    assert!(
        to(&out, "alice")
            .iter()
            .any(|m| m.contains("@bob joined [proj]")),
        "{out:?}"
    );
    assert!(
        to(&out, "bob")[0].contains("Bound to [proj]") && !to(&out, "bob")[0].contains("owner")
    );
    // Now bob's text goes to OpenCode, with his handle.
    w.say("bob", "add a test").await;
    let prompts = w.workspace.prompts.lock().unwrap().clone();
    assert_eq!(
        prompts,
        vec![(
            inst.id,
            "@bob".into(),
            vec![PromptPart::Text("add a test".into())]
        )]
    );
}

#[tokio::test]
async fn forged_codes_are_refused_then_rate_limited() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let mut good = binding::deep_link_token(&inst);
    good.replace_range(40..41, if &good[40..41] == "A" { "B" } else { "A" });
    for _ in 0..5 {
        let out = w.say("eve", &format!("/start {good}")).await;
        assert!(texts(&out)[0].contains("invalid"), "{out:?}");
    }
    let out = w
        .say("eve", &format!("/bind {}", binding::dingtalk_code(&inst)))
        .await;
    assert!(
        texts(&out)[0].contains("Too many"),
        "even a right code waits: {out:?}"
    );
    w.clock.0.fetch_add(601_000, Ordering::SeqCst);
    let out = w
        .say("eve", &format!("/bind {}", binding::dingtalk_code(&inst)))
        .await;
    assert!(texts(&out)[0].contains("Bound to [proj]"), "{out:?}");
}

/// Mutations of a real credential: one character replaced, dropped, doubled or case-flipped,
/// truncated, extended; deterministic (xorshift) so a failure replays.
fn mutate(real: &str, seed: &mut u64) -> String {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let mut chars: Vec<char> = real.chars().collect();
    let i = (next() as usize) % chars.len();
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ0123456789abcdefghijklmnopqrstuvwxyz-_=+/";
    let pick = ALPHABET[(next() as usize) % ALPHABET.len()] as char;
    match next() % 6 {
        0 if chars[i] != pick => chars[i] = pick,
        1 => {
            chars.remove(i);
        }
        2 => chars.insert(i, chars[i]),
        3 if chars[i].is_ascii_alphabetic() => {
            chars[i] = if chars[i].is_ascii_uppercase() {
                chars[i].to_ascii_lowercase()
            } else {
                chars[i].to_ascii_uppercase()
            };
        }
        4 => chars.truncate(i.max(1)),
        _ => chars.push(pick),
    }
    let out: String = chars.into_iter().collect();
    if out == real { format!("{out}X") } else { out }
}

/// The long form with its connect secret, instance id or version tampered with.
fn forge_long_form(real: &str, seed: &mut u64) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(real).unwrap()).unwrap();
    *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    match (*seed >> 33) % 3 {
        0 => {
            let secret = json["connect_secret"].as_str().unwrap().to_owned();
            let i = ((*seed >> 40) as usize) % secret.len();
            let flipped = if &secret[i..=i] == "0" { "1" } else { "0" };
            let mut s = secret.clone();
            s.replace_range(i..=i, flipped);
            json["connect_secret"] = s.into();
        }
        1 => json["instance_id"] = Uuid::new_v4().to_string().into(),
        _ => json["version"] = (json["version"].as_u64().unwrap() + 1).into(),
    }
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
}

/// 10,000 forged credentials (mutated deep-link tokens, DingTalk codes and long forms) from
/// 2,000 senders: none binds, every sender hits the limiter, and a sender who keeps going
/// is told once, not once per attempt.
#[tokio::test]
async fn ten_thousand_forged_codes_bind_nobody_and_engage_the_limiter() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    let code = binding::dingtalk_code(&inst);
    let long = binding::long_payload(&inst, "http://127.0.0.1:4096", 1_700_000_000);
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let (mut refused, mut limited, mut silent) = (0, 0, 0);
    for n in 0..10_000 {
        let sender = format!("forger{}", n % 2_000);
        let forged = match n % 3 {
            0 => mutate(&token, &mut seed),
            // Typed codes ignore case, dashes and look-alikes: skip mutations that are the
            // same code.
            1 => loop {
                let f = mutate(&code, &mut seed);
                if binding::normalize_code(&f) != binding::normalize_code(&code) {
                    break f;
                }
            },
            // The long form's name and endpoint are informational; its secret is the proof.
            _ => forge_long_form(&long, &mut seed),
        };
        let cmd = if n % 2 == 0 { "/start" } else { "/bind" };
        let out = w.say(&sender, &format!("{cmd} {forged}")).await;
        match texts(&out).as_slice() {
            [t] if t.contains("invalid") => refused += 1,
            [t] if t.contains("Too many") => limited += 1,
            [] => silent += 1,
            other => panic!("{sender} sent {forged:?} and got {other:?}"),
        }
    }
    assert_eq!(
        refused, 10_000,
        "5 attempts per sender, each checked and refused"
    );
    let members = w
        .router
        .store
        .call(move |s| s.members(inst.id))
        .await
        .unwrap();
    assert!(members.is_empty(), "nobody bound: {members:?}");
    // Every sender is now limited: a sixth try, even with the right code, is refused once…
    for n in 0..2_000 {
        let sender = format!("forger{n}");
        let out = w.say(&sender, &format!("/bind {code}")).await;
        match texts(&out).as_slice() {
            [t] if t.contains("Too many") => limited += 1,
            other => panic!("{sender}: {other:?}"),
        }
    }
    assert_eq!(limited, 2_000);
    // …and a flood after that gets no replies at all (nothing piles up in the outbox).
    // (The per-user action limit also engages during it: one "slow down", then quiet.)
    let mut replies = Vec::new();
    for _ in 0..500 {
        let out = w.say("forger7", &format!("/start {token}")).await;
        if out.is_empty() {
            silent += 1;
        }
        replies.extend(texts(&out));
    }
    assert_eq!(silent, 499, "{replies:?}");
    assert!(replies[0].contains("Slow down"), "{replies:?}");
    assert!(w.workspace.prompts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn binding_in_a_group_is_refused() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let out = w
        .say_in(
            "alice",
            &format!("/bind {}", binding::dingtalk_code(&inst)),
            true,
        )
        .await;
    assert!(texts(&out)[0].contains("private chat"));
    assert!(
        w.router
            .store
            .call(move |s| s.members(inst.id))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_redelivered_update_is_handled_once() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let inc = w.incoming("alice", IncomingKind::Text("do it".into()), false);
    w.router.handle(inc.clone()).await;
    w.router.handle(inc).await;
    assert_eq!(w.workspace.prompts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn broadcast_reaches_every_member_with_header_and_footer() {
    let w = World::new().await;
    let a = w.instance("alpha").await;
    let b = w.instance("beta").await;
    w.say("alice", &format!("/start {}", binding::deep_link_token(&a)))
        .await;
    w.say("bob", &format!("/start {}", binding::deep_link_token(&a)))
        .await;
    w.say("bob", &format!("/start {}", binding::deep_link_token(&b)))
        .await;
    w.say("bob", "/switch alpha").await;
    let delivered = w
        .router
        .broadcast(a.id, None, |l| Output::notice(l.pick("完成", "Done")))
        .await
        .unwrap();
    w.outbox.flush().await;
    assert_eq!(delivered.len(), 2);
    let sent = w.adapter.sent.lock().unwrap().clone();
    let last_alice = sent
        .iter()
        .rev()
        .find(|(c, _)| c.chat_id == "alice")
        .unwrap()
        .1
        .clone();
    let last_bob = sent
        .iter()
        .rev()
        .find(|(c, _)| c.chat_id == "bob")
        .unwrap()
        .1
        .clone();
    assert_eq!(last_alice.header, None, "alice has one instance");
    assert_eq!(last_bob.header.as_deref(), Some("[alpha]"), "bob has two");
    let footer = last_alice.footer.unwrap();
    assert!(
        footer.contains("@alice") && footer.contains("@bob"),
        "{footer}"
    );
    // Presence expires after presence_minutes.
    w.clock.0.fetch_add(16 * 60 * 1000, Ordering::SeqCst);
    w.router
        .broadcast(a.id, None, |_| Output::notice("later"))
        .await
        .unwrap();
    w.outbox.flush().await;
    let sent = w.adapter.sent.lock().unwrap().clone();
    assert_eq!(sent.last().unwrap().1.footer, None);
}

#[tokio::test]
async fn reset_qr_kicks_everyone_and_kills_old_codes() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    let out = w.say("bob", "/reset-qr").await;
    assert!(texts(&out)[0].contains("Only the instance owner"));
    let out = w.say("alice", "/reset_qr").await;
    assert!(
        to(&out, "bob")
            .iter()
            .any(|m| m.contains("reset the QR code")),
        "{out:?}"
    );
    assert!(to(&out, "alice")[0].contains("2 user(s) were removed"));
    let out = w.say("bob", &format!("/start {token}")).await;
    assert!(texts(&out)[0].contains("invalid"));
    let fresh = w.fresh(inst.id).await;
    let out = w
        .say(
            "bob",
            &format!("/start {}", binding::deep_link_token(&fresh)),
        )
        .await;
    assert!(
        texts(&out)[0].contains("owner"),
        "first to bind after a reset owns it"
    );
}

#[tokio::test]
async fn owner_can_kick_and_qr_is_private_and_owner_only() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    let out = w.say("bob", "/qr").await;
    assert!(texts(&out)[0].contains("Only the instance owner"));
    let out = w.say_in("alice", "/qr", true).await;
    assert!(texts(&out)[0].contains("private chat"));
    let out = w.say("alice", "/qr").await;
    match &out[0].1.body {
        Output::Image { png, caption } => {
            let link = String::from_utf8(png.clone()).unwrap();
            assert_eq!(
                link,
                format!("https://t.me/cloudify_test_bot?start={token}")
            );
            assert!(caption.contains(&binding::dingtalk_code(&inst)));
        }
        other => panic!("{other:?}"),
    }
    let out = w.say("alice", "/kick @bob").await;
    assert!(to(&out, "bob")[0].contains("removed you"));
    assert!(to(&out, "alice").iter().any(|m| m.contains("Removed @bob")));
    let out = w.say("bob", "hello?").await;
    assert!(texts(&out)[0].contains("not bound"));
}

#[tokio::test]
async fn unreachable_users_get_their_backlog_with_a_summary_when_back() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    let token = binding::deep_link_token(&inst);
    w.say("alice", &format!("/start {token}")).await;
    w.say("bob", &format!("/start {token}")).await;
    w.adapter.unreachable.lock().unwrap().insert("bob".into());
    for i in 0..25 {
        w.router
            .broadcast(inst.id, None, |_| Output::notice(format!("step {i}")))
            .await
            .unwrap();
    }
    // Flush also waits for the backlog writes.
    w.outbox.flush().await;
    w.adapter.unreachable.lock().unwrap().clear();
    let out = w.say("bob", "/help").await;
    let bob = to(&out, "bob");
    assert!(bob[0].contains("You missed 25 messages"), "{bob:?}");
    assert!(bob[0].contains("oldest 5"), "{bob:?}");
    assert_eq!(bob[1], "step 5");
    assert_eq!(bob[20], "step 24");
    assert!(
        bob[21].contains("OpenCode Cloudify"),
        "then the reply itself: {bob:?}"
    );
    // Nothing twice.
    let out = w.say("bob", "/help").await;
    assert_eq!(to(&out, "bob").len(), 1);
}

#[tokio::test]
async fn language_follows_the_user_choice() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let out = w.say("alice", "/lang zh").await;
    assert!(texts(&out)[0].contains("中文"));
    let out = w.say("alice", "/nonsense").await;
    assert!(texts(&out)[0].contains("未知命令"), "{out:?}");
}

#[tokio::test]
async fn switch_list_and_rename() {
    let w = World::new().await;
    let a = w.instance("alpha").await;
    let b = w.instance("beta").await;
    w.say("alice", &format!("/start {}", binding::deep_link_token(&a)))
        .await;
    w.say("alice", &format!("/start {}", binding::deep_link_token(&b)))
        .await;
    let out = w.say("alice", "/list").await;
    match &out[0].1.body {
        Output::Prompt(p) => {
            assert!(
                p.text.contains("▶ beta") && p.text.contains("• alpha"),
                "{}",
                p.text
            );
            assert_eq!(p.buttons[0][0].command, format!("/switch {}", a.id));
        }
        other => panic!("{other:?}"),
    }
    let out = w.say("alice", &format!("/switch {}", a.id)).await;
    assert!(texts(&out)[0].contains("[alpha]"));
    let out = w.say("alice", "/rename beta").await;
    assert!(texts(&out)[0].contains("[beta-1]"), "{out:?}");
    w.say("alice", "hi").await;
    assert_eq!(w.workspace.prompts.lock().unwrap()[0].0, a.id);
    let out = w.say("alice", "/switch nope").await;
    assert!(texts(&out)[0].contains("not bound to an instance named nope"));
}

#[tokio::test]
async fn oversized_prompts_and_button_answers() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let long = "log line ✓\n".repeat(MAX_PROMPT_CHARS / 5);
    let out = w.say("alice", &long).await;
    assert!(
        texts(&out)[0].contains("as the file message.txt"),
        "{out:?}"
    );
    let prompts = std::mem::take(&mut *w.workspace.prompts.lock().unwrap());
    match &prompts[0].2[..] {
        [
            PromptPart::Text(note),
            PromptPart::File { name, mime, bytes },
        ] => {
            assert!(note.contains("attached as message.txt"));
            assert_eq!(
                (name.as_str(), mime.as_str()),
                ("message.txt", "text/plain")
            );
            assert_eq!(bytes, long.as_bytes(), "nothing cut");
        }
        other => panic!("{other:?}"),
    }
    let press = w.incoming(
        "alice",
        IncomingKind::Button {
            command: "/approve per_1 always".into(),
        },
        false,
    );
    w.router.handle(press).await;
    assert_eq!(
        w.workspace.approvals.lock().unwrap()[0],
        (inst.id, "per_1".into(), PermissionReply::Always)
    );
    let out = w.say("alice", "/approve per_gone once").await;
    assert!(texts(&out)[0].contains("already answered"));
    assert!(w.workspace.prompts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unavailable_services_say_so() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let out = w.say("alice", "/web").await;
    assert!(
        texts(&out)[0].contains("web terminal is not available"),
        "{out:?}"
    );
    let out = w.say("alice", "/diff").await;
    assert!(texts(&out)[0].contains("1 file(s) changed"));
    assert!(matches!(out[1].1.body, Output::Diff { .. }));
}

#[tokio::test]
async fn prompts_and_commands_are_rate_limited_per_user() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    for i in 0..29 {
        w.say("alice", &format!("p{i}")).await;
    }
    let out = w.say("alice", "one too many").await;
    assert!(texts(&out)[0].contains("Slow down"), "{out:?}");
    assert_eq!(w.workspace.prompts.lock().unwrap().len(), 29);
}

#[tokio::test]
async fn oversized_files_get_a_clear_reply() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let out = w.say("alice", "/file_too_large 22020096 dump.sql").await;
    assert!(
        texts(&out)[0].contains("dump.sql (21 MB) is too large"),
        "{out:?}"
    );
    assert!(w.workspace.prompts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn files_reach_opencode_in_a_form_the_model_accepts() {
    let w = World::new().await;
    let inst = w.instance("proj").await;
    w.say(
        "alice",
        &format!("/start {}", binding::deep_link_token(&inst)),
    )
    .await;
    let send = |name: &str, mime: &str, bytes: &[u8]| {
        w.incoming(
            "alice",
            IncomingKind::File {
                name: name.into(),
                mime: mime.into(),
                bytes: bytes.to_vec(),
                caption: Some("look".into()),
            },
            false,
        )
    };
    let before = w.adapter.sent.lock().unwrap().len();
    w.router
        .handle(send("shot.png", "image/png", b"\x89PNG"))
        .await;
    w.router
        .handle(send(
            "build.log",
            "application/octet-stream",
            "ok ✓\n".as_bytes(),
        ))
        .await;
    w.router
        .handle(send(
            "core.bin",
            "application/octet-stream",
            &[0, 159, 146, 150],
        ))
        .await;
    w.outbox.flush().await;
    let prompts = w.workspace.prompts.lock().unwrap().clone();
    let mimes: Vec<_> = prompts
        .iter()
        .map(|(_, _, parts)| match &parts[1] {
            PromptPart::File { mime, .. } => mime.clone(),
            PromptPart::Text(t) => t.clone(),
        })
        .collect();
    assert_eq!(mimes[0], "image/png");
    assert_eq!(
        mimes[1], "text/plain",
        "text under an odd label goes as text"
    );
    assert!(
        mimes[2].contains("binary file core.bin, 4 bytes"),
        "binary: only a note: {mimes:?}"
    );
    let replies = texts(&w.adapter.sent.lock().unwrap()[before..]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("core.bin (1 KB) is a binary file"));
}
