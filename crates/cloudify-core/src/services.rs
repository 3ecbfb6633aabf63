//! What commands and prompts need from the rest of the product, as narrow traits.
//! The binary wires real implementations (OpenCode relay, ttyd, proxy); until one exists,
//! [`Unavailable`] answers honestly instead of pretending.

use crate::commands::PermissionReply;
use crate::identity::UserKey;
use crate::output::Output;
use crate::store::Instance;
use async_trait::async_trait;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceError {
    /// The feature is not wired in this deployment (names it for the user).
    #[error("{0} is not available")]
    NotAvailable(&'static str),
    /// OpenCode (or another peer) could not be reached or refused; safe to show.
    #[error("{0}")]
    Failed(String),
    /// The thing asked for does not exist (a session id, a model, an answered prompt).
    #[error("not found: {0}")]
    NotFound(String),
    /// OpenCode at this URL cannot be reached (down or restarting).
    #[error("OpenCode at {0} is unreachable")]
    Unreachable(String),
}

/// Who sent a prompt, for the "started by" notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub user: UserKey,
    pub handle: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptPart {
    Text(String),
    File {
        name: String,
        mime: String,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkspaceStatus {
    pub healthy: bool,
    pub version: Option<String>,
    pub session_title: Option<String>,
    pub session_id: Option<String>,
    pub busy: bool,
    pub model: Option<String>,
    pub agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub title: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileDiff {
    pub file: String,
    pub patch: String,
    pub additions: u32,
    pub deletions: u32,
}

/// OpenCode as the bot sees it: one instance's conversation.
#[async_trait]
pub trait Workspace: Send + Sync + 'static {
    async fn prompt(
        &self,
        inst: &Instance,
        from: &Sender,
        parts: Vec<PromptPart>,
    ) -> Result<(), ServiceError>;
    async fn status(&self, inst: &Instance) -> Result<WorkspaceStatus, ServiceError>;
    async fn sessions(&self, inst: &Instance) -> Result<Vec<SessionSummary>, ServiceError>;
    async fn new_session(&self, inst: &Instance) -> Result<SessionSummary, ServiceError>;
    async fn use_session(&self, inst: &Instance, id: &str) -> Result<SessionSummary, ServiceError>;
    /// Aborts the running turn; `false` when nothing was running.
    async fn cancel(&self, inst: &Instance) -> Result<bool, ServiceError>;
    /// Available choices and the current one.
    async fn models(&self, inst: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError>;
    async fn set_model(&self, inst: &Instance, model: &str) -> Result<(), ServiceError>;
    async fn agents(&self, inst: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError>;
    async fn set_agent(&self, inst: &Instance, agent: &str) -> Result<(), ServiceError>;
    async fn diff(&self, inst: &Instance) -> Result<Vec<FileDiff>, ServiceError>;
    async fn reply_permission(
        &self,
        inst: &Instance,
        _from: &Sender,
        id: &str,
        reply: PermissionReply,
    ) -> Result<(), ServiceError>;
    /// `None` rejects the question; otherwise 1-based option numbers.
    async fn answer_question(
        &self,
        inst: &Instance,
        _from: &Sender,
        id: &str,
        choice: Option<Vec<usize>>,
    ) -> Result<(), ServiceError>;
}

/// `/web` and `/web-terminal`.
#[async_trait]
pub trait WebTerminal: Send + Sync + 'static {
    /// The link; credentials only when `private` (never in group chats).
    async fn describe(
        &self,
        private: bool,
        lang: crate::i18n::Lang,
    ) -> Result<Output, ServiceError>;
    async fn switch(&self, kind: &str, lang: crate::i18n::Lang) -> Result<Output, ServiceError>;
    /// New credentials, and the terminal restarted so the old ones stop working.
    async fn rotate(&self) -> Result<(), ServiceError>;
}

/// `/proxy set|status|disable`.
#[async_trait]
pub trait ProxyControl: Send + Sync + 'static {
    async fn set(&self, url: &str, lang: crate::i18n::Lang) -> Result<Output, ServiceError>;
    async fn status(&self, lang: crate::i18n::Lang) -> Result<Output, ServiceError>;
    async fn disable(&self, lang: crate::i18n::Lang) -> Result<Output, ServiceError>;
}

/// Renders a QR code for `/qr` (the binary plugs in `cloudify-render`).
pub trait QrImages: Send + Sync + 'static {
    fn png(&self, text: &str) -> Result<Vec<u8>, String>;
}

/// Stands in for a service this deployment does not have, and says so.
pub struct Unavailable(pub &'static str);

#[async_trait]
impl Workspace for Unavailable {
    async fn prompt(
        &self,
        _: &Instance,
        _: &Sender,
        _: Vec<PromptPart>,
    ) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn status(&self, _: &Instance) -> Result<WorkspaceStatus, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn sessions(&self, _: &Instance) -> Result<Vec<SessionSummary>, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn new_session(&self, _: &Instance) -> Result<SessionSummary, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn use_session(&self, _: &Instance, _: &str) -> Result<SessionSummary, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn cancel(&self, _: &Instance) -> Result<bool, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn models(&self, _: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn set_model(&self, _: &Instance, _: &str) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn agents(&self, _: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn set_agent(&self, _: &Instance, _: &str) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn diff(&self, _: &Instance) -> Result<Vec<FileDiff>, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn reply_permission(
        &self,
        _: &Instance,
        _from: &Sender,
        _: &str,
        _: PermissionReply,
    ) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn answer_question(
        &self,
        _: &Instance,
        _from: &Sender,
        _: &str,
        _: Option<Vec<usize>>,
    ) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
}

#[async_trait]
impl WebTerminal for Unavailable {
    async fn describe(&self, _: bool, _: crate::i18n::Lang) -> Result<Output, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn switch(&self, _: &str, _: crate::i18n::Lang) -> Result<Output, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn rotate(&self) -> Result<(), ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
}

#[async_trait]
impl ProxyControl for Unavailable {
    async fn set(&self, _: &str, _: crate::i18n::Lang) -> Result<Output, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn status(&self, _: crate::i18n::Lang) -> Result<Output, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
    async fn disable(&self, _: crate::i18n::Lang) -> Result<Output, ServiceError> {
        Err(ServiceError::NotAvailable(self.0))
    }
}
