//! What an [`Envelope`] becomes on Telegram: a list of steps (one Bot API call each,
//! except renders), decided without any I/O so `cost` and `send` agree.
//!
//! Policy (SPEC §4, Telegram column): text formatted as HTML and split at the limit; code
//! blocks up to `inline_code_max_lines` lines inline, longer ones, diffs and stack traces as
//! PNG pages; the `[instance]` header on the first message (or caption), the footer on the
//! last; prompt buttons on the last message.

use cloudify_core::output::{Envelope, Output, Progress, Prompt};
use teloxide::types::InlineKeyboardMarkup;

use crate::keyboard::inline_keyboard;
use crate::markdown::{self, Block, sanitize_lang};
use crate::render::RenderJob;
use crate::split::{split, tail_start};
use crate::styled::{Styled, Tag};

/// Telegram's limits as the formatter needs them.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    pub max_text: usize,
    pub max_caption: usize,
    /// Code blocks up to this many lines stay inline; 0 makes every code block an image.
    pub inline_code_max_lines: usize,
}

/// One message body in both forms: HTML, and the plain text sent if Telegram refuses it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub html: String,
    pub plain: String,
}

impl Part {
    fn of(s: &Styled) -> Self {
        Self {
            html: s.html(0..s.len()),
            plain: s.text(0..s.len()),
        }
    }

