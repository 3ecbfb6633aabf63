//! `cloudify render FILE [--diff] [-o OUT]`: code or a diff to PNG pages on disk.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cloudify_render::{Page, PageOptions, RenderCache, Renderer, decode};

#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// File to render; `-` reads standard input.
    pub file: PathBuf,
    /// Treat the input as a unified diff (default for .diff and .patch files).
    #[arg(long)]
    pub diff: bool,
    /// Output PNG path (several pages become NAME-1.png, NAME-2.png, …) or a directory.
    /// Default: the input's name with .png, in the current directory.
    #[arg(short, long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Language or file name that picks the highlighting (default: FILE's name, then the
    /// content).
    #[arg(long)]
    pub lang: Option<String>,
    /// Soft-wrap column.
    #[arg(long, default_value_t = 100)]
    pub columns: u16,
    /// Rows per page.
    #[arg(long, default_value_t = 60)]
    pub lines: u16,
    /// Font size in pixels per em.
    #[arg(long, default_value_t = 20)]
    pub font_px: u16,
    /// Bypass the render cache.
    #[arg(long)]
    pub no_cache: bool,
}

pub fn run(args: &RenderArgs, cache_dir: Option<&Path>) -> anyhow::Result<()> {
    let stdin = args.file.as_os_str() == "-";
    let bytes = if stdin {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading standard input")?;
        b
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let name = if stdin {
        None
    } else {
        args.file
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
    };
    let ext = args.file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let is_diff = args.diff || matches!(ext, "diff" | "patch");
    let opts = PageOptions {
        max_columns: args.columns,
        lines_per_page: args.lines,
        font_px: args.font_px,
        title: name.clone(),
        ..PageOptions::default()
    };
    let renderer = Renderer::global()?;
    let cache = cache_dir.filter(|_| !args.no_cache).map(RenderCache::new);
    let hint = args.lang.as_deref().or(name.as_deref());
    let pages = if is_diff {
        let text = decode(&bytes)?;
        if text.lossy {
            eprintln!("note: input is not valid UTF-8; invalid bytes are shown as U+FFFD");
        }
        match &cache {
            Some(c) => c.diff(renderer, &text.text, &opts)?,
            None => renderer.render_diff(&text.text, &opts)?,
        }
    } else {
        match &cache {
            Some(c) => c.code(renderer, &bytes, hint, &opts)?,
            None => renderer.render_code_bytes(&bytes, hint, &opts)?,
        }
    };
    let stem = name
        .as_deref()
        .map_or("stdin", |n| n.rsplit_once('.').map_or(n, |(s, _)| s))
        .to_owned();
    for page in &pages {
        let path = output_path(args.out.as_deref(), &stem, page);
        std::fs::write(&path, &page.png).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{}\t{}x{}\t{} bytes",
            path.display(),
            page.width,
            page.height,
            page.png.len()
        );
    }
    if let Some(last) = pages.last().filter(|p| p.total > pages.len()) {
        eprintln!(
            "note: rendered {} of {} pages (lines up to {})",
            pages.len(),
            last.total,
            last.last_line
        );
    }
    Ok(())
}

/// `OUT` as given for one page; `OUT-N.png` for several; inside `OUT` when it is a directory.
fn output_path(out: Option<&Path>, stem: &str, page: &Page) -> PathBuf {
    let numbered = |base: &str| {
        if page.total > 1 {
            let width = page.total.to_string().len();
            format!("{base}-{:0width$}.png", page.index + 1)
        } else {
            format!("{base}.png")
        }
    };
    match out {
        None => PathBuf::from(numbered(stem)),
        Some(dir) if dir.is_dir() || dir.as_os_str().to_string_lossy().ends_with('/') => {
            if !dir.exists() {
                // Best effort; the write below reports the real error.
                let _ = std::fs::create_dir_all(dir);
            }
            dir.join(numbered(stem))
        }
        Some(file) if page.total == 1 => file.to_path_buf(),
        Some(file) => {
            let base = file.with_extension("");
            PathBuf::from(numbered(&base.to_string_lossy()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(index: usize, total: usize) -> Page {
        Page {
            png: Vec::new(),
            width: 1,
            height: 1,
            index,
            total,
            first_line: 1,
            last_line: 1,
        }
    }

    #[test]
    fn output_names() {
        assert_eq!(
            output_path(None, "main", &page(0, 1)),
            PathBuf::from("main.png")
        );
        assert_eq!(
            output_path(None, "main", &page(2, 17)),
            PathBuf::from("main-03.png")
        );
        assert_eq!(
            output_path(Some(Path::new("o.png")), "main", &page(0, 1)),
            PathBuf::from("o.png")
        );
        assert_eq!(
            output_path(Some(Path::new("o.png")), "main", &page(1, 3)),
            PathBuf::from("o-2.png")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            output_path(Some(dir.path()), "main", &page(0, 2)),
            dir.path().join("main-1.png")
        );
    }
}
