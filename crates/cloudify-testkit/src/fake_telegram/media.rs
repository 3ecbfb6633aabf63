//! Photo checks: dimensions read from the PNG/JPEG headers, Telegram's photo limits.

use super::params::ApiError;

pub(crate) const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
pub(crate) const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
pub(crate) const MAX_DOWNLOAD_BYTES: usize = 20 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Reads width and height from a PNG (IHDR) or JPEG (SOFn) header.
pub(crate) fn sniff(bytes: &[u8]) -> Option<ImageInfo> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let be16 = |at: usize| Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    if bytes.starts_with(PNG) && bytes.get(12..16) == Some(b"IHDR") {
        let (width, height) = (be32(16)?, be32(20)?);
        return Some(ImageInfo {
            format: "png",
            width,
            height,
        });
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1; // fill bytes
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return None; // end of image or scan data before any frame header
        }
        let len = usize::from(be16(at + 2)?);
        let is_frame = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
        if is_frame {
            let height = u32::from(be16(at + 5)?);
            let width = u32::from(be16(at + 7)?);
            return Some(ImageInfo {
                format: "jpeg",
                width,
                height,
            });
        }
        at += 2 + len;
    }
}

/// Telegram's sendPhoto rules: ≤ 10 MB, width + height ≤ 10000, ratio ≤ 20.
pub(crate) fn check_photo(bytes: &[u8]) -> Result<ImageInfo, ApiError> {
    let info = sniff(bytes)
        .filter(|i| i.width > 0 && i.height > 0)
        .ok_or_else(|| ApiError::bad("IMAGE_PROCESS_FAILED"))?;
    let (w, h) = (u64::from(info.width), u64::from(info.height));
    if bytes.len() > MAX_PHOTO_BYTES || w + h > 10_000 || w.max(h) > 20 * w.min(h) {
        return Err(ApiError::bad("PHOTO_INVALID_DIMENSIONS"));
    }
    Ok(info)
}

/// The sizes Telegram lists for a photo: thumbnails of 90, 320, 800, 1280 and 2560 px on the
/// long side, each only while smaller than the original, then the largest one.
pub(crate) fn photo_sizes(width: u32, height: u32) -> Vec<(u32, u32)> {
    let long = width.max(height);
    let mut sizes = Vec::new();
    for limit in [90, 320, 800, 1280, 2560] {
        if long <= limit {
            sizes.push((width, height));
            break;
        }
        let scale = |v: u32| (u64::from(v) * u64::from(limit) / u64::from(long)).max(1);
        let size = (scale(width), scale(height));
        sizes.push((
            u32::try_from(size.0).unwrap_or(limit),
            u32::try_from(size.1).unwrap_or(limit),
        ));
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend(w.to_be_bytes());
        v.extend(h.to_be_bytes());
        v
    }

    #[test]
    fn sniffs_png_and_jpeg() {
        assert_eq!(sniff(&png_header(640, 480)).unwrap().width, 640);
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0x01, 0xE0, 0x02, 0x80, 1,
        ];
        let info = sniff(&jpeg).unwrap();
        assert_eq!((info.format, info.width, info.height), ("jpeg", 640, 480));
        assert!(sniff(b"GIF89a").is_none());
    }

    #[test]
    fn photo_limits() {
        assert!(check_photo(&png_header(5000, 5000)).is_ok());
        assert!(check_photo(&png_header(5001, 5000)).is_err());
        assert!(check_photo(&png_header(2100, 100)).is_err());
        assert!(check_photo(&png_header(2000, 100)).is_ok());
        assert_eq!(
            check_photo(b"nope").unwrap_err().description,
            "Bad Request: IMAGE_PROCESS_FAILED"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(photo_sizes(100, 50), vec![(90, 45), (100, 50)]);
        assert_eq!(photo_sizes(3000, 3000).last(), Some(&(2560, 2560)));
    }
}
