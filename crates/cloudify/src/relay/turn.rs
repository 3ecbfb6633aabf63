//! Turns one instance's `TurnEvent`s into output for everyone bound to it.

use super::Link;
use super::live::{LiveTurn, PromptShown, TurnState};
use cloudify_core::i18n::{self, Lang};
use cloudify_core::output::{Button, Output, Prompt};
use cloudify_core::store::Instance;
use cloudify_core::{Config, Router, SharedStore};
use cloudify_opencode::{
    PermissionRequest, QuestionRequest, ToolStatus, TurnErrorKind, TurnEvent, TurnResult,
};
use serde_json::Value;
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;

pub(super) async fn pump(
    link: Arc<Link>,
    mut events: mpsc::Receiver<TurnEvent>,
    router: Weak<Router>,
    store: SharedStore,
    _config: Arc<Config>,
) {
    while let Some(ev) = events.recv().await {
        let Some(router) = router.upgrade() else {
            return;
        };
        let id = link.instance_id;
        let inst = match store.read(move |s| s.instance(id)).await {
            Ok(Some(i)) => i,
            Ok(None) => return, // instance removed
            Err(e) => {
                tracing::error!(error = %e, "store unavailable; turn event dropped");
                continue;
            }
        };
        // Only the instance's current session is shown; other sessions are someone's
        // separate work (the TUI, another client).
        if let Some(sid) = ev.session_id()
            && inst.current_session.as_deref() != Some(sid)
        {
            continue;
        }
        let mut state = link.state.lock().await;
        if let Err(e) = apply(&router, &inst, &mut state, ev).await {
            tracing::error!(instance = %inst.name, error = %e, "could not relay a turn event");
        }
    }
}

type Result<T = ()> = std::result::Result<T, cloudify_core::StoreError>;

async fn apply(router: &Router, inst: &Instance, st: &mut TurnState, ev: TurnEvent) -> Result {
    match ev {
        TurnEvent::Started { session_id } => {
            if st.live.as_ref().is_none_or(|l| l.session_id != session_id) {
                start_live(router, inst, st, session_id).await?;
            }
        }
        TurnEvent::Progress(p) => {
            if st.live.is_none() {
                start_live(router, inst, st, p.session_id.clone()).await?;
            }
            if let Some(live) = st.live.as_mut() {
                live.retry = p.retry.as_ref().map(|r| (r.attempt, r.message.clone()));
                live.notice = None;
                live.last = Some(p);
                refresh(router, inst, live).await?;
            }
        }
        TurnEvent::Tool(t) => {
            if let Some(live) = st.live.as_mut() {
                match t.status {
                    ToolStatus::Completed => {
                        live.push_tool(format!("✓ 🔧 {}: {}", t.tool, t.summary));
                    }
                    ToolStatus::Error => live.push_tool(format!("✗ 🔧 {}: {}", t.tool, t.summary)),
                    ToolStatus::Running => {}
                }
            }
        }
        TurnEvent::Retrying {
            attempt, message, ..
        } => {
            if let Some(live) = st.live.as_mut() {
                live.retry = Some((attempt, message));
                refresh(router, inst, live).await?;
            }
        }
        TurnEvent::Disconnected { reason } => {
            tracing::warn!(instance = %inst.name, %reason, "OpenCode event stream lost; reconnecting");
            if let Some(live) = st.live.as_mut() {
                live.notice = Some(i18n::turn::reconnecting);
                refresh(router, inst, live).await?;
            }
        }
        TurnEvent::Connected => {
            if let Some(live) = st.live.as_mut() {
                live.notice = None;
                refresh(router, inst, live).await?;
            }
        }
        TurnEvent::PermissionAsked { request } => {
            ask_permission(router, inst, st, &request).await?;
        }
        TurnEvent::QuestionAsked { request } => ask_question(router, inst, st, &request).await?,
        TurnEvent::PermissionResolved {
            request_id, reply, ..
        } => {
            let reply = reply.map(|r| match r {
                cloudify_opencode::PermissionReply::Once => "once",
                cloudify_opencode::PermissionReply::Always => "always",
                cloudify_opencode::PermissionReply::Reject => "reject",
            });
            resolve(router, inst, st, &request_id, |l, p, by| {
                i18n::turn::permission_outcome(l, &p.label, reply, by)
            })
            .await?;
        }
        TurnEvent::QuestionResolved {
            request_id,
            answers,
            ..
        } => {
            let answer = answers.map(|a| a.into_iter().flatten().collect::<Vec<_>>().join(", "));
            resolve(router, inst, st, &request_id, |l, _, by| {
                i18n::turn::question_outcome(l, answer.as_deref(), by)
            })
            .await?;
        }
        TurnEvent::SessionUpdated { .. } => {}
        TurnEvent::Done(r) => finish(router, inst, st, r).await?,
    }
    Ok(())
}

async fn start_live(
    router: &Router,
    inst: &Instance,
    st: &mut TurnState,
    session_id: String,
) -> Result {
    st.cancelled = false; // a new turn: an earlier /cancel is not about it
    let mut live = LiveTurn::new(session_id, st.starter.take());
    live.messages = {
        let l = &live;
        router
            .broadcast(inst.id, None, |lang| l.render(lang))
            .await?
    };
    st.live = Some(live);
    Ok(())
}

async fn refresh(router: &Router, inst: &Instance, live: &LiveTurn) -> Result {
    for d in &live.messages {
        router.edit(d, inst.id, live.render(d.lang)).await?;
    }
    Ok(())
}

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

