//! The compact deep-link token: base64url(version ‖ uuid ‖ qr_version ‖ tag[..16]);
//! version 2 (issued while `binding.code_ttl` is set) adds the issue minute before the tag.

use super::{Credential, Issue, connect_secret, expiry};
use crate::store::Instance;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

const FORMAT_VERSION: u8 = 1;
const RAW_LEN: usize = 1 + 16 + 4 + 16;
/// 37 bytes in unpadded base64url.
pub const TOKEN_LEN: usize = 50;
const STAMPED_VERSION: u8 = 2;
const STAMPED_RAW_LEN: usize = RAW_LEN + 4;
/// 41 bytes in unpadded base64url (Telegram allows 64).
pub const STAMPED_TOKEN_LEN: usize = 55;

/// The `start` payload for `https://t.me/<bot>?start=<token>`: 50 chars, `[A-Za-z0-9_-]`.
pub fn deep_link_token(inst: &Instance) -> String {
    let mut raw = Vec::with_capacity(RAW_LEN);
    raw.push(FORMAT_VERSION);
    raw.extend_from_slice(inst.id.as_bytes());
    raw.extend_from_slice(&inst.qr_version.to_be_bytes());
    raw.extend_from_slice(&connect_secret(inst)[..16]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The token to show now: version 1 when codes never expire, else version 2 stamped with
/// the current minute.
pub fn deep_link_token_at(inst: &Instance, issue: Issue) -> String {
    if !issue.expires() {
        return deep_link_token(inst);
    }
    let minute = expiry::minute(issue.now);
    let mut raw = Vec::with_capacity(STAMPED_RAW_LEN);
    raw.push(STAMPED_VERSION);
    raw.extend_from_slice(inst.id.as_bytes());
    raw.extend_from_slice(&inst.qr_version.to_be_bytes());
    raw.extend_from_slice(&minute.to_be_bytes());
    raw.extend_from_slice(&expiry::token_tag(inst, minute)[..16]);
    URL_SAFE_NO_PAD.encode(raw)
}

pub(super) fn parse(input: &str) -> Option<Credential> {
    if input.len() != TOKEN_LEN && input.len() != STAMPED_TOKEN_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(input).ok()?;
    let issued_min = match (raw.first()?, raw.len()) {
        (&FORMAT_VERSION, RAW_LEN) => None,
        (&STAMPED_VERSION, STAMPED_RAW_LEN) => {
            Some(u32::from_be_bytes(raw[21..25].try_into().ok()?))
        }
        _ => return None,
    };
    let instance_id = Uuid::from_slice(&raw[1..17]).ok()?;
    let qr_version = u32::from_be_bytes(raw[17..21].try_into().ok()?);
    let tag_at = raw.len() - 16;
    let tag: [u8; 16] = raw[tag_at..].try_into().ok()?;
    Some(Credential::Token {
        instance_id,
        qr_version,
        issued_min,
        tag,
    })
}
