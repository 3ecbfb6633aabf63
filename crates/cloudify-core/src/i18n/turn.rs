//! What the bot says about a running turn.

use super::Lang;
use std::time::Duration;

/// `42s`, `3m 05s`, `1h 02m`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn working(l: Lang, elapsed: Duration, by: Option<&str>) -> String {
    let t = duration(elapsed);
    match (l, by) {
        (Lang::Zh, Some(b)) => format!("⏳ 工作中… {t}（{b} 发起）"),
        (Lang::Zh, None) => format!("⏳ 工作中… {t}"),
        (Lang::En, Some(b)) => format!("⏳ Working… {t} (asked by {b})"),
        (Lang::En, None) => format!("⏳ Working… {t}"),
    }
}

pub fn retrying(l: Lang, attempt: u32, message: &str) -> String {
    match l {
        Lang::Zh => format!("⚠️ 模型调用失败，正在第 {attempt} 次重试：{message}"),
        Lang::En => format!("⚠️ The model call failed; retry {attempt}: {message}"),
    }
}

pub fn reconnecting(l: Lang) -> String {
    l.pick(
        "🔌 与 OpenCode 的连接中断，正在重连…",
        "🔌 Lost the connection to OpenCode; reconnecting…",
    )
    .to_string()
}

pub fn done_footer(l: Lang, d: Duration, tools: usize) -> String {
    let t = duration(d);
    match (l, tools) {
        (Lang::Zh, 0) => format!("✅ 完成 · {t}"),
        (Lang::Zh, n) => format!("✅ 完成 · {t} · {n} 次工具调用"),
        (Lang::En, 0) => format!("✅ Done · {t}"),
        (Lang::En, n) => format!("✅ Done · {t} · {n} tool call(s)"),
    }
}

pub fn failed_turn(l: Lang, d: Duration, error: &str) -> String {
    let t = duration(d);
    match l {
        Lang::Zh => format!("❌ 失败（{t}）：{error}"),
        Lang::En => format!("❌ Failed after {t}: {error}"),
    }
}

pub fn aborted_turn(l: Lang, d: Duration) -> String {
    let t = duration(d);
    match l {
        Lang::Zh => format!("⏹ 已中止（{t}）"),
        Lang::En => format!("⏹ Stopped after {t}"),
    }
}

pub fn timed_out_turn(l: Lang, d: Duration) -> String {
    let t = duration(d);
    match l {
        Lang::Zh => {
            format!("⌛ 模型一直失败，{t} 后已自动中止。请稍后再试或用 /model 换一个模型。")
        }
        Lang::En => format!(
            "⌛ The model kept failing; stopped after {t}. Try again later or pick another /model."
        ),
    }
}

pub fn interrupted_turn(l: Lang) -> String {
    l.pick(
        "⚠️ OpenCode 在任务进行中重启了，任务没有完成。请重新发送请求。",
        "⚠️ OpenCode restarted in the middle of the task, so it did not finish. Send the request again.",
    )
    .to_string()
}

pub fn empty_answer(l: Lang) -> String {
    l.pick("（没有文字回复）", "(no text in the answer)")
        .to_string()
}

pub fn permission_ask(l: Lang, permission: &str) -> String {
    match l {
        Lang::Zh => format!("🔐 OpenCode 请求权限：{permission}"),
        Lang::En => format!("🔐 OpenCode asks for permission: {permission}"),
    }
}

pub fn allow_once(l: Lang) -> &'static str {
    l.pick("✅ 允许一次", "✅ Allow once")
}

pub fn allow_always(l: Lang) -> &'static str {
    l.pick("♾ 总是允许", "♾ Always")
}

pub fn reject(l: Lang) -> &'static str {
    l.pick("⛔ 拒绝", "⛔ Reject")
}

pub fn permission_outcome(
    l: Lang,
    permission: &str,
    reply: Option<&str>,
    by: Option<&str>,
) -> String {
    let who = by.map(|b| format!(" — {b}")).unwrap_or_default();
    match (l, reply) {
        (Lang::Zh, Some("once")) => format!("✅ 已允许一次：{permission}{who}"),
        (Lang::Zh, Some("always")) => format!("♾ 已总是允许：{permission}{who}"),
        (Lang::Zh, Some(_)) => format!("⛔ 已拒绝：{permission}{who}"),
        (Lang::Zh, None) => format!("⌛ 请求已失效：{permission}"),
        (Lang::En, Some("once")) => format!("✅ Allowed once: {permission}{who}"),
        (Lang::En, Some("always")) => format!("♾ Always allowed: {permission}{who}"),
        (Lang::En, Some(_)) => format!("⛔ Rejected: {permission}{who}"),
        (Lang::En, None) => format!("⌛ No longer needed: {permission}"),
    }
}

pub fn question_ask(l: Lang, question: &str) -> String {
    match l {
        Lang::Zh => format!("❓ OpenCode 提问：{question}"),
        Lang::En => format!("❓ OpenCode asks: {question}"),
    }
}

pub fn question_outcome(l: Lang, answer: Option<&str>, by: Option<&str>) -> String {
    let who = by.map(|b| format!(" — {b}")).unwrap_or_default();
    match (l, answer) {
        (Lang::Zh, Some("")) => format!("⛔ 已拒绝回答{who}"),
        (Lang::Zh, Some(a)) => format!("💬 已回答：{a}{who}"),
        (Lang::Zh, None) => "⌛ 问题已失效".to_string(),
        (Lang::En, Some("")) => format!("⛔ Declined to answer{who}"),
        (Lang::En, Some(a)) => format!("💬 Answered: {a}{who}"),
        (Lang::En, None) => "⌛ Question no longer open".to_string(),
    }
}

pub fn opencode_unreachable(l: Lang, url: &str) -> String {
    match l {
        Lang::Zh => {
            format!("OpenCode（{url}）暂时无法连接，可能正在重启。请稍后再试，/status 可查看状态")
        }
        Lang::En => format!(
            "OpenCode at {url} cannot be reached right now (restarting?). Try again shortly; /status shows its state"
        ),
    }
}
