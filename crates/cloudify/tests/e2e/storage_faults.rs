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

/// A full filesystem mounted over the render cache; unmounted on drop.
struct FullDisk(std::path::PathBuf);

impl FullDisk {
    /// Mounts a 64 KiB tmpfs at `dir` and fills it. `None` where mounting is not allowed
    /// (not root, no CAP_SYS_ADMIN).
    fn mount(dir: &Path) -> Option<FullDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let guard = FullDisk(dir.to_path_buf());
        let filler = vec![0u8; 4096];
        let mut f = std::fs::File::create(dir.join("filler")).unwrap();
        let err = loop {
            if let Err(e) = std::io::Write::write_all(&mut f, &filler) {
                break e;
            }
        };
        assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
        Some(guard)
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The render cache sits on a full disk (or, where the test may not mount, its path is
/// unusable): long code still arrives as a picture, rendered without the cache, and the bot
/// keeps working.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_the_render_cache_still_delivers_rendered_code() {
    let w = World::start().await;
    let alice = user(711, "Alice");
    w.bind(&alice, &w.qr_token(None)).await;
    let cache = w.data.path().join("cache").join("rendered");
    let full = FullDisk::mount(&cache);
    if full.is_none() {
        // Fallback fault: a plain file where the cache directory should be (ENOTDIR).
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::write(&cache, b"not a directory").unwrap();
        eprintln!("mount not permitted here: the cache path is a file instead of a full disk");
    }

    let code: String = (1..=45)
        .map(|i| format!("    let v{i} = {i} * 2;\n"))
        .collect();
    for round in 1..=2 {
        let trigger = format!("DISKFULL{round}");
        w.llm.on(
            &trigger,
            Script::text(&format!(
                "Round {round}:\n```rust\nfn main() {{\n{code}}}\n```\nEnd {round}."
            )),
        );
        w.says(&alice, &trigger).await;
        let needle = format!("End {round}.");
        w.tg.wait_for_message(
            711,
            move |m| m.text().contains(&needle) && m.text().contains("Done"),
            T,
        )
        .await;
    }
    // The same code twice: both rendered (nothing cached), both delivered as pictures.
    let photos =
        w.tg.messages(711)
            .into_iter()
            .filter(|m| m.photo.is_some())
            .count();
    assert!(photos >= 2, "{:#?}", w.tg.texts(711));
    assert!(
        w.log().contains("render cache write failed"),
        "the degraded cache is visible in the log"
    );
    if full.is_some() {
        let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert_eq!(
            left.len(),
            1,
            "only the filler: nothing half-written remains"
        );
    }
    w.llm.on("DISKAFTER", Script::text("still fine"));
    w.says(&alice, "DISKAFTER").await;
    w.wait_answer(711, "still fine").await;
}
