//! An [`Envelope`] → the DingTalk calls that show it (SPEC §4, DingTalk column): Markdown in
//! the subset, every code block / diff / trace as images, prompts as cards or Markdown with
//! the commands to type, progress as an AI card or one status message.

use cloudify_core::output::{Button, Envelope, Output, Progress, Prompt};

use crate::markdown::{Segment, defuse_cut, segments, split, subset, subset_quoting_code, title};
use crate::render::RenderJob;

/// What the adapter can use.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    pub max_text: usize,
    pub ai_card: bool,
    pub prompt_card: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// A Markdown message (webhook `markdown` / `sampleMarkdown`).
    Markdown { title: String, text: String },
    /// A plain text message (webhook `text` / `sampleText`): user data, never interpreted.
    Text(String),
    /// Render, upload and send as image messages.
    Render(RenderJob),
    /// A ready PNG: upload and send.
    Png(Vec<u8>),
    /// The live message as an AI card.
    AiCard { content: String, has_content: bool },
    /// A prompt as an interactive card (`content` lists the commands too).
    PromptCard {
        content: String,
        buttons: Vec<Vec<Button>>,
    },
}

impl Step {
    /// Platform calls this step makes (an estimate for renders).
    pub(crate) fn calls(&self) -> u32 {
        match self {
            Step::Render(job) => job.estimated_calls(),
            Step::Png(_) => 2,
            _ => 1,
        }
    }
}

fn markdown_steps(text: &str, max: usize) -> Vec<Step> {
    split(text, max)
        .into_iter()
        .map(defuse_cut)
        .map(|t| Step::Markdown {
            title: title(&t),
            text: t,
        })
        .collect()
}

fn text_steps(text: &str, max: usize) -> Vec<Step> {
    split(text, max).into_iter().map(Step::Text).collect()
}

/// The live message: status, tool lines, todos, the answer so far (its tail if too long).
pub(crate) fn progress_markdown(p: &Progress, max: usize, for_card: bool) -> String {
    let mut parts = vec![subset(&p.status)];
    if let Some(tool) = p.tool.as_deref().filter(|t| !t.trim().is_empty()) {
        let lines: Vec<String> = tool.lines().map(|l| format!("> {}", subset(l))).collect();
        parts.push(lines.join("  \n"));
    }
    if !p.todos.is_empty() {
        let todos: Vec<String> = p
            .todos
            .iter()
            .map(|t| {
                let mark = if t.done {
                    "✅"
                } else if t.active {
                    "▶"
                } else {
                    "⬜"
                };
                format!("- {mark} {}", subset(&t.text))
            })
            .collect();
        parts.push(todos.join("\n"));
    }
    if !p.answer.trim().is_empty() {
        // Card Markdown renders code blocks; plain messages do not.
        let answer = if for_card {
            p.answer.clone()
        } else {
            subset_quoting_code(&p.answer)
        };
        parts.push(answer);
    }
    let text = parts.join("\n\n");
    let n = text.chars().count();
    if n <= max {
        return text;
    }
    let tail: String = text.chars().skip(n - max + 2).collect();
    format!("…\n{tail}")
}

pub(crate) fn progress_has_content(p: &Progress) -> bool {
    !p.answer.trim().is_empty() || p.tool.is_some() || !p.todos.is_empty()
}

/// Prompt text, its detail quoted, and the commands each button stands for.
pub(crate) fn prompt_markdown(p: &Prompt) -> String {
    let mut parts = vec![subset(&p.text)];
    if let Some(d) = p.detail.as_deref().filter(|d| !d.trim().is_empty()) {
        parts.push(subset_quoting_code(&format!("```\n{d}\n```")));
    }
    let commands: Vec<String> = p
        .buttons
        .iter()
        .flatten()
        .map(|b| format!("- {}：{}", subset(&b.label), b.command))
        .collect();
    if !commands.is_empty() {
        parts.push(commands.join("\n"));
    }
    parts.join("\n\n")
}

