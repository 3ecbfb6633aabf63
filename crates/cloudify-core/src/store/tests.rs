use super::*;
use crate::identity::{Platform, UserKey};

fn new_inst(name: &str) -> NewInstance {
    NewInstance {
        name: name.into(),
        url: "http://127.0.0.1:4096".into(),
        directory: "/workspace".into(),
        password: None,
    }
}

fn user(store: &mut Store, id: &str) -> UserKey {
    let key = UserKey::new(Platform::Telegram, id);
    let name = format!("User {id}");
    let seen = SeenUser {
        key: &key,
        display_name: &name,
        username: Some(id),
        client_language: None,
    };
    store.upsert_user(&seen, 1).unwrap();
    key
}

#[test]
fn migrations_set_the_schema_version_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let v = Store::open(&path).unwrap().schema_version().unwrap();
    assert!(v >= 1);
    assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), v);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    drop(Store::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 999).unwrap();
    drop(c);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 999, .. })
    ));
}

#[test]
fn journal_mode_is_wal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join(DB_FILE)).unwrap();
    let mode: String = s
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn name_collisions_get_numbered_suffixes() {
    let mut s = Store::open_in_memory().unwrap();
    let a = s.add_instance(&new_inst("app"), 1).unwrap();
    let b = s.add_instance(&new_inst("app"), 2).unwrap();
    let c = s.add_instance(&new_inst("app"), 3).unwrap();
    assert_eq!(
        (a.name.as_str(), b.name.as_str(), c.name.as_str()),
        ("app", "app-1", "app-2")
    );
    // Renaming to a taken name picks the next free suffix; renaming to itself keeps it.
    // A collision never steals a name; the instance's own name counts as free.
    assert_eq!(s.rename_instance(c.id, "app").unwrap(), "app-2");
    assert_eq!(s.rename_instance(c.id, "zzz").unwrap(), "zzz");
    assert_eq!(s.rename_instance(c.id, "app").unwrap(), "app-2");
    assert_eq!(s.rename_instance(a.id, "app").unwrap(), "app");
    assert_eq!(
        s.rename_instance(b.id, " My-Project ").unwrap(),
        "my-project"
    );
    // The freed name is reusable.
    assert_eq!(s.add_instance(&new_inst("app-1"), 4).unwrap().name, "app-1");
}

#[test]
fn names_that_could_be_paths_are_refused_and_nothing_changes() {
    let mut s = Store::open_in_memory().unwrap();
    let a = s.add_instance(&new_inst("app"), 1).unwrap();
    for bad in [
        "../x",
        "a/b",
        "/abs",
        "a\0b",
        &"a".repeat(300),
        "\u{0430}pp",
    ] {
        assert!(matches!(
            s.add_instance(&new_inst(bad), 2),
            Err(StoreError::InvalidName(_))
        ));
        assert!(matches!(
            s.rename_instance(a.id, bad),
            Err(StoreError::InvalidName(_))
        ));
    }
    assert_eq!(s.instances().unwrap().len(), 1);
    assert_eq!(s.instance(a.id).unwrap().unwrap().name, "app");
    // A taken 32-character name gets a suffix that still fits.
    let long = "b".repeat(32);
    s.add_instance(&new_inst(&long), 3).unwrap();
    let second = s.add_instance(&new_inst(&long), 4).unwrap();
    assert_eq!(second.name.len(), 32);
    assert!(second.name.ends_with("-1"));
}

#[test]
fn each_instance_gets_its_own_key_and_version_one() {
    let mut s = Store::open_in_memory().unwrap();
    let a = s.add_instance(&new_inst("a"), 1).unwrap();
    let b = s.add_instance(&new_inst("b"), 1).unwrap();
    assert_ne!(a.key, b.key);
    assert_eq!(a.qr_version, 1);
    assert_eq!(format!("{:?}", a.key), "SigningKey(***)");
}

#[test]
fn first_binder_is_owner_and_binding_sets_active_instance() {
    let mut s = Store::open_in_memory().unwrap();
    let inst = s.add_instance(&new_inst("a"), 1).unwrap();
    let (alice, bob) = (user(&mut s, "alice"), user(&mut s, "bob"));
    let o = s.bind(&alice, inst.id, 10).unwrap();
    assert_eq!(
        o,
        BindOutcome {
            role: Role::Owner,
            newly_bound: true
        }
    );
    let o = s.bind(&bob, inst.id, 11).unwrap();
    assert_eq!(o.role, Role::Member);
    assert!(!s.bind(&bob, inst.id, 12).unwrap().newly_bound);
    assert_eq!(
        s.user(&bob).unwrap().unwrap().active_instance,
        Some(inst.id)
    );
    // The owner leaves: the longest-bound member inherits ownership.
    assert!(s.unbind(&alice, inst.id).unwrap());
    assert_eq!(s.binding(&bob, inst.id).unwrap().unwrap().role, Role::Owner);
    assert_eq!(s.user(&alice).unwrap().unwrap().active_instance, None);
}

