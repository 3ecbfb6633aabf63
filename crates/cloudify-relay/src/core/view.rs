//! What the core asks the shell to show, as data: each view renders itself in any language,
//! so one effect serves every recipient and tests compare plain values.

use cloudify_core::i18n::{self, Lang};
use cloudify_core::output::{Button, Output, Progress as LiveProgress, Prompt, TodoLine};
use std::time::Duration;

/// The first line of the live message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    /// `⏳ Working… 5s (asked by @alice)`.
    Working {
        elapsed: Duration,
        by: Option<String>,
    },
    /// `⚠️ The model call failed; retry N: <message>`.
    Retrying { attempt: u32, message: String },
    /// `🔌 Lost the connection to OpenCode; reconnecting…`.
    Reconnecting,
}

/// The live message of a running turn.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveView {
    pub status: LiveStatus,
    /// The answer so far.
    pub answer: String,
    /// Finished tool lines (`✓ 🔧 bash: ls`), then the running one (`▶ 🔧 …`).
    pub tools: Vec<String>,
    pub todos: Vec<TodoLine>,
}

impl LiveView {
    #[must_use]
    pub fn render(&self, l: Lang) -> Output {
        let status = match &self.status {
            LiveStatus::Working { elapsed, by } => i18n::turn::working(l, *elapsed, by.as_deref()),
            LiveStatus::Retrying { attempt, message } => i18n::turn::retrying(l, *attempt, message),
            LiveStatus::Reconnecting => i18n::turn::reconnecting(l),
        };
        Output::Progress(LiveProgress {
            status,
            answer: self.answer.clone(),
            tool: (!self.tools.is_empty()).then(|| self.tools.join("\n")),
            todos: self.todos.clone(),
        })
    }
}

/// How a turn ended: the summary line under the answer and on the live message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// `✅ Done · 1m 05s · 3 tool call(s)`.
    Done { duration: Duration, tools: usize },
    /// `⏹ Stopped after …` (`/cancel` or an abort elsewhere).
    Aborted { duration: Duration },
    /// `⌛ The model kept failing; stopped after …`.
    TimedOut { duration: Duration },
    /// `⚠️ OpenCode restarted in the middle of the task…`.
    Interrupted,
    /// `❌ Failed after …: <error>`.
    Failed { duration: Duration, message: String },
}

impl TurnEnd {
    #[must_use]
    pub fn line(&self, l: Lang) -> String {
        match self {
            Self::Done { duration, tools } => i18n::turn::done_footer(l, *duration, *tools),
            Self::Aborted { duration } => i18n::turn::aborted_turn(l, *duration),
            Self::TimedOut { duration } => i18n::turn::timed_out_turn(l, *duration),
            Self::Interrupted => i18n::turn::interrupted_turn(l),
            Self::Failed { duration, message } => i18n::turn::failed_turn(l, *duration, message),
        }
    }

    #[must_use]
    pub fn failed(&self) -> bool {
        !matches!(self, Self::Done { .. })
    }

    /// The live message shrunk to the summary line.
    #[must_use]
    pub fn render_live(&self, l: Lang) -> Output {
        Output::Progress(LiveProgress {
            status: self.line(l),
            ..LiveProgress::default()
        })
    }
}

/// The final answer, a new message so phones notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalAnswer {
    /// The answer text, trimmed.
    pub text: String,
    pub end: TurnEnd,
}

impl FinalAnswer {
    #[must_use]
    pub fn render(&self, l: Lang) -> Output {
        let summary = self.end.line(l);
        match (self.text.is_empty(), self.end.failed()) {
            (false, false) => Output::Text {
                text: format!("{}\n\n{summary}", self.text),
            },
            (true, false) => Output::notice(format!("{}\n{summary}", i18n::turn::empty_answer(l))),
            (empty, true) => Output::Error {
                message: if empty {
                    summary
                } else {
                    format!("{}\n\n{summary}", self.text)
                },
                trace: None,
            },
        }
    }
}

/// A permission or a question, with its buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptView {
    Permission {
        id: String,
        /// What is asked, e.g. `bash: cargo test`.
        label: String,
        /// The diff or the command.
        detail: Option<String>,
    },
    Question {
        id: String,
        /// The question and the options' descriptions.
        body: String,
        options: Vec<String>,
    },
}

impl PromptView {
    /// The request id the prompt answers.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::Permission { id, .. } | Self::Question { id, .. } => id,
        }
    }

    #[must_use]
    pub fn render(&self, l: Lang) -> Output {
        match self {
            Self::Permission { id, label, detail } => Output::Prompt(Prompt {
                text: i18n::turn::permission_ask(l, label),
                detail: detail.clone(),
                buttons: vec![vec![
                    Button::new(i18n::turn::allow_once(l), format!("/approve {id} once")),
                    Button::new(i18n::turn::allow_always(l), format!("/approve {id} always")),
                    Button::new(i18n::turn::reject(l), format!("/approve {id} reject")),
                ]],
            }),
            Self::Question { id, body, options } => {
                let mut rows: Vec<Vec<Button>> = options
                    .iter()
                    .enumerate()
                    .map(|(i, label)| {
                        vec![Button::new(
                            label.clone(),
                            format!("/answer {id} {}", i + 1),
                        )]
                    })
                    .collect();
                rows.push(vec![Button::new(
                    i18n::turn::reject(l),
                    format!("/answer {id} reject"),
                )]);
                Output::Prompt(Prompt {
                    text: i18n::turn::question_ask(l, body),
                    detail: None,
                    buttons: rows,
                })
            }
        }
    }
}

/// What became of a prompt: the line that replaces its buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `reply`: `once`, `always`, `reject`; `None` = no longer needed.
    Permission {
        label: String,
        reply: Option<&'static str>,
        by: Option<String>,
    },
    /// `answer`: the chosen labels; `None` = no longer needed.
    Question {
        answer: Option<String>,
        by: Option<String>,
    },
}

impl Outcome {
    #[must_use]
    pub fn render(&self, l: Lang) -> Output {
        let text = match self {
            Self::Permission { label, reply, by } => {
                i18n::turn::permission_outcome(l, label, *reply, by.as_deref())
            }
            Self::Question { answer, by } => {
                i18n::turn::question_outcome(l, answer.as_deref(), by.as_deref())
            }
        };
        Output::Prompt(Prompt {
            text,
            detail: None,
            buttons: Vec::new(),
        })
    }
}
