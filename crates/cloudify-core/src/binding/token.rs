//! The compact deep-link token: base64url(version ‖ uuid ‖ qr_version ‖ tag[..16]).

use super::{Credential, connect_secret};
use crate::store::Instance;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

const FORMAT_VERSION: u8 = 1;
const RAW_LEN: usize = 1 + 16 + 4 + 16;
/// 37 bytes in unpadded base64url.
pub const TOKEN_LEN: usize = 50;

/// The `start` payload for `https://t.me/<bot>?start=<token>`: 50 chars, `[A-Za-z0-9_-]`.
pub fn deep_link_token(inst: &Instance) -> String {
    let mut raw = Vec::with_capacity(RAW_LEN);
    raw.push(FORMAT_VERSION);
    raw.extend_from_slice(inst.id.as_bytes());
    raw.extend_from_slice(&inst.qr_version.to_be_bytes());
    raw.extend_from_slice(&connect_secret(inst)[..16]);
    URL_SAFE_NO_PAD.encode(raw)
}

pub(super) fn parse(input: &str) -> Option<Credential> {
    if input.len() != TOKEN_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(input).ok()?;
    if raw.len() != RAW_LEN || raw[0] != FORMAT_VERSION {
        return None;
    }
    let instance_id = Uuid::from_slice(&raw[1..17]).ok()?;
    let qr_version = u32::from_be_bytes(raw[17..21].try_into().ok()?);
    let tag: [u8; 16] = raw[21..37].try_into().ok()?;
    Some(Credential::Token {
        instance_id,
        qr_version,
        tag,
    })
}
