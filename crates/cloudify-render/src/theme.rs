//! The dark page theme: syntect's base16-ocean.dark for code, plus our own colours for
//! the chrome (title bar, gutter, diff tints). Chosen for phones: low-glare background,
//! ≥ 7:1 contrast for body text, tints light enough that syntax colours stay legible.

use crate::fonts::{Face, Rgb};

pub(crate) const SYNTECT_THEME: &str = "base16-ocean.dark";

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

pub(crate) const BG: Rgb = [0x2b, 0x30, 0x3b];
pub(crate) const FG: Rgb = [0xc0, 0xc5, 0xce];
const GREEN: Rgb = [0xa3, 0xbe, 0x8c];
const RED: Rgb = [0xe0, 0x6c, 0x75];
const BLUE: Rgb = [0x8f, 0xa1, 0xb3];
const DIM: Rgb = [0x65, 0x73, 0x7e];

/// Background kinds: the first palette entries of every page, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Bg {
    Code = 0,
    Gutter,
    Add,
    Del,
    AddGutter,
    DelGutter,
    Hunk,
    File,
    Title,
}

pub(crate) const BG_COUNT: usize = 9;

pub(crate) fn bg_colours() -> [Rgb; BG_COUNT] {
    [
        BG,
        [0x25, 0x29, 0x33],
        mix(BG, GREEN, 0.16),
        mix(BG, RED, 0.17),
        mix(BG, GREEN, 0.30),
        mix(BG, RED, 0.30),
        mix(BG, BLUE, 0.16),
        [0x3a, 0x42, 0x4e],
        [0x1d, 0x20, 0x27],
    ]
}

/// Styles of the chrome; their indices are reserved at the start of every style table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Ui {
    Text = 0,
    LineNo,
    WrapMark,
    AddSign,
    DelSign,
    Hunk,
    File,
    Meta,
    Title,
    TitleDim,
}

pub(crate) const UI_STYLES: [(Rgb, Face); 10] = [
    (FG, Face::Regular),
    (DIM, Face::Regular),
    ([0x4f, 0x5b, 0x66], Face::Regular),
    (GREEN, Face::Bold),
    (RED, Face::Bold),
    (BLUE, Face::Italic),
    ([0xef, 0xf1, 0xf5], Face::Bold),
    (DIM, Face::Italic),
    ([0xdf, 0xe1, 0xe8], Face::Bold),
    (DIM, Face::Regular),
];

/// base16-ocean's comment grey (#65737e) is 3:1 on its background: too faint on a phone in
/// daylight. Lift it to ~5:1, still clearly quieter than code.
pub(crate) fn tune(mut theme: syntect::highlighting::Theme) -> syntect::highlighting::Theme {
    use syntect::highlighting::Color;
    let faint = Color {
        r: 0x65,
        g: 0x73,
        b: 0x7e,
        a: 0xff,
    };
    for item in &mut theme.scopes {
        if item.style.foreground == Some(faint) {
            item.style.foreground = Some(Color {
                r: 0x8a,
                g: 0x98,
                b: 0xa6,
                a: 0xff,
            });
        }
    }
    theme
}
