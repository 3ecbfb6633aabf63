//! Embedded fonts, the fallback chain and the process-wide glyph cache.
//!
//! Every distinct (character, style, size) is rasterized once into an 8-bit coverage mask
//! positioned relative to its cell, then blitted wherever it occurs. Fonts are `&'static`
//! bytes in the binary (`include_bytes!`), so only the pages of the font files that hold the
//! glyphs actually used are ever touched.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use ab_glyph::{Font, FontRef, GlyphId, PxScale, point};

use crate::RenderError;
use crate::options::Metrics;

static JB_REGULAR: &[u8] = include_bytes!("../fonts/JetBrainsMono-Regular.ttf");
static JB_BOLD: &[u8] = include_bytes!("../fonts/JetBrainsMono-Bold.ttf");
static JB_ITALIC: &[u8] = include_bytes!("../fonts/JetBrainsMono-Italic.ttf");
static DEJAVU_MONO: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");
static WQY_CJK: &[u8] = include_bytes!("../fonts/WenQuanYiMicroHeiMono-CJK.ttf");
static SYMBOLA: &[u8] = include_bytes!("../fonts/Symbola-emoji.ttf");

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Emoji are drawn in this warm colour so a monochrome outline still reads as an emoji.
pub(crate) const EMOJI_TINT: Rgb = [0xf2, 0xc0, 0x5c];

/// Text style from the theme, mapped onto the embedded faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Face {
    Regular = 0,
    Bold = 1,
    Italic = 2,
}

/// A rasterized glyph: coverage over `w`×`h` pixels whose top-left is at (`x`, `y`)
/// relative to the top-left of the glyph's first cell.
#[derive(Debug)]
pub(crate) struct Mask {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
    pub cov: Box<[u8]>,
    /// Colour that overrides the syntax colour (emoji).
    pub tint: Option<Rgb>,
}

const ASCII_FIRST: u32 = 0x20;
const ASCII_COUNT: usize = 95;

/// Masks for printable ASCII in all faces at one size: the lock-free fast path. Each slot is
/// rasterized on first use, so a 3-line render pays for the ~40 glyphs it shows, not all 285.
pub(crate) struct AsciiMasks {
    metrics: Metrics,
    slots: [[OnceLock<Arc<Mask>>; ASCII_COUNT]; 3],
}

impl AsciiMasks {
    fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            slots: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }

    /// The mask of a printable ASCII `ch`, or `None` for any other character.
    #[inline]
    pub(crate) fn get(&self, fonts: &Fonts, ch: char, face: Face) -> Option<&Arc<Mask>> {
        let i = (ch as u32).checked_sub(ASCII_FIRST)? as usize;
        let slot = self.slots[face as usize].get(i)?;
        Some(slot.get_or_init(|| Arc::new(fonts.rasterize(ch, face, 1, &self.metrics))))
    }
}

