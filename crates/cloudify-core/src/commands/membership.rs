//! Binding and membership: /start <token>, /bind, /qr, /reset-qr, /list, /switch,
//! /rename, /unbind. Removal and bans are in `access.rs`.

use super::CommandContext;
use crate::binding;
use crate::i18n::{self, Lang};
use crate::names::NameError;
use crate::output::{Button, Output, Prompt};
use crate::store::{Instance, Role, StoreError};

pub(super) async fn bind(ctx: &CommandContext<'_>, code: &str) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    let now_ms = ctx.router.clock().now_ms();
    if let Err(refusal) = ctx.router.bind_limiter().check(&ctx.user.key, now_ms) {
        tracing::info!(user = %ctx.user.key, "binding attempt refused: too many failures");
        return Ok(if refusal.tell {
            ctx.say(i18n::bind_rate_limited(l, refusal.wait.as_secs()))
        } else {
            Vec::new() // told once already; a flood gets no more replies
        });
    }
    let instances = ctx.router.store.call(|s| s.instances()).await?;
    let issue = ctx.router.config.bind_issue(ctx.router.now());
    let verified = binding::parse(code).and_then(|c| binding::verify_at(&c, &instances, issue));
    let instance_id = match verified {
        Ok(id) => id,
        Err(reason) => {
            ctx.router
                .bind_limiter()
                .record_failure(&ctx.user.key, now_ms);
            tracing::info!(user = %ctx.user.key, %reason, "binding refused");
            return Ok(ctx.say(if ctx.is_private() {
                i18n::bind_invalid(l)
            } else {
                i18n::bind_private_only(l)
            }));
        }
    };
    if !ctx.is_private() {
        // Anyone in the group saw it: the code is burned, not used.
        return super::access::burn_posted_code(ctx, instance_id).await;
    }
    ctx.router.bind_limiter().record_success(&ctx.user.key);
    let (key, now) = (ctx.user.key.clone(), ctx.router.now());
    let approve = ctx.router.config.binding.approve_new_users;
    let gate = ctx
        .router
        .store
        .call(move |s| {
            let Some(inst) = s.instance(instance_id)? else {
                return Ok(Gate::Gone);
            };
            if s.is_banned(&key, instance_id)? {
                return Ok(Gate::Banned);
            }
            // The first binder becomes the owner; later newcomers wait when asked to.
            if approve
                && s.binding(&key, instance_id)?.is_none()
                && !s.members(instance_id)?.is_empty()
            {
                s.add_pending(&key, instance_id, now)?;
                return Ok(Gate::Waiting(inst));
            }
            Ok(Gate::Bound(s.bind(&key, instance_id, now)?, inst))
        })
        .await?;
    let (outcome, inst) = match gate {
        Gate::Bound(o, i) => (o, i),
        Gate::Waiting(i) => return super::approval::ask_owner(ctx, &i).await,
        Gate::Banned => {
            tracing::info!(user = %ctx.user.key, "binding refused: banned by the owner");
            return Ok(ctx.say(i18n::banned(l)));
        }
        Gate::Gone => return Ok(ctx.say(i18n::bind_invalid(l))),
    };
    tracing::info!(user = %ctx.user.key, instance = %inst.name, role = ?outcome.role, "user bound");
    if !outcome.newly_bound {
        return Ok(ctx.say(i18n::bind_already(l, &inst.name)));
    }
    let who = ctx.user.handle();
    let name = inst.name.clone();
    ctx.router
        .broadcast(inst.id, Some(&ctx.user.key), |lang| {
            Output::notice(i18n::user_joined(lang, &who, &name))
        })
        .await?;
    let mut out = ctx.say(i18n::bind_welcome(
        l,
        &inst.name,
        outcome.role == Role::Owner,
    ));
    // The welcome carries the instance status, so the user sees at once whether it works.
    out.extend(super::agent::status(ctx, &inst).await?);
    Ok(out)
}

/// What a verified credential leads to.
enum Gate {
    Bound(crate::store::BindOutcome, Instance),
    Waiting(Instance),
    Banned,
    Gone,
}

pub(super) async fn qr(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    if let Some(refusal) = ctx.refuse_unless_owner(inst, true).await? {
        return Ok(refusal);
    }
    Ok(vec![qr_image(ctx.router, inst, l)])
}

/// The binding QR of an instance as an image (or one sentence when it cannot be drawn).
pub(super) fn qr_image(router: &crate::router::Router, inst: &Instance, l: Lang) -> Output {
    let issue = router.config.bind_issue(router.now());
    let code = binding::dingtalk_code_at(inst, issue);
    let link = match router.telegram_bot() {
        Some(bot) => format!(
            "https://t.me/{bot}?start={}",
            binding::deep_link_token_at(inst, issue)
        ),
        // Without Telegram the QR carries the long form, which `/bind` accepts too.
        None => binding::long_payload_at(inst, "", issue),
    };
    match router.services.qr.png(&link) {
        Ok(png) => Output::Image {
            png,
            caption: i18n::qr_caption(l, &inst.name, &code),
        },
        Err(e) => Output::plain(i18n::failed(l, &e)),
    }
}

