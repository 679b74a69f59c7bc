//! Persistence of changes to an instance after its creation: its name, and when it last
//! changed (the Resource Controller API shows `updated_at`).

use async_trait::async_trait;

use crate::StoreResult;

/// Changes to an instance. Same contract as [`crate::Store`].
#[async_trait]
pub trait InstanceUpdateStore: Send + Sync {
    /// Renames an active instance and records when (Unix ms); `false` when it does not exist
    /// or is not active (a deleted instance is kept as it was until restored or reclaimed).
    async fn rename_instance(
        &self,
        instance_id: &str,
        name: &str,
        updated_at: i64,
    ) -> StoreResult<bool>;

    /// When an instance last changed after its creation (Unix ms); `None` when it never did or
    /// does not exist.
    async fn instance_updated_at(&self, instance_id: &str) -> StoreResult<Option<i64>>;
}
