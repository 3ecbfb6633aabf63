//! Permission and question prompts: each request is shown once, resolved once.

use super::Effect;
use super::view::{Outcome, PromptView};
use cloudify_opencode::{PermissionReply, PermissionRequest, QuestionRequest};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet, VecDeque};

/// Resolved request ids remembered, so a resync that lists them again shows nothing (the
/// server keeps listing the requests of an aborted turn).
const REMEMBERED: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Prompts {
    /// Open prompts by request id (ordered, so leftovers are voided in a stable order).
    open: BTreeMap<String, Open>,
    done: HashSet<String>,
    done_order: VecDeque<String>,
}

#[derive(Debug)]
struct Open {
    /// What was asked, for the outcome line (`bash: cargo test`).
    label: String,
    is_question: bool,
}

impl Prompts {
    fn is_known(&self, id: &str) -> bool {
        self.open.contains_key(id) || self.done.contains(id)
    }

    pub fn ask_permission(&mut self, r: &PermissionRequest) -> Option<PromptView> {
        if self.is_known(&r.id) {
            return None; // seen again after a resync
        }
        let (label, detail) = permission_label(r);
        self.open.insert(
            r.id.clone(),
            Open {
                label: label.clone(),
                is_question: false,
            },
        );
        Some(PromptView::Permission {
            id: r.id.clone(),
            label,
            detail,
        })
    }

    /// Only the first question of a request gets buttons; later ones are answered with no
    /// selection.
    pub fn ask_question(&mut self, r: &QuestionRequest) -> Option<PromptView> {
        if self.is_known(&r.id) {
            return None;
        }
        let q = r.questions.first()?;
        let mut body = q.question.clone();
        for (i, o) in q.options.iter().enumerate() {
            if !o.description.is_empty() {
                body.push_str(&format!("\n{}. {} — {}", i + 1, o.label, o.description));
            }
        }
        self.open.insert(
            r.id.clone(),
            Open {
                label: q.question.clone(),
                is_question: true,
            },
        );
        Some(PromptView::Question {
            id: r.id.clone(),
            body,
            options: q.options.iter().map(|o| o.label.clone()).collect(),
        })
    }

    pub fn resolve_permission(
        &mut self,
        id: String,
        reply: Option<PermissionReply>,
        by: Option<String>,
    ) -> Option<Effect> {
        let open = self.close(&id)?;
        let reply = reply.map(|r| match r {
            PermissionReply::Once => "once",
            PermissionReply::Always => "always",
            PermissionReply::Reject => "reject",
        });
        Some(Effect::ResolvePrompt {
            request_id: id,
            outcome: Outcome::Permission {
                label: open.label,
                reply,
                by,
            },
        })
    }

    pub fn resolve_question(
        &mut self,
        id: String,
        answer: Option<String>,
        by: Option<String>,
    ) -> Option<Effect> {
        self.close(&id)?;
        Some(Effect::ResolvePrompt {
            request_id: id,
            outcome: Outcome::Question { answer, by },
        })
    }

    /// Every open prompt becomes "no longer needed".
    pub fn void_all(&mut self) -> Vec<Effect> {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        ids.into_iter()
            .filter_map(|id| {
                let open = self.close(&id)?;
                let outcome = if open.is_question {
                    Outcome::Question {
                        answer: None,
                        by: None,
                    }
                } else {
                    Outcome::Permission {
                        label: open.label,
                        reply: None,
                        by: None,
                    }
                };
                Some(Effect::ResolvePrompt {
                    request_id: id,
                    outcome,
                })
            })
            .collect()
    }

    fn close(&mut self, id: &str) -> Option<Open> {
        let open = self.open.remove(id)?;
        if self.done_order.len() == REMEMBERED
            && let Some(old) = self.done_order.pop_front()
        {
            self.done.remove(&old);
        }
        self.done.insert(id.to_string());
        self.done_order.push_back(id.to_string());
        Some(open)
    }
}

/// The label (`bash: cargo test`) and detail (the diff or the command) of a permission.
fn permission_label(r: &PermissionRequest) -> (String, Option<String>) {
    let meta = |k: &str| r.metadata.get(k).and_then(Value::as_str).map(str::to_owned);
    let target = meta("command")
        .or_else(|| meta("filepath"))
        .or_else(|| (!r.patterns.is_empty()).then(|| r.patterns.join(" ")))
        .unwrap_or_default();
    let label = if target.is_empty() {
        r.permission.clone()
    } else {
        format!("{}: {target}", r.permission)
    };
    let detail = meta("diff").or_else(|| meta("command"));
    (label, detail)
}
