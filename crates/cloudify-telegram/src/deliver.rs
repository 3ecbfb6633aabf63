//! `send`, `edit` and `delete`: the Bot API calls for planned steps.
//!
//! Rules the outbox relies on:
//! * exactly the calls asked for: no retry loops and no sleeping on 429 (a `RetryAfter`
//!   goes back to the outbox). The one exception is Telegram refusing our HTML ("can't
//!   parse entities"): that call is repeated once as plain text, as the same logical call
//!   (Telegram checks entities before it counts a message against flood limits);
//! * a send of several messages (split text, text + album) paces its own calls one
//!   per-chat interval apart, since the outbox can only pace whole sends, and returns no
//!   earlier than the interval after its last call when rendering made it run late;
//! * a send that fails half way remembers how far it got, so the outbox's retry of the
//!   same envelope continues instead of repeating the parts already delivered.

use std::time::Duration;

use bytes::Bytes;
use cloudify_core::adapter::{ChatRef, DeliveryError, SentId};
use cloudify_core::identity::Platform;
use cloudify_core::output::Envelope;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardMarkup, InputFile, InputMedia, InputMediaPhoto, LinkPreviewOptions, MessageId,
    ParseMode,
};

use crate::bot::{Inner, PER_CHAT_INTERVAL};
use crate::errors::{delivery_error, is_parse_error};
use crate::plan::{Media, Part, Step, plan};
use crate::render::{Rendered, render};
use crate::resume::{Progress, resume_key};

pub(crate) const NO_PREVIEW: LinkPreviewOptions = LinkPreviewOptions {
    is_disabled: true,
    url: None,
    prefer_small_media: false,
    prefer_large_media: false,
    show_above_text: false,
};

/// Spaces the calls of one send. The gap runs from the end of the previous call (this is
/// called right after it returned): Telegram counts a call when it arrives, and a request
/// slowed on the way would otherwise arrive too close to the next. The outbox spaces the
/// next send the same way from this send's completion.
pub(crate) struct Pacer {
    interval: Duration,
    started: bool,
}

impl Pacer {
    pub(crate) fn new() -> Self {
        Self {
            interval: PER_CHAT_INTERVAL,
            started: false,
        }
    }

    pub(crate) async fn before_call(&mut self) {
        if self.started {
            tokio::time::sleep(self.interval).await;
        }
        self.started = true;
    }

    /// The plain-text repeat of a refused call: same logical call, no extra wait.
    pub(crate) fn repeat(&mut self) {
        self.started = true;
    }
}

pub(crate) fn chat_id(chat: &ChatRef) -> Result<ChatId, DeliveryError> {
    if chat.platform != Platform::Telegram {
        return Err(DeliveryError::Rejected(format!(
            "not a Telegram chat: {}",
            chat.platform
        )));
    }
    chat.chat_id
        .parse()
        .map(ChatId)
        .map_err(|_| DeliveryError::Rejected(format!("bad Telegram chat id {:?}", chat.chat_id)))
}

/// Sent ids: `"123"` for a text message, `"m123"` for a media message (edited by caption).
fn text_id(id: MessageId) -> SentId {
    id.0.to_string()
}

fn media_id(id: MessageId) -> SentId {
    format!("m{}", id.0)
}

pub(crate) fn parse_sent_id(id: &str) -> Result<(bool, MessageId), DeliveryError> {
    let (media, digits) = match id.strip_prefix('m') {
        Some(rest) => (true, rest),
        None => (false, id),
    };
    digits
        .parse()
        .map(|n| (media, MessageId(n)))
        .map_err(|_| DeliveryError::Rejected(format!("bad message id {id:?}")))
}

/// Where a failed step stopped: the call index within the step, and the error.
struct StepError {
    call: usize,
    error: DeliveryError,
}

impl Inner {
    pub(crate) fn fail(
        &self,
        chat: ChatId,
        method: &'static str,
        e: &RequestError,
    ) -> DeliveryError {
        let err = delivery_error(e, &self.redact);
        tracing::debug!(chat = chat.0, method, error = %err, "Bot API call failed");
        err
    }

    pub(crate) fn parse_refused(&self, chat: ChatId, method: &'static str, e: &RequestError) {
        tracing::warn!(chat = chat.0, method, error = %self.redact.describe(e), "Telegram refused our HTML; repeating as plain text");
    }

