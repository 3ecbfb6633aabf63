//! Prompt buttons → an inline keyboard whose callback data is the button's command.

use cloudify_core::output::Button;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

/// Telegram's limit on `callback_data`, in bytes.
pub const CALLBACK_DATA_MAX_BYTES: usize = 64;
/// Telegram's limit on a button label is not documented; long labels are cut on clients
/// anyway, so keep them readable and the request small.
const LABEL_MAX_CHARS: usize = 64;

/// The keyboard for `rows`, or `None` when no button is usable. A button whose command
/// does not fit in `callback_data` (or that has no label) is dropped and logged: a prompt
/// without one button beats a prompt that cannot be sent.
pub(crate) fn inline_keyboard(rows: &[Vec<Button>]) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = rows
        .iter()
        .map(|row| row.iter().filter_map(button).collect::<Vec<_>>())
        .filter(|row| !row.is_empty())
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

fn button(b: &Button) -> Option<InlineKeyboardButton> {
    let label: String = b.label.trim().chars().take(LABEL_MAX_CHARS).collect();
    if b.command.is_empty() || b.command.len() > CALLBACK_DATA_MAX_BYTES || label.is_empty() {
        tracing::warn!(
            label = %b.label,
            command_bytes = b.command.len(),
            "dropping a button Telegram cannot carry (callback data must be 1-64 bytes, label non-empty)"
        );
        return None;
    }
    Some(InlineKeyboardButton::callback(label, b.command.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    #[test]
    fn oversized_commands_are_dropped_not_fatal() {
        let rows = vec![
            vec![
                Button::new("Allow once", "/approve per_1 once"),
                Button::new("Long", "x".repeat(65)),
            ],
            vec![Button::new("Only long", "y".repeat(100))],
        ];
        let kb = inline_keyboard(&rows).unwrap();
        assert_eq!(kb.inline_keyboard.len(), 1);
        assert_eq!(kb.inline_keyboard[0].len(), 1);
        let InlineKeyboardButtonKind::CallbackData(data) = &kb.inline_keyboard[0][0].kind else {
            panic!()
        };
        assert_eq!(data, "/approve per_1 once");
        assert!(inline_keyboard(&[vec![Button::new("", "/x")]]).is_none());
        let exactly = "z".repeat(64);
        assert!(inline_keyboard(&[vec![Button::new("ok", exactly)]]).is_some());
    }
}
