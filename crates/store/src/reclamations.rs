//! Persistence of instance deletion: the reclamation period of a deleted instance and the final
//! removal of everything it owns.

use async_trait::async_trait;

use crate::StoreResult;

/// A deleted instance in its reclamation period. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReclamationRecord {
    /// The deleted instance.
    pub instance_id: String,
    /// Its account.
    pub account_id: String,
    /// Who deleted it.
    pub deleted_by: String,
    /// When.
    pub deleted_at: i64,
    /// When it is reclaimed (removed for good) unless restored first.
    pub reclaim_at: i64,
}

/// Persistence of instance deletion. Same contract as [`crate::Store`].
#[async_trait]
pub trait ReclamationStore: Send + Sync {
    /// Marks an active instance deleted (state `reclaiming`) with its reclamation record;
    /// `false` when the instance does not exist or is not active.
    async fn start_reclamation(&self, reclamation: &ReclamationRecord) -> StoreResult<bool>;

    /// Restores a reclaiming instance (state `active`); `false` when it is not reclaiming.
    async fn restore_instance(&self, instance_id: &str) -> StoreResult<bool>;

    /// The reclamations of an account.
    async fn list_reclamations(&self, account_id: &str) -> StoreResult<Vec<ReclamationRecord>>;

    /// A reclamation by instance id.
    async fn get_reclamation(&self, instance_id: &str) -> StoreResult<Option<ReclamationRecord>>;

    /// Reclamations whose period ends at or before `now`.
    async fn reclamations_due(&self, now: i64) -> StoreResult<Vec<ReclamationRecord>>;

    /// Removes a reclaiming instance and every row it owns — keys and their versions, secrets
    /// and their versions, policies, grants, authorizations, event registrations, events and
    /// deliveries, registrations it made on other instances' keys (`resource_crn`), the
    /// instance key — wrapped material and data cleared first. `false` when it is not reclaiming.
    async fn purge_instance(&self, instance_id: &str, instance_crn: &str) -> StoreResult<bool>;
}
