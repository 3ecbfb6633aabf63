//! Renders a file to PNG pages and prints timings (development aid; the product command
//! is `cloudify render`). Usage: render_file FILE [--diff] [OUT_DIR] [--repeat N]
use std::time::Instant;

use cloudify_render::{PageOptions, Renderer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args
        .first()
        .ok_or("usage: render_file FILE [--diff] [OUT_DIR] [--repeat N]")?;
    let diff = args.iter().any(|a| a == "--diff");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1), |s| s.parse())?;
    let out = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
        .cloned()
        .unwrap_or_else(|| ".".into());
    let bytes = std::fs::read(file)?;
    let t0 = Instant::now();
    let r = Renderer::global()?;
    println!("init {:?}", t0.elapsed());
    let opts = PageOptions::default();
    let mut pages = Vec::new();
    for i in 0..repeat {
        let t = Instant::now();
        pages = if diff {
            r.render_diff(&String::from_utf8_lossy(&bytes), &opts)?
        } else {
            r.render_code_bytes(&bytes, Some(file), &opts)?
        };
        println!("render {i}: {:?}", t.elapsed());
    }
    std::fs::create_dir_all(&out)?;
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("out");
    for p in &pages {
        let path = format!("{out}/{stem}-{}.png", p.index + 1);
        std::fs::write(&path, &p.png)?;
        println!(
            "{path} {}x{} {} bytes lines {}-{}",
            p.width,
            p.height,
            p.png.len(),
            p.first_line,
            p.last_line
        );
    }
    Ok(())
}
