//! `cloudify notify [--instance N] TEXT`: asks the running bot to tell an instance's users.

use crate::app::App;
use anyhow::Result;
use clap::Args;
use cloudify_core::EnvVars;
use std::process::ExitCode;

#[derive(Args)]
pub struct NotifyArgs {
    /// Instance name (default: the first instance).
    #[arg(long)]
    instance: Option<String>,
    /// Exit non-zero when the message could not be handed to the bot.
    #[arg(long)]
    strict: bool,
    /// The message.
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
}

pub fn run(env: &EnvVars, args: &NotifyArgs) -> Result<ExitCode> {
    let app = App::open(env)?;
    let text = args.text.join(" ");
    match crate::http::client::notify_via_daemon(&app, args.instance.as_deref(), &text) {
        Ok(n) => {
            println!("Queued for {n} user(s).");
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            // A failed notification must not break the script that sent it.
            eprintln!("warning: notification not delivered: {why}");
            Ok(if args.strict {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