pub(super) async fn reset_qr(
    ctx: &CommandContext<'_>,
    inst: &Instance,
) -> Result<Vec<Output>, StoreError> {
    if let Some(refusal) = ctx.refuse_unless_owner(inst, false).await? {
        return Ok(refusal);
    }
    let kicked = ctx.router.reset_qr(inst, Some(&ctx.user.key)).await?;
    Ok(ctx.say(i18n::reset_done(ctx.lang, &inst.name, kicked.len())))
}

pub(super) async fn list(ctx: &CommandContext<'_>) -> Result<Vec<Output>, StoreError> {
    let key = ctx.user.key.clone();
    let rows = ctx
        .router
        .store
        .call(move |s| {
            let mut rows = Vec::new();
            for b in s.bindings_of_user(&key)? {
                if let Some(i) = s.instance(b.instance_id)? {
                    rows.push((i, b.role));
                }
            }
            Ok(rows)
        })
        .await?;
    let mut text = i18n::list_header(ctx.lang);
    let mut buttons = Vec::new();
    for (inst, role) in &rows {
        let active = ctx.user.active_instance == Some(inst.id);
        let owner = if *role == Role::Owner {
            ctx.lang.pick(" （所有者）", " (owner)")
        } else {
            ""
        };
        text.push_str(&format!(
            "\n{} {}{owner}",
            if active { "▶" } else { "•" },
            inst.name
        ));
        if !active {
            buttons.push(vec![Button::new(
                format!("➡️ {}", inst.name),
                format!("/switch {}", inst.id),
            )]);
        }
    }
    Ok(vec![Output::Prompt(Prompt {
        text,
        detail: None,
        buttons,
    })])
}

/// Finds one of the user's instances by name or id.
async fn find_mine(ctx: &CommandContext<'_>, name: &str) -> Result<Option<Instance>, StoreError> {
    let key = ctx.user.key.clone();
    let wanted = name
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    ctx.router
        .store
        .call(move |s| {
            for b in s.bindings_of_user(&key)? {
                if let Some(i) = s.instance(b.instance_id)?
                    && (i.name == wanted || i.id.to_string() == wanted)
                {
                    return Ok(Some(i));
                }
            }
            Ok(None)
        })
        .await
}

pub(super) async fn switch(
    ctx: &CommandContext<'_>,
    name: &str,
) -> Result<Vec<Output>, StoreError> {
    let Some(inst) = find_mine(ctx, name).await? else {
        return Ok(ctx.say(i18n::no_such_instance(ctx.lang, name)));
    };
    let (key, id, now) = (ctx.user.key.clone(), inst.id, ctx.router.now());
    ctx.router
        .store
        .call(move |s| {
            s.set_active_instance(&key, Some(id))?;
            s.touch_binding(&key, id, now)
        })
        .await?;
    Ok(ctx.say(i18n::switched(ctx.lang, &inst.name)))
}

pub(super) async fn rename(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    wanted: &str,
) -> Result<Vec<Output>, StoreError> {
    // A name is shared by everyone bound and ends up in file names: the owner's to change.
    if let Some(refusal) = ctx.refuse_unless_owner(inst, false).await? {
        return Ok(refusal);
    }
    let id = inst.id;
    let w = wanted.to_string();
    let new = ctx
        .router
        .store
        .call(move |s| s.rename_instance(id, &w))
        .await;
    let new = match new {
        Ok(n) => n,
        Err(StoreError::InvalidName(NameError::Invalid(shown))) => {
            return Ok(ctx.say(i18n::invalid_name(ctx.lang, &shown)));
        }
        Err(e) => return Err(e),
    };
    let old = inst.name.clone();
    let n = new.clone();
    ctx.router
        .broadcast(inst.id, Some(&ctx.user.key), |lang| {
            Output::notice(i18n::renamed(lang, &old, &n))
        })
        .await?;
    Ok(ctx.say(i18n::renamed(ctx.lang, &inst.name, &new)))
}

pub(super) async fn unbind(
    ctx: &CommandContext<'_>,
    name: &str,
) -> Result<Vec<Output>, StoreError> {
    let Some(inst) = find_mine(ctx, name).await? else {
        return Ok(ctx.say(i18n::no_such_instance(ctx.lang, name)));
    };
    let (key, id) = (ctx.user.key.clone(), inst.id);
    ctx.router.store.call(move |s| s.unbind(&key, id)).await?;
    let who = ctx.user.handle();
    let n = inst.name.clone();
    ctx.router
        .broadcast(inst.id, None, |lang| {
            Output::notice(i18n::user_left(lang, &who, &n))
        })
        .await?;
    Ok(ctx.say(i18n::unbound(ctx.lang, &inst.name)))
}
