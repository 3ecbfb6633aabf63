// 中文注释：计算用户的消息数量 — 日本語のコメント — 한국어 주석
use std::collections::HashMap;

/// 状态机 🦀 for the bot ✅
#[derive(Debug, Clone)]
pub enum 状态 {
    空闲,           // idle 😴
    运行中(u32),    // running 🚀
    完成 { 结果: String }, // done 🎉
}

fn 统计(消息: &[&str]) -> HashMap<&str, usize> {
	let mut 计数 = HashMap::new(); // tab-indented line
	for m in 消息 {
		*计数.entry(*m).or_insert(0) += 1;
	}
	计数
}

fn main() {
    let greeting = "你好，世界！こんにちは 안녕하세요 👋🌍";
    let math = "ℝ → ∀x∈ℕ: x² ≥ 0 ⇒ λ ⊕ ∞";
    let boxes = "┌──┬──┐ │中│ab│ └──┴──┘";
    println!("{greeting} {math} {boxes}");
    let newer_emoji = "🫨 🥲 🧑‍💻";
    let ctrl = "bell\u{7} esc\x1b";
    println!("{newer_emoji}{ctrl}");
}
