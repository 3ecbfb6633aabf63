//! [`DingTalkAdapter`]: the `Adapter` implementation and its shared state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cloudify_core::adapter::{
    Adapter, AdapterError, ChatRef, DeliveryError, IncomingSink, PlatformLimits, SentId,
};
use cloudify_core::identity::Platform;
use cloudify_core::output::Envelope;

use crate::api::Api;
use crate::cards::Cards;
use crate::deliver::Delivery;
use crate::incoming::Intake;
use crate::options::{DingTalkError, DingTalkOptions};
use crate::plan::{Format, Step, plan};
use crate::stream::Stream;

/// Characters per message. DingTalk publishes no hard limit; `msgParam` is capped at
/// 15 000 bytes, and 3000 CJK characters stay well under that after JSON escaping.
pub const MAX_TEXT_CHARS: usize = 3000;

/// The DingTalk adapter. Cheap to clone; clones share the token, webhooks and cards.
#[derive(Clone)]
pub struct DingTalkAdapter {
    delivery: Arc<Delivery>,
    stream: Arc<Stream>,
}

impl std::fmt::Debug for DingTalkAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingTalkAdapter")
            .field("robot_code", &self.delivery.api.robot_code)
            .finish_non_exhaustive()
    }
}

impl DingTalkAdapter {
    /// Builds the HTTP client; no network until `run`/`send`.
    pub fn new(opts: DingTalkOptions) -> Result<Self, DingTalkError> {
        let none_if_empty = |t: Option<String>| t.filter(|t| !t.trim().is_empty());
        let ai = none_if_empty(opts.ai_card_template.clone());
        let prompt = none_if_empty(opts.prompt_card_template.clone());
        let api = Arc::new(Api::new(&opts)?);
        let webhooks = Arc::default();
        let card_book = Arc::default();
        let intake = Intake {
            api: api.clone(),
            max_download: opts.max_download_bytes,
            webhooks: Arc::clone(&webhooks),
            cards: Arc::clone(&card_book),
        };
        let delivery = Delivery {
            api: api.clone(),
            format: Format {
                max_text: MAX_TEXT_CHARS,
                ai_card: ai.is_some(),
                prompt_card: prompt.is_some(),
            },
            render_cache: opts.render_cache,
            ai_card_template: ai,
            prompt_card_template: prompt,
            webhooks,
            cards: Cards {
                api: api.clone(),
                book: card_book,
            },
            resume: Mutex::default(),
        };
        Ok(Self {
            stream: Arc::new(Stream::new(api, Arc::new(intake), opts.timing)),
            delivery: Arc::new(delivery),
        })
    }
}

#[async_trait]
impl Adapter for DingTalkAdapter {
    fn platform(&self) -> Platform {
        Platform::DingTalk
    }

    /// Robot messages cannot be edited; with an AI card template the live message is a
    /// card, which can.
    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            max_text_chars: MAX_TEXT_CHARS,
            per_chat_interval: Duration::from_millis(1000),
            // No published burst allowance: keep calls to one conversation a second apart.
            per_chat_burst: 1,
            // Webhook robots: 20 messages per minute per conversation.
            group_per_minute: 20,
            // 20 calls/s per app and API (standard orgs).
            global_per_second: 20,
            supports_edit: self.delivery.format.ai_card,
            supports_albums: false,
            // DingTalk Markdown has no code blocks: every one is an image.
            inline_code_max_lines: 0,
        }
    }

    async fn run(&self, sink: IncomingSink) -> Result<(), AdapterError> {
        crate::stream::run(self.stream.clone(), sink).await
    }

    async fn send(&self, chat: &ChatRef, out: &Envelope) -> Result<SentId, DeliveryError> {
        self.delivery.send(chat, out).await
    }

    async fn edit(&self, chat: &ChatRef, id: &SentId, out: &Envelope) -> Result<(), DeliveryError> {
        self.delivery.edit(chat, id, out).await
    }

    async fn delete(&self, chat: &ChatRef, id: &SentId) -> Result<(), DeliveryError> {
        self.delivery.delete(chat, id).await
    }

    fn cost(&self, out: &Envelope) -> u32 {
        plan(out, &self.delivery.format)
            .iter()
            .map(Step::calls)
            .sum::<u32>()
            .max(1)
    }
}
