//! Errors of the render crate.

/// Why a render failed. Cache problems are never errors: the cache degrades to "no cache".
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input looks like a binary file (NUL bytes), not text.
    #[error("input looks binary (contains NUL bytes); send it as a file instead")]
    Binary,
    /// The options cannot produce a page (e.g. zero columns).
    #[error("invalid page options: {0}")]
    InvalidOptions(&'static str),
    /// A page would break a hard image limit (should not happen with sane options).
    #[error("page {index} is {width}x{height} px, beyond what PNG/IM limits allow")]
    PageTooLarge {
        index: usize,
        width: u32,
        height: u32,
    },
    /// An embedded font failed to parse (a build problem, caught by the tests).
    #[error("embedded font {0} is invalid")]
    Font(&'static str),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] png::EncodingError),
}
