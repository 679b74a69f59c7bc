//! The secrets service's background work, driven by the clock: expired secrets lose their data
//! (state destroyed, metadata kept), secrets with an automatic rotation policy rotate, and
//! customer root keys are followed (data keys moved to a new root, rewrapped after a rotation).

use arca_store::secrets::{SecretChange, SecretRecord};
use time::OffsetDateTime;

use super::SecretsService;
use super::model::{SecretMeta, SecretState, SecretType, VersionMeta, from_doc};
use super::secret_ops::DataFields;
use crate::clock::{rfc3339, to_millis};
use crate::events::EventType;
use crate::{ServiceError, ServiceResult};

/// The IAM id recorded as the creator of versions made by automatic rotation.
const SCHEDULER: &str = "arca-scheduler";

/// Re-encryption batches per instance per pass (the next pass goes on).
const BATCHES_PER_PASS: usize = 20;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SecretsDueWork {
    /// Secrets whose data was destroyed at expiry.
    pub expired: usize,
    /// Secrets rotated by policy.
    pub rotated: usize,
    /// Data keys moved to a new root key or rewrapped after its rotation.
    pub data_keys: usize,
    /// Items whose work failed (logged; retried by the next pass).
    pub failed: usize,
}

impl SecretsDueWork {
    /// Whether the pass changed or tried to change anything.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl SecretsService {
    /// Runs every piece of due work at the clock's now.
    pub async fn run_due_work_now(&self) -> ServiceResult<SecretsDueWork> {
        self.run_due_work(self.now()).await
    }

    /// Runs every piece of work due at `now`.
    pub async fn run_due_work(&self, now: OffsetDateTime) -> ServiceResult<SecretsDueWork> {
        let mut done = SecretsDueWork::default();
        let now_ms = to_millis(now);
        for secret in self.store.secrets_due(now_ms).await? {
            let expired = secret.expiration_date.is_some_and(|e| e <= now_ms)
                && secret.state != SecretState::Destroyed.number();
            let (instance_id, target) =
                (secret.instance_id.clone(), format!("secrets/{}", secret.id));
            let (action, outcome) = if expired {
                let outcome = self.expire(secret).await;
                ("secrets-manager.secrets.expire", outcome)
            } else {
                let outcome = self.rotate_by_policy(secret).await;
                ("secrets-manager.secrets.rotate", outcome)
            };
            // Only what changed (or failed to) is recorded: a pass that found nothing to do
            // for a secret leaves no record.
            if !matches!(outcome, Ok(false)) {
                let result = outcome.as_ref().map(|_| ()).map_err(|_| ());
                self.audit_system(&instance_id, action, target, result)
                    .await;
            }
            if expired && matches!(outcome, Ok(true)) {
                done.expired += 1;
            } else if matches!(outcome, Ok(true)) {
                done.rotated += 1;
            }
            if let Err(e) = outcome {
                done.failed += 1;
                tracing::warn!(error = %e, "secret lifecycle work failed");
            }
        }
        for root in self.store.list_secrets_roots().await? {
            let followed = self.follow_rotation(&root).await;
            if !matches!(followed, Ok(0)) {
                let result = followed.as_ref().map(|_| ()).map_err(|_| ());
                self.audit_system(
                    &root.instance_id,
                    "secrets-manager.data_keys.rewrap",
                    format!("instances/{}", root.instance_id),
                    result,
                )
                .await;
            }
            match followed {
                Ok(n) => done.data_keys += n,
                Err(e) => {
                    done.failed += 1;
                    tracing::warn!(instance_id = %root.instance_id, error = %e, "rewrapping data keys after a root key rotation failed");
                }
            }
            for _ in 0..BATCHES_PER_PASS {
                let step = self.reencrypt_step(&root.instance_id).await;
                if !matches!(step, Ok(0)) {
                    let result = step.as_ref().map(|_| ()).map_err(|_| ());
                    self.audit_system(
                        &root.instance_id,
                        "secrets-manager.data_keys.reencrypt",
                        format!("instances/{}", root.instance_id),
                        result,
                    )
                    .await;
                }
                match step {
                    Ok(0) => break,
                    Ok(n) => done.data_keys += n,
                    Err(e) => {
                        done.failed += 1;
                        tracing::warn!(instance_id = %root.instance_id, error = %e, "re-encrypting data keys to the root key failed");
                        break;
                    }
                }
            }
        }
        Ok(done)
    }

