//! The long form `base64url(JSON)` produced by other tools.
//! `version` is the instance's `qr_version`; `connect_secret` is the hex HMAC tag.

use super::{Credential, Issue, connect_secret, expiry};
use crate::store::Instance;
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongPayload {
    pub instance_id: Uuid,
    pub instance_name: String,
    pub connect_secret: String,
    pub local_endpoint: String,
    pub created_at: i64,
    pub version: u32,
}

pub fn long_payload(inst: &Instance, local_endpoint: &str, created_at: i64) -> String {
    encode(inst, local_endpoint, created_at, connect_secret(inst))
}

/// The long form to show now: with `code_ttl` set, `created_at` is signed too.
pub fn long_payload_at(inst: &Instance, local_endpoint: &str, issue: Issue) -> String {
    let secret = if issue.expires() {
        expiry::long_tag(inst, issue.now)
    } else {
        connect_secret(inst)
    };
    encode(inst, local_endpoint, issue.now, secret)
}

fn encode(inst: &Instance, local_endpoint: &str, created_at: i64, secret: [u8; 32]) -> String {
    let p = LongPayload {
        instance_id: inst.id,
        instance_name: inst.name.clone(),
        connect_secret: hex::encode(secret),
        local_endpoint: local_endpoint.into(),
        created_at,
        version: inst.qr_version,
    };
    // Serializing a struct of strings and integers cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap_or_default())
}

pub(super) fn parse(input: &str) -> Option<Credential> {
    if input.len() > 4096 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD
        .decode(input)
        .or_else(|_| URL_SAFE.decode(input))
        .ok()?;
    let p: LongPayload = serde_json::from_slice(&raw).ok()?;
    let tag: [u8; 32] = hex::decode(&p.connect_secret).ok()?.try_into().ok()?;
    Some(Credential::Long {
        instance_id: p.instance_id,
        qr_version: p.version,
        created_at: p.created_at,
        tag,
    })
}
