//! The project's referral links, in one place so they change in one edit (SPEC §8).
//! The project is funded by these, never by ads in the chat.

/// A VPS provider (DigitalOcean) referral, used by the Deploy button and the guides.
pub const VPS_REFERRAL: &str = "https://m.do.co/c/opencodecloudify";

/// A residential-proxy provider referral, used by the wizard's proxy step and the guide.
pub const PROXY_REFERRAL: &str = "https://opencode-cloudify.dev/go/residential-proxy";
