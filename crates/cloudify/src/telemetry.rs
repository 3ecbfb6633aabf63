//! Logging setup: `RUST_LOG` or `info`, to stderr (s6 collects it). Secrets never reach
//! here: config secrets print as `***` and adapters strip tokens from errors.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hyper=warn,reqwest=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
