//! Unified diff parsing (git and plain `diff -u`) into the document model.

use crate::doc::{Doc, Kind, Line};
use crate::text::split_lines;

#[derive(Default)]
struct PendingFile {
    old: Option<String>,
    new: Option<String>,
    seen: bool,
}

fn strip_path(p: &str) -> Option<String> {
    // `diff -u` appends a tab and a timestamp; git quotes nothing we need to undo here.
    let p = p.split('\t').next().unwrap_or(p).trim_end();
    if p == "/dev/null" {
        return None;
    }
    let p = p
        .strip_prefix("a/")
        .or_else(|| p.strip_prefix("b/"))
        .unwrap_or(p);
    Some(p.to_owned())
}

/// Parses `@@ -a,b +c,d @@`: returns (a, b, c, d).
fn parse_hunk(line: &str) -> Option<(u32, u32, u32, u32)> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let pair = |s: &str| -> Option<(u32, u32)> {
        match s.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    let (a, b) = pair(old)?;
    let (c, d) = pair(new)?;
    Some((a, b, c, d))
}

impl<'t> Doc<'t> {
    pub(crate) fn diff(text: &'t str) -> Self {
        let mut doc = Doc {
            text,
            lines: Vec::new(),
            is_diff: true,
            files: Vec::new(),
        };
        let mut pending = PendingFile::default();
        let (mut old_no, mut new_no, mut old_left, mut new_left) = (0u32, 0u32, 0u32, 0u32);
        let mut file: u16 = 0;
        for r in split_lines(text) {
            let s = &text[r.clone()];
            let body = (r.start + 1).min(r.end)..r.end;
            let numbered = |kind, old, new, file| Line {
                kind,
                text: body.clone(),
                label: None,
                old,
                new,
                file,
            };
            if old_left > 0 || new_left > 0 {
                match s.as_bytes().first() {
                    Some(b' ') | None => {
                        doc.lines
                            .push(numbered(Kind::Context, old_no, new_no, file));
                        old_no += 1;
                        new_no += 1;
                        old_left = old_left.saturating_sub(1);
                        new_left = new_left.saturating_sub(1);
                        continue;
                    }
                    Some(b'+') => {
                        doc.lines.push(numbered(Kind::Add, 0, new_no, file));
                        new_no += 1;
                        new_left = new_left.saturating_sub(1);
                        continue;
                    }
                    Some(b'-') => {
                        doc.lines.push(numbered(Kind::Del, old_no, 0, file));
                        old_no += 1;
                        old_left = old_left.saturating_sub(1);
                        continue;
                    }
                    _ => {
                        old_left = 0;
                        new_left = 0;
                    }
                }
            }
            if s.starts_with('\\') {
                doc.lines.push(Line {
                    kind: Kind::Meta,
                    text: r,
                    label: None,
                    old: 0,
                    new: 0,
                    file,
                });
            } else if let Some(rest) = s.strip_prefix("diff --git ") {
                doc.flush(&mut pending, &mut file);
                let mut parts = rest.splitn(2, " b/");
                pending.old = parts.next().and_then(strip_path);
                pending.new = parts.next().map(ToOwned::to_owned);
                pending.seen = true;
            } else if let Some(p) = s.strip_prefix("--- ") {
                if pending.seen && pending.old.is_some() != pending.new.is_some() {
                    doc.flush(&mut pending, &mut file);
                }
                pending.old = strip_path(p);
                pending.new = None;
                pending.seen = true;
            } else if let Some(p) = s.strip_prefix("+++ ") {
                pending.new = strip_path(p);
                pending.seen = true;
                let deleted = pending.new.is_none();
                doc.flush_with(&mut pending, &mut file, deleted);
            } else if let Some((a, b, c, d)) = parse_hunk(s) {
                doc.flush(&mut pending, &mut file);
                (old_no, old_left, new_no, new_left) = (a, b, c, d);
                doc.lines.push(Line {
                    kind: Kind::Hunk,
                    text: r,
                    label: None,
                    old: 0,
                    new: 0,
                    file,
                });
            } else if pending.seen
                && [
                    "index ",
                    "new file mode",
                    "deleted file mode",
                    "old mode",
                    "new mode",
                    "similarity",
                    "rename ",
                    "copy ",
                    "dissimilarity",
                ]
                .iter()
                .any(|p| s.starts_with(p))
            {
                // git's extended header lines: summarized by the file header row.
            } else {
                doc.flush(&mut pending, &mut file);
                doc.lines.push(Line {
                    kind: Kind::Meta,
                    text: r,
                    label: None,
                    old: 0,
                    new: 0,
                    file,
                });
            }
        }
        doc.flush(&mut pending, &mut file);
        if doc.lines.is_empty() {
            doc.lines.push(Line::note("(no changes)"));
        }
        doc
    }

