//! Binding credentials of SPEC §3, all HMAC-SHA256 over (domain label, instance id,
//! qr_version) with the instance's key, all compared in constant time:
//!
//! * the compact deep-link token for `t.me/<bot>?start=<token>` (50 chars of `[A-Za-z0-9_-]`);
//! * the 8-character DingTalk code (Crockford base32), redeemed with `/bind <code>`;
//! * the long form `base64url(JSON)` that other tools produce.
//!
//! Bumping `qr_version` (`/reset-qr`) invalidates every credential issued before.
//!
//! With `binding.code_ttl` (seconds, 0 = never) credentials expire (see `expiry.rs`): the
//! token and the long form then sign their issue time, and the DingTalk code is bound to a
//! time window.

mod code;
mod expiry;
mod limiter;
mod long_form;
mod token;

pub use code::{dingtalk_code, dingtalk_code_at, normalize_code};
pub use expiry::Issue;
pub use limiter::BindLimiter;
pub use long_form::{LongPayload, long_payload, long_payload_at};
pub use token::{deep_link_token, deep_link_token_at};

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
    #[error("the code expired (binding.code_ttl)")]
    Expired,
}

/// A parsed, not yet verified, credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token {
        instance_id: Uuid,
        qr_version: u32,
        /// Minutes since the Unix epoch, in tokens issued while `code_ttl` is set.
        issued_min: Option<u32>,
        tag: [u8; 16],
    },
    Code(String),
    Long {
        instance_id: Uuid,
        qr_version: u32,
        created_at: i64,
        tag: [u8; 32],
    },
}

fn mac(domain: &[u8], inst: &Instance, qr_version: u32) -> [u8; 32] {
    mac_over(domain, inst, qr_version, &[])
}

/// The MAC of the instance's current `qr_version` and `extra` (an issue time or window).
fn mac_with(domain: &[u8], inst: &Instance, extra: &[u8]) -> [u8; 32] {
    mac_over(domain, inst, inst.qr_version, extra)
}

fn mac_over(domain: &[u8], inst: &Instance, qr_version: u32, extra: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail for a 32-byte key.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&inst.key.0) else {
        return [0; 32];
    };
    m.update(domain);
    m.update(&[0]);
    m.update(inst.id.as_bytes());
    m.update(&qr_version.to_be_bytes());
    m.update(extra);
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

/// Checks a credential against the known instances with no expiry (`code_ttl` 0).
pub fn verify(cred: &Credential, instances: &[Instance]) -> Result<Uuid, BindError> {
    verify_at(cred, instances, Issue::never_expires())
}

/// Checks a credential against the known instances at `issue.now`; returns the instance it
/// binds to. With a `code_ttl`, only time-stamped credentials are accepted, within the TTL.
pub fn verify_at(
    cred: &Credential,
    instances: &[Instance],
    issue: Issue,
) -> Result<Uuid, BindError> {
    match cred {
        Credential::Token {
            instance_id,
            qr_version,
            issued_min,
            tag,
        } => {
            let inst = find(instances, *instance_id)?;
            check_version(inst, *qr_version)?;
            let expected = match (issue.expires(), issued_min) {
                (false, None) => connect_secret(inst),
                (true, Some(m)) => expiry::token_tag(inst, *m),
                // An old-style token once codes expire, or a stamped one without expiry.
                _ => return Err(BindError::Expired),
            };
            if !ct(&expected[..16], tag) {
                return Err(BindError::BadSignature);
            }
            issue.check_age(issued_min.map_or(0, |m| i64::from(m) * 60))?;
            Ok(inst.id)
        }
        Credential::Long {
            instance_id,
            qr_version,
            created_at,
            tag,
        } => {
            let inst = find(instances, *instance_id)?;
            check_version(inst, *qr_version)?;
            let expected = if issue.expires() {
                expiry::long_tag(inst, *created_at)
            } else {
                connect_secret(inst)
            };
            if !ct(&expected, tag) {
                return Err(BindError::BadSignature);
            }
            issue.check_age(*created_at)?;
            Ok(inst.id)
        }
        Credential::Code(code) => {
            // A code carries no instance id: compare against every instance, all of them,
            // so timing does not reveal which one matched.
            let mut found = None;
            for inst in instances {
                for candidate in code::accepted_codes(inst, issue) {
                    if ct(candidate.as_bytes(), code.as_bytes()) {
                        found = Some(inst.id);
                    }
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
