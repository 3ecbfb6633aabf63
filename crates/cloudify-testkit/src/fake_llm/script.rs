//! What the fake LLM answers: a [`Script`] is the list of replies of one agent turn,
//! one [`Reply`] per LLM call (the first answers the user, the next ones follow tool results).

use std::time::Duration;

use serde_json::Value;

/// One answer to one `/chat/completions` call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) kind: ReplyKind,
    pub(crate) chunk_delay: Duration,
    pub(crate) break_after: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum ReplyKind {
    /// Text streamed as these deltas, then optional tool calls.
    Stream {
        chunks: Vec<String>,
        tool_calls: Vec<(String, Value)>,
    },
    /// An HTTP error status with an OpenAI-style error body.
    Error { status: u16, message: String },
}

/// Splits text into word-sized deltas ("Hello", " from", " the", …).
fn word_chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Reply {
    fn stream(chunks: Vec<String>, tool_calls: Vec<(String, Value)>) -> Self {
        Self {
            kind: ReplyKind::Stream { chunks, tool_calls },
            chunk_delay: Duration::ZERO,
            break_after: None,
        }
    }

    /// Text streamed word by word.
    #[must_use]
    pub fn text(text: &str) -> Self {
        Self::stream(word_chunks(text), Vec::new())
    }

    /// Text streamed as exactly these deltas.
    #[must_use]
    pub fn chunks<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Self {
        Self::stream(chunks.into_iter().map(Into::into).collect(), Vec::new())
    }

    /// `n` deltas `"slow-0 "`, `"slow-1 "`, … one every `delay` (a long-running answer).
    #[must_use]
    pub fn slow(n: usize, delay: Duration) -> Self {
        Self::chunks((0..n).map(|i| format!("slow-{i} "))).chunk_delay(delay)
    }

    /// One tool call (`bash`, `write`, `todowrite`, `question`, …) with these arguments.
    #[must_use]
    pub fn tool_call(name: &str, args: Value) -> Self {
        Self::stream(Vec::new(), vec![(name.to_owned(), args)])
    }

    /// HTTP `status` with an OpenAI error body (OpenCode retries 5xx forever, fails on 4xx).
    #[must_use]
    pub fn error(status: u16, message: &str) -> Self {
        Self {
            kind: ReplyKind::Error {
                status,
                message: message.to_owned(),
            },
            chunk_delay: Duration::ZERO,
            break_after: None,
        }
    }

    /// Streams some text first, then the tool calls (like a model that explains itself).
    #[must_use]
    pub fn with_text(mut self, text: &str) -> Self {
        if let ReplyKind::Stream { chunks, .. } = &mut self.kind {
            *chunks = word_chunks(text);
        }
        self
    }

    /// Adds another tool call to the same reply.
    #[must_use]
    pub fn and_tool_call(mut self, name: &str, args: Value) -> Self {
        if let ReplyKind::Stream { tool_calls, .. } = &mut self.kind {
            tool_calls.push((name.to_owned(), args));
        }
        self
    }

    /// Sleeps this long before every delta.
    #[must_use]
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        self.chunk_delay = d;
        self
    }

    /// Breaks the connection after `n` deltas, without a finish chunk or `[DONE]`.
    #[must_use]
    pub fn break_after(mut self, n: usize) -> Self {
        self.break_after = Some(n);
        self
    }

    /// The full text this reply streams (before any break).
    #[must_use]
    pub fn full_text(&self) -> String {
        match &self.kind {
            ReplyKind::Stream { chunks, .. } => chunks.concat(),
            ReplyKind::Error { .. } => String::new(),
        }
    }
}

/// The replies of one agent turn, in order. The reply for a request is chosen by how many
/// assistant messages follow the latest user message, so retries of the same step get the
/// same reply (a 500 stays a 500, as with a broken upstream) and no state leaks across tests.
/// Past the end, the fake's default text answers.
#[derive(Debug, Clone)]
pub struct Script {
    pub(crate) replies: Vec<Reply>,
}

impl From<Reply> for Script {
    fn from(r: Reply) -> Self {
        Self { replies: vec![r] }
    }
}

impl Script {
    #[must_use]
    pub fn new(replies: Vec<Reply>) -> Self {
        Self { replies }
    }

    #[must_use]
    pub fn text(text: &str) -> Self {
        Reply::text(text).into()
    }

    #[must_use]
    pub fn tool_call(name: &str, args: Value) -> Self {
        Reply::tool_call(name, args).into()
    }

    #[must_use]
    pub fn error(status: u16, message: &str) -> Self {
        Reply::error(status, message).into()
    }

    /// Appends the reply for the next LLM call of the turn.
    #[must_use]
    pub fn then(mut self, reply: Reply) -> Self {
        self.replies.push(reply);
        self
    }

    #[must_use]
    pub fn then_text(self, text: &str) -> Self {
        self.then(Reply::text(text))
    }

    #[must_use]
    pub fn then_tool_call(self, name: &str, args: Value) -> Self {
        self.then(Reply::tool_call(name, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_spaces() {
        assert_eq!(word_chunks("Hello from  the"), ["Hello", " from", "  the"]);
        assert_eq!(Reply::text("a b").full_text(), "a b");
        assert_eq!(Reply::slow(2, Duration::ZERO).full_text(), "slow-0 slow-1 ");
    }
}
