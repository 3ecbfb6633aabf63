//! Telegram updates → [`Incoming`]: text and commands, button presses, photos and documents.

use cloudify_core::adapter::{ChatRef, Incoming, IncomingKind};
use cloudify_core::identity::{Platform, UserKey};
use teloxide::types::{Chat, User};

/// Bots may download files up to 20 MB through getFile.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// What a user's file that cannot be downloaded (over [`MAX_DOWNLOAD_BYTES`]) arrives as:
/// `IncomingKind::Text("/file_too_large <size in bytes> <file name>")`, so the router can
/// answer it like a command; the adapter writes no user-facing text itself.
pub const FILE_TOO_LARGE_COMMAND: &str = "/file_too_large";

/// Who sent something and where, shared by every kind of incoming.
pub(crate) struct Origin {
    pub update_id: String,
    pub user: UserKey,
    pub display_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
    pub chat: ChatRef,
}

impl Origin {
    pub(crate) fn new(update_id: u32, from: &User, chat: Option<&Chat>) -> Self {
        let user = UserKey::new(Platform::Telegram, from.id.0.to_string());
        let chat = match chat {
            Some(c) => ChatRef {
                platform: Platform::Telegram,
                chat_id: c.id.0.to_string(),
                is_group: !c.is_private(),
            },
            None => ChatRef::private(&user),
        };
        Self {
            update_id: update_id.to_string(),
            display_name: from.full_name(),
            username: from.username.clone(),
            language_code: from.language_code.clone(),
            user,
            chat,
        }
    }

    pub(crate) fn incoming(self, kind: IncomingKind) -> Incoming {
        Incoming {
            update_id: self.update_id,
            user: self.user,
            display_name: self.display_name,
            username: self.username,
            language_code: self.language_code,
            chat: self.chat,
            kind,
        }
    }
}

/// A command keeps its `/`; `/cmd@this_bot args` becomes `/cmd args`. In groups, a command
/// addressed to another bot is not ours: `None`.
pub(crate) fn normalize_text(
    text: &str,
    bot_username: Option<&str>,
    is_group: bool,
) -> Option<String> {
    if !text.starts_with('/') {
        return Some(text.to_owned());
    }
    let head_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (head, rest) = text.split_at(head_end);
    let Some((cmd, target)) = head.split_once('@') else {
        return Some(text.to_owned());
    };
    let ours = bot_username.is_none_or(|me| me.eq_ignore_ascii_case(target));
    if !ours && is_group {
        return None;
    }
    Some(format!("{cmd}{rest}"))
}

/// The text a refused file arrives as.
pub(crate) fn too_large(name: &str, size: u64) -> IncomingKind {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    IncomingKind::Text(format!("{FILE_TOO_LARGE_COMMAND} {size} {name}"))
}

/// A file name without path parts or control characters.
pub(crate) fn clean_file_name(name: Option<&str>, fallback: &str) -> String {
    let base = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or("");
    let base: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        fallback.to_owned()
    } else {
        base.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_lose_only_our_mention() {
        let me = Some("cloudify_bot");
        assert_eq!(
            normalize_text("/status@Cloudify_Bot", me, true).as_deref(),
            Some("/status")
        );
        assert_eq!(
            normalize_text("/switch@cloudify_bot web app", me, true).as_deref(),
            Some("/switch web app")
        );
        assert_eq!(normalize_text("/help@other_bot", me, true), None);
        assert_eq!(
            normalize_text("/help@other_bot", me, false).as_deref(),
            Some("/help")
        );
        assert_eq!(
            normalize_text("mail me@x.y /now", me, true).as_deref(),
            Some("mail me@x.y /now")
        );
        assert_eq!(
            normalize_text("/start abc@def", me, false).as_deref(),
            Some("/start abc@def")
        );
    }

    #[test]
    fn file_names() {
        assert_eq!(clean_file_name(Some("../../etc/passwd"), "f"), "passwd");
        assert_eq!(clean_file_name(Some("a\u{0}b.txt"), "f"), "ab.txt");
        assert_eq!(clean_file_name(Some(".."), "f"), "f");
        assert_eq!(clean_file_name(None, "document"), "document");
        assert_eq!(
            too_large("big\n.zip", 30),
            IncomingKind::Text("/file_too_large 30 big.zip".into())
        );
    }
}
