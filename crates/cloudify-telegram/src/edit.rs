//! `edit` and `delete`: one call each (plus the plain-text repeat of refused HTML).

use cloudify_core::adapter::{ChatRef, DeliveryError, SentId};
use cloudify_core::output::Envelope;
use teloxide::prelude::*;
use teloxide::types::{MessageId, ParseMode};
use teloxide::{ApiError, RequestError};

use crate::bot::Inner;
use crate::deliver::{NO_PREVIEW, Pacer, chat_id, parse_sent_id};
use crate::errors::is_parse_error;
use crate::plan::{Part, single};

impl Inner {
    pub(crate) async fn edit(
        &self,
        chat: &ChatRef,
        id: &SentId,
        env: &Envelope,
    ) -> Result<(), DeliveryError> {
        let chat = chat_id(chat)?;
        let (media, message) = parse_sent_id(id)?;
        let mut pacer = Pacer::new();
        pacer.before_call().await;
        let result = if media {
            self.edit_caption(chat, message, env, &mut pacer).await
        } else {
            self.edit_text(chat, message, env, &mut pacer).await
        };
        match result {
            Ok(()) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(self.fail(chat, "editMessage", &e)),
        }
    }

    async fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        env: &Envelope,
        pacer: &mut Pacer,
    ) -> Result<(), RequestError> {
        let (part, keyboard) = single(env, &self.format, self.format.max_text);
        let part = non_empty(part);
        let build = |text: &str, html: bool| {
            let mut req = self
                .bot
                .edit_message_text(chat, message, text)
                .link_preview_options(NO_PREVIEW);
            if html {
                req = req.parse_mode(ParseMode::Html);
            }
            if let Some(kb) = &keyboard {
                req = req.reply_markup(kb.clone());
            }
            req
        };
        match build(&part.html, true).await {
            Err(e) if is_parse_error(&e) => {
                self.parse_refused(chat, "editMessageText", &e);
                pacer.repeat();
                build(&part.plain, false).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    async fn edit_caption(
        &self,
        chat: ChatId,
        message: MessageId,
        env: &Envelope,
        pacer: &mut Pacer,
    ) -> Result<(), RequestError> {
        let (part, keyboard) = single(env, &self.format, self.format.max_caption);
        let build = |text: &str, html: bool| {
            let mut req = self.bot.edit_message_caption(chat, message).caption(text);
            if html {
                req = req.parse_mode(ParseMode::Html);
            }
            if let Some(kb) = &keyboard {
                req = req.reply_markup(kb.clone());
            }
            req
        };
        match build(&part.html, true).await {
            Err(e) if is_parse_error(&e) => {
                self.parse_refused(chat, "editMessageCaption", &e);
                pacer.repeat();
                build(&part.plain, false).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    pub(crate) async fn delete(&self, chat: &ChatRef, id: &SentId) -> Result<(), DeliveryError> {
        let chat = chat_id(chat)?;
        let (_, message) = parse_sent_id(id)?;
        match self.bot.delete_message(chat, message).await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => Ok(()),
            Err(e) => Err(self.fail(chat, "deleteMessage", &e)),
        }
    }
}

/// Telegram refuses an empty text; an edit to nothing shows an ellipsis instead.
fn non_empty(part: Part) -> Part {
    if part.plain.trim().is_empty() {
        Part {
            html: "…".into(),
            plain: "…".into(),
        }
    } else {
        part
    }
}
