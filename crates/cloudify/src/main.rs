//! `cloudify`: the OpenCode Cloudify binary. CLI, wiring of the crates, and the local
//! HTTP port. Logic lives in the library crates; this crate only connects them.

mod app;
mod checks;
mod cli;
mod datadir;
mod http;
mod lanes;
mod platforms;
mod proxy;
mod render_cmd;
mod services;
mod telemetry;
mod update;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cloudify",
    version,
    about = "Drive the OpenCode coding agent from Telegram and DingTalk",
    long_about = "OpenCode Cloudify connects an OpenCode server to Telegram and DingTalk so you can \
                  drive coding work from your phone: type a request, watch the agent work, approve \
                  what it runs, and read code and diffs as images.\n\n\
                  Data (config.yaml, database, QR images, secrets) lives in $CLOUDIFY_DATA_DIR \
                  (default ./data; /data in the container).",
    after_help = "First time? Run `cloudify setup`, then `cloudify run`, then scan the QR code with Telegram."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot: every configured IM platform, the OpenCode relay and the local HTTP port.
    /// Prints the binding QR code on first start.
    Run,
    /// Interactive first-run wizard: Telegram token, DingTalk keys, proxy; writes config.yaml.
    Setup,
    /// Show the binding QR code, the Telegram deep link and the DingTalk code.
    Qr(cli::qr::QrArgs),
    /// Make a new QR code: every old code stops working and all users of the instance are removed.
    ResetQr(cli::qr::ResetArgs),
    /// Manage instances (OpenCode server + project directory pairs).
    #[command(subcommand)]
    Instance(cli::instance::InstanceCommand),
    /// Send a notification to every user bound to an instance (for scripts and CI).
    Notify(cli::notify::NotifyArgs),
    /// Render a source file or a diff to PNG page(s), as the bot would send them.
    Render(render_cmd::RenderArgs),
    /// Check config, data directory, OpenCode, Telegram, DingTalk and proxy; say how to fix problems.
    Doctor,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = cloudify_core::EnvVars::from_process();
    // What the bot writes (database, QR images, secrets, config) is for its account only.
    // `render` writes where the user asked, with the user's usual modes.
    if !matches!(cli.command, Command::Render(_)) {
        datadir::private_umask();
    }
    let result = match cli.command {
        Command::Run => cli::run::run(&env),
        Command::Setup => cli::setup::run(&env),
        Command::Qr(a) => cli::qr::show(&env, &a),
        Command::ResetQr(a) => cli::qr::reset(&env, &a),
        Command::Instance(c) => cli::instance::run(&env, c),
        Command::Notify(a) => cli::notify::run(&env, &a),
        Command::Render(a) => {
            let cache = app::data_dir(&env).join("cache").join("rendered");
            render_cmd::run(&a, Some(&cache)).map(|()| ExitCode::SUCCESS)
        }
        Command::Doctor => cli::doctor::run(&env),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