    fn range(s: &Styled, r: std::ops::Range<usize>) -> Self {
        Self {
            html: s.html(r.clone()),
            plain: s.text(r),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Media {
    /// A ready PNG (the binding QR).
    Photo(Vec<u8>),
    /// Code, a diff or a trace to render into pages.
    Render(RenderJob),
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Text {
        part: Part,
        keyboard: Option<InlineKeyboardMarkup>,
        /// Sent without a notification (the live progress message: the final answer
        /// is what should make the phone buzz).
        silent: bool,
    },
    Media {
        media: Media,
        caption: Option<Part>,
    },
}

impl Step {
    /// Bot API calls this step makes when all goes well.
    pub(crate) fn calls(&self) -> u32 {
        match self {
            Step::Text { .. }
            | Step::Media {
                media: Media::Photo(_),
                ..
            } => 1,
            Step::Media {
                media: Media::Render(job),
                ..
            } => job.estimated_calls(),
        }
    }
}

enum Piece {
    Rich(Styled),
    Media { media: Media, label: Styled },
}

/// Collects pieces in order; `inline_all` (edits: one message) keeps every code block as text.
struct Builder<'f> {
    f: &'f Format,
    inline_all: bool,
    pieces: Vec<Piece>,
    cur: Styled,
}

impl<'f> Builder<'f> {
    fn new(f: &'f Format, inline_all: bool) -> Self {
        Self {
            f,
            inline_all,
            pieces: Vec::new(),
            cur: Styled::new(),
        }
    }

    /// Starts a new line unless at the start of the text or of a line.
    fn line(&mut self) {
        if self.cur.last_char().is_some_and(|c| c != '\n') {
            self.cur.plain("\n");
        }
    }

    fn flush(&mut self) {
        let text = std::mem::replace(&mut self.cur, Styled::new());
        if !text.is_blank(0..text.len()) {
            self.pieces.push(Piece::Rich(text));
        }
    }

    fn media(&mut self, media: Media, label: Styled) {
        self.flush();
        self.pieces.push(Piece::Media { media, label });
    }

    fn fits_inline(&self, code: &str) -> bool {
        let lines = code.lines().count().max(1);
        self.inline_all
            || (self.f.inline_code_max_lines > 0 && lines <= self.f.inline_code_max_lines)
    }

    fn pre(&mut self, lang: Option<String>, code: &str) {
        self.line();
        // An empty block would vanish in Telegram; keep one space so the layout survives.
        let body = if code.trim().is_empty() { " " } else { code };
        self.cur.tagged(body, &[Tag::Pre(lang)]);
    }

    fn code(&mut self, lang: Option<String>, code: &str, job: impl FnOnce() -> RenderJob) {
        if self.fits_inline(code) {
            self.pre(lang, code);
        } else {
            self.media(Media::Render(job()), Styled::new());
        }
    }

    fn markdown(&mut self, md: &str) {
        for block in markdown::parse(md) {
            match block {
                Block::Rich(s) => {
                    self.line();
                    self.cur.append(&s, 0..s.len());
                }
                Block::Code { lang, code } => {
                    let hint = lang.clone();
                    self.code(lang, &code, || RenderJob::code(code.clone(), hint, None));
                }
            }
        }
    }

    fn plain(&mut self, text: &str) {
        self.line();
        self.cur.plain(text);
    }

    fn output(&mut self, body: &Output, frame_units: usize) {
        match body {
            Output::Text { text } => self.markdown(text),
            Output::Plain { text } | Output::Notice { text } => self.plain(text),
            Output::Tool { line } => self.plain(line),
            Output::Code {
                language,
                code,
                file_name,
            } => {
                let lang = language.as_deref().and_then(sanitize_lang);
                if self.fits_inline(code) {
                    if let Some(name) = file_name {
                        self.line();
                        self.cur.tagged(name, &[Tag::Bold]);
                    }
                    self.pre(lang, code);
                } else {
                    let hint = file_name.clone().or_else(|| language.clone());
                    let job = RenderJob::code(code.clone(), hint, file_name.clone());
                    self.media(Media::Render(job), label(file_name.as_deref()));
                }
            }
            Output::Diff { title, patch } => {
                if self.inline_all {
                    if let Some(t) = title {
                        self.plain(t);
                    }
                    self.pre(Some("diff".into()), patch);
                } else {
                    let job = RenderJob::diff(patch.clone(), title.clone());
                    self.media(Media::Render(job), label(title.as_deref()));
                }
            }
            Output::Error { message, trace } => {
                match trace.as_deref().filter(|t| !t.trim().is_empty()) {
                    Some(trace) if !self.inline_all => {
                        let job = RenderJob::trace(trace.to_owned());
                        self.media(Media::Render(job), label(Some(message)));
                    }
                    Some(trace) => {
                        self.plain(message);
                        self.pre(None, trace);
                    }
                    None => self.plain(message),
                }
            }
            Output::Progress(p) => {
                self.line();
                let budget = self.f.max_text.saturating_sub(frame_units + 8);
                let text = progress(p, budget);
                self.cur.append(&text, 0..text.len());
            }
            Output::Prompt(p) => self.prompt(p),
            Output::Image { png, caption } => {
                let mut l = Styled::new();
                l.plain(caption);
                self.media(Media::Photo(png.clone()), l);
            }
        }
    }

    fn prompt(&mut self, p: &Prompt) {
        match p.detail.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(detail) if self.fits_inline(detail) => {
                self.plain(&p.text);
                self.pre(None, detail);
            }
            Some(detail) => {
                // The detail first, as pages; the question and its buttons last, where the
                // user's thumb is.
                let job = if looks_like_diff(detail) {
                    RenderJob::diff(detail.to_owned(), None)
                } else {
                    RenderJob::code(detail.to_owned(), None, None)
                };
                self.media(Media::Render(job), Styled::new());
                self.plain(&p.text);
            }
            None => self.plain(&p.text),
        }
    }
}

fn label(text: Option<&str>) -> Styled {
    let mut s = Styled::new();
    if let Some(t) = text {
        s.plain(t);
    }
    s
}

fn looks_like_diff(s: &str) -> bool {
    s.starts_with("diff --git")
        || s.starts_with("--- ")
        || s.starts_with("@@ ")
        || s.starts_with("Index: ")
}

/// The live message: status, todos, the tail of the answer that fits, the tool in progress.
fn progress(p: &Progress, budget: usize) -> Styled {
    const MAX_TODOS: usize = 20;
    const MAX_LINE: usize = 200;
    let mut fixed = Styled::new();
    fixed.plain(p.status.trim());
    for t in p.todos.iter().take(MAX_TODOS) {
        let mark = if t.done {
            "☑"
        } else if t.active {
            "▶"
        } else {
            "☐"
        };
        let text: String = t.text.chars().take(MAX_LINE).collect();
        fixed.plain(&format!("\n{mark} {text}"));
    }
    if p.todos.len() > MAX_TODOS {
        fixed.plain(&format!("\n… +{}", p.todos.len() - MAX_TODOS));
    }
    let mut tool = Styled::new();
    if let Some(line) = p.tool.as_deref().filter(|l| !l.trim().is_empty()) {
        tool.plain("\n\n");
        tool.plain(&line.chars().take(MAX_LINE * 2).collect::<String>());
    }

    let f = Format {
        max_text: budget,
        max_caption: 0,
        inline_code_max_lines: 0,
    };
    let mut answer_b = Builder::new(&f, true);
    answer_b.markdown(p.answer.trim());
    answer_b.flush();
    let mut answer = Styled::new();
    for piece in answer_b.pieces {
        if let Piece::Rich(s) = piece {
            answer.append(&s, 0..s.len());
        }
    }
    let room = budget.saturating_sub(fixed.total_units() + tool.total_units() + 3);
    let mut out = Styled::new();
    out.append(&fixed, 0..fixed.len());
    if !answer.is_empty() && room > 1 {
        out.plain("\n\n");
        if answer.total_units() > room {
            out.plain("…");
            let start = tail_start(&answer, room - 1);
            out.append(&answer, start..answer.len());
        } else {
            out.append(&answer, 0..answer.len());
        }
    }
    out.append(&tool, 0..tool.len());
    fit(&out, budget)
}

/// `s` cut to `limit` units, with `…` when something was cut.
fn fit(s: &Styled, limit: usize) -> Styled {
    if s.total_units() <= limit {
        return s.clone();
    }
    let mut end = 0;
    let mut units = 0;
    while end < s.len() && units + s.char_at(end).len_utf16() < limit {
        units += s.char_at(end).len_utf16();
        end += 1;
    }
    let mut out = Styled::new();
    out.append(s, 0..end);
    out.plain("…");
    out
}

fn header_footer(env: &Envelope) -> (Styled, Styled) {
    let mut header = Styled::new();
    if let Some(h) = env.header.as_deref().filter(|h| !h.trim().is_empty()) {
        header.tagged(h.trim(), &[Tag::Bold]);
    }
    let mut footer = Styled::new();
    if let Some(f) = env.footer.as_deref().filter(|f| !f.trim().is_empty()) {
        footer.plain(f.trim());
    }
    (header, footer)
}

/// `header`, a line break, `body`, a blank line, `footer` (each only when present).
fn framed(header: Option<&Styled>, body: &Styled, footer: Option<&Styled>) -> Styled {
    let mut out = Styled::new();
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        out.append(h, 0..h.len());
        if !body.is_empty() {
            out.plain("\n");
        }
    }
    out.append(body, 0..body.len());
    if let Some(f) = footer.filter(|f| !f.is_empty()) {
        if !out.is_empty() {
            out.plain("\n\n");
        }
        out.append(f, 0..f.len());
    }
    out
}

