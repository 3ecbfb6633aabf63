//! Code, diffs and traces → PNG pages via `cloudify-render` on a blocking thread, planned
//! for DingTalk (a few images, then a note for the rest).

use std::path::PathBuf;

use cloudify_render::{PageOptions, RenderCache, RenderError, Renderer, plan_dingtalk};

/// At most this many images per code block / diff (`cloudify_render::plan_dingtalk`).
pub(crate) const MAX_IMAGES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RenderJob {
    Code {
        code: String,
        /// File name or fence language, for highlighting.
        hint: Option<String>,
        title: Option<String>,
    },
    Diff {
        patch: String,
        title: Option<String>,
    },
}

/// What goes out for a job.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub images: Vec<Vec<u8>>,
    /// Closing line when pages were left out.
    pub note: Option<String>,
    /// Rendering failed: the content as quoted Markdown instead.
    pub fallback: Option<String>,
}

fn page_options(title: Option<&str>) -> PageOptions {
    PageOptions {
        title: title.map(str::to_owned),
        ..PageOptions::default()
    }
}

impl RenderJob {
    fn text(&self) -> &str {
        match self {
            RenderJob::Code { code, .. } => code,
            RenderJob::Diff { patch, .. } => patch,
        }
    }

    /// Pages the renderer will produce (see `cloudify_render::estimate_pages`).
    pub(crate) fn estimated_pages(&self) -> usize {
        let is_diff = matches!(self, RenderJob::Diff { .. });
        cloudify_render::estimate_pages(self.text(), is_diff, &PageOptions::default())
    }

    /// Calls `send` makes: upload + image message per page shown, plus the note.
    pub(crate) fn estimated_calls(&self) -> u32 {
        let pages = self.estimated_pages();
        let shown = pages.min(MAX_IMAGES) as u32;
        shown * 2 + u32::from(pages > MAX_IMAGES)
    }

    fn pages(
        &self,
        cache: Option<&RenderCache>,
    ) -> Result<Vec<cloudify_render::Page>, RenderError> {
        let r = Renderer::global()?;
        let mut opts = page_options(match self {
            RenderJob::Code { title, .. } | RenderJob::Diff { title, .. } => title.as_deref(),
        });
        // Only the first pages are shown; `Page::total` still counts the rest.
        opts.max_pages = MAX_IMAGES as u16;
        match (self, cache) {
            (RenderJob::Code { code, hint, .. }, Some(c)) => {
                c.code(r, code.as_bytes(), hint.as_deref(), &opts)
            }
            (RenderJob::Code { code, hint, .. }, None) => {
                r.render_code_bytes(code.as_bytes(), hint.as_deref(), &opts)
            }
            (RenderJob::Diff { patch, .. }, Some(c)) => c.diff(r, patch, &opts),
            (RenderJob::Diff { patch, .. }, None) => r.render_diff(patch, &opts),
        }
    }

    fn fallback(&self) -> String {
        crate::markdown::subset_quoting_code(&format!("```\n{}\n```", self.text()))
    }
}

/// Renders on a blocking thread. Never fails: a render error gives the quoted text.
pub(crate) async fn render(job: &RenderJob, cache: Option<PathBuf>) -> Rendered {
    let owned = job.clone();
    let result = tokio::task::spawn_blocking(move || {
        let cache = cache.map(RenderCache::new);
        owned.pages(cache.as_ref())
    })
    .await;
    let failed = |why: String| {
        tracing::warn!(error = %why, "rendering failed; sending the content as text");
        Rendered {
            images: Vec::new(),
            note: None,
            fallback: Some(job.fallback()),
        }
    };
    let mut pages = match result {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return failed(e.to_string()),
        Err(e) => return failed(e.to_string()),
    };
    let plan = plan_dingtalk(&pages, None);
    let images: Vec<Vec<u8>> = plan
        .images
        .iter()
        .filter_map(|i| pages.get_mut(*i).map(|p| std::mem::take(&mut p.png)))
        .collect();
    if images.is_empty() {
        return failed("no page fits DingTalk's image limits".into());
    }
    let note = (plan.omitted > 0).then(|| {
        format!(
            "（另有 {n} 页未显示 / {n} more page(s) not shown）",
            n = plan.omitted
        )
    });
    Rendered {
        images,
        note,
        fallback: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        let short = RenderJob::Code {
            code: "x\n".repeat(40),
            hint: None,
            title: None,
        };
        assert_eq!(short.estimated_calls(), 2);
        let long = RenderJob::Code {
            code: "y\n".repeat(61 * 5),
            hint: None,
            title: None,
        };
        assert_eq!(long.estimated_pages(), 6);
        assert_eq!(long.estimated_calls(), 7);
    }

    #[tokio::test]
    async fn renders_a_few_pages_and_a_note() {
        let job = RenderJob::Code {
            code: "fn main() {}\n".repeat(200),
            hint: Some("rust".into()),
            title: None,
        };
        let r = render(&job, None).await;
        assert_eq!(r.images.len(), 3);
        assert!(r.images.iter().all(|p| p.starts_with(b"\x89PNG")));
        assert!(
            r.note.as_deref().is_some_and(|n| n.contains('1')),
            "{:?}",
            r.note
        );
        let bad = RenderJob::Code {
            code: "a\0b".into(),
            hint: None,
            title: None,
        };
        let r = render(&bad, None).await;
        assert!(r.images.is_empty() && r.fallback.is_some());
    }
}
