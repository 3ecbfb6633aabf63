//! The update check (SPEC §8): at start and daily, `GET update_check.url` with the version,
//! the platform and an anonymous instance hash. A newer version (and an unexpired
//! promotion) is logged and shown in `/status`. Nothing else is sent; one setting turns it off.

use cloudify_core::{Config, SharedStore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

use cloudify_core::commands::UPDATE_NOTICE_SETTING as NOTICE_SETTING;

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Answer {
    latest: Option<String>,
    url: Option<String>,
    promotion: Option<Promotion>,
}

#[derive(Debug, Deserialize)]
struct Promotion {
    text: String,
    url: Option<String>,
    /// Unix seconds; a promotion without an expiry is not shown.
    expires_at: Option<i64>,
}

/// A hash that tells installations apart without saying anything about them.
fn anonymous_id(store: &SharedStore) -> String {
    let first = store
        .call_now(|s| s.instances())
        .ok()
        .and_then(|i| i.into_iter().next());
    let seed = first.map(|i| i.id.to_string()).unwrap_or_default();
    let digest = Sha256::digest(format!("cloudify-update-check/{seed}").as_bytes());
    hex::encode(&digest[..8])
}

/// `1.2.10` > `1.2.9`; anything unparsable is never "newer".
fn newer(latest: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.trim_start_matches('v')
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    };
    matches!((parse(latest), parse(ours)), (Some(a), Some(b)) if a > b)
}

pub async fn run(config: std::sync::Arc<Config>, store: SharedStore) {
    if !config.update_check.enabled {
        // A notice from before the check was turned off would never be refreshed.
        let _ = store.call(|s| s.delete_setting(NOTICE_SETTING)).await;
        return;
    }
    let id = anonymous_id(&store);
    let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        tick.tick().await;
        match check(&config, &id).await {
            Ok(notice) => {
                let r = match notice {
                    Some(n) => store.call(move |s| s.set_setting(NOTICE_SETTING, &n)).await,
                    None => store.call(|s| s.delete_setting(NOTICE_SETTING)).await,
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "could not store the update notice");
                }
            }
            Err(e) => tracing::debug!(error = %e, "update check failed (will try again tomorrow)"),
        }
    }
}

async fn check(config: &Config, id: &str) -> Result<Option<String>, String> {
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(p) = config.active_proxy() {
        b = b.proxy(reqwest::Proxy::all(p.expose()).map_err(|_| "bad proxy URL".to_string())?);
    }
    let client = b.build().map_err(|e| e.to_string())?;
    let version = env!("CARGO_PKG_VERSION");
    let platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    let answer: Answer = client
        .get(&config.update_check.url)
        .query(&[
            ("version", version),
            ("platform", platform.as_str()),
            ("instance", id),
        ])
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?
        .error_for_status()
        .map_err(|e| e.without_url().to_string())?
        .json()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let mut lines = Vec::new();
    if let Some(latest) = answer.latest.as_deref().filter(|l| newer(l, version)) {
        tracing::info!(latest, current = version, "a newer cloudify is available");
        let link = answer.url.map(|u| format!(" {u}")).unwrap_or_default();
        lines.push(format!("cloudify {latest} (you run {version}){link}"));
    }
    let now = crate::app::now_secs();
    if let Some(p) = answer
        .promotion
        .filter(|p| p.expires_at.is_some_and(|t| t > now))
    {
        let link = p.url.map(|u| format!(" {u}")).unwrap_or_default();
        lines.push(format!(
            "🎁 {}{link}",
            p.text.chars().take(200).collect::<String>()
        ));
    }
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::newer;

    #[test]
    fn version_order() {
        assert!(newer("0.2.0", "0.1.9"));
        assert!(newer("v1.10.0", "1.9.3"));
        assert!(!newer("0.1.0", "0.1.0"));
        assert!(!newer("garbage", "0.1.0"));
    }
}
