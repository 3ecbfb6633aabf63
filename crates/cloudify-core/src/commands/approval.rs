//! `binding.approve_new_users`: a valid code puts a newcomer on hold; the owner gets a
//! prompt with Approve / Reject buttons (`/approve_user <platform:id>`, `/reject_user …`).

use super::CommandContext;
use crate::i18n;
use crate::identity::{Platform, UserKey};
use crate::output::{Button, Output, Prompt};
use crate::store::{Instance, Role, StoreError};

/// The newcomer waits (recorded by the caller); the owner is asked. Returns the reply.
pub(super) async fn ask_owner(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    let id = inst.id;
    let owner = ctx
        .router
        .store
        .call(move |s| {
            Ok(s.members(id)?
                .into_iter()
                .find(|(b, _)| b.role == Role::Owner)
                .map(|(_, u)| u))
        })
        .await?;
    tracing::info!(user = %ctx.user.key, instance = %inst.name, "binding waits for the owner's approval");
    if let Some(owner) = owner {
        let l = ctx.router.lang_of(&owner);
        let key = ctx.user.key.to_string();
        let prompt = Output::Prompt(Prompt {
            text: i18n::approval_request(l, &ctx.user.handle(), &inst.name),
            detail: None,
            buttons: vec![vec![
                Button::new(i18n::approve_button(l), format!("/approve_user {key}")),
                Button::new(i18n::reject_button(l), format!("/reject_user {key}")),
            ]],
        });
        ctx.router
            .send_to_user(&owner, Some(inst.id), prompt)
            .await?;
    }
    Ok(ctx.say(i18n::waiting_for_approval(ctx.lang, &inst.name)))
}

/// The owner's answer for a waiting binder (`platform:id`).
pub(super) async fn decide(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    who: &str,
    approve: bool,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    if let Some(refusal) = ctx.refuse_unless_owner(inst, false).await? {
        return Ok(refusal);
    }
    let key = who
        .trim()
        .split_once(':')
        .and_then(|(p, id)| Some(UserKey::new(Platform::parse(p)?, id)));
    let Some(key) = key else {
        return Ok(ctx.say(i18n::nobody_waiting(l, who.trim())));
    };
    let (k, id, now) = (key.clone(), inst.id, ctx.router.now());
    let decided = ctx
        .router
        .store
        .call(move |s| {
            if !s.take_pending(&k, id)? {
                return Ok(None);
            }
            let outcome = if approve && !s.is_banned(&k, id)? {
                Some(s.bind(&k, id, now)?)
            } else {
                None
            };
            Ok(Some((s.user(&k)?, outcome)))
        })
        .await?;
    let Some((Some(user), outcome)) = decided else {
        return Ok(ctx.say(i18n::nobody_waiting(l, who.trim())));
    };
    let ul = ctx.router.lang_of(&user);
    let handle = user.handle();
    if outcome.is_none() {
        tracing::info!(user = %key, instance = %inst.name, "binding rejected by the owner");
        ctx.router
            .send_to_user(
                &user,
                None,
                Output::notice(i18n::you_were_rejected(ul, &inst.name)),
            )
            .await?;
        return Ok(ctx.say(i18n::user_rejected(l, &handle)));
    }
    tracing::info!(user = %key, instance = %inst.name, "binding approved by the owner");
    let welcome = i18n::bind_welcome(ul, &inst.name, false);
    ctx.router
        .send_to_user(&user, None, Output::plain(welcome))
        .await?;
    let name = inst.name.clone();
    ctx.router
        .broadcast(inst.id, Some(&key), |lang| {
            Output::notice(i18n::user_joined(lang, &handle, &name))
        })
        .await?;
    Ok(Vec::new()) // the owner is told with everyone else ("@x joined")
}
