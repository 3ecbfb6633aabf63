//! What users currently see of a turn: the live message per recipient, the prompts with
//! buttons, and who asked.

use cloudify_core::i18n::{self, Lang};
use cloudify_core::output::{Output, Progress as LiveProgress, TodoLine};
use cloudify_core::router::Delivered;
use cloudify_opencode::{Progress, Todo};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Tool lines kept in the live message.
const TOOL_LINES: usize = 6;

#[derive(Default)]
pub(crate) struct TurnState {
    pub live: Option<LiveTurn>,
    pub prompts: HashMap<String, PromptShown>,
    /// Handle of whoever sent the last prompt, for "asked by".
    pub starter: Option<String>,
    /// request id → handle of the user whose button won.
    pub answered_by: HashMap<String, String>,
    /// `/cancel` aborted the running turn: however it ends, it was stopped, not lost.
    pub cancelled: bool,
}

pub(crate) struct LiveTurn {
    pub session_id: String,
    pub started: Instant,
    pub by: Option<String>,
    pub messages: Vec<Delivered>,
    pub tools: VecDeque<String>,
    pub last: Option<Progress>,
    /// A status line that replaces "working" (retrying, reconnecting).
    pub notice: Option<fn(Lang) -> String>,
    pub retry: Option<(u32, String)>,
}

pub(crate) struct PromptShown {
    pub messages: Vec<Delivered>,
    /// What was asked, for the outcome line (`bash: cargo test`).
    pub label: String,
    pub is_question: bool,
}

impl LiveTurn {
    pub fn new(session_id: String, by: Option<String>) -> Self {
        Self {
            session_id,
            started: Instant::now(),
            by,
            messages: Vec::new(),
            tools: VecDeque::new(),
            last: None,
            notice: None,
            retry: None,
        }
    }

    pub fn push_tool(&mut self, line: String) {
        if self.tools.len() == TOOL_LINES {
            self.tools.pop_front();
        }
        self.tools.push_back(line);
    }

    /// The live message in one language.
    pub fn render(&self, l: Lang) -> Output {
        let status = if let Some((attempt, msg)) = &self.retry {
            i18n::turn::retrying(l, *attempt, msg)
        } else if let Some(n) = self.notice {
            n(l)
        } else {
            i18n::turn::working(l, self.started.elapsed(), self.by.as_deref())
        };
        let p = self.last.as_ref();
        let mut tool_lines: Vec<String> = self.tools.iter().cloned().collect();
        if let Some(t) = p.and_then(|p| p.tool.as_ref()) {
            tool_lines.push(format!("▶ 🔧 {}: {}", t.tool, t.summary));
        }
        Output::Progress(LiveProgress {
            status,
            answer: p.map(|p| p.text.clone()).unwrap_or_default(),
            tool: (!tool_lines.is_empty()).then(|| tool_lines.join("\n")),
            todos: p
                .map(|p| p.todos.iter().map(todo_line).collect())
                .unwrap_or_default(),
        })
    }
}

fn todo_line(t: &Todo) -> TodoLine {
    TodoLine {
        done: t.status == "completed",
        active: t.status == "in_progress",
        text: t.content.clone(),
    }
}
