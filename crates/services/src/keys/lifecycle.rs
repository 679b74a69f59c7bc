//! The key lifecycle beyond single requests: purge (crypto-shredding), dual-authorization delete,
//! and the clock-driven work (deactivation at the expiration date, rotation by policy, scheduled
//! purges) that a background task runs with [`KeyService::run_due_work`].

use arca_store::{KeyRecord, StoreError};
use time::OffsetDateTime;

use super::{Key, KeyService, KeyState};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::{from_millis, to_millis};
use crate::events::EventType;
use crate::{ServiceError, ServiceResult};

/// Most keys handled by one [`KeyService::run_due_work`] pass (the next pass takes the rest).
const DUE_BATCH: i64 = 1000;
/// A rotation policy's month, as Key Protect counts it.
const POLICY_MONTH: time::Duration = time::Duration::days(30);

/// What one pass of [`KeyService::run_due_work`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DueWork {
    /// Keys past their expiration date, now stored as deactivated (state 3).
    pub deactivated: usize,
    /// Root keys rotated by their rotation policy.
    pub rotated: usize,
    /// Deleted keys purged at the end of their retention (material shredded).
    pub purged: usize,
    /// Keys whose work failed (logged; retried by the next pass).
    pub failed: usize,
}

impl DueWork {
    /// Whether the pass changed or tried to change anything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn rotation_due(r: &KeyRecord, now: OffsetDateTime) -> bool {
    r.state == KeyState::Active.number()
        && !r.extractable
        && !r.imported
        && r.rotation_enabled == Some(true)
        && {
            let base = from_millis(r.last_rotate_date.unwrap_or(r.creation_date));
            let months = i32::try_from(r.rotation_interval.unwrap_or(1).clamp(1, 12)).unwrap_or(1);
            base + POLICY_MONTH * months <= now
        }
}

impl KeyService {
    /// When the first authorization of a dual-authorization delete expires, if one is in force.
    pub(super) fn deletion_auth_expiration(
        &self,
        r: &KeyRecord,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        if !r.dual_auth_delete || r.state == KeyState::Destroyed.number() {
            return None;
        }
        r.deletion_auth_by.as_ref()?;
        let expires = from_millis(r.deletion_auth_date?) + self.windows.dual_auth;
        (now < expires).then_some(expires)
    }

