//! The bot's files in the data directory are the bot's alone: directories 0700, files 0600.
//!
//! `cloudify` sets the umask 077 before it writes anything, and on every start fixes the modes
//! an older version left behind (0644 database and QR images in 0755 directories). The data
//! directory itself keeps its mode: in the image it is root's 0711, so the `opencode` account
//! can reach `/data/opencode` and `/data/workspace` but cannot list or read the bot's files.
//! Nothing here follows a symbolic link: every file is opened with `O_NOFOLLOW` and changed
//! through its descriptor, so a link planted in the data directory cannot redirect a chmod.

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Subdirectories the bot owns (created 0700; their trees fixed to 0700/0600).
const PRIVATE_DIRS: [&str; 4] = ["secrets", "qr", "cache", "cache/rendered"];
/// Files directly in the data directory that only the bot may read.
const PRIVATE_FILES: [&str; 5] = [
    "config.yaml",
    "cloudify.db",
    "cloudify.db-wal",
    "cloudify.db-shm",
    "cloudify.db-journal",
];
/// How deep the fix walks below a private directory (the render cache is flat).
const MAX_DEPTH: u32 = 8;

/// Every file the process creates from now on is 0600, every directory 0700.
pub fn private_umask() {
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

/// Creates the data directory and the bot's subdirectories (0700), then fixes the modes of what
/// already exists. A path that cannot be fixed is logged, not fatal: the bot still works.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder.create(dir)?;
    for sub in PRIVATE_DIRS {
        builder.create(dir.join(sub))?;
    }
    for problem in fix_modes(dir) {
        tracing::warn!("data directory: {problem}");
    }
    Ok(())
}

/// Sets 0700 on the bot's directories and 0600 on its files, without following links.
/// Returns what it skipped or could not change.
pub fn fix_modes(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let root = match open_nofollow(CWD, dir) {
        Ok(fd) => fd,
        Err(e) => {
            problems.push(format!("{}: {e}", dir.display()));
            return problems;
        }
    };
    for name in PRIVATE_FILES {
        fix_entry(root.as_fd(), Path::new(name), 0, &mut problems, dir);
    }
    for name in PRIVATE_DIRS {
        fix_entry(root.as_fd(), Path::new(name), 0, &mut problems, dir);
    }
    problems
}

fn open_nofollow(dirfd: impl AsFd, path: &Path) -> rustix::io::Result<OwnedFd> {
    // NONBLOCK: a FIFO planted under a private name must not hang the start.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    rustix::fs::openat(dirfd, path, flags, Mode::empty())
}

/// Fixes one entry (relative to `parent`) and, for a directory, what it holds.
fn fix_entry(parent: impl AsFd, name: &Path, depth: u32, problems: &mut Vec<String>, at: &Path) {
    let shown = at.join(name);
    let kind = match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => FileType::from_raw_mode(st.st_mode),
        Err(Errno::NOENT) => return,
        Err(e) => return problems.push(format!("{}: {e}", shown.display())),
    };
    let want = match kind {
        FileType::Directory => 0o700,
        FileType::RegularFile => 0o600,
        FileType::Symlink => {
            return problems.push(format!(
                "{} is a symbolic link: left alone (not followed)",
                shown.display()
            ));
        }
        _ => return problems.push(format!("{}: not a file or directory", shown.display())),
    };
    let fd = match open_nofollow(&parent, name) {
        Ok(fd) => fd,
        // ELOOP: it became a link between the stat and the open.
        Err(e) => return problems.push(format!("{}: {e}", shown.display())),
    };
    match rustix::fs::fstat(&fd) {
        Ok(st) if st.st_mode & 0o7777 != want => {
            if let Err(e) = rustix::fs::fchmod(&fd, Mode::from_raw_mode(want)) {
                problems.push(format!("{}: chmod {want:o}: {e}", shown.display()));
            }
        }
        Ok(_) => {}
        Err(e) => return problems.push(format!("{}: {e}", shown.display())),
    }
    if kind == FileType::Directory {
        if depth >= MAX_DEPTH {
            return problems.push(format!("{}: too deep, not walked", shown.display()));
        }
        fix_children(&fd, depth + 1, problems, &shown);
    }
}

fn fix_children(dir: &OwnedFd, depth: u32, problems: &mut Vec<String>, at: &Path) {
    let entries = match rustix::fs::Dir::read_from(dir) {
        Ok(d) => d,
        Err(e) => return problems.push(format!("{}: {e}", at.display())),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return problems.push(format!("{}: {e}", at.display())),
        };
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let name = Path::new(std::ffi::OsStr::from_bytes(name));
        fix_entry(dir, name, depth, problems, at);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn fixes_old_modes_and_never_follows_links() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(data.join("cache/rendered/sub")).unwrap();
        std::fs::create_dir_all(data.join("secrets")).unwrap();
        std::fs::write(&outside, "not the bot's").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        for f in [
            "cloudify.db",
            "config.yaml",
            "secrets/t",
            "cache/rendered/sub/a.png",
        ] {
            std::fs::write(data.join(f), "x").unwrap();
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        symlink(&outside, data.join("secrets/link")).unwrap();
        symlink(&outside, data.join("cloudify.db-wal")).unwrap();
        std::fs::create_dir(tmp.path().join("elsewhere")).unwrap();
        let elsewhere = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(tmp.path().join("elsewhere"), elsewhere).unwrap();
        symlink(tmp.path().join("elsewhere"), data.join("qr")).unwrap();

        let problems = fix_modes(&data);
        for f in [
            "cloudify.db",
            "config.yaml",
            "secrets/t",
            "cache/rendered/sub/a.png",
        ] {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }
        for d in ["secrets", "cache", "cache/rendered", "cache/rendered/sub"] {
            assert_eq!(mode(&data.join(d)), 0o700, "{d}");
        }
        assert_eq!(mode(&outside), 0o644, "a link's target is never changed");
        assert_eq!(mode(&tmp.path().join("elsewhere")), 0o755);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().all(|p| p.contains("symbolic link")));
    }
}