fn frame(env: &Envelope, body: &str) -> String {
    let mut s = String::new();
    if let Some(h) = env.header.as_deref().filter(|h| !h.is_empty()) {
        s.push_str(h);
        s.push_str("\n\n");
    }
    s.push_str(body);
    if let Some(f) = env.footer.as_deref().filter(|f| !f.is_empty()) {
        s.push_str("\n\n");
        s.push_str(f);
    }
    s
}

/// A short message with only the header/footer for outputs that are all images.
fn framing_only(env: &Envelope) -> Option<Step> {
    let text = frame(env, "");
    (!text.trim().is_empty()).then(|| Step::Text(text.trim().to_owned()))
}

pub(crate) fn plan(env: &Envelope, f: &Format) -> Vec<Step> {
    let max = f.max_text;
    match &env.body {
        Output::Text { text } => {
            let mut steps = Vec::new();
            let segs = segments(text);
            let last_md = segs.iter().rposition(|s| matches!(s, Segment::Markdown(_)));
            for (i, s) in segs.iter().enumerate() {
                match s {
                    Segment::Markdown(m) => {
                        let mut m = m.clone();
                        if i == 0
                            && let Some(h) = env.header.as_deref().filter(|h| !h.is_empty())
                        {
                            m = format!("{h}\n\n{m}");
                        }
                        if Some(i) == last_md
                            && let Some(ft) = env.footer.as_deref().filter(|f| !f.is_empty())
                        {
                            m = format!("{m}\n\n{ft}");
                        }
                        steps.extend(markdown_steps(&m, max));
                    }
                    Segment::Code { lang, code, .. } => steps.push(Step::Render(RenderJob::Code {
                        code: code.clone(),
                        hint: lang.clone(),
                        title: None,
                    })),
                }
            }
            if last_md.is_none() {
                steps.extend(framing_only(env));
            }
            steps
        }
        Output::Plain { text } | Output::Notice { text } => text_steps(&frame(env, text), max),
        Output::Tool { line } => text_steps(&frame(env, line), max),
        Output::Code {
            language,
            code,
            file_name,
        } => {
            let mut steps: Vec<Step> = framing_only(env).into_iter().collect();
            steps.push(Step::Render(RenderJob::Code {
                code: code.clone(),
                hint: file_name.clone().or_else(|| language.clone()),
                title: file_name.clone(),
            }));
            steps
        }
        Output::Diff { title, patch } => {
            let mut steps: Vec<Step> = framing_only(env).into_iter().collect();
            steps.push(Step::Render(RenderJob::Diff {
                patch: patch.clone(),
                title: title.clone(),
            }));
            steps
        }
        Output::Error { message, trace } => {
            let mut steps = text_steps(&frame(env, message), max);
            if let Some(t) = trace.as_deref().filter(|t| !t.trim().is_empty()) {
                steps.push(Step::Render(RenderJob::Code {
                    code: t.to_owned(),
                    hint: None,
                    title: None,
                }));
            }
            steps
        }
        Output::Progress(p) => {
            let content = frame(env, &progress_markdown(p, max, f.ai_card));
            if f.ai_card {
                vec![Step::AiCard {
                    content,
                    has_content: progress_has_content(p),
                }]
            } else {
                markdown_steps(&content, max).into_iter().take(1).collect()
            }
        }
        Output::Prompt(p) => {
            let content = frame(env, &prompt_markdown(p));
            if f.prompt_card && !p.buttons.is_empty() {
                vec![Step::PromptCard {
                    content,
                    buttons: p.buttons.clone(),
                }]
            } else {
                markdown_steps(&content, max)
            }
        }
        Output::Image { png, caption } => {
            let mut steps = vec![Step::Png(png.clone())];
            let text = frame(env, caption);
            if !text.trim().is_empty() {
                steps.extend(text_steps(&text, max));
            }
            steps
        }
    }
}
