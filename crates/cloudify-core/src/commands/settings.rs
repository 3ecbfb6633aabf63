//! /help, /lang, /web, /web-terminal, /proxy.

use super::{CommandContext, ProxyAction};
use crate::i18n::{self, Lang};
use crate::output::Output;
use crate::router::describe_service_error;
use crate::services::ServiceError;
use crate::store::{Instance, StoreError};

pub(super) async fn help(ctx: &CommandContext<'_>) -> Result<Vec<Output>, StoreError> {
    let mut text = i18n::help(ctx.lang);
    if ctx.user.active_instance.is_none() {
        text = format!("{}\n\n{text}", i18n::bind_instructions(ctx.lang));
    }
    Ok(ctx.say(text))
}

pub(super) async fn lang(
    ctx: &CommandContext<'_>,
    choice: &str,
) -> Result<Vec<Output>, StoreError> {
    let Some(l) = Lang::parse(choice) else {
        return Ok(ctx.say(i18n::lang_usage(ctx.lang)));
    };
    let key = ctx.user.key.clone();
    ctx.router
        .store
        .call(move |s| s.set_user_language(&key, Some(l.code())))
        .await?;
    Ok(ctx.say(i18n::lang_set(l)))
}

fn answer(ctx: &CommandContext<'_>, r: Result<Output, ServiceError>) -> Vec<Output> {
    match r {
        Ok(o) => vec![o],
        Err(e) => ctx.say(describe_service_error(ctx.lang, &e)),
    }
}

pub(super) async fn web(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    rotate: bool,
) -> Result<Vec<Output>, StoreError> {
    // The terminal is a shell on the server: the owner's, unless the config opens it to
    // members; new credentials are always the owner's call.
    if (rotate || !ctx.router.config.web_terminal.members)
        && let Some(refusal) = ctx.refuse_unless_owner(inst, false).await?
    {
        return Ok(refusal);
    }
    let terminal = &ctx.router.services.terminal;
    if rotate {
        return Ok(match terminal.rotate().await {
            Ok(()) => ctx.say(i18n::web_rotated(ctx.lang)),
            Err(e) => ctx.say(describe_service_error(ctx.lang, &e)),
        });
    }
    Ok(answer(
        ctx,
        terminal.describe(ctx.is_private(), ctx.lang).await,
    ))
}

pub(super) async fn web_terminal(
    ctx: &CommandContext<'_>,
    kind: &str,
) -> Result<Vec<Output>, StoreError> {
    Ok(answer(
        ctx,
        ctx.router.services.terminal.switch(kind, ctx.lang).await,
    ))
}

pub(super) async fn proxy(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    action: ProxyAction,
) -> Result<Vec<Output>, StoreError> {
    let p = &ctx.router.services.proxy;
    // Changing the proxy affects the whole deployment: owners only, and URLs may hold
    // credentials, so never in a group.
    if !matches!(action, ProxyAction::Status)
        && let Some(refusal) = ctx.refuse_unless_owner(inst, true).await?
    {
        return Ok(refusal);
    }
    let r = match action {
        ProxyAction::Set(url) => p.set(&url, ctx.lang).await,
        ProxyAction::Status => p.status(ctx.lang).await,
        ProxyAction::Disable => p.disable(ctx.lang).await,
    };
    Ok(answer(ctx, r))
}
