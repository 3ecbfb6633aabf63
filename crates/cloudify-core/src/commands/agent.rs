//! Commands that reach OpenCode through the `Workspace` service: /status, /sessions, /new,
//! /cancel, /model, /agent, /diff, and the answers to permission and question prompts.

use super::{CommandContext, PermissionReply};
use crate::i18n::{self, StatusFacts};
use crate::output::{Button, Output, Prompt};
use crate::router::{describe_service_error, online_handles};
use crate::secret::mask_url_password;
use crate::services::{Sender, ServiceError};

/// Where the binary's update check leaves its notice for `/status`.
pub const UPDATE_NOTICE_SETTING: &str = "update.notice";
use crate::store::{Instance, StoreError};

fn failed(ctx: &CommandContext<'_>, e: &ServiceError) -> Vec<Output> {
    ctx.say(describe_service_error(ctx.lang, e))
}

pub(super) async fn status(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    let ws = ctx.router.services.workspace.status(inst).await;
    let (id, now, window) = (
        inst.id,
        ctx.router.now(),
        i64::from(ctx.router.config.presence_minutes) * 60,
    );
    let (online, update) = ctx
        .router
        .store
        .call(move |s| {
            Ok((
                online_handles(s, id, now, window)?,
                s.setting(UPDATE_NOTICE_SETTING)?,
            ))
        })
        .await?;
    let cfg = &ctx.router.config;
    let terminal =
        (!cfg.web_terminal.public_url.is_empty()).then_some(cfg.web_terminal.public_url.as_str());
    let proxy = cfg.active_proxy().map(|p| mask_url_password(p.expose()));
    let (ok, err) = match &ws {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(describe_service_error(l, e))),
    };
    let version = ok.map(|s| s.version.clone().unwrap_or_default());
    let facts = StatusFacts {
        instance: &inst.name,
        directory: &inst.directory,
        opencode: ok.zip(version.as_deref()).map(|(s, v)| (v, s.healthy)),
        opencode_error: err.as_deref(),
        session: ok
            .and_then(|s| s.session_title.as_deref())
            .or(inst.current_session.as_deref()),
        busy: ok.is_some_and(|s| s.busy),
        model: ok
            .and_then(|s| s.model.as_deref())
            .or(inst.model.as_deref()),
        agent: ok
            .and_then(|s| s.agent.as_deref())
            .or(inst.agent.as_deref()),
        online: &online,
        web_terminal: terminal,
        proxy: proxy.as_deref(),
        update: update.as_deref(),
    };
    Ok(ctx.say(i18n::status(l, &facts)))
}

pub(super) async fn sessions(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    pick: Option<&str>,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    let ws = &ctx.router.services.workspace;
    if let Some(id) = pick {
        return match ws.use_session(inst, id).await {
            Ok(s) => {
                let who = ctx.user.handle();
                ctx.router
                    .broadcast(inst.id, None, |lang| {
                        Output::notice(i18n::session_changed(lang, &who, &s.title))
                    })
                    .await?;
                Ok(Vec::new())
            }
            Err(e) => Ok(failed(ctx, &e)),
        };
    }
    match ws.sessions(inst).await {
        Ok(list) if list.is_empty() => Ok(ctx.say(i18n::no_sessions(l))),
        Ok(list) => {
            let current = list
                .iter()
                .find(|s| Some(&s.id) == inst.current_session.as_ref())
                .map(|s| s.title.clone());
            let buttons = list
                .iter()
                .take(10)
                .map(|s| {
                    let mark = if Some(&s.id) == inst.current_session.as_ref() {
                        "▶ "
                    } else {
                        ""
                    };
                    let title: String = s.title.chars().take(48).collect();
                    vec![Button::new(
                        format!("{mark}{title}"),
                        format!("/sessions {}", s.id),
                    )]
                })
                .collect();
            Ok(vec![Output::Prompt(Prompt {
                text: i18n::sessions_header(l, current.as_deref()),
                detail: None,
                buttons,
            })])
        }
        Err(e) => Ok(failed(ctx, &e)),
    }
}

pub(super) async fn new_session(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    match ctx.router.services.workspace.new_session(inst).await {
        Ok(_) => {
            let who = ctx.user.handle();
            ctx.router
                .broadcast(inst.id, None, |lang| {
                    Output::notice(i18n::new_session(lang, &who))
                })
                .await?;
            Ok(Vec::new())
        }
        Err(e) => Ok(failed(ctx, &e)),
    }
}

pub(super) async fn cancel(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    match ctx.router.services.workspace.cancel(inst).await {
        Ok(true) => {
            let who = ctx.user.handle();
            ctx.router
                .broadcast(inst.id, None, |lang| {
                    Output::notice(i18n::cancelled(lang, &who))
                })
                .await?;
            Ok(Vec::new())
        }
        Ok(false) => Ok(ctx.say(i18n::nothing_running(ctx.lang))),
        Err(e) => Ok(failed(ctx, &e)),
    }
}

