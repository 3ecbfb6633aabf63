//! The bot's sentences. Each function returns the text for one language.

use super::Lang;

pub fn help(l: Lang) -> String {
    l.pick(
        "🤖 OpenCode Cloudify — 在手机上驱动 OpenCode\n\n\
直接发消息：交给当前实例的 OpenCode 会话处理\n\
/status 实例状态 · /list 已绑定实例 · /switch <名称> 切换实例\n\
/new 新会话 · /sessions 选择会话 · /cancel 中止当前任务\n\
/model 模型 · /agent 智能体 · /diff 未提交的改动\n\
/rename <新名称> · /unbind <名称> · /lang zh|en\n\
/web 网页终端 · /web-terminal ttyd|code-server\n\
/proxy set <url>|status|disable 代理\n\
所有者：/qr 绑定二维码 · /reset-qr 重置并踢出所有人 · /kick <用户>\n\
绑定：扫描二维码，或发送 /bind <绑定码>",
        "🤖 OpenCode Cloudify — drive OpenCode from your phone\n\n\
Just type: it goes to the OpenCode session of your active instance\n\
/status instance status · /list your instances · /switch <name> change instance\n\
/new new session · /sessions pick a session · /cancel stop the running task\n\
/model models · /agent agents · /diff uncommitted changes\n\
/rename <new> · /unbind <name> · /lang zh|en\n\
/web web terminal · /web-terminal ttyd|code-server\n\
/proxy set <url>|status|disable outbound proxy\n\
Owner: /qr binding QR · /reset-qr new QR, kicks everyone · /kick <user>\n\
Bind: scan the QR code, or send /bind <code>",
    )
    .to_string()
}

pub fn bind_instructions(l: Lang) -> String {
    l.pick(
        "🔒 你还没有绑定任何 OpenCode 实例。\n请扫描服务器上显示的二维码（运行 `cloudify qr` 查看），或向所有者索取绑定码后发送 /bind <绑定码>。",
        "🔒 You are not bound to an OpenCode instance yet.\nScan the QR code the server shows (run `cloudify qr` there), or get a binding code from the owner and send /bind <code>.",
    )
    .to_string()
}

pub fn bind_invalid(l: Lang) -> String {
    l.pick(
        "❌ 绑定码无效或已失效，请向所有者索取新的二维码。",
        "❌ This binding code is invalid or no longer valid. Ask the owner for a fresh QR code.",
    )
    .to_string()
}

pub fn bind_rate_limited(l: Lang, wait_secs: u64) -> String {
    let mins = wait_secs.div_ceil(60);
    match l {
        Lang::Zh => format!("⏳ 绑定尝试失败次数过多，请 {mins} 分钟后再试。"),
        Lang::En => format!("⏳ Too many failed binding attempts. Try again in {mins} min."),
    }
}

pub fn bind_private_only(l: Lang) -> String {
    l.pick(
        "🔒 为了安全，请在与机器人的私聊中绑定，不要在群里发送绑定码。",
        "🔒 For safety, bind in a private chat with the bot; never post binding codes in a group.",
    )
    .to_string()
}

pub fn bind_welcome(l: Lang, instance: &str, owner: bool) -> String {
    match (l, owner) {
        (Lang::Zh, true) => format!(
            "✅ 已绑定实例 [{instance}]，你是它的所有者。直接发消息即可让 OpenCode 开始工作。/help 查看命令。"
        ),
        (Lang::Zh, false) => format!(
            "✅ 已绑定实例 [{instance}]。直接发消息即可让 OpenCode 开始工作。/help 查看命令。"
        ),
        (Lang::En, true) => format!(
            "✅ Bound to [{instance}]; you are its owner. Type a request to put OpenCode to work. /help lists commands."
        ),
        (Lang::En, false) => format!(
            "✅ Bound to [{instance}]. Type a request to put OpenCode to work. /help lists commands."
        ),
    }
}

pub fn bind_already(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!("ℹ️ 你已经绑定了 [{instance}]，现已设为当前实例。"),
        Lang::En => {
            format!("ℹ️ You were already bound to [{instance}]; it is now your active instance.")
        }
    }
}

pub fn user_joined(l: Lang, who: &str, instance: &str) -> String {
    match l {
        Lang::Zh => format!("👋 {who} 加入了 [{instance}]。"),
        Lang::En => format!("👋 {who} joined [{instance}]."),
    }
}