async fn ask_permission(
    router: &Router,
    inst: &Instance,
    st: &mut TurnState,
    r: &PermissionRequest,
) -> Result {
    if st.prompts.contains_key(&r.id) {
        return Ok(()); // seen again after a resync
    }
    let (label, detail) = permission_label(r);
    let id = r.id.clone();
    let messages = router
        .broadcast(inst.id, None, |l| {
            Output::Prompt(Prompt {
                text: i18n::turn::permission_ask(l, &label),
                detail: detail.clone(),
                buttons: vec![vec![
                    Button::new(i18n::turn::allow_once(l), format!("/approve {id} once")),
                    Button::new(i18n::turn::allow_always(l), format!("/approve {id} always")),
                    Button::new(i18n::turn::reject(l), format!("/approve {id} reject")),
                ]],
            })
        })
        .await?;
    st.prompts.insert(
        r.id.clone(),
        PromptShown {
            messages,
            label,
            is_question: false,
        },
    );
    Ok(())
}

async fn ask_question(
    router: &Router,
    inst: &Instance,
    st: &mut TurnState,
    r: &QuestionRequest,
) -> Result {
    if st.prompts.contains_key(&r.id) {
        return Ok(());
    }
    let Some(q) = r.questions.first() else {
        return Ok(());
    };
    let options: Vec<String> = q.options.iter().map(|o| o.label.clone()).collect();
    let id = r.id.clone();
    let mut body = q.question.clone();
    for (i, o) in q.options.iter().enumerate() {
        if !o.description.is_empty() {
            body.push_str(&format!("\n{}. {} — {}", i + 1, o.label, o.description));
        }
    }
    let messages = router
        .broadcast(inst.id, None, |l| {
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
                text: i18n::turn::question_ask(l, &body),
                detail: None,
                buttons: rows,
            })
        })
        .await?;
    st.prompts.insert(
        r.id.clone(),
        PromptShown {
            messages,
            label: q.question.clone(),
            is_question: true,
        },
    );
    Ok(())
}

/// Replaces a prompt's buttons with its outcome, for everyone who saw it.
async fn resolve(
    router: &Router,
    inst: &Instance,
    st: &mut TurnState,
    request_id: &str,
    outcome: impl Fn(Lang, &PromptShown, Option<&str>) -> String,
) -> Result {
    let Some(shown) = st.prompts.remove(request_id) else {
        return Ok(());
    };
    let by = st.answered_by.remove(request_id);
    for d in &shown.messages {
        let text = outcome(d.lang, &shown, by.as_deref());
        router
            .edit(
                d,
                inst.id,
                Output::Prompt(Prompt {
                    text,
                    detail: None,
                    buttons: Vec::new(),
                }),
            )
            .await?;
    }
    Ok(())
}

async fn finish(router: &Router, inst: &Instance, st: &mut TurnState, r: TurnResult) -> Result {
    let live = st.live.take();
    // Under load an aborted turn's last message may never turn final, so the watcher reports
    // it as interrupted; we know better when /cancel stopped it.
    let mut r = r;
    if std::mem::take(&mut st.cancelled)
        && r.error
            .as_ref()
            .is_some_and(|e| e.kind == TurnErrorKind::Interrupted)
    {
        r.error = Some(cloudify_opencode::TurnError {
            kind: TurnErrorKind::Aborted,
            message: "aborted".into(),
        });
    }
    let duration = r.duration;
    // Leftover prompts of this turn are void now.
    let leftovers: Vec<String> = st.prompts.keys().cloned().collect();
    for id in leftovers {
        resolve(router, inst, st, &id, |l, p, _| {
            if p.is_question {
                i18n::turn::question_outcome(l, None, None)
            } else {
                i18n::turn::permission_outcome(l, &p.label, None, None)
            }
        })
        .await?;
    }
    let summary = |l: Lang| -> String {
        match r.error.as_ref().map(|e| &e.kind) {
            None => i18n::turn::done_footer(l, duration, r.tools),
            Some(TurnErrorKind::Aborted) => i18n::turn::aborted_turn(l, duration),
            Some(TurnErrorKind::TimedOut) => i18n::turn::timed_out_turn(l, duration),
            Some(TurnErrorKind::Interrupted) => i18n::turn::interrupted_turn(l),
            Some(_) => {
                let msg = r
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                i18n::turn::failed_turn(l, duration, &msg)
            }
        }
    };
    if let Some(live) = &live {
        // The live message shrinks to one line; the answer comes as a new message so phones notify.
        for d in &live.messages {
            let line = Output::Progress(cloudify_core::output::Progress {
                status: summary(d.lang),
                ..Default::default()
            });
            router.edit(d, inst.id, line).await?;
        }
    }
    let answer = r.text.trim().to_string();
    let failed = r.error.is_some();
    router
        .broadcast(inst.id, None, |l| match (answer.is_empty(), failed) {
            (false, false) => Output::Text {
                text: format!("{answer}\n\n{}", summary(l)),
            },
            (true, false) => {
                Output::notice(format!("{}\n{}", i18n::turn::empty_answer(l), summary(l)))
            }
            (_, true) => Output::Error {
                message: if answer.is_empty() {
                    summary(l)
                } else {
                    format!("{answer}\n\n{}", summary(l))
                },
                trace: None,
            },
        })
        .await?;
    Ok(())
}