    /// Records a change made by this background work (initiator `system`).
    async fn audit_system(
        &self,
        instance_id: &str,
        action: &str,
        target: String,
        result: Result<(), ()>,
    ) {
        let account_id = self
            .instances
            .lookup(instance_id)
            .await
            .map(|i| i.account_id.clone())
            .unwrap_or_default();
        let outcome = result.map_err(|()| ServiceError::Conflict("failed"));
        self.audit
            .record_system(&account_id, instance_id, action, target, &outcome)
            .await;
    }

    /// Destroys the data of every version of an expired secret; keeps the metadata. A locked
    /// secret keeps its data, except certificates (expired certificates are useless).
    async fn expire(&self, mut secret: SecretRecord) -> ServiceResult<bool> {
        let t = SecretType::parse(&secret.secret_type)?;
        let is_cert = matches!(t, SecretType::ImportedCert | SecretType::PrivateCert);
        if secret.locks_total > 0 && !is_cert {
            return Ok(false);
        }
        let versions = self
            .store
            .list_secret_versions(&secret.instance_id, &secret.id)
            .await?;
        let destroyed: Vec<_> = versions
            .into_iter()
            .filter(|v| v.payload.is_some())
            .map(|mut v| {
                v.payload = None;
                v.wrapped_dek = None;
                v
            })
            .collect();
        let locks = if is_cert {
            self.store
                .list_secret_locks(&secret.instance_id, Some(&secret.id))
                .await?
        } else {
            Vec::new()
        };
        let remove: Vec<(String, String)> =
            locks.into_iter().map(|l| (l.version_id, l.name)).collect();
        secret.state = SecretState::Destroyed.number();
        secret.locks_total = 0;
        secret.next_rotation_date = None;
        secret.updated_at = to_millis(self.now());
        secret.revision += 1;
        self.store
            .update_secret(
                &secret,
                SecretChange {
                    versions: &destroyed,
                    remove_locks: &remove,
                    ..Default::default()
                },
            )
            .await?;
        tracing::info!(instance_id = %secret.instance_id, secret_id = %secret.id, "secret expired: data destroyed");
        let event_type = if is_cert {
            EventType::CertificateExpired
        } else {
            EventType::SecretExpired
        };
        let data = serde_json::json!({
            "state": "destroyed",
            "expiration_date": secret.expiration_date.map(rfc3339),
        });
        self.secret_event(
            event_type,
            &secret.instance_id,
            &secret.id,
            &secret.secret_type,
            data,
        )
        .await;
        Ok(true)
    }

    /// Rotates a secret whose rotation is due: new data made the way the type makes it.
    async fn rotate_by_policy(&self, secret: SecretRecord) -> ServiceResult<bool> {
        let meta: SecretMeta = from_doc(&secret.metadata)?;
        if !meta.rotation.as_ref().is_some_and(|r| r.auto_rotate)
            || secret.state != SecretState::Active.number()
        {
            return Ok(false);
        }
        let t = SecretType::parse(&secret.secret_type)?;
        let _turn = self.write_turn(&secret.id).await;
        let (secret, versions) = self
            .with_live_versions(&secret.instance_id, &secret.id)
            .await?;
        let previous = match versions.first() {
            Some(current) if current.payload.is_some() => Some(self.open_version(current).await?),
            _ => None,
        };
        let instance_id = secret.instance_id.clone();
        let prepared = self
            .prepare_data(
                &instance_id,
                t,
                DataFields::default(),
                &meta,
                previous.as_ref(),
            )
            .await?;
        let certificate = prepared.certificate.clone();
        let request = prepared.request.clone();
        self.add_version(
            SCHEDULER.to_owned(),
            secret,
            versions,
            &prepared.data,
            VersionMeta {
                version_custom_metadata: Default::default(),
                certificate: prepared.certificate.clone(),
            },
            |m: &mut SecretMeta| {
                if certificate.is_some() {
                    m.certificate = certificate.clone();
                }
                if request.is_some() {
                    m.certificate_request = request.clone();
                }
            },
            prepared.expiration,
            true,
        )
        .await?;
        Ok(true)
    }
}
