//! Code, diffs and traces → PNG pages via `cloudify-render`, on a blocking thread, with a
//! document fallback when rendering fails or pages are left over.

use std::path::PathBuf;

use cloudify_render::{
    PageOptions, RenderCache, RenderError, Renderer, TELEGRAM_ALBUM_MAX, plan_telegram,
};

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RenderJob {
    Code {
        code: String,
        /// A file name or fence language, for highlighting.
        hint: Option<String>,
        /// Shown in the page header.
        title: Option<String>,
        /// Name of the document sent instead of (or after) the pages.
        doc_name: String,
    },
    Diff {
        patch: String,
        title: Option<String>,
    },
}

/// How rendered content goes out.
#[derive(Debug)]
pub(crate) enum Rendered {
    /// Photos (one → sendPhoto, 2–10 → an album), then optionally the whole content as a
    /// document when pages were left over.
    Pages {
        photos: Vec<Vec<u8>>,
        document: Option<(Vec<u8>, String)>,
    },
    /// Rendering failed: the content as a file.
    Document(Vec<u8>, String),
}

fn page_options(title: Option<&str>) -> PageOptions {
    PageOptions {
        title: title.map(str::to_owned),
        ..PageOptions::default()
    }
}

impl RenderJob {
    pub(crate) fn code(code: String, hint: Option<String>, title: Option<String>) -> Self {
        let doc_name = title
            .as_deref()
            .and_then(file_name)
            .unwrap_or_else(|| "code.txt".to_owned());
        RenderJob::Code {
            code,
            hint,
            title,
            doc_name,
        }
    }

    pub(crate) fn trace(trace: String) -> Self {
        RenderJob::Code {
            code: trace,
            hint: None,
            title: None,
            doc_name: "trace.txt".to_owned(),
        }
    }

    pub(crate) fn diff(patch: String, title: Option<String>) -> Self {
        RenderJob::Diff { patch, title }
    }

    fn text(&self) -> &str {
        match self {
            RenderJob::Code { code, .. } => code,
            RenderJob::Diff { patch, .. } => patch,
        }
    }

    /// The content as a file to attach.
    pub(crate) fn document(&self) -> (Vec<u8>, String) {
        let name = match self {
            RenderJob::Code { doc_name, .. } => doc_name.clone(),
            RenderJob::Diff { .. } => "changes.diff".to_owned(),
        };
        (self.text().as_bytes().to_vec(), name)
    }

    /// Pages the renderer will produce (see `cloudify_render::estimate_pages`).
    pub(crate) fn estimated_pages(&self) -> usize {
        let is_diff = matches!(self, RenderJob::Diff { .. });
        cloudify_render::estimate_pages(self.text(), is_diff, &PageOptions::default())
    }

    /// Calls `send` will make for this job: one photo or album, plus a document when the
    /// pages do not fit in one album. An estimate (the real count is known after rendering),
    /// exact except near the ten-page boundary.
    pub(crate) fn estimated_calls(&self) -> u32 {
        if self.estimated_pages() > TELEGRAM_ALBUM_MAX {
            2
        } else {
            1
        }
    }

    fn render_pages(
        &self,
        cache: Option<&RenderCache>,
    ) -> Result<Vec<cloudify_render::Page>, RenderError> {
        let r = Renderer::global()?;
        match (self, cache) {
            (
                RenderJob::Code {
                    code, hint, title, ..
                },
                Some(c),
            ) => c.code(
                r,
                code.as_bytes(),
                hint.as_deref(),
                &page_options(title.as_deref()),
            ),
            (
                RenderJob::Code {
                    code, hint, title, ..
                },
                None,
            ) => r.render_code_bytes(
                code.as_bytes(),
                hint.as_deref(),
                &page_options(title.as_deref()),
            ),
            (RenderJob::Diff { patch, title }, Some(c)) => {
                c.diff(r, patch, &page_options(title.as_deref()))
            }
            (RenderJob::Diff { patch, title }, None) => {
                r.render_diff(patch, &page_options(title.as_deref()))
            }
        }
    }
}