    fn flush(&mut self, p: &mut PendingFile, file: &mut u16) {
        self.flush_with(p, file, false);
    }

    /// Emits the file header row for the collected `diff --git`/`---`/`+++` lines.
    fn flush_with(&mut self, p: &mut PendingFile, file: &mut u16, deleted: bool) {
        if !p.seen {
            return;
        }
        let label = match (p.old.take(), p.new.take()) {
            (Some(o), Some(n)) if o == n => n,
            (Some(o), Some(n)) => format!("{o} → {n}"),
            (None, Some(n)) => format!("{n}  (new file)"),
            (Some(o), None) if deleted => format!("{o}  (deleted)"),
            (Some(o), None) => o,
            (None, None) => "(unnamed)".to_owned(),
        };
        let name = label.split("  (").next().unwrap_or(&label);
        let name = name.rsplit(" → ").next().unwrap_or(name).to_owned();
        self.files.push(name);
        *file = (self.files.len() - 1) as u16;
        self.lines.push(Line {
            kind: Kind::File,
            text: 0..0,
            label: Some(label),
            old: 0,
            new: 0,
            file: *file,
        });
        *p = PendingFile::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIT: &str = "diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -10,4 +10,4 @@ fn main() {
 let a = 1;
-let b = 2;
+let b = 3;
+let c = 4;
 done();
-- not a header, a deleted line starting with --
diff --git a/new.py b/new.py
new file mode 100644
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+print(1)
+print(2)
";

    #[test]
    fn kinds_and_numbers() {
        let doc = Doc::diff(GIT);
        let kinds: Vec<Kind> = doc.lines.iter().map(|l| l.kind).collect();
        use Kind::*;
        assert_eq!(
            kinds,
            vec![
                File, Hunk, Context, Del, Add, Add, Context, Del, File, Hunk, Add, Add
            ]
        );
        let l = &doc.lines;
        assert_eq!((l[2].old, l[2].new), (10, 10));
        assert_eq!((l[3].old, l[3].new), (11, 0));
        assert_eq!((l[4].old, l[4].new), (0, 11));
        assert_eq!((l[6].old, l[6].new), (12, 13));
        assert_eq!(
            doc.line_text(&l[7]),
            "- not a header, a deleted line starting with --"
        );
        assert_eq!(doc.line_text(&l[0]), "src/lib.rs");
        assert_eq!(doc.line_text(&l[8]), "new.py  (new file)");
        assert_eq!(doc.files, vec!["src/lib.rs", "new.py"]);
        assert_eq!((l[11].file, l[11].new), (1, 2));
        assert_eq!(doc.line_text(&l[3]), "let b = 2;");
    }

    #[test]
    fn plain_diff_u_with_timestamps() {
        let t = "--- a.c\t2024-01-01 00:00:00\n+++ a.c\t2024-01-02 00:00:00\n@@ -1 +1 @@\n-x\n+y\n";
        let doc = Doc::diff(t);
        assert_eq!(doc.files, vec!["a.c"]);
        assert_eq!(doc.lines.len(), 4);
        assert_eq!((doc.lines[2].old, doc.lines[3].new), (1, 1));
    }

    #[test]
    fn empty_and_garbage() {
        assert_eq!(
            Doc::diff("").line_text(&Doc::diff("").lines[0]),
            "(no changes)"
        );
        let doc = Doc::diff("hello\nworld\n");
        assert!(doc.lines.iter().all(|l| l.kind == Kind::Meta));
        assert_eq!(parse_hunk("@@ -1,2 +3 @@ x"), Some((1, 2, 3, 1)));
        assert_eq!(parse_hunk("@@ nonsense"), None);
    }
}
