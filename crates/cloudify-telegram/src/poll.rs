//! Long polling: getUpdates in a loop, each update turned into an [`Incoming`].
//!
//! An update is confirmed (by the next getUpdates offset) only after it was handed to the
//! sink, so a crash redelivers it; `update_id` lets the router drop the duplicate. Errors
//! back off exponentially with jitter up to a minute; updates the bot cannot use are
//! skipped, never fatal. Only a revoked token ends the loop.

use std::sync::Arc;
use std::time::Duration;

use cloudify_core::adapter::{
    AdapterError, FetchFile, Fetched, Incoming, IncomingKind, IncomingSink, RemoteFile,
};
use futures::StreamExt;
use rand::Rng;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, CallbackQuery, FileId, UpdateKind};
use teloxide::{ApiError, RequestError};

use crate::bot::Inner;
use crate::commands;
use crate::updates::{MAX_DOWNLOAD_BYTES, Origin, clean_file_name, normalize_text, too_large};

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 15 s, each drawn from the
/// upper half of its range so many bots do not retry in lockstep. The cap bounds how long a
/// user's first message after an outage waits for the next poll; one request every 8–15 s
/// during an outage costs Telegram nothing.
struct Backoff {
    failures: u32,
}

impl Backoff {
    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(15);

    fn next(&mut self) -> Duration {
        let ceiling = Self::BASE
            .saturating_mul(1 << self.failures.min(6))
            .min(Self::CAP);
        self.failures = self.failures.saturating_add(1);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(15_000);
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Sleeps unless the sink closes first; `false` means stop.
async fn pause(sink: &IncomingSink, d: Duration) -> bool {
    tokio::select! {
        () = sink.closed() => false,
        () = tokio::time::sleep(d) => true,
    }
}

const COMMANDS_RETRY: Duration = Duration::from_secs(300);

pub(crate) async fn run(inner: &Inner, sink: IncomingSink) -> Result<(), AdapterError> {
    let mut backoff = Backoff { failures: 0 };
    loop {
        match inner.refresh_me().await {
            Ok(me) => {
                tracing::info!(username = ?me.username, "Telegram bot connected");
                break;
            }
            Err(crate::TelegramError::Unauthorized) => {
                return Err(AdapterError::Fatal(
                    "the Telegram Bot API refused the token (telegram.token)".into(),
                ));
            }
            Err(e) => {
                let wait = backoff.next();
                tracing::warn!(error = %e, retry_in = ?wait, "getMe failed");
                if !pause(&sink, wait).await {
                    return Ok(());
                }
            }
        }
    }
    backoff.reset();
    let mut commands_due = Some(tokio::time::Instant::now());
    let mut offset: i32 = 0;
    let timeout = u32::try_from(inner.poll_timeout.as_secs()).unwrap_or(25);
    loop {
        if commands_due.is_some_and(|at| at <= tokio::time::Instant::now()) {
            commands_due = (!commands::register(&inner.bot, &inner.commands, &inner.redact).await)
                .then(|| tokio::time::Instant::now() + COMMANDS_RETRY);
        }
        let req = inner
            .poll_bot
            .get_updates()
            .offset(offset)
            .timeout(timeout)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let result = tokio::select! {
            () = sink.closed() => return Ok(()),
            r = req.send() => r,
        };
        // One undecodable update must not fail its whole batch forever (see `salvage`).
        let result = result.or_else(|e| crate::salvage::recover(e, &mut offset));
        let updates = match result {
            Ok(updates) => {
                backoff.reset();
                updates
            }
            Err(RequestError::Api(ApiError::InvalidToken)) => {
                return Err(AdapterError::Fatal(
                    "the Telegram Bot API refused the token (telegram.token)".into(),
                ));
            }
            Err(RequestError::RetryAfter(s)) => {
                if !pause(&sink, s.duration()).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => {
                let wait = backoff.next();
                let conflict =
                    matches!(e, RequestError::Api(ApiError::TerminatedByOtherGetUpdates));
                if conflict {
                    tracing::error!(retry_in = ?wait, "another process polls this bot (409 Conflict): only one may run");
                } else {
                    tracing::warn!(error = %inner.redact.describe(&e), retry_in = ?wait, "getUpdates failed");
                }
                if !pause(&sink, wait).await {
                    return Ok(());
                }
                continue;
            }
        };
        for update in updates {
            offset = offset.max(
                i32::try_from(update.id.0)
                    .unwrap_or(i32::MAX)
                    .saturating_add(1),
            );
            let Some(incoming) = convert(inner, update).await else {
                continue;
            };
            if sink.send(incoming).await.is_err() {
                return Ok(());
            }
        }
    }
}

async fn convert(inner: &Inner, update: Update) -> Option<Incoming> {
    let update_id = update.id.0;
    match update.kind {
        UpdateKind::Message(msg) => message(inner, update_id, &msg).await,
        UpdateKind::CallbackQuery(q) => callback(inner, update_id, &q).await,
        UpdateKind::Error(_) => {
            tracing::warn!(update_id, "skipping an update teloxide could not parse");
            None
        }
        _ => {
            tracing::debug!(update_id, "skipping an update kind the bot does not use");
            None
        }
    }
}

async fn callback(inner: &Inner, update_id: u32, q: &CallbackQuery) -> Option<Incoming> {
    // Answer first: the client shows a spinner until then, whatever the command does.
    if let Err(e) = inner.bot.answer_callback_query(q.id.clone()).await {
        tracing::warn!(update_id, error = %inner.redact.describe(&e), "answerCallbackQuery failed");
    }
    let data = q.data.as_deref().filter(|d| !d.is_empty())?;
    let chat = q
        .message
        .as_ref()
        .map(teloxide::types::MaybeInaccessibleMessage::chat);
    Some(
        Origin::new(update_id, &q.from, chat).incoming(IncomingKind::Button {
            command: data.to_owned(),
        }),
    )
}

async fn message(inner: &Inner, update_id: u32, msg: &Message) -> Option<Incoming> {
    let from = msg.from.as_ref().filter(|u| !u.is_bot)?;
    if msg.chat.is_channel() {
        return None;
    }
    let origin = Origin::new(update_id, from, Some(&msg.chat));
    if let Some(text) = msg.text() {
        let text = normalize_text(text, inner.username().as_deref(), origin.chat.is_group)?;
        return Some(origin.incoming(IncomingKind::Text(text)));
    }
    let caption = msg.caption().map(str::to_owned);
    let (file_id, size, name, mime) = if let Some(sizes) = msg.photo() {
        // Telegram lists sizes smallest first; take the largest.
        let best = sizes
            .iter()
            .max_by_key(|p| u64::from(p.width) * u64::from(p.height))?;
        let name = format!("photo_{}.jpg", best.file.unique_id.0);
        (
            best.file.id.clone(),
            best.file.size,
            name,
            "image/jpeg".to_owned(),
        )
    } else if let Some(doc) = msg.document() {
        let name = clean_file_name(doc.file_name.as_deref(), "document");
        let mime = doc.mime_type.as_ref().map_or_else(
            || "application/octet-stream".to_owned(),
            ToString::to_string,
        );
        (doc.file.id.clone(), doc.file.size, name, mime)
    } else {
        tracing::debug!(
            update_id,
            "skipping a message that is neither text, photo nor document"
        );
        return None;
    };
    if u64::from(size) > MAX_DOWNLOAD_BYTES {
        return Some(origin.incoming(too_large(&name, u64::from(size))));
    }
    // Not downloaded here: the router fetches it once it knows the sender is bound.
    let file = TelegramFile {
        bot: inner.bot.clone(),
        redact: inner.redact.clone(),
        file_id,
        mime,
    };
    Some(origin.incoming(IncomingKind::Remote {
        name,
        caption,
        file: RemoteFile(Arc::new(file)),
    }))
}

/// A user's photo or document at Telegram, downloaded when the router asks.
struct TelegramFile {
    bot: teloxide::Bot,
    redact: crate::errors::Redactor,
    file_id: FileId,
    mime: String,
}

#[async_trait::async_trait]
impl FetchFile for TelegramFile {
    async fn fetch(&self) -> Result<Fetched, String> {
        match download(&self.bot, &self.redact, &self.file_id).await {
            Ok(bytes) => Ok(Fetched::File {
                mime: self.mime.clone(),
                bytes,
            }),
            Err(Failure::TooLarge(size)) => Ok(Fetched::TooLarge(size)),
            Err(Failure::Other(error)) => Err(error),
        }
    }
}

enum Failure {
    TooLarge(u64),
    Other(String),
}

/// getFile, then the file itself, refusing more than Telegram lets bots download.
async fn download(
    bot: &teloxide::Bot,
    redact: &crate::errors::Redactor,
    file_id: &FileId,
) -> Result<Vec<u8>, Failure> {
    const ATTEMPTS: u32 = 3;
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        }
        let file = match bot.get_file(file_id.clone()).await {
            Ok(f) => f,
            Err(RequestError::Api(ApiError::Unknown(d))) if d.contains("file is too big") => {
                return Err(Failure::TooLarge(MAX_DOWNLOAD_BYTES + 1));
            }
            Err(e @ RequestError::Api(_)) => return Err(Failure::Other(redact.describe(&e))),
            Err(e) => {
                last = redact.describe(&e);
                continue;
            }
        };
        if u64::from(file.meta.size) > MAX_DOWNLOAD_BYTES {
            return Err(Failure::TooLarge(u64::from(file.meta.size)));
        }
        let mut stream = bot.download_file_stream(&file.path);
        let mut bytes = Vec::with_capacity(usize::try_from(file.meta.size).unwrap_or(0));
        let mut broken = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    bytes.extend_from_slice(&c);
                    if bytes.len() as u64 > MAX_DOWNLOAD_BYTES {
                        return Err(Failure::TooLarge(bytes.len() as u64));
                    }
                }
                Err(e) => {
                    // reqwest's message carries the file URL, token included: drop it.
                    broken = Some(redact.clean(&e.without_url().to_string()));
                    break;
                }
            }
        }
        match broken {
            None => return Ok(bytes),
            Some(e) => last = e,
        }
    }
    Err(Failure::Other(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff { failures: 0 };
        let first = b.next();
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
        for _ in 0..20 {
            assert!(b.next() <= Duration::from_secs(15));
        }
        let capped = b.next();
        assert!(capped >= Duration::from_millis(7500), "{capped:?}");
        b.reset();
        assert!(b.next() <= Duration::from_secs(1));
    }
}