    pub(crate) async fn send(
        &self,
        chat: &ChatRef,
        env: &Envelope,
    ) -> Result<SentId, DeliveryError> {
        let id = chat_id(chat)?;
        let steps = plan(env, &self.format);
        if steps.is_empty() {
            return Err(DeliveryError::Rejected(
                "nothing to send: the output is empty".into(),
            ));
        }
        let key = resume_key(chat, env);
        let resumed = self
            .resume
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(&key);
        let (first_step, first_call, mut last) =
            resumed.map_or((0, 0, None), |p| (p.step, p.call, p.last));
        if first_step > 0 || first_call > 0 {
            tracing::debug!(
                chat = id.0,
                step = first_step,
                call = first_call,
                "resuming a half-delivered send"
            );
        }
        let mut pacer = Pacer::new();
        for (i, step) in steps.iter().enumerate().skip(first_step) {
            let skip = if i == first_step { first_call } else { 0 };
            match self.step(id, step, skip, &mut pacer, &mut last).await {
                Ok(()) => {}
                Err(StepError { call, error }) => {
                    if i > 0 || call > 0 {
                        let p = Progress {
                            step: i,
                            call,
                            last,
                            at: std::time::Instant::now(),
                        };
                        self.resume
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .put(key, p);
                    }
                    return Err(error);
                }
            }
        }
        last.ok_or_else(|| DeliveryError::Rejected("nothing was sent".into()))
    }

