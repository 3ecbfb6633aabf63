//! Known secret values never appear in a log line or an outbound message (issue 8).
