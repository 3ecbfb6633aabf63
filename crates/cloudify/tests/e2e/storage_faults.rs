//! Storage faults: SQLite locked by another process, render cache on a full disk (issue 8).

use crate::harness::{T, World, user};
use cloudify_testkit::fake_llm::{Reply, Script};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts a separate process that holds the write lock on `db` for `secs` (like an admin's
/// `sqlite3` shell left in a transaction), returning once it holds it. In WAL mode readers go
/// on; every writer waits (another process cannot lock readers out of a WAL database that
/// cloudify has open).
fn hold_write_lock(db: &Path, secs: u64) -> Child {
    const SCRIPT: &str = "\
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute('BEGIN EXCLUSIVE')
c.execute('CREATE TABLE IF NOT EXISTS admin_scratch(x)')
c.execute('INSERT INTO admin_scratch VALUES (1)')
print('locked', flush=True)
time.sleep(float(sys.argv[2]))
c.execute('ROLLBACK')
c.close()
";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(db)
        .arg(secs.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked", "the lock holder started");
    child
}

fn count(w: &World, chat: i64, f: impl Fn(&str) -> bool) -> usize {
    w.tg.messages(chat).iter().filter(|m| f(m.text())).count()
}

fn prompts_seen(w: &World, needle: &str) -> usize {
    w.llm
        .agent_requests()
        .into_iter()
        .filter(|r| r.user_text.contains(needle))
        .count()
}

/// The database is locked for longer than SQLite's busy timeout, first while a turn streams
/// and commands arrive, then while a prompt arrives. Nothing
/// may be dropped (Telegram already considers those updates delivered) or doubled.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_locked_by_another_process_loses_nothing() {
    let w = World::start().await;
    let db = w.data.path().join("cloudify.db");
    let (alice, bob) = (user(701, "Alice"), user(702, "Bob"));
    let token = w.qr_token(None);
    w.bind(&alice, &token).await;
    w.bind(&bob, &token).await;

    // Phase 1: writers locked out for 12 s while a turn streams and both users send commands.
    w.llm.on(
        "LOCKSTREAM",
        Reply::chunks(["alpha, ", "beta, ", "gamma, ", "delta."])
            .chunk_delay(Duration::from_secs(3)),
    );
    w.says(&alice, "LOCKSTREAM").await;
    w.wait_text(701, "Working").await;
    let mut holder = hold_write_lock(&db, 12);
    w.says(&alice, "/status").await;
    w.says(&bob, "/help").await;
    w.says(&bob, "/lang zh").await;
    holder.wait().unwrap();
    for chat in [701, 702] {
        w.tg.wait_for_message(
            chat,
            |m| m.text().contains("delta.") && m.text().contains("✅"),
            Duration::from_secs(90),
        )
        .await;
    }
    w.tg.wait_for_message(701, |m| m.text().starts_with("📊"), T)
        .await;
    w.tg.wait_for_message(702, |m| m.text().contains("/sessions"), T)
        .await;
    w.tg.wait_for_message(702, |m| m.text().contains("以后用中文回复"), T)
        .await;

    // Phase 2: locked again while a new prompt arrives (its intake has to wait).
    w.llm
        .on("LOCKPROMPT", Script::text("answered after the lock"));
    let mut holder = hold_write_lock(&db, 12);
    w.says(&alice, "LOCKPROMPT").await;
    holder.wait().unwrap();
    w.tg.wait_for_message(
        701,
        |m| m.text().contains("answered after the lock") && m.text().contains("Done"),
        Duration::from_secs(90),
    )
    .await;
    // Bob reads Chinese now: his /lang survived the lock.
    w.tg.wait_for_message(
        702,
        |m| m.text().contains("answered after the lock") && m.text().contains("完成"),
        T,
    )
    .await;

    tokio::time::sleep(Duration::from_secs(3)).await; // room for a late duplicate to show
    let final_of = |needle: &'static str| {
        move |t: &str| t.contains(needle) && !t.contains("Working…") && t.contains("\n")
    };
    for chat in [701, 702] {
        assert_eq!(
            count(&w, chat, final_of("delta.")),
            1,
            "{:#?}",
            w.tg.texts(chat)
        );
        assert_eq!(
            count(&w, chat, final_of("answered after the lock")),
            1,
            "{:#?}",
            w.tg.texts(chat)
        );
    }
    // One status card came with the welcome, one answers the /status sent during the lock.
    assert_eq!(
        count(&w, 701, |t| t.starts_with("📊")),
        2,
        "{:#?}",
        w.tg.texts(701)
    );
    assert_eq!(prompts_seen(&w, "LOCKSTREAM"), 1);
    assert_eq!(prompts_seen(&w, "LOCKPROMPT"), 1);
    assert!(
        w.log().contains("database is locked"),
        "the wait is visible in the log"
    );
}
