//! QR codes for binding: Unicode half blocks for terminals (like `qrencode -t ansiutf8`)
//! and PNG for `/qr` and `/data/qr/<instance>.png`.

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};
use std::io::Cursor;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QrError {
    #[error("text too long for a QR code: {0}")]
    TooLong(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

/// Modules of white border around the code; scanners need at least 4.
const QUIET: usize = 4;

fn matrix(text: &str) -> Result<(Vec<bool>, usize), QrError> {
    // Medium error correction: robust on a phone photo of a screen, still compact.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((dark, width))
}

/// The QR as lines of half blocks, two module rows per line. With `ansi`, each line sets
/// black on white so it scans on dark and light terminals alike.
pub fn terminal(text: &str, ansi: bool) -> Result<String, QrError> {
    let (dark, width) = matrix(text)?;
    let size = width + 2 * QUIET;
    let at = |x: usize, y: usize| -> bool {
        x >= QUIET
            && y >= QUIET
            && x < QUIET + width
            && y < QUIET + width
            && dark[(y - QUIET) * width + (x - QUIET)]
    };
    let mut out = String::with_capacity(size * size);
    for y in (0..size).step_by(2) {
        if ansi {
            out.push_str("\x1b[30;47m");
        }
        for x in 0..size {
            let (top, bottom) = (at(x, y), y + 1 < size && at(x, y + 1));
            // Without ANSI the terminal's own colours are unknown: draw light modules so a
            // dark-background terminal shows dark modules as gaps (the usual `-t UTF8` trick).
            let (top, bottom) = if ansi {
                (top, bottom)
            } else {
                (!top, !(bottom || y + 1 >= size))
            };
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if ansi {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    Ok(out)
}

/// The QR as a black-on-white PNG, `scale` pixels per module.
pub fn png(text: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let (dark, width) = matrix(text)?;
    let scale = scale.clamp(1, 64);
    let side = (width + 2 * QUIET) as u32 * scale;
    let img = GrayImage::from_fn(side, side, |px, py| {
        let (x, y) = ((px / scale) as usize, (py / scale) as usize);
        let is_dark = x >= QUIET
            && y >= QUIET
            && x < QUIET + width
            && y < QUIET + width
            && dark[(y - QUIET) * width + (x - QUIET)];
        Luma([if is_dark { 0 } else { 255 }])
    });
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png)?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str =
        "https://t.me/cloudify_bot?start=AQ2rN8Zz0Q1Pq3m7YkXz1Q2w3e4r5t6y7u8i9o0p1a2s3d4f5g";

    fn decode(img: &GrayImage) -> String {
        let mut prepared = rqrr::PreparedImage::prepare(img.clone());
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_decodes_to_the_link() {
        let bytes = png(LINK, 8).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(decode(&img), LINK);
    }

    /// Reads half blocks back into pixels, the way a camera sees the terminal.
    fn terminal_to_image(art: &str, ansi: bool) -> GrayImage {
        let clean = art.replace("\x1b[30;47m", "").replace("\x1b[0m", "");
        let lines: Vec<Vec<char>> = clean.lines().map(|l| l.chars().collect()).collect();
        let (w, h) = (lines[0].len() as u32, lines.len() as u32 * 2);
        let scale = 6;
        GrayImage::from_fn(w * scale, h * scale, |px, py| {
            let (x, y) = ((px / scale) as usize, (py / scale) as usize);
            let c = lines[y / 2][x];
            let top_half = y % 2 == 0;
            let filled = match c {
                '█' => true,
                '▀' => top_half,
                '▄' => !top_half,
                _ => false,
            };
            // With ANSI filled = dark; without, filled = light.
            let dark = if ansi { filled } else { !filled };
            Luma([if dark { 0 } else { 255 }])
        })
    }

    #[test]
    fn terminal_art_scans_with_and_without_ansi() {
        for ansi in [true, false] {
            let art = terminal(LINK, ansi).unwrap();
            assert_eq!(decode(&terminal_to_image(&art, ansi)), LINK, "ansi={ansi}");
        }
    }

    #[test]
    fn too_long_text_is_an_error() {
        assert!(matches!(
            png(&"x".repeat(5000), 4),
            Err(QrError::TooLong(_))
        ));
    }
}