pub(crate) struct Fonts {
    faces: [FontRef<'static>; 3],
    fallbacks: [FontRef<'static>; 3],
    ascii: RwLock<HashMap<u16, Arc<AsciiMasks>>>,
    other: RwLock<HashMap<(char, Face, u16), Arc<Mask>>>,
}

fn parse(bytes: &'static [u8], name: &'static str) -> Result<FontRef<'static>, RenderError> {
    FontRef::try_from_slice(bytes).map_err(|_| RenderError::Font(name))
}

fn is_emoji(ch: char) -> bool {
    matches!(ch as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
}

impl Fonts {
    pub(crate) fn new() -> Result<Self, RenderError> {
        Ok(Self {
            faces: [
                parse(JB_REGULAR, "JetBrains Mono Regular")?,
                parse(JB_BOLD, "JetBrains Mono Bold")?,
                parse(JB_ITALIC, "JetBrains Mono Italic")?,
            ],
            fallbacks: [
                parse(DEJAVU_MONO, "DejaVu Sans Mono")?,
                parse(WQY_CJK, "WenQuanYi Micro Hei Mono")?,
                parse(SYMBOLA, "Symbola")?,
            ],
            ascii: RwLock::new(HashMap::new()),
            other: RwLock::new(HashMap::new()),
        })
    }

    /// The ASCII table for this size (its glyphs are rasterized as pages use them).
    pub(crate) fn ascii(&self, m: &Metrics) -> Arc<AsciiMasks> {
        if let Some(t) = self.ascii.read().ok().and_then(|g| g.get(&m.em).cloned()) {
            return t;
        }
        let table = Arc::new(AsciiMasks::new(*m));
        match self.ascii.write() {
            Ok(mut g) => g.entry(m.em).or_insert(table).clone(),
            // A poisoned lock only loses caching, never correctness.
            Err(_) => table,
        }
    }

    /// Any character (non-ASCII path): cached mask, rasterized on first use.
    pub(crate) fn mask(&self, ch: char, face: Face, width: u8, m: &Metrics) -> Arc<Mask> {
        let key = (ch, face, m.em);
        if let Some(mask) = self.other.read().ok().and_then(|g| g.get(&key).cloned()) {
            return mask;
        }
        let mask = Arc::new(self.rasterize(ch, face, width, m));
        // A poisoned lock only loses caching, never correctness.
        if let Ok(mut g) = self.other.write() {
            g.entry(key).or_insert_with(|| mask.clone());
        }
        mask
    }

    /// Finds the first font with a glyph for `ch`: the face, DejaVu (symbols), WenQuanYi
    /// (CJK), Symbola (emoji).
    fn resolve(&self, ch: char, face: Face) -> Option<(&FontRef<'static>, GlyphId, bool)> {
        let primary = &self.faces[face as usize];
        let id = primary.glyph_id(ch);
        if id.0 != 0 {
            return Some((primary, id, false));
        }
        for (i, f) in self.fallbacks.iter().enumerate() {
            let id = f.glyph_id(ch);
            if id.0 != 0 {
                return Some((f, id, i == 2));
            }
        }
        None
    }

    fn rasterize(&self, ch: char, face: Face, width: u8, m: &Metrics) -> Mask {
        let span = f32::from(width.max(1)) * m.cell_w as f32;
        let (font, id, from_symbola) = match self.resolve(ch, face) {
            Some(found) => found,
            None if is_emoji(ch) => return placeholder_disc(width, m),
            // Outside every font: the primary's .notdef box, the honest "missing glyph".
            None => (&self.faces[0], GlyphId(0), false),
        };
        let upem = font.units_per_em().unwrap_or(1000.0);
        let mut px_per_unit = f32::from(m.em) / upem;
        let advance = font.h_advance_unscaled(id) * px_per_unit;
        // Wide symbol glyphs from the fallbacks are shrunk to fit their cells.
        if advance > span * 1.02 {
            px_per_unit *= span / advance;
        }
        let advance = font.h_advance_unscaled(id) * px_per_unit;
        let scale = PxScale::from(font.height_unscaled() * px_per_unit);
        let x0 = ((span - advance) / 2.0).max(0.0);
        let glyph = id.with_scale_and_position(scale, point(x0, m.baseline as f32));
        let tint = (from_symbola && is_emoji(ch)).then_some(EMOJI_TINT);
        let Some(outline) = font.outline_glyph(glyph) else {
            return Mask {
                x: 0,
                y: 0,
                w: 0,
                h: 0,
                cov: Box::new([]),
                tint,
            };
        };
        let b = outline.px_bounds();
        let (w, h) = ((b.width() as u32).max(1), (b.height() as u32).max(1));
        let mut cov = vec![0u8; (w * h) as usize];
        outline.draw(|x, y, c| {
            if x < w && y < h {
                cov[(y * w + x) as usize] = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
        Mask {
            x: b.min.x as i32,
            y: b.min.y as i32,
            w,
            h,
            cov: cov.into(),
            tint,
        }
    }
}

/// A filled disc for emoji newer than the emoji font: a visible "emoji here", never a box.
fn placeholder_disc(width: u8, m: &Metrics) -> Mask {
    let span = u32::from(width.max(1)) * m.cell_w;
    let d = (f32::from(m.em) * 0.8).min(span as f32);
    let size = d.ceil() as u32;
    let r = d / 2.0;
    let mut cov = vec![0u8; (size * size) as usize];
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = (x as f32 + 0.5 - r, y as f32 + 0.5 - r);
            let edge = r - (dx * dx + dy * dy).sqrt();
            cov[(y * size + x) as usize] = (edge.clamp(0.0, 1.0) * 255.0) as u8;
        }
    }
    let top = m.baseline as i32 - (f32::from(m.em) * 0.75) as i32;
    Mask {
        x: ((span - size) / 2) as i32,
        y: top,
        w: size,
        h: size,
        cov: cov.into(),
        tint: Some(EMOJI_TINT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(mask: &Mask) -> u32 {
        mask.cov.iter().map(|&c| u32::from(c)).sum()
    }

    #[test]
    fn embedded_fonts_parse_and_cover_their_scripts() {
        let f = Fonts::new().unwrap();
        assert!(!f.resolve('a', Face::Regular).unwrap().2);
        assert!(f.resolve('中', Face::Regular).is_some());
        assert!(f.resolve('한', Face::Regular).is_some());
        assert!(f.resolve('ℝ', Face::Regular).is_some());
        assert!(
            f.resolve('😀', Face::Regular).unwrap().2,
            "emoji come from Symbola"
        );
    }

    #[test]
    fn glyphs_have_ink_and_emoji_are_tinted() {
        let f = Fonts::new().unwrap();
        let m = Metrics::new(20);
        assert!(ink(&f.mask('中', Face::Regular, 2, &m)) > 10_000);
        let smile = f.mask('😀', Face::Regular, 2, &m);
        assert!(ink(&smile) > 5_000);
        assert_eq!(smile.tint, Some(EMOJI_TINT));
        // U+1FAE8 (Unicode 15) is in no embedded font: a tinted disc, not an empty cell.
        let new = f.mask('\u{1FAE8}', Face::Regular, 2, &m);
        assert!(ink(&new) > 20_000);
        assert_eq!(new.tint, Some(EMOJI_TINT));
        let ascii = f.ascii(&m);
        assert_eq!(ink(ascii.get(&f, ' ', Face::Regular).unwrap()), 0);
        assert!(ink(ascii.get(&f, 'W', Face::Bold).unwrap()) > 1000);
        assert!(ascii.get(&f, '中', Face::Bold).is_none());
    }

    #[test]
    fn masks_stay_inside_their_cells_horizontally() {
        let f = Fonts::new().unwrap();
        let m = Metrics::new(20);
        for ch in ['W', 'm', '@', '中', '😀'] {
            let w = if ch.is_ascii() { 1 } else { 2 };
            let mask = f.mask(ch, Face::Regular, w, &m);
            assert!(mask.x >= -1, "{ch} starts at {}", mask.x);
            let right = mask.x + mask.w as i32;
            assert!(
                right <= (u32::from(w) * m.cell_w) as i32 + 1,
                "{ch} ends at {right}"
            );
        }
    }
}
