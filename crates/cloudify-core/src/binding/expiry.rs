//! Expiring credentials (`binding.code_ttl`). Tokens and long forms sign their issue time;
//! the DingTalk code is the HMAC of a time window (`now / ttl`), and the current and the
//! previous window are accepted, so a code lives between `ttl` and `2 × ttl`.

use super::{BindError, mac_with};
use crate::store::Instance;

const TOKEN_DOMAIN: &[u8] = b"cloudify/bind-token/v2";
const CODE_DOMAIN: &[u8] = b"cloudify/bind-code/v2";
const LONG_DOMAIN: &[u8] = b"cloudify/bind-long/v2";

/// When a credential is issued or checked, and how long credentials live (0 = forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issue {
    /// Unix seconds.
    pub now: i64,
    pub ttl_secs: u64,
}

impl Issue {
    pub fn new(now: i64, ttl_secs: u64) -> Self {
        Self { now, ttl_secs }
    }

    pub fn never_expires() -> Self {
        Self::new(0, 0)
    }

    pub fn expires(&self) -> bool {
        self.ttl_secs > 0
    }

    /// The DingTalk code window, when codes expire.
    pub(super) fn window(&self) -> Option<u64> {
        self.expires()
            .then(|| u64::try_from(self.now).unwrap_or(0) / self.ttl_secs)
    }

    /// `issued` (Unix seconds) is recent enough; one minute of slack for the token's rounding
    /// and clocks. Issue times in the future beyond that slack are refused too.
    pub(super) fn check_age(&self, issued: i64) -> Result<(), BindError> {
        if !self.expires() {
            return Ok(());
        }
        let ttl = i64::try_from(self.ttl_secs).unwrap_or(i64::MAX);
        let age = self.now.saturating_sub(issued);
        if (-60..=ttl.saturating_add(60)).contains(&age) {
            Ok(())
        } else {
            Err(BindError::Expired)
        }
    }
}

/// Minutes since the epoch, the resolution of a token's stamp.
pub(super) fn minute(now: i64) -> u32 {
    u32::try_from(now.max(0) / 60).unwrap_or(u32::MAX)
}

pub(super) fn token_tag(inst: &Instance, minute: u32) -> [u8; 32] {
    mac_with(TOKEN_DOMAIN, inst, &minute.to_be_bytes())
}

pub(super) fn code_tag(inst: &Instance, window: u64) -> [u8; 32] {
    mac_with(CODE_DOMAIN, inst, &window.to_be_bytes())
}

pub(super) fn long_tag(inst: &Instance, created_at: i64) -> [u8; 32] {
    mac_with(LONG_DOMAIN, inst, &created_at.to_be_bytes())
}