#[test]
fn unbinding_the_active_instance_falls_back_to_another() {
    let mut s = Store::open_in_memory().unwrap();
    let a = s.add_instance(&new_inst("a"), 1).unwrap();
    let b = s.add_instance(&new_inst("b"), 1).unwrap();
    let alice = user(&mut s, "alice");
    s.bind(&alice, a.id, 1).unwrap();
    s.bind(&alice, b.id, 2).unwrap();
    assert_eq!(s.user(&alice).unwrap().unwrap().active_instance, Some(b.id));
    s.unbind(&alice, b.id).unwrap();
    assert_eq!(s.user(&alice).unwrap().unwrap().active_instance, Some(a.id));
}

#[test]
fn reset_qr_bumps_version_and_removes_every_binding() {
    let mut s = Store::open_in_memory().unwrap();
    let inst = s.add_instance(&new_inst("a"), 1).unwrap();
    let other = s.add_instance(&new_inst("b"), 1).unwrap();
    let (alice, bob) = (user(&mut s, "alice"), user(&mut s, "bob"));
    s.bind(&alice, inst.id, 1).unwrap();
    s.bind(&bob, inst.id, 2).unwrap();
    s.bind(&bob, other.id, 3).unwrap();
    let (v, kicked) = s.reset_qr(inst.id).unwrap();
    assert_eq!(v, 2);
    assert_eq!(kicked, vec![alice.clone(), bob.clone()]);
    assert!(s.members(inst.id).unwrap().is_empty());
    assert_eq!(
        s.members(other.id).unwrap().len(),
        1,
        "other instances keep their users"
    );
    assert_eq!(s.instance(inst.id).unwrap().unwrap().qr_version, 2);
}

#[test]
fn backlog_keeps_the_newest_and_counts_the_dropped() {
    let mut s = Store::open_in_memory().unwrap();
    let inst = s.add_instance(&new_inst("a"), 1).unwrap();
    let alice = user(&mut s, "alice");
    s.bind(&alice, inst.id, 1).unwrap();
    for n in 0..25 {
        s.push_offline(&alice, inst.id, &format!("m{n}"), 20, n)
            .unwrap();
    }
    let missed = s.offline_for(&alice).unwrap();
    assert_eq!(missed.len(), 1);
    let m = &missed[0];
    assert_eq!(m.entries.len(), 20);
    assert_eq!(m.dropped, 5);
    assert_eq!(m.total(), 25);
    assert_eq!(m.entries.first().unwrap().1, "m5");
    assert_eq!(m.entries.last().unwrap().1, "m24");
    // Acknowledging part of it keeps the rest (a crash mid-delivery loses nothing).
    let mid = m.entries[9].0;
    s.ack_offline(&alice, inst.id, mid).unwrap();
    let rest = s.offline_for(&alice).unwrap();
    assert_eq!(rest[0].entries.len(), 10);
    assert_eq!(rest[0].dropped, 0);
    s.ack_offline(&alice, inst.id, i64::MAX).unwrap();
    assert!(!s.has_offline(&alice).unwrap());
}

#[test]
fn processed_updates_are_recorded_once() {
    let mut s = Store::open_in_memory().unwrap();
    assert!(s.mark_processed(Platform::Telegram, "100", 1).unwrap());
    assert!(!s.mark_processed(Platform::Telegram, "100", 2).unwrap());
    assert!(s.mark_processed(Platform::DingTalk, "100", 2).unwrap());
    assert_eq!(s.prune_processed(2).unwrap(), 1);
}

#[test]
fn state_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let (inst, alice) = {
        let mut s = Store::open(&path).unwrap();
        let inst = s.add_instance(&new_inst("proj"), 1).unwrap();
        let alice = user(&mut s, "alice");
        s.bind(&alice, inst.id, 5).unwrap();
        s.set_user_language(&alice, Some("zh")).unwrap();
        s.set_current_session(inst.id, Some("ses_123")).unwrap();
        s.push_offline(&alice, inst.id, "{\"x\":1}", 20, 6).unwrap();
        s.set_setting("notify_token_hash", "abc").unwrap();
        s.mark_processed(Platform::Telegram, "77", 7).unwrap();
        (inst, alice)
    };
    let mut s = Store::open(&path).unwrap();
    let back = s.instance(inst.id).unwrap().unwrap();
    assert_eq!(
        back,
        Instance {
            current_session: Some("ses_123".into()),
            ..inst.clone()
        }
    );
    let u = s.user(&alice).unwrap().unwrap();
    assert_eq!(u.language.as_deref(), Some("zh"));
    assert_eq!(u.active_instance, Some(inst.id));
    assert_eq!(
        s.binding(&alice, inst.id).unwrap().unwrap().role,
        Role::Owner
    );
    assert_eq!(s.offline_for(&alice).unwrap()[0].entries[0].1, "{\"x\":1}");
    assert_eq!(
        s.setting("notify_token_hash").unwrap().as_deref(),
        Some("abc")
    );
    assert!(!s.mark_processed(Platform::Telegram, "77", 8).unwrap());
}

