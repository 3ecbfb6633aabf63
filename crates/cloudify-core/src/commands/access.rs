//! Taking access away, and keeping it away: /kick (with a ban), /unban, codes burned when
//! posted in a group, and the web terminal's credentials rotated when someone leaves.

use super::CommandContext;
use crate::i18n;
use crate::output::Output;
use crate::store::{Instance, Role, StoreError, User};
use uuid::Uuid;

/// Whether `u` is the user an owner typed (`@name`, display name or platform id).
fn matches(u: &User, wanted: &str) -> bool {
    let wanted = wanted.trim().trim_start_matches('@').to_lowercase();
    u.username
        .as_deref()
        .is_some_and(|n| n.to_lowercase() == wanted)
        || u.display_name.to_lowercase() == wanted
        || u.key.user_id == wanted
        || u.key.to_string() == wanted
}

/// How `/unban` can name a user unambiguously.
fn user_ref(u: &User) -> String {
    match &u.username {
        Some(n) if !n.is_empty() => format!("@{n}"),
        _ => u.key.user_id.clone(),
    }
}

pub(super) async fn kick(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    who: &str,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    if let Some(refusal) = ctx.refuse_unless_owner(inst, false).await? {
        return Ok(refusal);
    }
    let id = inst.id;
    let members = ctx.router.store.call(move |s| s.members(id)).await?;
    let target = members
        .into_iter()
        .map(|(_, u)| u)
        .find(|u| u.key != ctx.user.key && matches(u, who));
    let Some(target) = target else {
        return Ok(ctx.say(i18n::no_such_member(l, who)));
    };
    let (k, now) = (target.key.clone(), ctx.router.now());
    // One transaction: the binding goes and the ban is recorded, or neither.
    ctx.router
        .store
        .call(move |s| {
            s.unbind(&k, id)?;
            s.ban(&k, id, now)
        })
        .await?;
    tracing::info!(instance = %inst.name, user = %target.key, "user kicked and banned");
    let tl = ctx.router.lang_of(&target);
    ctx.router
        .send_to_user(&target, None, Output::notice(i18n::kicked(tl, &inst.name)))
        .await?;
    let handle = target.handle();
    let name = inst.name.clone();
    ctx.router
        .broadcast(inst.id, Some(&ctx.user.key), |lang| {
            Output::notice(i18n::user_left(lang, &handle, &name))
        })
        .await?;
    rotate_terminal(ctx).await;
    Ok(ctx.say(i18n::kick_done_banned(
        l,
        &target.handle(),
        &user_ref(&target),
    )))
}

pub(super) async fn unban(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    who: &str,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    if let Some(refusal) = ctx.refuse_unless_owner(inst, false).await? {
        return Ok(refusal);
    }
    let (id, wanted) = (inst.id, who.to_string());
    let lifted = ctx
        .router
        .store
        .call(move |s| {
            for key in s.banned(id)? {
                let hit = match s.user(&key)? {
                    Some(u) => matches(&u, &wanted),
                    None => key.user_id == wanted.trim() || key.to_string() == wanted.trim(),
                };
                if hit {
                    s.unban(&key, id)?;
                    return Ok(Some(key));
                }
            }
            Ok(None)
        })
        .await?;
    match lifted {
        Some(key) => {
            tracing::info!(instance = %inst.name, user = %key, "ban lifted");
            Ok(ctx.say(i18n::unban_done(l, who.trim())))
        }
        None => Ok(ctx.say(i18n::not_banned(l, who.trim()))),
    }
}

/// A valid code posted in a group chat: every link and code of the instance is replaced
/// (members stay bound), the owner gets the new QR in private, the group is told.
pub(super) async fn burn_posted_code(
    ctx: &CommandContext<'_>,
    instance_id: Uuid,
) -> Result<Vec<Output>, StoreError> {
    let (inst, owner) = ctx
        .router
        .store
        .call(move |s| {
            s.burn_codes(instance_id)?;
            let owner = s
                .members(instance_id)?
                .into_iter()
                .find(|(b, _)| b.role == Role::Owner)
                .map(|(_, u)| u);
            Ok((s.instance(instance_id)?, owner))
        })
        .await?;
    tracing::warn!(user = %ctx.user.key, "a valid binding code was posted in a group chat; every code of the instance was replaced");
    if let (Some(inst), Some(owner)) = (inst, owner) {
        let ol = ctx.router.lang_of(&owner);
        let r = ctx.router;
        r.send_to_user(
            &owner,
            None,
            Output::notice(i18n::owner_code_replaced(ol, &inst.name)),
        )
        .await?;
        r.send_to_user(&owner, None, super::membership::qr_image(r, &inst, ol))
            .await?;
    }
    Ok(ctx.say(i18n::code_burned_in_group(ctx.lang)))
}

/// New web-terminal credentials after someone lost access (the old ones stop working once
/// the terminal restarted). A failure is logged, not fatal to the command that caused it.
pub(super) async fn rotate_terminal(ctx: &CommandContext<'_>) {
    if let Err(e) = ctx.router.services.terminal.rotate().await {
        tracing::warn!(error = %e, "could not rotate the web terminal's credentials");
    }
}
