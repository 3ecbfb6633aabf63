//! Fault injection: Bot API storms, DingTalk drops, OpenCode restarts (issue 8).
