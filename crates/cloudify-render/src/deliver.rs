//! How rendered pages reach a chat: pure planning over page metadata, no network.
//!
//! Telegram (Bot API): a photo must be ≤ 10 MB with width + height ≤ 10 000 and an aspect
//! ratio ≤ 20; an album (sendMediaGroup) holds 2–10 photos. DingTalk has no albums and
//! robots may send about 20 messages a minute, so it gets a few images and a link.

use crate::Page;

pub const TELEGRAM_PHOTO_MAX_BYTES: usize = 10 * 1000 * 1000;
pub const TELEGRAM_PHOTO_MAX_SIDES: u32 = 10_000;
pub const TELEGRAM_PHOTO_MAX_RATIO: u32 = 20;
pub const TELEGRAM_ALBUM_MAX: usize = 10;
/// DingTalk's media upload takes 20 MB images today; older documentation said 1 MB, and
/// pages are far below either, so the stricter limit costs nothing.
pub const DINGTALK_IMAGE_MAX_BYTES: usize = 1000 * 1000;
/// Images per DingTalk reply before the rest goes behind a link.
pub const DINGTALK_MAX_IMAGES: usize = 3;

/// Whether Telegram's sendPhoto accepts an image of this size.
pub fn telegram_photo_ok(width: u32, height: u32, bytes: usize) -> bool {
    let (long, short) = (width.max(height), width.min(height));
    short > 0
        && width + height <= TELEGRAM_PHOTO_MAX_SIDES
        && long <= short * TELEGRAM_PHOTO_MAX_RATIO
        && bytes <= TELEGRAM_PHOTO_MAX_BYTES
}

/// What to send on Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramPlan {
    /// Page indices to send as photos: one → sendPhoto, 2..=10 → one sendMediaGroup.
    pub photos: Vec<usize>,
    /// Pages not sent as photos (beyond the album, or breaking photo limits). When any,
    /// send the source itself with sendDocument and offer these pages on demand.
    pub rest: Vec<usize>,
}

impl TelegramPlan {
    pub fn needs_document(&self) -> bool {
        !self.rest.is_empty()
    }
}

/// Pages → one Telegram album of at most 10 photos + a document for the rest.
pub fn plan_telegram(pages: &[Page]) -> TelegramPlan {
    let mut plan = TelegramPlan {
        photos: Vec::new(),
        rest: Vec::new(),
    };
    for (i, p) in pages.iter().enumerate() {
        if plan.photos.len() < TELEGRAM_ALBUM_MAX
            && telegram_photo_ok(p.width, p.height, p.png.len())
        {
            plan.photos.push(i);
        } else {
            plan.rest.push(i);
        }
    }
    plan
}

/// What to send on DingTalk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DingTalkPlan {
    /// Page indices to send as image messages, in order.
    pub images: Vec<usize>,
    /// Pages left out.
    pub omitted: usize,
    /// A closing text line pointing at the full content, when pages were left out.
    pub link_text: Option<String>,
}

/// Pages → at most [`DINGTALK_MAX_IMAGES`] images, then a link (to the file, the web
/// view…) for the rest.
pub fn plan_dingtalk(pages: &[Page], link: Option<&str>) -> DingTalkPlan {
    let mut images = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        if images.len() < DINGTALK_MAX_IMAGES && p.png.len() <= DINGTALK_IMAGE_MAX_BYTES {
            images.push(i);
        }
    }
    let total = pages.first().map_or(0, |p| p.total).max(pages.len());
    let omitted = total - images.len();
    let link_text = (omitted > 0).then(|| match link {
        Some(url) => format!("{omitted} more page(s): {url}"),
        None => format!("{omitted} more page(s) not shown"),
    });
    DingTalkPlan {
        images,
        omitted,
        link_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(index: usize, total: usize, w: u32, h: u32, bytes: usize) -> Page {
        Page {
            png: vec![0; bytes],
            width: w,
            height: h,
            index,
            total,
            first_line: 1,
            last_line: 1,
        }
    }

    #[test]
    fn photo_rules() {
        assert!(telegram_photo_ok(1300, 1800, 200_000));
        assert!(!telegram_photo_ok(4574, 40300, 100), "w+h over 10 000");
        assert!(!telegram_photo_ok(100, 2500, 100), "ratio 25");
        assert!(telegram_photo_ok(100, 2000, 100), "ratio exactly 20");
        assert!(!telegram_photo_ok(1000, 1000, 10_000_001));
        assert!(!telegram_photo_ok(0, 10, 1));
    }

    #[test]
    fn album_then_document() {
        let pages: Vec<Page> = (0..17).map(|i| page(i, 17, 1300, 1800, 150_000)).collect();
        let plan = plan_telegram(&pages);
        assert_eq!(plan.photos, (0..10).collect::<Vec<_>>());
        assert_eq!(plan.rest, (10..17).collect::<Vec<_>>());
        assert!(plan.needs_document());
        let few = plan_telegram(&pages[..3]);
        assert_eq!((few.photos.len(), few.needs_document()), (3, false));
        let mut odd = pages[..2].to_vec();
        odd[1].height = 9000;
        assert_eq!(plan_telegram(&odd).rest, vec![1]);
    }

    #[test]
    fn dingtalk_few_images_and_a_link() {
        let pages: Vec<Page> = (0..6).map(|i| page(i, 6, 1300, 1800, 150_000)).collect();
        let plan = plan_dingtalk(&pages, Some("https://x/y"));
        assert_eq!(plan.images, vec![0, 1, 2]);
        assert_eq!(plan.omitted, 3);
        assert_eq!(
            plan.link_text.as_deref(),
            Some("3 more page(s): https://x/y")
        );
        let one = plan_dingtalk(&[page(0, 1, 1300, 900, 90_000)], None);
        assert_eq!((one.images.len(), one.link_text), (1, None));
    }
}
