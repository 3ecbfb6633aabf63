//! Sentences about who may do what: bans, burned codes, names, private-only answers.

use super::Lang;

pub fn invalid_name(l: Lang, name: &str) -> String {
    match l {
        Lang::Zh => format!(
            "❌ 名称 `{name}` 无效：只能使用 1 到 32 个 a-z、0-9、`-`、`_`，并以字母或数字开头。"
        ),
        Lang::En => format!(
            "❌ `{name}` is not a valid name: use 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter or digit."
        ),
    }
}

pub fn banned(l: Lang) -> String {
    l.pick(
        "🚫 所有者已将你移出此实例。只有所有者发送 /unban 后你才能重新绑定。",
        "🚫 The owner removed you from this instance. You can bind again only after the owner sends /unban.",
    )
    .to_string()
}

pub fn kick_done_banned(l: Lang, who: &str, user_ref: &str) -> String {
    match l {
        Lang::Zh => format!(
            "✅ 已移除 {who}。对方之前见过的链接和绑定码都不能再用；如需让其回来，发送 /unban {user_ref}。"
        ),
        Lang::En => format!(
            "✅ Removed {who}. No link or code they have seen lets them back in; to let them back, send /unban {user_ref}."
        ),
    }
}

pub fn unban_done(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("✅ 已允许 {who} 重新绑定（需要有效的二维码或绑定码）。"),
        Lang::En => {
            format!("✅ {who} may bind again (with a valid QR code or binding code).")
        }
    }
}

pub fn not_banned(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("❓ {who} 没有被移出此实例。"),
        Lang::En => format!("❓ {who} is not banned from this instance."),
    }
}

pub fn code_burned_in_group(l: Lang) -> String {
    l.pick(
        "🔥 绑定码发到了群里，所以它已作废。请在与机器人的私聊中绑定；所有者已收到新的二维码。",
        "🔥 A binding code was posted in this group, so it no longer works. Bind in a private chat with the bot; the owner got a new QR code.",
    )
    .to_string()
}

pub fn owner_code_replaced(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!(
            "🔥 [{instance}] 的绑定码被发到了群聊中，已作废（已绑定的成员不受影响）。这是新的二维码，请只在私聊中分享："
        ),
        Lang::En => format!(
            "🔥 A binding code of [{instance}] was posted in a group chat, so it was replaced (bound members stay). Here is the new QR; share it only in private:"
        ),
    }
}

pub fn sent_privately(l: Lang) -> String {
    l.pick(
        "📬 已私聊发给你（会话内容不在群里显示）。",
        "📬 Sent to you in a private chat (session content stays out of groups).",
    )
    .to_string()
}

pub fn web_rotated(l: Lang) -> String {
    l.pick(
        "🔑 网页终端的登录凭据已更换，旧凭据失效。发送 /web 查看新的凭据。",
        "🔑 The web terminal's login was changed; the old one no longer works. Send /web for the new one.",
    )
    .to_string()
}

pub fn waiting_for_approval(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!("⏳ 绑定码有效。[{instance}] 需要所有者批准新用户，请等待所有者批准。"),
        Lang::En => format!(
            "⏳ The code is valid. New users of [{instance}] need the owner's approval; waiting for the owner."
        ),
    }
}

pub fn approval_request(l: Lang, who: &str, instance: &str) -> String {
    match l {
        Lang::Zh => format!("🙋 {who} 想绑定 [{instance}]。批准吗？"),
        Lang::En => format!("🙋 {who} wants to bind to [{instance}]. Approve?"),
    }
}

pub fn approve_button(l: Lang) -> &'static str {
    l.pick("✅ 批准", "✅ Approve")
}

pub fn reject_button(l: Lang) -> &'static str {
    l.pick("⛔ 拒绝", "⛔ Reject")
}

pub fn user_approved(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("✅ 已批准 {who}。"),
        Lang::En => format!("✅ {who} was approved."),
    }
}

pub fn user_rejected(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("⛔ 已拒绝 {who}。"),
        Lang::En => format!("⛔ {who} was rejected."),
    }
}

pub fn you_were_rejected(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!("⛔ 所有者拒绝了你绑定 [{instance}] 的请求。"),
        Lang::En => format!("⛔ The owner declined your request to bind to [{instance}]."),
    }
}

pub fn nobody_waiting(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("❓ {who} 没有在等待批准。"),
        Lang::En => format!("❓ {who} is not waiting for approval."),
    }
}