fn keyboard_of(body: &Output) -> Option<InlineKeyboardMarkup> {
    match body {
        Output::Prompt(p) => inline_keyboard(&p.buttons),
        _ => None,
    }
}

/// Every step `send` takes for `env`, in order.
pub(crate) fn plan(env: &Envelope, f: &Format) -> Vec<Step> {
    let (header, footer) = header_footer(env);
    let mut b = Builder::new(f, false);
    b.output(&env.body, header.total_units() + footer.total_units());
    b.flush();
    let mut pieces = b.pieces;
    if pieces.is_empty() && !(header.is_empty() && footer.is_empty()) {
        pieces.push(Piece::Rich(Styled::new()));
    }
    let last = pieces.len().saturating_sub(1);
    let mut steps = Vec::new();
    for (i, piece) in pieces.into_iter().enumerate() {
        let h = (i == 0).then_some(&header);
        let ft = (i == last).then_some(&footer);
        match piece {
            Piece::Rich(s) => {
                let s = framed(h, &s, ft);
                for r in split(&s, f.max_text) {
                    steps.push(Step::Text {
                        part: Part::range(&s, r),
                        keyboard: None,
                        silent: env.body.is_ephemeral(),
                    });
                }
            }
            Piece::Media { media, label } => {
                let frame =
                    h.map_or(0, Styled::total_units) + ft.map_or(0, Styled::total_units) + 3;
                let label = fit(&label, f.max_caption.saturating_sub(frame).max(1));
                let caption = fit(&framed(h, &label, ft), f.max_caption);
                let caption = (!caption.is_blank(0..caption.len())).then(|| Part::of(&caption));
                steps.push(Step::Media { media, caption });
            }
        }
    }
    if let Some(kb) = keyboard_of(&env.body) {
        match steps.iter_mut().rev().find_map(|s| match s {
            Step::Text { keyboard, .. } => Some(keyboard),
            Step::Media { .. } => None,
        }) {
            Some(slot) => *slot = Some(kb),
            None => steps.push(Step::Text {
                part: Part {
                    html: "…".into(),
                    plain: "…".into(),
                },
                keyboard: Some(kb),
                silent: false,
            }),
        }
    }
    steps
}

/// `env` as one message, for `editMessageText` (or a caption when `limit` is the caption's):
/// code inline, images reduced to their caption, cut to fit.
pub(crate) fn single(
    env: &Envelope,
    f: &Format,
    limit: usize,
) -> (Part, Option<InlineKeyboardMarkup>) {
    let (header, footer) = header_footer(env);
    let f = Format {
        max_text: limit,
        ..f.clone()
    };
    let mut b = Builder::new(&f, true);
    b.output(&env.body, header.total_units() + footer.total_units());
    b.flush();
    let mut body = Styled::new();
    for piece in b.pieces {
        let (Piece::Rich(s) | Piece::Media { label: s, .. }) = piece;
        if !body.is_empty() && !s.is_empty() {
            body.plain("\n");
        }
        body.append(&s, 0..s.len());
    }
    let framed = framed(Some(&header), &body, Some(&footer));
    (Part::of(&fit(&framed, limit)), keyboard_of(&env.body))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "plan_fuzz.rs"]
mod fuzz;