/// `/model` and `/agent` share their shape: list with buttons, or set and tell everyone.
struct ChoiceKind {
    command: &'static str,
    zh: &'static str,
    en: &'static str,
}

async fn choose(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    kind: ChoiceKind,
    value: Option<&str>,
) -> Result<Vec<Output>, StoreError> {
    let ws = &ctx.router.services.workspace;
    let is_model = kind.command == "model";
    if let Some(v) = value {
        let r = if is_model {
            ws.set_model(inst, v).await
        } else {
            ws.set_agent(inst, v).await
        };
        return match r {
            Ok(()) => {
                let who = ctx.user.handle();
                ctx.router
                    .broadcast(inst.id, None, |lang| {
                        Output::notice(i18n::choice_set(lang, &who, kind.zh, kind.en, v))
                    })
                    .await?;
                Ok(Vec::new())
            }
            Err(e) => Ok(failed(ctx, &e)),
        };
    }
    let listed = if is_model {
        ws.models(inst).await
    } else {
        ws.agents(inst).await
    };
    match listed {
        Ok((all, current)) => {
            let mut text = i18n::choices_header(ctx.lang, kind.zh, kind.en, current.as_deref());
            let mut buttons = Vec::new();
            for name in all.iter().take(30) {
                let command = format!("/{} {name}", kind.command);
                if command.len() <= 64 {
                    buttons.push(vec![Button::new(name.clone(), command)]);
                } else {
                    text.push_str(&format!("\n• {name}"));
                }
            }
            Ok(vec![Output::Prompt(Prompt {
                text,
                detail: None,
                buttons,
            })])
        }
        Err(e) => Ok(failed(ctx, &e)),
    }
}

pub(super) async fn model(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    m: Option<&str>,
) -> Result<Vec<Output>, StoreError> {
    choose(
        ctx,
        inst,
        ChoiceKind {
            command: "model",
            zh: "模型",
            en: "model",
        },
        m,
    )
    .await
}

pub(super) async fn agent(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    a: Option<&str>,
) -> Result<Vec<Output>, StoreError> {
    choose(
        ctx,
        inst,
        ChoiceKind {
            command: "agent",
            zh: "智能体",
            en: "agent",
        },
        a,
    )
    .await
}

pub(super) async fn diff(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    match ctx.router.services.workspace.diff(inst).await {
        Ok(files) if files.is_empty() => Ok(ctx.say(i18n::no_changes(ctx.lang))),
        Ok(files) => {
            let (add, del) = files
                .iter()
                .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
            let mut out = ctx.say(i18n::diff_summary(ctx.lang, files.len(), add, del));
            out.extend(files.into_iter().map(|f| Output::Diff {
                title: Some(f.file),
                patch: f.patch,
            }));
            Ok(out)
        }
        Err(e) => Ok(failed(ctx, &e)),
    }
}

/// Tries every instance the user is bound to, active first: a prompt button may belong to
/// an instance the user switched away from since.
async fn my_instances(ctx: &CommandContext<'_>) -> Result<Vec<Instance>, StoreError> {
    let key = ctx.user.key.clone();
    let active = ctx.user.active_instance;
    let mut all = ctx
        .router
        .store
        .call(move |s| {
            let mut v = Vec::new();
            for b in s.bindings_of_user(&key)? {
                v.extend(s.instance(b.instance_id)?);
            }
            Ok(v)
        })
        .await?;
    all.sort_by_key(|i| Some(i.id) != active);
    Ok(all)
}

/// A button answer to one of OpenCode's prompts.
pub(super) enum Answer {
    Permission(PermissionReply),
    Question(Option<Vec<usize>>),
}

/// Answers a permission or question prompt. Tries every instance the user is bound to:
/// the prompt may belong to one they switched away from. Everyone sees the outcome through
/// the relay, so success needs no reply here.
pub(super) async fn respond(
    ctx: &CommandContext<'_>,
    id: &str,
    answer: Answer,
) -> Result<Vec<Output>, StoreError> {
    let from = Sender {
        user: ctx.user.key.clone(),
        handle: ctx.user.handle(),
    };
    let ws = &ctx.router.services.workspace;
    let mut last = None;
    for inst in my_instances(ctx).await? {
        let r = match &answer {
            Answer::Permission(reply) => ws.reply_permission(&inst, &from, id, reply.clone()).await,
            Answer::Question(choice) => ws.answer_question(&inst, &from, id, choice.clone()).await,
        };
        match r {
            Ok(()) => return Ok(Vec::new()),
            Err(e) => last = Some(e),
        }
    }
    Ok(match last {
        Some(ServiceError::NotFound(_)) | None => ctx.say(i18n::prompt_gone(ctx.lang)),
        Some(e) => failed(ctx, &e),
    })
}