#[test]
fn removing_an_instance_cascades() {
    let mut s = Store::open_in_memory().unwrap();
    let inst = s.add_instance(&new_inst("a"), 1).unwrap();
    let alice = user(&mut s, "alice");
    s.bind(&alice, inst.id, 1).unwrap();
    s.push_offline(&alice, inst.id, "x", 20, 1).unwrap();
    assert!(s.remove_instance(inst.id).unwrap());
    assert!(s.bindings_of_user(&alice).unwrap().is_empty());
    assert!(!s.has_offline(&alice).unwrap());
    assert_eq!(s.user(&alice).unwrap().unwrap().active_instance, None);
}

#[tokio::test]
async fn shared_store_runs_on_the_blocking_pool() {
    let shared = SharedStore::new(Store::open_in_memory().unwrap());
    let inst = shared
        .call(|s| s.add_instance(&new_inst("x"), 1))
        .await
        .unwrap();
    let names = shared
        .call(|s| {
            Ok(s.instances()?
                .into_iter()
                .map(|i| i.name)
                .collect::<Vec<_>>())
        })
        .await
        .unwrap();
    assert_eq!(names, vec![inst.name]);
}

#[tokio::test]
async fn a_read_does_not_wait_for_another_process_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let shared = SharedStore::new(Store::open(&path).unwrap());
    shared.call(|s| s.set_setting("k", "before")).await.unwrap();
    let release = lock_for(&path, Duration::from_millis(1500));
    let started = Instant::now();
    let seen = shared.read(|s| s.setting("k")).await.unwrap();
    assert_eq!(seen.as_deref(), Some("before"), "the last committed value");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "WAL readers do not wait"
    );
    release.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_while_a_call_holds_the_store_waits_its_turn_and_sees_the_write() {
    let shared = SharedStore::new(Store::open_in_memory().unwrap());
    let writer = shared.clone();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let mut started_tx = Some(started_tx);
    let write = tokio::spawn(async move {
        writer
            .call(move |s| {
                if let Some(tx) = started_tx.take() {
                    let _ = tx.send(());
                }
                std::thread::sleep(Duration::from_millis(300));
                s.set_setting("k", "written")
            })
            .await
    });
    started_rx.await.unwrap();
    let seen = shared.read(|s| s.setting("k")).await.unwrap();
    assert_eq!(seen.as_deref(), Some("written"));
    write.await.unwrap().unwrap();
}

/// Another connection holds the write lock for `hold`, then lets go.
fn lock_for(path: &std::path::Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let other = rusqlite::Connection::open(path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    other
        .execute_batch("CREATE TABLE IF NOT EXISTS scratch(x); INSERT INTO scratch VALUES (1)")
        .unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(hold);
        other.execute_batch("ROLLBACK").unwrap();
    })
}

#[test]
fn a_call_waits_out_a_lock_held_by_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let mut store = Store::open(&path).unwrap();
    store.conn.busy_timeout(Duration::from_millis(50)).unwrap();
    let release = lock_for(&path, Duration::from_millis(800));
    let mut tries = 0;
    let started = Instant::now();
    store
        .atomic(Duration::from_secs(30), &mut |s| {
            tries += 1;
            s.set_setting("k", "v")
        })
        .unwrap();
    release.join().unwrap();
    assert!(tries > 1, "it had to wait: {tries} tries");
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(store.setting("k").unwrap().as_deref(), Some("v"));
}

#[test]
fn a_lock_outlasting_the_patience_is_a_busy_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let mut store = Store::open(&path).unwrap();
    store.conn.busy_timeout(Duration::from_millis(20)).unwrap();
    let release = lock_for(&path, Duration::from_millis(600));
    let err = store
        .atomic(Duration::from_millis(100), &mut |s| s.set_setting("k", "v"))
        .unwrap_err();
    assert!(err.is_busy(), "{err}");
    release.join().unwrap();
    assert_eq!(store.setting("k").unwrap(), None);
}

#[test]
fn a_failed_call_leaves_no_partial_write() {
    let mut store = Store::open_in_memory().unwrap();
    let err = store
        .atomic(Duration::ZERO, &mut |s| {
            s.set_setting("first", "written")?;
            s.instance_by_name("nope")?
                .ok_or_else(|| StoreError::NoSuchInstance("nope".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchInstance(_)));
    assert_eq!(store.setting("first").unwrap(), None, "rolled back whole");
    // Store methods with their own transactions nest inside a call.
    let inst = store
        .atomic(Duration::ZERO, &mut |s| {
            s.add_instance(&new_inst("nested"), 1)
        })
        .unwrap();
    assert_eq!(inst.name, "nested");
}