pub fn user_left(l: Lang, who: &str, instance: &str) -> String {
    match l {
        Lang::Zh => format!("👋 {who} 离开了 [{instance}]。"),
        Lang::En => format!("👋 {who} left [{instance}]."),
    }
}

pub fn kicked_by_reset(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!(
            "🔄 [{instance}] 的二维码已被所有者重置，你的绑定已移除。如需继续使用，请扫描新的二维码。"
        ),
        Lang::En => format!(
            "🔄 The owner reset the QR code of [{instance}]; your binding was removed. Scan the new QR code to come back."
        ),
    }
}

pub fn kicked(l: Lang, instance: &str) -> String {
    match l {
        Lang::Zh => format!("🚪 你已被所有者移出 [{instance}]。"),
        Lang::En => format!("🚪 The owner removed you from [{instance}]."),
    }
}

pub fn reset_done(l: Lang, instance: &str, kicked: usize) -> String {
    match l {
        Lang::Zh => format!(
            "🔄 [{instance}] 的二维码已重置：旧的二维码和绑定码全部失效，{kicked} 位用户被移除（包括你）。发送 /qr 需要先重新绑定：请在服务器上运行 `cloudify qr`。"
        ),
        Lang::En => format!(
            "🔄 QR code of [{instance}] reset: every old QR and code stopped working and {kicked} user(s) were removed, you included. Run `cloudify qr` on the server to bind again."
        ),
    }
}

pub fn kick_done(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("✅ 已移除 {who}。"),
        Lang::En => format!("✅ Removed {who}."),
    }
}

pub fn no_such_member(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("❓ 实例中没有用户 {who}。"),
        Lang::En => format!("❓ No user {who} on this instance."),
    }
}

pub fn owner_only(l: Lang) -> String {
    l.pick(
        "🔒 只有实例所有者可以这样做。",
        "🔒 Only the instance owner can do that.",
    )
    .to_string()
}

pub fn private_only(l: Lang) -> String {
    l.pick(
        "🔒 此命令只能在与机器人的私聊中使用。",
        "🔒 This command only works in a private chat with the bot.",
    )
    .to_string()
}

pub fn unknown_command(l: Lang, cmd: &str) -> String {
    match l {
        Lang::Zh => format!("❓ 未知命令 /{cmd}。发送 /help 查看可用命令。"),
        Lang::En => format!("❓ Unknown command /{cmd}. Send /help for the list."),
    }
}

pub fn usage(l: Lang, usage: &str) -> String {
    match l {
        Lang::Zh => format!("用法：{usage}"),
        Lang::En => format!("Usage: {usage}"),
    }
}

pub fn list_header(l: Lang) -> String {
    l.pick(
        "📋 你绑定的实例（▶ 为当前实例）：",
        "📋 Your instances (▶ = active):",
    )
    .to_string()
}

pub fn switched(l: Lang, name: &str) -> String {
    match l {
        Lang::Zh => format!("✅ 当前实例已切换为 [{name}]。"),
        Lang::En => format!("✅ Active instance is now [{name}]."),
    }
}

pub fn no_such_instance(l: Lang, name: &str) -> String {
    match l {
        Lang::Zh => format!("❓ 你没有绑定名为 {name} 的实例。发送 /list 查看。"),
        Lang::En => {
            format!("❓ You are not bound to an instance named {name}. Send /list to see yours.")
        }
    }
}

pub fn renamed(l: Lang, old: &str, new: &str) -> String {
    match l {
        Lang::Zh => format!("✏️ [{old}] 已重命名为 [{new}]。"),
        Lang::En => format!("✏️ [{old}] is now called [{new}]."),
    }
}

pub fn unbound(l: Lang, name: &str) -> String {
    match l {
        Lang::Zh => format!("✅ 已解除与 [{name}] 的绑定。"),
        Lang::En => format!("✅ You are no longer bound to [{name}]."),
    }
}

pub fn lang_set(l: Lang) -> String {
    l.pick("✅ 以后用中文回复。", "✅ I will answer in English.")
        .to_string()
}

pub fn missed(l: Lang, n: u32, instance: &str) -> String {
    match l {
        Lang::Zh => format!("📬 您错过了 {n} 条消息（[{instance}]）："),
        Lang::En => format!("📬 You missed {n} messages ([{instance}]):"),
    }
}

