//! Who receives the relay's output: the narrow view of the fan-out the shell needs.

use async_trait::async_trait;
use cloudify_core::StoreError;
use cloudify_core::fanout::Delivered;
use cloudify_core::i18n::Lang;
use cloudify_core::output::Output;
use uuid::Uuid;

/// Delivery to the users bound to an instance, each in their language and framing.
#[async_trait]
pub trait Audience: Send + Sync {
    /// Sends output about an instance to every user bound to it; returns what was queued,
    /// for later edits.
    async fn post(
        &self,
        instance_id: Uuid,
        body: &(dyn Fn(Lang) -> Output + Send + Sync),
    ) -> Result<Vec<Delivered>, StoreError>;

    /// Replaces one delivered message, keeping its framing.
    async fn edit(&self, d: &Delivered, instance_id: Uuid, body: Output) -> Result<(), StoreError>;
}

#[async_trait]
impl Audience for cloudify_core::Fanout {
    async fn post(
        &self,
        instance_id: Uuid,
        body: &(dyn Fn(Lang) -> Output + Send + Sync),
    ) -> Result<Vec<Delivered>, StoreError> {
        self.broadcast(instance_id, None, body).await
    }

    async fn edit(&self, d: &Delivered, instance_id: Uuid, body: Output) -> Result<(), StoreError> {
        cloudify_core::Fanout::edit(self, d, instance_id, body).await
    }
}
