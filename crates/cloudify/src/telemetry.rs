//! Logging setup: `RUST_LOG` or `info`, to stderr (s6 collects it). Secrets never reach
//! here: config secrets print as `***`, adapters strip tokens from errors, and the libraries
//! that print raw requests are capped below the level where they do.

use tracing_subscriber::filter::{Directive, EnvFilter};

/// Library targets that log raw request lines or headers (the DingTalk Stream ticket rides
/// in the WebSocket URL; Bot API URLs carry the token) at debug or trace, whatever
/// `RUST_LOG` asks for.
const CAPPED: &[&str] = &[
    "tungstenite=info",
    "tokio_tungstenite=info",
    "hyper=info",
    "hyper_util=info",
    "reqwest=info",
    "h2=info",
    "rustls=info",
    "teloxide=info",
    "teloxide_core=info",
];

pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let shown = filter.to_string();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: s6 and `docker logs` store the bytes as they are.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    tracing::debug!(filter = %shown, "logging configured");
}

fn filter(rust_log: Option<&str>) -> EnvFilter {
    let mut filter = rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    for cap in CAPPED {
        if let Ok(d) = cap.parse::<Directive>() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn trace_everywhere_still_caps_the_libraries_that_print_requests() {
        let f = filter(Some("trace,tungstenite=trace"));
        let shown = f.to_string();
        assert!(shown.contains("tungstenite=info"), "{shown}");
        assert!(!shown.contains("tungstenite=trace"), "{shown}");
        assert_eq!(
            f.max_level_hint(),
            Some(LevelFilter::TRACE),
            "ours stay at trace"
        );
    }

    #[test]
    fn our_own_debug_lines_still_show() {
        use std::sync::{Arc, Mutex};
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_env_filter(filter(Some("trace")))
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "cloudify::relay", "ours");
            tracing::trace!(target: "tungstenite::handshake", "ticket=xyz");
        });
        let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(out.contains("ours"), "{out}");
        assert!(!out.contains("ticket=xyz"), "{out}");
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