pub fn missed_dropped(l: Lang, dropped: u32) -> String {
    match l {
        Lang::Zh => format!("（最早的 {dropped} 条已超出保留上限，只显示最新的部分）"),
        Lang::En => format!("(the oldest {dropped} were over the keep limit; showing the newest)"),
    }
}

pub fn online_footer(l: Lang, handles: &[String]) -> String {
    match l {
        Lang::Zh => format!("📡 在线用户: {}", handles.join(", ")),
        Lang::En => format!("📡 Online: {}", handles.join(", ")),
    }
}

pub fn qr_caption(l: Lang, instance: &str, code: &str) -> String {
    match l {
        Lang::Zh => format!(
            "[{instance}] 的绑定二维码。用 Telegram 扫码即可绑定；钉钉用户发送 /bind {code}。不要转发到群里。"
        ),
        Lang::En => format!(
            "Binding QR for [{instance}]. Scan it with Telegram to bind; DingTalk users send /bind {code}. Do not forward it to groups."
        ),
    }
}

pub fn sent_as_file(l: Lang, chars: usize, file: &str) -> String {
    match l {
        Lang::Zh => {
            format!("📎 消息较长（{chars} 个字符），已作为文件 {file} 完整发送给 OpenCode。")
        }
        Lang::En => format!(
            "📎 That message is long ({chars} characters), so it went to OpenCode whole, as the file {file}."
        ),
    }
}

pub fn slow_down(l: Lang, wait_secs: u64) -> String {
    match l {
        Lang::Zh => format!("⏳ 操作太频繁，请 {wait_secs} 秒后再试。"),
        Lang::En => format!("⏳ Slow down a little; try again in {wait_secs}s."),
    }
}

pub fn not_available(l: Lang, what: &str) -> String {
    match l {
        Lang::Zh => format!("🚧 {what} 在此部署中尚不可用。"),
        Lang::En => format!("🚧 {what} is not available in this deployment yet."),
    }
}

pub fn failed(l: Lang, what: &str) -> String {
    match l {
        Lang::Zh => format!("⚠️ 出错了：{what}"),
        Lang::En => format!("⚠️ Something went wrong: {what}"),
    }
}

pub fn unsupported_message(l: Lang) -> String {
    l.pick(
        "🤷 暂不支持这种消息，请发送文字、图片或文件。",
        "🤷 I can't handle that kind of message; send text, a photo or a file.",
    )
    .to_string()
}

pub fn lang_usage(l: Lang) -> String {
    usage(l, "/lang zh|en")
}

/// The lines of `/status`, already filled in.
pub struct StatusFacts<'a> {
    pub instance: &'a str,
    pub directory: &'a str,
    pub opencode: Option<(&'a str, bool)>,
    pub opencode_error: Option<&'a str>,
    pub session: Option<&'a str>,
    pub busy: bool,
    pub model: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub online: &'a [String],
    pub web_terminal: Option<&'a str>,
    pub proxy: Option<&'a str>,
    pub update: Option<&'a str>,
}

pub fn status(l: Lang, f: &StatusFacts<'_>) -> String {
    let none = l.pick("无", "none");
    let mut lines = vec![format!("📊 [{}] {}", f.instance, f.directory)];
    lines.push(match (f.opencode, f.opencode_error) {
        (Some((version, true)), _) => format!("🟢 OpenCode {version}"),
        (Some((version, false)), _) => format!(
            "🟡 OpenCode {version} {}",
            l.pick("（不健康）", "(unhealthy)")
        ),
        (None, Some(err)) => format!("🔴 OpenCode: {err}"),
        (None, None) => format!("🔴 OpenCode: {}", l.pick("无法连接", "unreachable")),
    });
    let state = if f.busy {
        l.pick("⚙️ 工作中", "⚙️ working")
    } else {
        l.pick("💤 空闲", "💤 idle")
    };
    lines.push(format!(
        "{}: {} · {state}",
        l.pick("会话", "Session"),
        f.session.unwrap_or(none)
    ));
    lines.push(format!(
        "{}: {} · {}: {}",
        l.pick("模型", "Model"),
        f.model.unwrap_or(l.pick("默认", "default")),
        l.pick("智能体", "Agent"),
        f.agent.unwrap_or(l.pick("默认", "default"))
    ));
    lines.push(online_footer(l, f.online));
    lines.push(format!(
        "🖥 {}: {}",
        l.pick("网页终端", "Web terminal"),
        f.web_terminal.unwrap_or(l.pick("未配置", "not configured"))
    ));
    lines.push(format!(
        "🌐 {}: {}",
        l.pick("代理", "Proxy"),
        f.proxy.unwrap_or(l.pick("关闭", "off"))
    ));
    if let Some(u) = f.update {
        lines.push(format!("⬆️ {u}"));
    }
    lines.join("\n")
}

