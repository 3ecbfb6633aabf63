//! Bad input: forged codes at scale, huge and odd messages, injection attempts (issue 8).