    /// A dual-authorization key is deleted only by a user other than the one who set it for
    /// deletion, while that first authorization is valid.
    pub(super) fn check_second_authorization(
        &self,
        k: &KeyRecord,
        by: &str,
        now: OffsetDateTime,
    ) -> ServiceResult<()> {
        if self.deletion_auth_expiration(k, now).is_none() {
            return Err(ServiceError::InvalidState(
                "Number of authorizations required to delete is not met: the key has a dual \
                 authorization delete policy; a first user must set it for deletion \
                 (setKeyForDeletion, valid for 7 days), then another user can delete it"
                    .into(),
            ));
        }
        if k.deletion_auth_by.as_deref() == Some(by) {
            return Err(ServiceError::InvalidState(
                "Number of authorizations required to delete is not met: the user who set the \
                 key for deletion cannot also delete it; another user must"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The first authorization of a dual-authorization delete (valid for 7 days).
    pub async fn set_key_for_deletion(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Delete)
            .await?;
        let by = principal.id.clone();
        self.update(instance_id, key_ref, move |k, now| {
            require_dual_auth_key(k)?;
            k.deletion_auth_by = Some(by.clone());
            k.deletion_auth_date = Some(to_millis(now));
            Ok(())
        })
        .await?;
        tracing::info!(
            instance_id,
            key_ref,
            "key set for deletion (first authorization)"
        );
        Ok(())
    }

    /// Cancels the first authorization of a dual-authorization delete (none in force is fine).
    pub async fn unset_key_for_deletion(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Delete)
            .await?;
        self.update(instance_id, key_ref, |k, _| {
            require_dual_auth_key(k)?;
            k.deletion_auth_by = None;
            k.deletion_auth_date = None;
            Ok(())
        })
        .await?;
        tracing::info!(instance_id, key_ref, "key unset for deletion");
        Ok(())
    }

    /// Purges a deleted key once the purge wait is over: its material is shredded and every
    /// trace of it removed (see [`arca_store::Store::purge_key`]). Returns the key as it was.
    pub async fn purge(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Purge)
            .await?;
        let record = (*self.record(instance_id, key_ref).await?).clone();
        let key = self.to_key(record, principal).await?;
        if key.state != KeyState::Destroyed {
            return Err(ServiceError::InvalidState(format!(
                "Key is not in a valid state: only a deleted key (state 5) can be purged (state {})",
                key.state.number()
            )));
        }
        if !key.purge_allowed {
            let from = key
                .purge_allowed_from
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            return Err(ServiceError::InvalidState(format!(
                "Key cannot be purged yet: a deleted key can be purged {} hours after its \
                 deletion, from {from}",
                self.windows.purge_wait.whole_hours()
            )));
        }
        self.purge_record(instance_id, &key.record.id).await?;
        Ok(key)
    }

    /// Purges in the store, then drops every cached copy: the record, the aliases naming it and
    /// the derived wrapping keys of its versions.
    async fn purge_record(&self, instance_id: &str, key_id: &str) -> ServiceResult<()> {
        let outcome = self.store.purge_key(instance_id, key_id).await;
        self.forget_key(key_id);
        match outcome {
            Ok(Some(versions)) => {
                tracing::info!(
                    instance_id,
                    key_id,
                    versions = versions.len(),
                    "key purged: material shredded"
                );
                let data = serde_json::json!({ "key_id": key_id, "state": "purged" });
                self.events
                    .emit(instance_id, EventType::KeyPurged, key_id, data)
                    .await;
                Ok(())
            }
            Ok(None) => Err(ServiceError::NotFound("key")),
            Err(StoreError::Conflict(why)) => Err(ServiceError::Conflict(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// [`KeyService::run_due_work`] at the service clock's now (what the background task runs).
    pub async fn run_due_work_now(&self) -> ServiceResult<DueWork> {
        self.run_due_work(self.clock.now()).await
    }

    /// Does the lifecycle work due at `now` across every instance: stores state 3 for keys past
    /// their expiration date, rotates generated root keys whose rotation policy is due (imported
    /// keys need new material from their owner and are left alone), and purges deleted keys at
    /// the end of their retention (`purge_scheduled`, 90 days). One failure does not stop the
    /// others; the next pass retries it.
    pub async fn run_due_work(&self, now: OffsetDateTime) -> ServiceResult<DueWork> {
        if self.keystore.status().sealed {
            // Nothing moves while sealed: rotation needs the master key, and a purge or a
            // deactivation done behind the operators' back would surprise them.
            return Ok(DueWork::default());
        }
        let now_ms = to_millis(now);
        let purge_after =
            i64::try_from(self.windows.purge_scheduled.whole_milliseconds()).unwrap_or(i64::MAX);
        let due = self.store.keys_due(now_ms, purge_after, DUE_BATCH).await?;
        let mut done = DueWork::default();
        for r in due {
            let (what, outcome) = if r.state == KeyState::Destroyed.number() {
                ("purge", self.purge_record(&r.instance_id, &r.id).await)
            } else if r.state == KeyState::Active.number()
                && r.expiration_date.is_some_and(|e| e <= now_ms)
            {
                let outcome = self
                    .update(&r.instance_id, &r.id, move |k, _| {
                        if k.state == KeyState::Active.number()
                            && k.expiration_date.is_some_and(|e| e <= now_ms)
                        {
                            k.state = KeyState::Deactivated.number();
                            Ok(())
                        } else {
                            Err(ServiceError::Conflict("the key changed"))
                        }
                    })
                    .await
                    .map(|_| ());
                ("deactivate", outcome)
            } else if rotation_due(&r, now) {
                ("rotate", self.rotate_now(&r.instance_id, &r.id, None).await)
            } else {
                continue;
            };
            let account_id = self
                .instances
                .lookup(&r.instance_id)
                .await
                .map(|i| i.account_id.clone())
                .unwrap_or_default();
            let action = match what {
                "purge" => "kms.keys.purge",
                "deactivate" => "kms.keys.expire",
                _ => "kms.keys.rotate",
            };
            self.audit
                .record_system(
                    &account_id,
                    &r.instance_id,
                    action,
                    format!("keys/{}", r.id),
                    &outcome,
                )
                .await;
            match outcome {
                Ok(()) => match what {
                    "purge" => done.purged += 1,
                    "deactivate" => done.deactivated += 1,
                    _ => done.rotated += 1,
                },
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(instance_id = %r.instance_id, key_id = %r.id, error = %e, "key lifecycle job: {what} failed");
                }
            }
        }
        if !done.is_empty() {
            tracing::info!(
                deactivated = done.deactivated,
                rotated = done.rotated,
                purged = done.purged,
                failed = done.failed,
                "key lifecycle jobs"
            );
        }
        Ok(done)
    }
}

fn require_dual_auth_key(k: &KeyRecord) -> ServiceResult<()> {
    if k.state == KeyState::Destroyed.number() {
        return Err(ServiceError::InvalidState(
            "Key has already been deleted".into(),
        ));
    }
    if !k.dual_auth_delete {
        return Err(ServiceError::InvalidState(
            "Key does not have a dual authorization delete policy: it is deleted directly".into(),
        ));
    }
    Ok(())
}
