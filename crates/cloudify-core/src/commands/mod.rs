//! Command handling: [`parse`] reads a command, [`execute`] runs it for one user and
//! returns the replies for the chat it came from. Broadcasts to collaborators go through
//! the router.

mod access;
mod agent;
mod approval;
mod membership;
mod parse;
mod settings;

pub use agent::UPDATE_NOTICE_SETTING;
pub use parse::{COMMANDS, Command, CommandSpec, ParseError, PermissionReply, ProxyAction, parse};

use crate::adapter::Incoming;
use crate::i18n::{self, Lang};
use crate::output::Output;
use crate::router::Router;
use crate::store::{Instance, Role, StoreError, User};

/// Everything a command needs to know about who asked and where.
pub struct CommandContext<'a> {
    pub router: &'a Router,
    pub inc: &'a Incoming,
    pub user: &'a User,
    pub lang: Lang,
}

impl CommandContext<'_> {
    fn say(&self, text: String) -> Vec<Output> {
        vec![Output::plain(text)]
    }

    /// The user's active instance, if bound.
    async fn active(&self) -> Result<Option<Instance>, StoreError> {
        let Some(id) = self.user.active_instance else {
            return Ok(None);
        };
        self.router.store.call(move |s| s.instance(id)).await
    }

    async fn role_in(&self, inst: &Instance) -> Result<Option<Role>, StoreError> {
        let (key, id) = (self.user.key.clone(), inst.id);
        Ok(self
            .router
            .store
            .call(move |s| s.binding(&key, id))
            .await?
            .map(|b| b.role))
    }

    fn is_private(&self) -> bool {
        !self.inc.chat.is_group
    }

    /// The refusal to send when the user is not the owner (or not in a private chat, when
    /// `private` is asked for); `None` when the command may go ahead.
    async fn refuse_unless_owner(
        &self,
        inst: &Instance,
        private: bool,
    ) -> Result<Option<Vec<Output>>, StoreError> {
        if self.role_in(inst).await? != Some(Role::Owner) {
            return Ok(Some(self.say(i18n::owner_only(self.lang))));
        }
        if private && !self.is_private() {
            return Ok(Some(self.say(i18n::private_only(self.lang))));
        }
        Ok(None)
    }
}

/// Runs a parsed command. Store failures bubble up; everything else becomes a reply.
pub async fn execute(
    ctx: &CommandContext<'_>,
    parsed: Result<Command, ParseError>,
) -> Result<Vec<Output>, StoreError> {
    let l = ctx.lang;
    let cmd = match parsed {
        Ok(c) => c,
        Err(ParseError::Unknown(name)) => return Ok(ctx.say(i18n::unknown_command(l, &name))),
        Err(ParseError::Usage(u)) => return Ok(ctx.say(i18n::usage(l, u))),
    };
    // Commands open to everyone, bound or not.
    match cmd {
        Command::Start(None) | Command::Help => return settings::help(ctx).await,
        Command::Start(Some(code)) | Command::Bind(code) => {
            return membership::bind(ctx, &code).await;
        }
        Command::Lang(ref lang) => return settings::lang(ctx, lang).await,
        Command::FileTooLarge { bytes, ref name } => {
            return Ok(ctx.say(i18n::file_too_large(l, name, bytes)));
        }
        _ => {}
    }
    let Some(inst) = ctx.active().await? else {
        return Ok(ctx.say(i18n::bind_instructions(l)));
    };
    if !ctx.is_private() && shows_session_content(&cmd) {
        // Groups may hold people who are not bound: the content goes to the asker privately.
        for out in run_bound(ctx, &inst, cmd).await? {
            ctx.router
                .send_to_user(ctx.user, Some(inst.id), out)
                .await?;
        }
        return Ok(ctx.say(i18n::sent_privately(l)));
    }
    run_bound(ctx, &inst, cmd).await
}

/// Commands whose answer shows what the agent did or sees.
fn shows_session_content(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Status | Command::Diff | Command::Sessions(None)
    )
}

/// Runs a command of a user bound to `inst` (their active instance).
async fn run_bound(
    ctx: &CommandContext<'_>,
    inst: &Instance,
    cmd: Command,
) -> Result<Vec<Output>, StoreError> {
    let inst = inst.clone();
    match cmd {
        Command::Status => agent::status(ctx, &inst).await,
        Command::List => membership::list(ctx).await,
        Command::Switch(name) => membership::switch(ctx, &name).await,
        Command::Rename(name) => membership::rename(ctx, &inst, &name).await,
        Command::Unbind(name) => membership::unbind(ctx, &name).await,
        Command::ResetQr => membership::reset_qr(ctx, &inst).await,
        Command::Kick(who) => access::kick(ctx, &inst, &who).await,
        Command::Unban(who) => access::unban(ctx, &inst, &who).await,
        Command::ApproveUser(who) => approval::decide(ctx, &inst, &who, true).await,
        Command::RejectUser(who) => approval::decide(ctx, &inst, &who, false).await,
        Command::Qr => membership::qr(ctx, &inst).await,
        Command::Sessions(pick) => agent::sessions(ctx, &inst, pick.as_deref()).await,
        Command::New => agent::new_session(ctx, &inst).await,
        Command::Cancel => agent::cancel(ctx, &inst).await,
        Command::Model(m) => agent::model(ctx, &inst, m.as_deref()).await,
        Command::Agent(a) => agent::agent(ctx, &inst, a.as_deref()).await,
        Command::Diff => agent::diff(ctx, &inst).await,
        Command::Approve { id, reply } => {
            agent::respond(ctx, &id, agent::Answer::Permission(reply)).await
        }
        Command::Answer { id, choice } => {
            agent::respond(ctx, &id, agent::Answer::Question(choice)).await
        }
        Command::Web { rotate } => settings::web(ctx, &inst, rotate).await,
        Command::WebTerminal(kind) => settings::web_terminal(ctx, &kind).await,
        Command::Proxy(action) => settings::proxy(ctx, &inst, action).await,
        Command::Start(_)
        | Command::Help
        | Command::Bind(_)
        | Command::Lang(_)
        | Command::FileTooLarge { .. } => Ok(Vec::new()),
    }
}
