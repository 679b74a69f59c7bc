//! Deleting instances. A deleted instance is disabled at once (every data-plane call is refused)
//! and kept whole for the reclamation period (7 days by default), during which it can be
//! restored as it was. At the end of the period, or on an explicit reclaim, it is
//! crypto-shredded: its instance key, root key material and secret data are cleared and every
//! row it owns removed, in one transaction, and every cached copy dropped — ciphertexts it made
//! can never be opened again. A key-service instance that still holds keys that are not deleted
//! cannot be deleted.

use std::sync::Arc;

use arca_store::reclamations::ReclamationRecord;
use arca_store::{KeyQuery, Store};
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::AuditService;
use crate::auth::Principal;
use crate::clock::{Clock, from_millis, rfc3339, to_millis};
use crate::events::{EventService, EventType};
use crate::instances::{Instance, InstanceService, ServiceKind};
use crate::keys::KeyService;
use crate::secrets::SecretsService;
use crate::{ServiceError, ServiceResult};

/// How many live key ids a refusal names.
const LISTED_KEYS: usize = 20;

/// A deleted instance in its reclamation period.
#[derive(Debug, Clone)]
pub struct Reclamation {
    /// The instance (state `reclaiming`).
    pub instance: Instance,
    /// Who deleted it.
    pub deleted_by: String,
    /// When.
    pub deleted_at: OffsetDateTime,
    /// When it is reclaimed unless restored first.
    pub reclaim_at: OffsetDateTime,
}

/// Instance deletion, restore and reclamation.
#[derive(Debug, Clone)]
pub struct ReclamationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    keys: KeyService,
    secrets: SecretsService,
    events: EventService,
    audit: AuditService,
    period: time::Duration,
}