    /// Runs one step from call `skip` on, updating `last` after each delivered call.
    async fn step(
        &self,
        chat: ChatId,
        step: &Step,
        skip: usize,
        pacer: &mut Pacer,
        last: &mut Option<SentId>,
    ) -> Result<(), StepError> {
        let at = |call: usize| move |error: DeliveryError| StepError { call, error };
        match step {
            Step::Text {
                part,
                keyboard,
                silent,
            } => {
                let id = self
                    .send_text(chat, part, keyboard.as_ref(), *silent, pacer)
                    .await
                    .map_err(at(0))?;
                *last = Some(text_id(id));
            }
            Step::Media {
                media: Media::Photo(png),
                caption,
            } => {
                let id = self
                    .send_photo(chat, Bytes::from(png.clone()), caption.as_ref(), pacer)
                    .await
                    .map_err(at(0))?;
                *last = Some(media_id(id));
            }
            Step::Media {
                media: Media::Render(job),
                caption,
            } => {
                let rendered = render(job, self.render_cache.clone()).await;
                match rendered {
                    Rendered::Document(bytes, name) => {
                        let id = self
                            .send_document(chat, bytes, name, caption.as_ref(), pacer)
                            .await
                            .map_err(at(0))?;
                        *last = Some(media_id(id));
                    }
                    Rendered::Pages { photos, document } => {
                        if skip == 0 {
                            let id = self
                                .send_pages(chat, photos, caption.as_ref(), pacer)
                                .await
                                .map_err(at(0))?;
                            *last = Some(media_id(id));
                        }
                        if let Some((bytes, name)) = document {
                            let id = self
                                .send_document(chat, bytes, name, None, pacer)
                                .await
                                .map_err(at(1))?;
                            *last = Some(media_id(id));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_text(
        &self,
        chat: ChatId,
        part: &Part,
        keyboard: Option<&InlineKeyboardMarkup>,
        silent: bool,
        pacer: &mut Pacer,
    ) -> Result<MessageId, DeliveryError> {
        let build = |text: &str, html: bool| {
            let mut req = self
                .bot
                .send_message(chat, text)
                .link_preview_options(NO_PREVIEW)
                .disable_notification(silent);
            if html {
                req = req.parse_mode(ParseMode::Html);
            }
            if let Some(kb) = keyboard {
                req = req.reply_markup(kb.clone());
            }
            req
        };
        pacer.before_call().await;
        match build(&part.html, true).await {
            Ok(m) => Ok(m.id),
            Err(e) if is_parse_error(&e) => {
                self.parse_refused(chat, "sendMessage", &e);
                pacer.repeat();
                build(&part.plain, false)
                    .await
                    .map(|m| m.id)
                    .map_err(|e| self.fail(chat, "sendMessage", &e))
            }
            Err(e) => Err(self.fail(chat, "sendMessage", &e)),
        }
    }

    async fn send_photo(
        &self,
        chat: ChatId,
        png: Bytes,
        caption: Option<&Part>,
        pacer: &mut Pacer,
    ) -> Result<MessageId, DeliveryError> {
        pacer.before_call().await;
        let file = || InputFile::memory(png.clone()).file_name("image.png");
        let mut req = self.bot.send_photo(chat, file());
        if let Some(c) = caption {
            req = req.caption(&c.html).parse_mode(ParseMode::Html);
        }
        match req.await {
            Ok(m) => Ok(m.id),
            Err(e) if is_parse_error(&e) && caption.is_some() => {
                self.parse_refused(chat, "sendPhoto", &e);
                pacer.repeat();
                let req = self
                    .bot
                    .send_photo(chat, file())
                    .caption(caption.map_or("", |c| c.plain.as_str()));
                req.await
                    .map(|m| m.id)
                    .map_err(|e| self.fail(chat, "sendPhoto", &e))
            }
            Err(e) => Err(self.fail(chat, "sendPhoto", &e)),
        }
    }

    /// One page → sendPhoto; several → one album with the caption on the first page.
    /// Returns the id of the message carrying the caption.
    async fn send_pages(
        &self,
        chat: ChatId,
        photos: Vec<Vec<u8>>,
        caption: Option<&Part>,
        pacer: &mut Pacer,
    ) -> Result<MessageId, DeliveryError> {
        let photos: Vec<Bytes> = photos.into_iter().map(Bytes::from).collect();
        if let [one] = photos.as_slice() {
            return self.send_photo(chat, one.clone(), caption, pacer).await;
        }
        let album = |html: bool| -> Vec<InputMedia> {
            photos
                .iter()
                .enumerate()
                .map(|(i, png)| {
                    let file =
                        InputFile::memory(png.clone()).file_name(format!("page-{}.png", i + 1));
                    let mut item = InputMediaPhoto::new(file);
                    if let (0, Some(c)) = (i, caption) {
                        item = if html {
                            item.caption(&c.html).parse_mode(ParseMode::Html)
                        } else {
                            item.caption(&c.plain)
                        };
                    }
                    InputMedia::Photo(item)
                })
                .collect()
        };
        pacer.before_call().await;
        let sent = match self.bot.send_media_group(chat, album(true)).await {
            Err(e) if is_parse_error(&e) => {
                self.parse_refused(chat, "sendMediaGroup", &e);
                pacer.repeat();
                self.bot.send_media_group(chat, album(false)).await
            }
            other => other,
        };
        let messages = sent.map_err(|e| self.fail(chat, "sendMediaGroup", &e))?;
        messages
            .first()
            .map(|m| m.id)
            .ok_or_else(|| DeliveryError::Transient("empty album answer".into()))
    }

    async fn send_document(
        &self,
        chat: ChatId,
        bytes: Vec<u8>,
        name: String,
        caption: Option<&Part>,
        pacer: &mut Pacer,
    ) -> Result<MessageId, DeliveryError> {
        pacer.before_call().await;
        let bytes = Bytes::from(bytes);
        let file = || InputFile::memory(bytes.clone()).file_name(name.clone());
        let mut req = self.bot.send_document(chat, file());
        if let Some(c) = caption {
            req = req.caption(&c.html).parse_mode(ParseMode::Html);
        }
        match req.await {
            Ok(m) => Ok(m.id),
            Err(e) if is_parse_error(&e) && caption.is_some() => {
                self.parse_refused(chat, "sendDocument", &e);
                pacer.repeat();
                let req = self
                    .bot
                    .send_document(chat, file())
                    .caption(caption.map_or("", |c| c.plain.as_str()));
                req.await
                    .map(|m| m.id)
                    .map_err(|e| self.fail(chat, "sendDocument", &e))
            }
            Err(e) => Err(self.fail(chat, "sendDocument", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_ids_round_trip() {
        assert_eq!(
            parse_sent_id(&text_id(MessageId(42))).ok(),
            Some((false, MessageId(42)))
        );
        assert_eq!(
            parse_sent_id(&media_id(MessageId(7))).ok(),
            Some((true, MessageId(7)))
        );
        assert!(matches!(
            parse_sent_id("x1"),
            Err(DeliveryError::Rejected(_))
        ));
    }

    #[test]
    fn chat_ids() {
        let ok = ChatRef {
            platform: Platform::Telegram,
            chat_id: "-100123".into(),
            is_group: true,
        };
        assert_eq!(chat_id(&ok).ok(), Some(ChatId(-100_123)));
        let dt = ChatRef {
            platform: Platform::DingTalk,
            chat_id: "1".into(),
            is_group: false,
        };
        assert!(matches!(chat_id(&dt), Err(DeliveryError::Rejected(_))));
    }
}
