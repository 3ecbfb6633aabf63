//! The 8-character DingTalk code: 40 bits of an HMAC in Crockford base32.

use super::{CODE_DOMAIN, Issue, expiry, mac};
use crate::store::Instance;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 8;

/// The code shown next to the QR for DingTalk users (`/bind K7M2-Q9XD` style, no dash stored).
pub fn dingtalk_code(inst: &Instance) -> String {
    encode(&mac(CODE_DOMAIN, inst, inst.qr_version))
}

/// The code to show now: with `code_ttl` set, the code of the current time window.
pub fn dingtalk_code_at(inst: &Instance, issue: Issue) -> String {
    match issue.window() {
        Some(w) => encode(&expiry::code_tag(inst, w)),
        None => dingtalk_code(inst),
    }
}

/// The codes accepted now: the current and the previous window's, or the one code.
pub(super) fn accepted_codes(inst: &Instance, issue: Issue) -> Vec<String> {
    match issue.window() {
        Some(w) => [w, w.saturating_sub(1)]
            .iter()
            .map(|w| encode(&expiry::code_tag(inst, *w)))
            .collect(),
        None => vec![dingtalk_code(inst)],
    }
}

pub(super) fn encode(tag: &[u8; 32]) -> String {
    let mut bits: u64 = 0;
    for b in &tag[..5] {
        bits = (bits << 8) | u64::from(*b);
    }
    (0..CODE_LEN)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

/// Accepts what people type: lower case, spaces or dashes, `O` for 0, `I`/`L` for 1.
pub fn normalize_code(input: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_LEN);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
        if out.len() > CODE_LEN {
            return None;
        }
    }
    (out.len() == CODE_LEN).then_some(out)
}