impl ReclamationService {
    #[allow(clippy::too_many_arguments)] // one handle per collaborator, wired once in Arca::new
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        keys: KeyService,
        secrets: SecretsService,
        events: EventService,
        audit: AuditService,
        period: time::Duration,
    ) -> Self {
        Self {
            store,
            clock,
            instances,
            keys,
            secrets,
            events,
            audit,
            period,
        }
    }

    fn view(&self, r: ReclamationRecord, instance: Instance) -> Reclamation {
        Reclamation {
            instance,
            deleted_by: r.deleted_by,
            deleted_at: from_millis(r.deleted_at),
            reclaim_at: from_millis(r.reclaim_at),
        }
    }

    /// Deletes an instance of the admin's account: disabled at once, reclaimed after the period.
    pub async fn delete(&self, admin: &Principal, instance_id: &str) -> ServiceResult<Reclamation> {
        admin.require_admin()?;
        let instance = self.instances.get(admin, instance_id).await?;
        if instance.state != "active" {
            return Err(ServiceError::InvalidState(
                "the instance is already deleted (see the reclamations)".into(),
            ));
        }
        if instance.service == ServiceKind::Kms {
            let query = KeyQuery {
                states: Some(vec![0, 1, 2, 3]),
                ..Default::default()
            };
            let (live, total) = self.store.list_keys(instance_id, &query).await?;
            if total > 0 {
                let ids: Vec<&str> = live
                    .iter()
                    .take(LISTED_KEYS)
                    .map(|k| k.id.as_str())
                    .collect();
                return Err(ServiceError::InvalidState(format!(
                    "the instance still has {total} keys that are not deleted; delete them first: {}{}",
                    ids.join(", "),
                    if total > i64::try_from(LISTED_KEYS).unwrap_or(i64::MAX) {
                        ", ..."
                    } else {
                        ""
                    }
                )));
            }
        }
        let now = self.clock.now();
        let record = ReclamationRecord {
            instance_id: instance.id.clone(),
            account_id: instance.account_id.clone(),
            deleted_by: admin.id.clone(),
            deleted_at: to_millis(now),
            reclaim_at: to_millis(now + self.period),
        };
        if !self.store.start_reclamation(&record).await? {
            return Err(ServiceError::Concurrent(
                "the instance changed concurrently",
            ));
        }
        self.instances.forget(instance_id);
        tracing::info!(
            instance_id,
            reclaim_at = record.reclaim_at,
            "instance deleted; reclamation period started"
        );
        let data = json!({
            "state": "reclaiming",
            "deleted_at": rfc3339(record.deleted_at),
            "reclaim_at": rfc3339(record.reclaim_at),
        });
        self.events
            .emit(instance_id, EventType::InstanceDeleted, instance_id, data)
            .await;
        let instance = self.instances.get(admin, instance_id).await?;
        Ok(self.view(record, instance))
    }

    /// The deleted instances of the caller's account.
    pub async fn list(&self, principal: &Principal) -> ServiceResult<Vec<Reclamation>> {
        let mut out = Vec::new();
        for r in self.store.list_reclamations(&principal.account_id).await? {
            let instance = self.instances.get(principal, &r.instance_id).await?;
            out.push(self.view(r, instance));
        }
        Ok(out)
    }

    async fn own_reclamation(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<ReclamationRecord> {
        // The instance lookup checks the account (another account's is "not found").
        self.instances.get(principal, instance_id).await?;
        self.store
            .get_reclamation(instance_id)
            .await?
            .ok_or(ServiceError::NotFound("reclamation"))
    }

    /// Restores a deleted instance, whole, within its reclamation period.
    pub async fn restore(&self, admin: &Principal, instance_id: &str) -> ServiceResult<Instance> {
        admin.require_admin()?;
        self.own_reclamation(admin, instance_id).await?;
        if !self.store.restore_instance(instance_id).await? {
            return Err(ServiceError::NotFound("reclamation"));
        }
        self.instances.forget(instance_id);
        tracing::info!(instance_id, "instance restored");
        let data = json!({ "state": "active" });
        self.events
            .emit(instance_id, EventType::InstanceRestored, instance_id, data)
            .await;
        self.instances.get(admin, instance_id).await
    }

    /// Reclaims a deleted instance now: crypto-shredded, nothing of it remains.
    pub async fn reclaim(&self, admin: &Principal, instance_id: &str) -> ServiceResult<()> {
        admin.require_admin()?;
        self.own_reclamation(admin, instance_id).await?;
        self.purge(instance_id).await
    }

    async fn purge(&self, instance_id: &str) -> ServiceResult<()> {
        let instance = self.instances.lookup(instance_id).await?;
        if instance.state == "reclaiming" {
            // Sent now, once: the purge removes the registrations, events and deliveries with
            // everything else of the instance, so nothing would be left to retry from.
            let data = json!({ "state": "reclaimed" });
            if let Err(e) = self
                .events
                .send_now(
                    instance_id,
                    EventType::InstanceReclaimed,
                    instance_id,
                    data,
                    None,
                )
                .await
            {
                tracing::warn!(instance_id, error = %e, "sending the reclaimed event failed");
            }
        }
        if !self
            .store
            .purge_instance(instance_id, &instance.crn)
            .await?
        {
            return Err(ServiceError::NotFound("reclamation"));
        }
        // Every in-memory copy of what the instance's keys protected goes too.
        self.instances.forget(instance_id);
        self.keys.forget_keys();
        self.secrets.forget_keys();
        tracing::info!(
            instance_id,
            "instance reclaimed: crypto-shredded and removed"
        );
        Ok(())
    }

    /// Reclaims every instance whose period has ended at `now`; returns how many.
    pub async fn run_due_work(&self, now: OffsetDateTime) -> ServiceResult<usize> {
        let mut done = 0;
        for r in self.store.reclamations_due(to_millis(now)).await? {
            let outcome = self.purge(&r.instance_id).await;
            self.audit
                .record_system(
                    &r.account_id,
                    &r.instance_id,
                    "instances.reclaim",
                    format!("instances/{}", r.instance_id),
                    &outcome,
                )
                .await;
            match outcome {
                Ok(()) => done += 1,
                Err(e) => {
                    tracing::warn!(instance_id = %r.instance_id, error = %e, "reclaiming an instance failed")
                }
            }
        }
        Ok(done)
    }

    /// [`ReclamationService::run_due_work`] at the clock's now.
    pub async fn run_due_work_now(&self) -> ServiceResult<usize> {
        self.run_due_work(self.clock.now()).await
    }
}