/// The last path segment, if it makes a sane file name.
fn file_name(title: &str) -> Option<String> {
    let base = title.rsplit(['/', '\\']).next()?.trim();
    let ok =
        !base.is_empty() && base.len() <= 128 && !base.chars().any(|c| c.is_control() || c == '"');
    ok.then(|| base.to_owned())
}

/// Renders `job` on a blocking thread. Never fails: a render error becomes a document.
pub(crate) async fn render(job: &RenderJob, cache: Option<PathBuf>) -> Rendered {
    let owned = job.clone();
    let result = tokio::task::spawn_blocking(move || {
        let cache = cache.map(RenderCache::new);
        owned.render_pages(cache.as_ref())
    })
    .await;
    let pages = match result {
        Ok(Ok(pages)) => pages,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "rendering failed; sending the content as a document");
            let (bytes, name) = job.document();
            return Rendered::Document(bytes, name);
        }
        Err(e) => {
            tracing::error!(error = %e, "render task failed; sending the content as a document");
            let (bytes, name) = job.document();
            return Rendered::Document(bytes, name);
        }
    };
    let plan = plan_telegram(&pages);
    let total = pages.first().map_or(0, |p| p.total);
    let mut pages = pages;
    let photos: Vec<Vec<u8>> = plan
        .photos
        .iter()
        .filter_map(|i| pages.get_mut(*i).map(|p| std::mem::take(&mut p.png)))
        .collect();
    if photos.is_empty() {
        let (bytes, name) = job.document();
        return Rendered::Document(bytes, name);
    }
    // Pages left out by the album or by `max_pages` are in the document.
    let document = (plan.needs_document() || total > pages.len()).then(|| job.document());
    Rendered::Pages { photos, document }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_follow_the_renderers_pagination() {
        let short = RenderJob::code("x\n".repeat(40), Some("rust".into()), None);
        assert_eq!(short.estimated_pages(), 1);
        assert_eq!(short.estimated_calls(), 1);
        let long = RenderJob::code("y\n".repeat(61 * 11), None, None);
        assert_eq!(long.estimated_pages(), 12);
        assert_eq!(long.estimated_calls(), 2);
        let wide = RenderJob::code("z".repeat(250), None, None);
        assert_eq!(wide.estimated_pages(), 1);
    }

    #[test]
    fn document_names() {
        assert_eq!(
            RenderJob::code("a".into(), None, Some("src/main.rs".into()))
                .document()
                .1,
            "main.rs"
        );
        assert_eq!(
            RenderJob::code("a".into(), None, None).document().1,
            "code.txt"
        );
        assert_eq!(RenderJob::trace("t".into()).document().1, "trace.txt");
        assert_eq!(
            RenderJob::diff("d".into(), None).document().1,
            "changes.diff"
        );
    }

    #[tokio::test]
    async fn renders_pages_or_falls_back() {
        let job = RenderJob::code("fn main() {}\n".repeat(70), Some("rust".into()), None);
        match render(&job, None).await {
            Rendered::Pages { photos, document } => {
                assert_eq!(photos.len(), 2);
                assert!(photos.iter().all(|p| p.starts_with(b"\x89PNG")));
                assert!(document.is_none());
            }
            other => panic!("expected pages, got {other:?}"),
        }
        // NUL bytes: the renderer refuses binary content; the text goes out as a file.
        let binary = RenderJob::code("a\0b".into(), None, Some("blob.bin".into()));
        match render(&binary, None).await {
            Rendered::Document(bytes, name) => {
                assert_eq!((bytes, name.as_str()), (b"a\0b".to_vec(), "blob.bin"));
            }
            other => panic!("expected a document, got {other:?}"),
        }
    }
}
