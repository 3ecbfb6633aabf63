//! `cloudify instance add|list|rename|remove`.

use crate::app::{App, now_secs};
use anyhow::{Result, bail};
use clap::Subcommand;
use cloudify_core::store::NewInstance;
use cloudify_core::{EnvVars, Secret};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum InstanceCommand {
    /// Add an instance: an OpenCode server URL and a project directory on it.
    Add {
        /// Name users see and `/switch` to (a taken name gets -1, -2, …).
        name: String,
        /// OpenCode server URL (default: opencode.url).
        #[arg(long)]
        url: Option<String>,
        /// Project directory on the OpenCode server (absolute).
        #[arg(long)]
        dir: String,
        /// Basic-auth password of that OpenCode server, if it has one.
        #[arg(long)]
        password: Option<String>,
    },
    /// List instances with their URL, directory, QR version and users.
    List,
    /// Rename an instance.
    Rename { name: String, new_name: String },
    /// Remove an instance with its bindings.
    Remove { name: String },
}

pub fn run(env: &EnvVars, cmd: InstanceCommand) -> Result<ExitCode> {
    let app = App::open(env)?;
    match cmd {
        InstanceCommand::Add {
            name,
            url,
            dir,
            password,
        } => {
            if !dir.starts_with('/') {
                bail!("--dir must be an absolute path on the OpenCode server, got `{dir}`");
            }
            let url = url.unwrap_or_else(|| app.config.opencode.url.clone());
            if !url.starts_with("http://") && !url.starts_with("https://") {
                bail!("--url must start with http:// or https://, got `{url}`");
            }
            let new = NewInstance {
                name,
                url,
                directory: dir,
                password: password.map(Secret::new),
            };
            let inst = app.store.call_now(|s| s.add_instance(&new, now_secs()))?;
            println!(
                "Added instance [{}] ({} {}).",
                inst.name, inst.url, inst.directory
            );
            println!(
                "Show its QR code with: cloudify qr --instance {}",
                inst.name
            );
        }
        InstanceCommand::List => {
            let all = app.store.call_now(|s| {
                let mut rows = Vec::new();
                for i in s.instances()? {
                    let members = s.members(i.id)?.len();
                    rows.push((i, members));
                }
                Ok(rows)
            })?;
            println!(
                "{:<24} {:<28} {:<28} {:>3} {:>5}",
                "NAME", "URL", "DIRECTORY", "QR", "USERS"
            );
            for (i, members) in all {
                println!(
                    "{:<24} {:<28} {:<28} {:>3} {:>5}",
                    i.name, i.url, i.directory, i.qr_version, members
                );
            }
        }
        InstanceCommand::Rename { name, new_name } => {
            let inst = app.instance(Some(&name))?;
            let given = app
                .store
                .call_now(|s| s.rename_instance(inst.id, &new_name))?;
            println!("Renamed [{name}] to [{given}].");
        }
        InstanceCommand::Remove { name } => {
            let inst = app.instance(Some(&name))?;
            app.store.call_now(|s| s.remove_instance(inst.id))?;
            println!("Removed [{name}] and its bindings.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
