//! `cloudify run`: the daemon.

use crate::app::App;
use crate::http::{HttpState, serve};
use crate::{lanes, services, telemetry};
use anyhow::Result;
use cloudify_core::outbox::runner::OutboxHandle;
use cloudify_core::router::StoreBacklog;
use cloudify_core::{Adapter, EnvVars, Fanout, Platform, Router, Services, SystemClock};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub fn run(env: &EnvVars) -> Result<ExitCode> {
    telemetry::init();
    let mut app = App::open(env)?;
    if !app.config.telegram_enabled() && !app.config.dingtalk_enabled() {
        if std::io::stdin().is_terminal() {
            eprintln!("No IM platform is configured yet; starting the setup wizard.\n");
            crate::cli::setup::run(env)?;
            app = App::open(env)?;
        }
        if !app.config.telegram_enabled() && !app.config.dingtalk_enabled() {
            eprintln!("{}", missing_im_message(&app));
            return Ok(ExitCode::from(2));
        }
    }
    // One thread runs every task: the bot waits on the network, and the CPU-heavy parts
    // (rendering, SQLite writes) run on the blocking pool. Handing an event from one worker
    // to another costs a wake-up that, on a busy small VPS, can wait milliseconds for a CPU
    // (the added-latency tail in docs/BENCHMARKS.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(daemon(app, env))?;
    Ok(ExitCode::SUCCESS)
}

fn missing_im_message(app: &App) -> String {
    format!(
        "cloudify run: no IM platform is configured, so there is nobody to talk to.\n\
         Set one of these and start again:\n\
         \x20 Telegram: TELEGRAM_TOKEN (from @BotFather)\n\
         \x20 DingTalk: DINGTALK_APP_KEY and DINGTALK_APP_SECRET (internal app, Stream mode)\n\
         or run `cloudify setup` in a terminal, which writes {}.",
        cloudify_core::Config::file_in(&app.data_dir).display()
    )
}

async fn daemon(app: App, env: &EnvVars) -> Result<()> {
    let config = Arc::new(app.config.clone());
    for secret in config.secret_values() {
        cloudify_core::redact::register_known(&secret);
    }
    // Wired once, in dependency order: store → outboxes → fan-out → relay → workspace
    // service → router → adapters' receive loops. Nothing points back up this chain.
    let backlog = Arc::new(StoreBacklog {
        store: app.store.clone(),
        cap: config.max_offline_messages,
    });
    let fanout = Arc::new(Fanout::new(
        app.store.clone(),
        config.clone(),
        Arc::new(SystemClock),
    ));
    let mut adapters: Vec<Arc<dyn Adapter>> = Vec::new();
    let mut platforms = Vec::new();
    let mut telegram_bot = None;
    if config.telegram_enabled() {
        let tg = crate::platforms::telegram(&app).await?;
        telegram_bot = tg.bot_username();
        adapters.push(tg);
        platforms.push("telegram");
    }
    if config.dingtalk_enabled() {
        adapters.push(crate::platforms::dingtalk(&app)?);
        platforms.push("dingtalk");
        tracing::info!("DingTalk Stream mode starting");
    }
    for adapter in &adapters {
        fanout.attach(
            adapter.platform(),
            OutboxHandle::spawn(adapter.clone(), backlog.clone()),
        );
    }
    let relay = cloudify_relay::Relay::new(app.store.clone(), config.clone(), fanout.clone());
    let services = Services {
        workspace: Arc::new(cloudify_relay::OpenCodeWorkspace(relay.clone())),
        terminal: Arc::new(services::WebTerminalLink::new(&app, env)),
        proxy: Arc::new(crate::proxy::ProxySettings::new(&app, env)),
        qr: Arc::new(services::QrPng),
    };
    let router = Arc::new(Router::with_fanout(fanout.clone(), services));
    if let Some(bot) = telegram_bot {
        router.set_telegram_bot(&bot);
        let b = bot.clone();
        app.store
            .call(move |s| s.set_setting(crate::cli::qr::BOT_USERNAME_SETTING, &b))
            .await?;
        tracing::info!(bot = %bot, "Telegram bot ready");
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    for adapter in adapters {
        spawn_adapter(adapter, tx.clone());
    }

    relay.start_all().await;
    let notify_token = app.notify_token()?;
    let admin_token = app.admin_token()?;
    cloudify_core::redact::register_known(notify_token.expose());
    cloudify_core::redact::register_known(admin_token.expose());
    let http = serve(
        config.http.listen,
        HttpState {
            router: router.clone(),
            notify_token,
            admin_token,
            platforms,
        },
    )
    .await?;
    print_qr_on_first_start(&app);
    let lanes = tokio::spawn(lanes::dispatch(rx, router.clone()));
    tokio::spawn(prune_ledger(app.store.clone()));
    tokio::spawn(crate::update::run(config.clone(), app.store.clone()));

    shutdown_signal().await;
    tracing::info!("stopping: delivering what is queued (up to 5 s)");
    for p in [Platform::Telegram, Platform::DingTalk] {
        if let Some(o) = fanout.outbox(p) {
            let _ = tokio::time::timeout(Duration::from_secs(5), o.flush()).await;
        }
    }
    http.abort();
    lanes.abort();
    Ok(())
}

/// Keeps the processed-update ledger small: platforms never redeliver week-old updates.
async fn prune_ledger(store: cloudify_core::SharedStore) {
    let mut tick = tokio::time::interval(Duration::from_secs(6 * 3600));
    loop {
        tick.tick().await;
        let before = crate::app::now_secs() - 7 * 24 * 3600;
        match store.call(move |s| s.prune_processed(before)).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old processed-update ids removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not prune processed-update ids"),
        }
    }
}

/// Runs an adapter's receive loop for the life of the process.
fn spawn_adapter(
    adapter: Arc<dyn Adapter>,
    tx: tokio::sync::mpsc::Sender<cloudify_core::Incoming>,
) {
    tokio::spawn(async move {
        let platform = adapter.platform();
        if let Err(e) = adapter.run(tx).await {
            tracing::error!(%platform, error = %e, "adapter stopped");
        }
    });
}

/// The QR goes to the log (and /data/qr) only while nobody owns the instance: once bound, a
/// link in the log would let anyone who reads it (a hosting dashboard) join.
fn print_qr_on_first_start(app: &App) {
    let Ok(instances) = app.store.call_now(|s| s.instances()) else {
        return;
    };
    for inst in instances {
        if !crate::cli::qr::has_owner(app, &inst)
            && let Err(e) = crate::cli::qr::print_qr(app, &inst, None)
        {
            tracing::warn!(error = %e, "could not print the QR code");
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
