//! One-line summaries of tool calls (`🔧 bash: cargo test` is the relay's business; the
//! `cargo test` part is ours, since only we know each tool's input shape).

use serde_json::Value;

use crate::types::ToolState;

const MAX_CHARS: usize = 160;

/// Short human summary of a tool call: the command, the path, the pattern or the title.
#[must_use]
pub fn summarize(tool: &str, state: &ToolState) -> String {
    let input = state.input();
    let field = |k: &str| {
        input
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let picked = match tool {
        "bash" => field("command"),
        "read" | "edit" | "write" | "patch" | "multiedit" => {
            field("filePath").or_else(|| field("filepath"))
        }
        "glob" | "grep" => field("pattern"),
        "webfetch" => field("url"),
        "task" => field("description"),
        "skill" => field("name"),
        _ => None,
    }
    .map(str::to_owned);
    let picked = picked.or_else(|| match tool {
        "todowrite" => input
            .get("todos")
            .and_then(Value::as_array)
            .map(|t| format!("{} todos", t.len())),
        "question" => input
            .pointer("/questions/0/question")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    });
    let title = match state {
        ToolState::Running { title, .. } | ToolState::Completed { title, .. } => title.clone(),
        _ => None,
    };
    let text = picked.or(title).unwrap_or_else(|| tool.to_owned());
    one_line(&text)
}

fn one_line(s: &str) -> String {
    let first = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    let more_lines = s.trim().lines().count() > 1;
    let mut out: String = first.chars().take(MAX_CHARS).collect();
    if more_lines || first.chars().count() > MAX_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries() {
        let running = |input: Value| ToolState::Running {
            input,
            title: None,
            metadata: Value::Null,
        };
        assert_eq!(
            summarize("bash", &running(json!({"command":"cargo test"}))),
            "cargo test"
        );
        assert_eq!(summarize("bash", &running(json!({"command":"a\nb"}))), "a…");
        assert_eq!(
            summarize("write", &running(json!({"filePath":"/p/x.rs"}))),
            "/p/x.rs"
        );
        assert_eq!(
            summarize("todowrite", &running(json!({"todos":[1,2]}))),
            "2 todos"
        );
        assert_eq!(summarize("mystery", &running(json!({}))), "mystery");
        let long = "x".repeat(500);
        assert_eq!(
            summarize("bash", &running(json!({"command": long})))
                .chars()
                .count(),
            MAX_CHARS + 1
        );
    }
}
