//! Binding credentials of SPEC §3, all HMAC-SHA256 over (domain label, instance id,
//! qr_version) with the instance's key, all compared in constant time:
//!
//! * the compact deep-link token for `t.me/<bot>?start=<token>` (50 chars of `[A-Za-z0-9_-]`);
//! * the 8-character DingTalk code (Crockford base32), redeemed with `/bind <code>`;
//! * the long form `base64url(JSON)` that other tools produce.
//!
//! Bumping `qr_version` (`/reset-qr`) invalidates every credential issued before.

mod code;
mod limiter;
mod long_form;
mod token;

pub use code::{dingtalk_code, normalize_code};
pub use limiter::BindLimiter;
pub use long_form::{LongPayload, long_payload};
pub use token::deep_link_token;

use crate::store::Instance;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;
use uuid::Uuid;

const TOKEN_DOMAIN: &[u8] = b"cloudify/bind-token/v1";
const CODE_DOMAIN: &[u8] = b"cloudify/bind-code/v1";

/// Why a credential was refused. Users see one sentence for all of these (no oracle);
/// logs get the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BindError {
    #[error("not a binding code")]
    Malformed,
    #[error("no such instance")]
    UnknownInstance,
    #[error("the code was reset (stale qr_version)")]
    Stale,
    #[error("signature mismatch")]
    BadSignature,
}

/// A parsed, not yet verified, credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token {
        instance_id: Uuid,
        qr_version: u32,
        tag: [u8; 16],
    },
    Code(String),
    Long {
        instance_id: Uuid,
        qr_version: u32,
        tag: [u8; 32],
    },
}

fn mac(domain: &[u8], inst: &Instance, qr_version: u32) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail for a 32-byte key.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&inst.key.0) else {
        return [0; 32];
    };
    m.update(domain);
    m.update(&[0]);
    m.update(inst.id.as_bytes());
    m.update(&qr_version.to_be_bytes());
    m.finalize().into_bytes().into()
}

/// Full tag for the long form's `connect_secret` (hex) and, truncated, the deep-link token.
pub fn connect_secret(inst: &Instance) -> [u8; 32] {
    mac(TOKEN_DOMAIN, inst, inst.qr_version)
}

/// Parses what a user sent after `/start` or `/bind`.
pub fn parse(input: &str) -> Result<Credential, BindError> {
    let input = input.trim();
    if let Some(c) = token::parse(input) {
        return Ok(c);
    }
    if let Some(code) = normalize_code(input) {
        return Ok(Credential::Code(code));
    }
    long_form::parse(input).ok_or(BindError::Malformed)
}

/// Checks a credential against the known instances; returns the instance it binds to.
pub fn verify(cred: &Credential, instances: &[Instance]) -> Result<Uuid, BindError> {
    match cred {
        Credential::Token {
            instance_id,
            qr_version,
            tag,
        } => {
            let inst = find(instances, *instance_id)?;
            check_version(inst, *qr_version)?;
            let expected = connect_secret(inst);
            ct(&expected[..16], tag)
                .then_some(inst.id)
                .ok_or(BindError::BadSignature)
        }
        Credential::Long {
            instance_id,
            qr_version,
            tag,
        } => {
            let inst = find(instances, *instance_id)?;
            check_version(inst, *qr_version)?;
            ct(&connect_secret(inst), tag)
                .then_some(inst.id)
                .ok_or(BindError::BadSignature)
        }
        Credential::Code(code) => {
            // A code carries no instance id: compare against every instance, all of them,
            // so timing does not reveal which one matched.
            let mut found = None;
            for inst in instances {
                if ct(dingtalk_code(inst).as_bytes(), code.as_bytes()) {
                    found = Some(inst.id);
                }
            }
            found.ok_or(BindError::BadSignature)
        }
    }
}

fn find(instances: &[Instance], id: Uuid) -> Result<&Instance, BindError> {
    instances
        .iter()
        .find(|i| i.id == id)
        .ok_or(BindError::UnknownInstance)
}

fn check_version(inst: &Instance, v: u32) -> Result<(), BindError> {
    if inst.qr_version == v {
        Ok(())
    } else {
        Err(BindError::Stale)
    }
}

fn ct(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests;
