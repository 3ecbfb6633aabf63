//! Content-hash cache of rendered pages on disk (e.g. `/data/cache/rendered`).
//!
//! Best effort by design: any I/O problem (missing directory, read-only or full disk,
//! a corrupt entry) means "render without the cache", logged at warn, never an error.
//! Entries are written to a temporary directory and renamed into place, so a reader never
//! sees half an entry.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::{Page, PageOptions, RenderError, Renderer};

/// Bump when the pixels for the same input change (fonts, theme, layout).
const FORMAT: &str = "cloudify-render/1";

#[derive(Debug, Clone)]
pub struct RenderCache {
    dir: PathBuf,
}

impl RenderCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Cache key of a render: hash of everything that decides its pixels.
    pub fn key(kind: &str, content: &[u8], hint: Option<&str>, opts: &PageOptions) -> String {
        let mut h = Sha256::new();
        for part in [
            FORMAT.as_bytes(),
            kind.as_bytes(),
            hint.unwrap_or("").as_bytes(),
            format!("{opts:?}").as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(content);
        hex::encode(h.finalize())
    }

    /// Cached `Renderer::render_code_bytes`.
    pub fn code(
        &self,
        r: &Renderer,
        bytes: &[u8],
        hint: Option<&str>,
        opts: &PageOptions,
    ) -> Result<Vec<Page>, RenderError> {
        let key = Self::key("code", bytes, hint, opts);
        if let Some(pages) = self.get(&key) {
            return Ok(pages);
        }
        let pages = r.render_code_bytes(bytes, hint, opts)?;
        self.put(&key, &pages);
        Ok(pages)
    }

    /// Cached `Renderer::render_diff`.
    pub fn diff(
        &self,
        r: &Renderer,
        diff: &str,
        opts: &PageOptions,
    ) -> Result<Vec<Page>, RenderError> {
        let key = Self::key("diff", diff.as_bytes(), None, opts);
        if let Some(pages) = self.get(&key) {
            return Ok(pages);
        }
        let pages = r.render_diff(diff, opts)?;
        self.put(&key, &pages);
        Ok(pages)
    }

    /// Pages stored under `key`, or `None` (missing or unreadable: both mean render).
    pub fn get(&self, key: &str) -> Option<Vec<Page>> {
        let entry = self.dir.join(key);
        let manifest = fs::read_to_string(entry.join("manifest")).ok()?;
        let mut lines = manifest.lines();
        if lines.next()? != FORMAT {
            return None;
        }
        let mut pages = Vec::new();
        for line in lines {
            let f: Vec<u64> = line
                .split(' ')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let [index, total, width, height, first, last] = f[..] else {
                return None;
            };
            let png = fs::read(entry.join(format!("{index}.png"))).ok()?;
            pages.push(Page {
                png,
                width: width as u32,
                height: height as u32,
                index: index as usize,
                total: total as usize,
                first_line: first as u32,
                last_line: last as u32,
            });
        }
        // Touch for LRU pruning; failure only makes the entry look older.
        let _ =
            fs::File::open(entry.join("manifest")).and_then(|f| f.set_modified(SystemTime::now()));
        (!pages.is_empty()).then_some(pages)
    }

    /// Stores pages under `key`; failures are logged and otherwise ignored.
    pub fn put(&self, key: &str, pages: &[Page]) {
        if let Err(e) = self.try_put(key, pages) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "render cache write failed; continuing without it");
        }
    }

    fn try_put(&self, key: &str, pages: &[Page]) -> io::Result<()> {
        let entry = self.dir.join(key);
        if entry.exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(
            ".tmp-{key}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let result = (|| {
            fs::create_dir_all(&tmp)?;
            let mut manifest = format!("{FORMAT}\n");
            for p in pages {
                fs::write(tmp.join(format!("{}.png", p.index)), &p.png)?;
                manifest.push_str(&format!(
                    "{} {} {} {} {} {}\n",
                    p.index, p.total, p.width, p.height, p.first_line, p.last_line
                ));
            }
            fs::write(tmp.join("manifest"), manifest)?;
            match fs::rename(&tmp, &entry) {
                // Another writer won the race with identical content.
                Err(_) if entry.exists() => Ok(()),
                r => r,
            }
        })();
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Removes least recently used entries until the cache holds at most `max_bytes`.
    /// Returns the bytes removed.
    pub fn prune(&self, max_bytes: u64) -> u64 {
        let Ok(read) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = read
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| {
                let path = e.path();
                let size = fs::read_dir(&path)
                    .map(|d| {
                        d.filter_map(Result::ok)
                            .filter_map(|f| f.metadata().ok())
                            .map(|m| m.len())
                            .sum()
                    })
                    .unwrap_or(0);
                let used = fs::metadata(path.join("manifest"))
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (used, size, path)
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        let mut removed = 0;
        for (_, size, path) in entries {
            if total <= max_bytes {
                break;
            }
            if fs::remove_dir_all(&path).is_ok() {
                total -= size;
                removed += size;
            }
        }
        removed
    }
}
