//! Palette PNG encoding. Unfiltered indices + zlib level 1: text pages are long runs of
//! background, which zlib's level 1 finds cheaply (RENDERING.md §4.3: 3.5× smaller than
//! RGB with png's "fast" mode at about the same speed; fdeflate is bad on palette data).

use crate::RenderError;
use crate::compose::Canvas;

pub(crate) fn png(c: &Canvas) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::with_capacity(c.pixels.len() / 12);
    {
        let mut enc = png::Encoder::new(&mut out, c.width, c.height);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(c.palette.iter().flatten().copied().collect::<Vec<u8>>());
        enc.set_filter(png::Filter::NoFilter);
        enc.set_deflate_compression(png::DeflateCompression::Level(1));
        let mut w = enc.write_header()?;
        w.write_image_data(&c.pixels)?;
        w.finish()?;
    }
    Ok(out)
}
