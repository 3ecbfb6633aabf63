//! Bot API errors → [`DeliveryError`], with the bot token scrubbed from every message.
//!
//! teloxide puts the token in request URLs (`/bot<TOKEN>/sendMessage`) and only redacts it
//! from reqwest errors when it looks like a standard token; we scrub every string we log or
//! return ourselves as well.

use std::sync::Arc;

use cloudify_core::adapter::DeliveryError;
use teloxide::{ApiError, RequestError};

/// Removes a bot token (and its secret half on its own) from text.
#[derive(Clone)]
pub(crate) struct Redactor {
    token: Arc<str>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(***)")
    }
}

impl Redactor {
    pub(crate) fn new(token: &str) -> Self {
        Self {
            token: Arc::from(token),
        }
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if self.token.is_empty() {
            return out;
        }
        out = out.replace(&*self.token, "***");
        // The secret half alone is just as sensitive (URL-encoded forms split at ':').
        if let Some((_, secret)) = self.token.split_once(':')
            && secret.len() >= 8
        {
            out = out.replace(secret, "***");
        }
        out
    }

    /// A request error as text safe for logs and error values.
    pub(crate) fn describe(&self, e: &RequestError) -> String {
        let text = match e {
            // The raw body can be a whole HTML error page: say what it was, not all of it.
            RequestError::InvalidJson { raw, .. } => {
                let head: String = raw.chars().take(120).collect();
                format!("unexpected response from the Bot API: {head}")
            }
            RequestError::Network(err) => network_text(err),
            other => other.to_string(),
        };
        self.clean(&text)
    }
}

/// A reqwest error without its URL, plus what kind of failure it was.
fn network_text(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect error"
    } else if err.is_body() || err.is_decode() {
        "broken response"
    } else {
        "network error"
    };
    let mut msg = kind.to_owned();
    let mut source = std::error::Error::source(err);
    // The chain has the useful detail ("connection refused"); the top level has the URL.
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// What the outbox should do with a failed call.
pub(crate) fn delivery_error(e: &RequestError, r: &Redactor) -> DeliveryError {
    let text = || r.describe(e);
    match e {
        RequestError::RetryAfter(s) => DeliveryError::RetryAfter(s.duration()),
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            DeliveryError::Transient(text())
        }
        RequestError::MigrateToChatId(_) => DeliveryError::Unreachable(text()),
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::GroupDeactivated
            | ApiError::NotEnoughRightsToPostMessages => DeliveryError::Unreachable(text()),
            // A revoked token or a second poller: nothing wrong with the message itself.
            ApiError::InvalidToken | ApiError::TerminatedByOtherGetUpdates => {
                DeliveryError::Transient(text())
            }
            ApiError::Unknown(desc) => unknown(desc, text()),
            _ => DeliveryError::Rejected(text()),
        },
    }
}

/// Descriptions teloxide has no variant for, classified by Telegram's prefixes.
fn unknown(desc: &str, text: String) -> DeliveryError {
    if desc.starts_with("Forbidden") {
        DeliveryError::Unreachable(text)
    } else if desc.starts_with("Too Many Requests") {
        // A 429 without `retry_after`: Telegram's usual minimum.
        DeliveryError::RetryAfter(std::time::Duration::from_secs(1))
    } else if desc.starts_with("Bad Request")
        || desc.starts_with("Not Found")
        || desc.starts_with("Unauthorized")
    {
        DeliveryError::Rejected(text)
    } else {
        // "Internal Server Error", "Bad Gateway", "Gateway Timeout", …
        DeliveryError::Transient(text)
    }
}

/// Telegram refused the HTML (can't parse entities): the call is worth repeating as plain text.
pub(crate) fn is_parse_error(e: &RequestError) -> bool {
    matches!(e, RequestError::Api(ApiError::CantParseEntities(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    const TOKEN: &str = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678";

    #[test]
    fn mapping() {
        let r = Redactor::new(TOKEN);
        let api = |e: ApiError| delivery_error(&RequestError::Api(e), &r);
        assert_eq!(
            delivery_error(&RequestError::RetryAfter(Seconds::from_seconds(7)), &r),
            DeliveryError::RetryAfter(std::time::Duration::from_secs(7))
        );
        assert!(matches!(
            api(ApiError::BotBlocked),
            DeliveryError::Unreachable(_)
        ));
        assert!(matches!(
            api(ApiError::UserDeactivated),
            DeliveryError::Unreachable(_)
        ));
        assert!(matches!(
            api(ApiError::ChatNotFound),
            DeliveryError::Unreachable(_)
        ));
        assert!(matches!(
            api(ApiError::MessageIsTooLong),
            DeliveryError::Rejected(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown("Internal Server Error".into())),
            DeliveryError::Transient(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown(
                "Forbidden: bot is not a member of the group chat".into()
            )),
            DeliveryError::Unreachable(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown(
                "Bad Request: PHOTO_INVALID_DIMENSIONS".into()
            )),
            DeliveryError::Rejected(_)
        ));
        let raw = format!("<html>502 at /bot{TOKEN}/sendMessage</html>");
        let e = RequestError::InvalidJson {
            source: Arc::new(serde_json::from_str::<u8>("x").unwrap_err()),
            raw: raw.into(),
        };
        let DeliveryError::Transient(text) = delivery_error(&e, &r) else {
            panic!()
        };
        assert!(!text.contains("ABCdef"), "{text}");
    }

    #[test]
    fn redaction_covers_token_and_secret() {
        let r = Redactor::new(TOKEN);
        let s = r.clean(&format!("GET /bot{TOKEN}/x and {}", &TOKEN[7..]));
        assert_eq!(s, "GET /bot***/x and ***");
    }
}
