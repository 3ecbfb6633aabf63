//! Files arrive as [`IncomingKind::Remote`] and are downloaded here, after the binding check.

use super::Router;
use crate::adapter::{Fetched, Incoming, IncomingKind};
use crate::i18n::{self, Lang};
use crate::output::Output;
use std::borrow::Cow;

/// The update with its file downloaded (`Remote` → `File`); other kinds unchanged. `None`
/// when there is nothing to forward (the user was told, or the failure logged).
pub(super) async fn fetch_attachment<'a>(
    router: &Router,
    inc: &'a Incoming,
    lang: Lang,
) -> Option<Cow<'a, IncomingKind>> {
    let IncomingKind::Remote {
        name,
        caption,
        file,
    } = &inc.kind
    else {
        return Some(Cow::Borrowed(&inc.kind));
    };
    match file.0.fetch().await {
        Ok(Fetched::File { mime, bytes }) => Some(Cow::Owned(IncomingKind::File {
            name: name.clone(),
            mime,
            bytes,
            caption: caption.clone(),
        })),
        Ok(Fetched::TooLarge(size)) => {
            router.reply(
                &inc.chat,
                Output::plain(i18n::file_too_large(lang, name, size)),
            );
            None
        }
        Err(error) => {
            tracing::error!(update = %inc.update_id, file = %name, %error, "could not download a user's file; skipped");
            None
        }
    }
}
