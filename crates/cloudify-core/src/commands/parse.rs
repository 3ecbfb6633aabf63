//! Turns `/command args` into a [`Command`]. Telegram command names cannot contain `-`,
//! so every dashed command also answers to its underscore form (`/reset_qr`).

use thiserror::Error;

/// One row per command: the single source for parsing, `/help` and Telegram's menu.
pub struct CommandSpec {
    pub name: &'static str,
    pub usage: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

impl CommandSpec {
    /// The name Telegram accepts in `setMyCommands` (`[a-z0-9_]`).
    pub fn telegram_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "start",
        usage: "/start",
        en: "Help, or bind with a QR token",
        zh: "帮助，或通过二维码绑定",
    },
    CommandSpec {
        name: "help",
        usage: "/help",
        en: "Command help",
        zh: "命令帮助",
    },
    CommandSpec {
        name: "bind",
        usage: "/bind <code>",
        en: "Bind with a code",
        zh: "使用绑定码绑定",
    },
    CommandSpec {
        name: "status",
        usage: "/status",
        en: "Status of the active instance",
        zh: "当前实例状态",
    },
    CommandSpec {
        name: "list",
        usage: "/list",
        en: "Your instances",
        zh: "已绑定的实例",
    },
    CommandSpec {
        name: "switch",
        usage: "/switch <name>",
        en: "Change active instance",
        zh: "切换当前实例",
    },
    CommandSpec {
        name: "rename",
        usage: "/rename <new name>",
        en: "Rename the active instance",
        zh: "重命名当前实例",
    },
    CommandSpec {
        name: "unbind",
        usage: "/unbind <name>",
        en: "Remove your binding",
        zh: "解除绑定",
    },
    CommandSpec {
        name: "reset-qr",
        usage: "/reset-qr",
        en: "Owner: new QR, kick everyone",
        zh: "所有者：重置二维码并移除所有人",
    },
    CommandSpec {
        name: "kick",
        usage: "/kick <user>",
        en: "Owner: remove a user",
        zh: "所有者：移除用户",
    },
    CommandSpec {
        name: "unban",
        usage: "/unban <user>",
        en: "Owner: let a kicked user bind again",
        zh: "所有者：允许被移除的用户重新绑定",
    },
    CommandSpec {
        name: "qr",
        usage: "/qr",
        en: "Owner: binding QR (private chat)",
        zh: "所有者：绑定二维码（私聊）",
    },
    CommandSpec {
        name: "sessions",
        usage: "/sessions",
        en: "Pick the OpenCode session",
        zh: "选择 OpenCode 会话",
    },
    CommandSpec {
        name: "new",
        usage: "/new",
        en: "Start a new session",
        zh: "新建会话",
    },
    CommandSpec {
        name: "cancel",
        usage: "/cancel",
        en: "Stop the running task",
        zh: "中止当前任务",
    },
    CommandSpec {
        name: "model",
        usage: "/model [name]",
        en: "List or switch model",
        zh: "查看或切换模型",
    },
    CommandSpec {
        name: "agent",
        usage: "/agent [name]",
        en: "List or switch agent",
        zh: "查看或切换智能体",
    },
    CommandSpec {
        name: "diff",
        usage: "/diff",
        en: "Uncommitted changes as images",
        zh: "未提交的改动（图片）",
    },
    CommandSpec {
        name: "web",
        usage: "/web [rotate]",
        en: "Web terminal link; rotate: new login",
        zh: "网页终端链接；rotate：更换登录凭据",
    },
    CommandSpec {
        name: "web-terminal",
        usage: "/web-terminal ttyd|code-server",
        en: "Switch terminal kind",
        zh: "切换终端类型",
    },
    CommandSpec {
        name: "proxy",
        usage: "/proxy set <url> | status | disable",
        en: "Outbound proxy",
        zh: "出站代理",
    },
    CommandSpec {
        name: "lang",
        usage: "/lang zh|en",
        en: "Reply language",
        zh: "回复语言",
    },
];

