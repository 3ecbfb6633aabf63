//! One turn fanned out to 100 bound users within Telegram's global budget (issue 8).