pub fn sessions_header(l: Lang, current: Option<&str>) -> String {
    match (l, current) {
        (Lang::Zh, Some(c)) => format!("🗂 会话列表（当前：{c}）。点击切换："),
        (Lang::Zh, None) => "🗂 会话列表。点击切换：".into(),
        (Lang::En, Some(c)) => format!("🗂 Sessions (current: {c}). Tap to switch:"),
        (Lang::En, None) => "🗂 Sessions. Tap to switch:".into(),
    }
}

pub fn no_sessions(l: Lang) -> String {
    l.pick(
        "🗂 还没有会话。直接发消息即可开始。",
        "🗂 No sessions yet. Just type to start one.",
    )
    .to_string()
}

pub fn session_changed(l: Lang, who: &str, title: &str) -> String {
    match l {
        Lang::Zh => format!("🔀 {who} 将当前会话切换为「{title}」，之后的消息都会发到这里。"),
        Lang::En => {
            format!("🔀 {who} switched the current session to “{title}”; new messages go there.")
        }
    }
}

pub fn new_session(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("🆕 {who} 开启了新会话。"),
        Lang::En => format!("🆕 {who} started a new session."),
    }
}

pub fn cancelled(l: Lang, who: &str) -> String {
    match l {
        Lang::Zh => format!("⏹ {who} 中止了当前任务。"),
        Lang::En => format!("⏹ {who} stopped the running task."),
    }
}

pub fn nothing_running(l: Lang) -> String {
    l.pick("💤 当前没有正在运行的任务。", "💤 Nothing is running.")
        .to_string()
}

pub fn choices_header(l: Lang, what_zh: &str, what_en: &str, current: Option<&str>) -> String {
    let none = l.pick("默认", "default");
    match l {
        Lang::Zh => format!("可用{what_zh}（当前：{}）：", current.unwrap_or(none)),
        Lang::En => format!(
            "Available {what_en} (current: {}):",
            current.unwrap_or(none)
        ),
    }
}

pub fn choice_set(l: Lang, who: &str, what_zh: &str, what_en: &str, value: &str) -> String {
    match l {
        Lang::Zh => format!("✅ {who} 将{what_zh}切换为 {value}。"),
        Lang::En => format!("✅ {who} set the {what_en} to {value}."),
    }
}

pub fn no_changes(l: Lang) -> String {
    l.pick(
        "✨ 工作区没有未提交的改动。",
        "✨ No uncommitted changes in the workspace.",
    )
    .to_string()
}

pub fn diff_summary(l: Lang, files: usize, add: u32, del: u32) -> String {
    match l {
        Lang::Zh => format!("📝 {files} 个文件有改动（+{add} −{del}）："),
        Lang::En => format!("📝 {files} file(s) changed (+{add} −{del}):"),
    }
}

pub fn prompt_gone(l: Lang) -> String {
    l.pick(
        "ℹ️ 这个请求已经被处理（或已过期）。",
        "ℹ️ That request was already answered (or has expired).",
    )
    .to_string()
}

pub fn binary_not_attached(l: Lang, name: &str, bytes: usize) -> String {
    let kb = bytes.div_ceil(1024);
    match l {
        Lang::Zh => format!(
            "📎 {name}（{kb} KB）是二进制文件，模型无法读取，只把文件名和大小告诉了 OpenCode。需要处理它的话，请通过网页终端 /web 上传。"
        ),
        Lang::En => format!(
            "📎 {name} ({kb} KB) is a binary file the model cannot read, so OpenCode only got its name and size. To work on it, upload it through the web terminal (/web)."
        ),
    }
}

pub fn file_too_large(l: Lang, name: &str, bytes: u64) -> String {
    let mb = bytes.div_ceil(1024 * 1024);
    match l {
        Lang::Zh => format!(
            "📦 文件 {name}（{mb} MB）太大，机器人最多只能下载 20 MB。请压缩后再发，或通过网页终端 /web 上传。"
        ),
        Lang::En => format!(
            "📦 {name} ({mb} MB) is too large: bots can download at most 20 MB. Compress it, or upload it through the web terminal (/web)."
        ),
    }
}