/// Commands that buttons send; not in the menu.
const HIDDEN: &[&str] = &[
    "approve",
    "answer",
    "file-too-large",
    "approve-user",
    "reject-user",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionReply {
    Once,
    Always,
    Reject,
}

impl PermissionReply {
    pub fn as_str(&self) -> &'static str {
        match self {
            PermissionReply::Once => "once",
            PermissionReply::Always => "always",
            PermissionReply::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAction {
    Set(String),
    Status,
    Disable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start(Option<String>),
    Help,
    Bind(String),
    Status,
    List,
    Switch(String),
    Rename(String),
    Unbind(String),
    ResetQr,
    Kick(String),
    /// `/unban <user>`: lifts the ban `/kick` recorded.
    Unban(String),
    /// `/approve_user <platform:id>` (the owner's button under a waiting binder).
    ApproveUser(String),
    /// `/reject_user <platform:id>`.
    RejectUser(String),
    Qr,
    /// `/sessions` lists; `/sessions <id>` picks (what the buttons send).
    Sessions(Option<String>),
    New,
    Cancel,
    Model(Option<String>),
    Agent(Option<String>),
    Diff,
    /// `/web`, or `/web rotate` (new credentials; owner).
    Web {
        rotate: bool,
    },
    WebTerminal(String),
    Proxy(ProxyAction),
    Lang(String),
    Approve {
        id: String,
        reply: PermissionReply,
    },
    /// `/answer <question id> <option index>[,<index>…]`, or `reject`.
    Answer {
        id: String,
        choice: Option<Vec<usize>>,
    },
    /// An adapter's note that a user's file was over the platform's download limit
    /// (`/file_too_large <bytes> <name>`).
    FileTooLarge {
        bytes: u64,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown command /{0}")]
    Unknown(String),
    #[error("usage: {0}")]
    Usage(&'static str),
}

fn usage_of(name: &str) -> &'static str {
    match name {
        "approve" => "/approve <id> once|always|reject",
        "answer" => "/answer <id> <option number>|reject",
        "approve-user" => "/approve_user <platform:id>",
        "reject-user" => "/reject_user <platform:id>",
        _ => COMMANDS
            .iter()
            .find(|c| c.name == name)
            .map_or("/help", |c| c.usage),
    }
}

/// `None` when `text` is not a command at all (a prompt for OpenCode).
pub fn parse(text: &str) -> Option<Result<Command, ParseError>> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let (head, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    // `/status@my_bot` in groups.
    let name = head
        .split('@')
        .next()
        .unwrap_or(head)
        .to_ascii_lowercase()
        .replace('_', "-");
    if name.is_empty() || name.contains('/') {
        // `/` alone or a path like `/etc/hosts` is text for the agent, not a command.
        return None;
    }
    let arg = (!args.is_empty()).then(|| args.to_string());
    let need = |a: Option<String>| a.ok_or(ParseError::Usage(usage_of(&name)));
    let cmd = match name.as_str() {
        "start" => Ok(Command::Start(arg)),
        "help" => Ok(Command::Help),
        "bind" => need(arg).map(Command::Bind),
        "status" => Ok(Command::Status),
        "list" => Ok(Command::List),
        "switch" => need(arg).map(Command::Switch),
        "rename" => need(arg).map(Command::Rename),
        "unbind" => need(arg).map(Command::Unbind),
        "reset-qr" => Ok(Command::ResetQr),
        "kick" => need(arg).map(Command::Kick),
        "unban" => need(arg).map(Command::Unban),
        "approve-user" => need(arg).map(Command::ApproveUser),
        "reject-user" => need(arg).map(Command::RejectUser),
        "qr" => Ok(Command::Qr),
        "sessions" => Ok(Command::Sessions(arg)),
        "new" => Ok(Command::New),
        "cancel" | "stop" | "abort" => Ok(Command::Cancel),
        "model" => Ok(Command::Model(arg)),
        "agent" => Ok(Command::Agent(arg)),
        "diff" => Ok(Command::Diff),
        "web" => match arg.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => Ok(Command::Web { rotate: false }),
            Some("rotate") => Ok(Command::Web { rotate: true }),
            Some(_) => Err(ParseError::Usage(usage_of("web"))),
        },
        "web-terminal" => need(arg).map(Command::WebTerminal),
        "proxy" => parse_proxy(args),
        "lang" => need(arg).map(Command::Lang),
        "approve" => parse_approve(args),
        "answer" => parse_answer(args),
        "file-too-large" => {
            let (size, name) = args.split_once(' ').unwrap_or((args, ""));
            Ok(Command::FileTooLarge {
                bytes: size.parse().unwrap_or(0),
                name: name.trim().into(),
            })
        }
        _ if HIDDEN.contains(&name.as_str()) => Err(ParseError::Usage(usage_of(&name))),
        _ => Err(ParseError::Unknown(name.chars().take(32).collect())),
    };
    Some(cmd)
}

fn parse_proxy(args: &str) -> Result<Command, ParseError> {
    let mut it = args.split_whitespace();
    match (
        it.next().map(str::to_ascii_lowercase).as_deref(),
        it.next(),
        it.next(),
    ) {
        (Some("set"), Some(url), None) => Ok(Command::Proxy(ProxyAction::Set(url.into()))),
        (Some("status") | None, None, None) => Ok(Command::Proxy(ProxyAction::Status)),
        (Some("disable" | "off"), None, None) => Ok(Command::Proxy(ProxyAction::Disable)),
        _ => Err(ParseError::Usage(usage_of("proxy"))),
    }
}

fn parse_approve(args: &str) -> Result<Command, ParseError> {
    let mut it = args.split_whitespace();
    let (Some(id), Some(reply), None) = (it.next(), it.next(), it.next()) else {
        return Err(ParseError::Usage(usage_of("approve")));
    };
    let reply = match reply.to_ascii_lowercase().as_str() {
        "once" | "allow" | "yes" => PermissionReply::Once,
        "always" => PermissionReply::Always,
        "reject" | "deny" | "no" => PermissionReply::Reject,
        _ => return Err(ParseError::Usage(usage_of("approve"))),
    };
    Ok(Command::Approve {
        id: id.into(),
        reply,
    })
}

fn parse_answer(args: &str) -> Result<Command, ParseError> {
    let mut it = args.split_whitespace();
    let (Some(id), Some(choice), None) = (it.next(), it.next(), it.next()) else {
        return Err(ParseError::Usage(usage_of("answer")));
    };
    if choice.eq_ignore_ascii_case("reject") {
        return Ok(Command::Answer {
            id: id.into(),
            choice: None,
        });
    }
    let picks: Result<Vec<usize>, _> = choice.split(',').map(str::parse::<usize>).collect();
    match picks {
        Ok(p) if !p.is_empty() && p.iter().all(|n| (1..=64).contains(n)) => Ok(Command::Answer {
            id: id.into(),
            choice: Some(p),
        }),
        _ => Err(ParseError::Usage(usage_of("answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_spec_command_parses() {
        for spec in COMMANDS {
            let line = match spec.name {
                "bind" | "switch" | "rename" | "unbind" | "kick" | "unban" | "web-terminal"
                | "lang" => {
                    format!("/{} x", spec.name)
                }
                _ => format!("/{}", spec.name),
            };
            assert!(matches!(parse(&line), Some(Ok(_))), "{line}");
            let tg = format!(
                "/{}@cloudify_bot{}",
                spec.telegram_name(),
                &line[1 + spec.name.len()..]
            );
            assert!(matches!(parse(&tg), Some(Ok(_))), "{tg}");
            assert!(
                spec.telegram_name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }

    #[test]
    fn arguments_and_errors() {
        assert_eq!(
            parse("/start abc"),
            Some(Ok(Command::Start(Some("abc".into()))))
        );
        assert_eq!(parse("/start"), Some(Ok(Command::Start(None))));
        assert_eq!(parse("/reset_qr"), Some(Ok(Command::ResetQr)));
        assert_eq!(
            parse("/unban @mallory"),
            Some(Ok(Command::Unban("@mallory".into())))
        );
        assert_eq!(parse("/web"), Some(Ok(Command::Web { rotate: false })));
        assert_eq!(
            parse("/web rotate"),
            Some(Ok(Command::Web { rotate: true }))
        );
        assert_eq!(
            parse("/web nonsense"),
            Some(Err(ParseError::Usage("/web [rotate]")))
        );
        assert_eq!(
            parse("/RENAME  my  app "),
            Some(Ok(Command::Rename("my  app".into())))
        );
        assert_eq!(
            parse("/switch"),
            Some(Err(ParseError::Usage("/switch <name>")))
        );
        assert_eq!(
            parse("/frobnicate"),
            Some(Err(ParseError::Unknown("frobnicate".into())))
        );
        assert_eq!(parse("hello /status"), None);
        assert_eq!(parse("/etc/hosts is broken"), None);
        assert_eq!(parse("/"), None);
        assert_eq!(
            parse("/approve per_1 always"),
            Some(Ok(Command::Approve {
                id: "per_1".into(),
                reply: PermissionReply::Always
            }))
        );
        assert_eq!(
            parse("/approve per_1 maybe"),
            Some(Err(ParseError::Usage(usage_of("approve"))))
        );
        assert_eq!(
            parse("/answer que_1 2,3"),
            Some(Ok(Command::Answer {
                id: "que_1".into(),
                choice: Some(vec![2, 3])
            }))
        );
        assert_eq!(
            parse("/answer que_1 reject"),
            Some(Ok(Command::Answer {
                id: "que_1".into(),
                choice: None
            }))
        );
        assert_eq!(
            parse("/proxy set http://x:1"),
            Some(Ok(Command::Proxy(ProxyAction::Set("http://x:1".into()))))
        );
        assert_eq!(
            parse("/proxy"),
            Some(Ok(Command::Proxy(ProxyAction::Status)))
        );
        assert_eq!(
            parse("/proxy set"),
            Some(Err(ParseError::Usage(usage_of("proxy"))))
        );
    }

    #[test]
    fn button_commands_fit_telegram_callback_data() {
        // ses_/per_/que_ ids are ~30 chars; uuids 36.
        let id = "per_0123456789abcdefghijklmnop";
        assert!(format!("/approve {id} always").len() <= 64);
        assert!(format!("/switch {}", uuid::Uuid::new_v4()).len() <= 64);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }
    }
}
