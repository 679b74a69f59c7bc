//! The root key of a secrets instance: provider-managed by default, or a customer's root key in
//! a key-service instance (BYOK/KYOK), named by its CRN. Changing it re-encrypts every data key
//! under the new root, online and resumably (rows not yet moved are still readable under their
//! old root); rotating the customer key rewraps the data keys to its new version.

use arca_crypto::envelope;
use arca_store::secrets::SecretsRootRecord;

use super::SecretsService;
use super::sealing::{INSTANCE_ROOT, RootKey, service_principal};
use super::secret_ops::version_context;
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::to_millis;
use crate::instances::Instance;
use crate::keys::KeyState;
use crate::{ServiceError, ServiceResult};

/// Where an instance's root key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKeyStatus {
    /// The customer root key's CRN (`None`: provider-managed).
    pub root_key_crn: Option<String>,
    /// Data keys (of versions with data).
    pub total: i64,
    /// Data keys still wrapped by a former root key.
    pub pending: i64,
}

/// Versions re-encrypted per step.
const STEP: i64 = 200;

/// Parses a key CRN: `crn:v1:<cloud>:<type>:kms:<region>:a/<account>:<instance>:key:<key>`.
fn parse_key_crn(crn: &str) -> ServiceResult<(String, String, String)> {
    let parts: Vec<&str> = crn.split(':').collect();
    let bad = || {
        ServiceError::InvalidInput(
            "root_key_crn must be a key CRN: crn:v1:...:kms:<region>:a/<account>:<instance>:key:<key id>"
                .into(),
        )
    };
    if parts.len() != 10 || parts[0] != "crn" || parts[4] != "kms" || parts[8] != "key" {
        return Err(bad());
    }
    let account = parts[6].strip_prefix("a/").ok_or_else(bad)?;
    if account.is_empty() || parts[7].is_empty() || parts[9].is_empty() {
        return Err(bad());
    }
    Ok((account.to_owned(), parts[7].to_owned(), parts[9].to_owned()))
}

fn retired_list(r: Option<&SecretsRootRecord>) -> Vec<String> {
    r.and_then(|r| serde_json::from_str::<Vec<String>>(&r.retired).ok())
        .unwrap_or_default()
}

impl SecretsService {
    /// Sets the instance's root key to the key-service root key `crn` (`None`: back to the
    /// provider-managed instance key). The secrets instance must be authorized (Reader) to use
    /// the key; it registers itself on it. Data keys move to the new root in the background
    /// ([`SecretsService::reencrypt_step`]); until then they stay readable under the old one.
    pub async fn set_root_key(
        &self,
        principal: &Principal,
        instance_id: &str,
        crn: Option<&str>,
    ) -> ServiceResult<RootKeyStatus> {
        let instance = self
            .authorize(principal, instance_id, Permission::Manage)
            .await?;
        let current = self.store.get_secrets_root(instance_id).await?;
        let old = match &current {
            Some(r) => RootKey::parse(&r.root_key)?,
            None => RootKey::Instance,
        };
        let (new, crn, key_version) = match crn {
            None => (RootKey::Instance, String::new(), String::new()),
            Some(crn) => {
                let (account, kms, key_id) = parse_key_crn(crn.trim())?;
                if account != instance.account_id {
                    return Err(ServiceError::InvalidInput(
                        "the root key must belong to the instance's account".into(),
                    ));
                }
                let key = self
                    .keys
                    .get(&service_principal(&instance), &kms, &key_id, false)
                    .await
                    .map_err(|e| match e {
                        ServiceError::Forbidden(_) => ServiceError::Forbidden(
                            "the secrets instance is not authorized to use this key: create a \
                             service-to-service authorization (arca iam authorization-create \
                             --source-instance <secrets instance> --target-instance <key \
                             instance> --key <key> --role Reader)",
                        ),
                        other => other,
                    })?;
                if key.record.extractable {
                    return Err(ServiceError::InvalidInput(
                        "the key must be a root key, not a standard key".into(),
                    ));
                }
                if key.state != KeyState::Active {
                    return Err(ServiceError::InvalidState(
                        "the root key must be active".into(),
                    ));
                }
                // Register before using it, so the key cannot be deleted unnoticed.
                self.registrations
                    .register(
                        &service_principal(&instance),
                        &kms,
                        &key.record.id,
                        &instance.crn,
                        false,
                        Some("Secrets data keys of this secrets instance".into()),
                    )
                    .await?;
                (
                    RootKey::Kms {
                        instance_id: kms,
                        key_id: key.record.id.clone(),
                    },
                    key.crn.clone(),
                    key.record.current_version_id.clone(),
                )
            }
        };
        let mut retired = retired_list(current.as_ref());
        if old != new && matches!(old, RootKey::Kms { .. }) && !retired.contains(&old.name()) {
            retired.push(old.name());
        }
        retired.retain(|r| *r != new.name());
        let record = SecretsRootRecord {
            instance_id: instance_id.to_owned(),
            root_key: new.name(),
            root_key_crn: crn,
            key_version,
            retired: serde_json::to_string(&retired)
                .map_err(|e| ServiceError::Internal(Box::new(e)))?,
            updated_at: to_millis(self.now()),
        };
        self.store
            .put_secrets_root(instance_id, Some(&record))
            .await?;
        self.sealer.set_root(instance_id, new.clone());
        tracing::info!(instance_id, root_key = %new.name(), "secrets instance root key set");
        self.root_status(&instance).await
    }

    /// The instance's root key and the progress of moving data keys to it.
    pub async fn root_key_status(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<RootKeyStatus> {
        let instance = self
            .authorize(principal, instance_id, Permission::Read)
            .await?;
        self.root_status(&instance).await
    }

    async fn root_status(&self, instance: &Instance) -> ServiceResult<RootKeyStatus> {
        let record = self.store.get_secrets_root(&instance.id).await?;
        let root = record
            .as_ref()
            .map_or(INSTANCE_ROOT.to_owned(), |r| r.root_key.clone());
        let (total, mut pending) = self
            .store
            .secret_version_counts(&instance.id, &root)
            .await?;
        pending += i64::try_from(
            self.store
                .list_secrets_configs(&instance.id)
                .await?
                .iter()
                .filter(|c| c.wrapped_dek.is_some() && c.root_key != root)
                .count(),
        )
        .unwrap_or(i64::MAX);
        Ok(RootKeyStatus {
            root_key_crn: record
                .filter(|r| r.root_key != INSTANCE_ROOT)
                .map(|r| r.root_key_crn),
            total,
            pending,
        })
    }

    /// Moves up to one batch of data keys to the instance's root key (a manager may drive it;
    /// the background work does too) and returns the progress.
    pub async fn reencrypt(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<RootKeyStatus> {
        let instance = self
            .authorize(principal, instance_id, Permission::Manage)
            .await?;
        self.reencrypt_step(&instance.id).await?;
        self.root_status(&instance).await
    }

    /// One batch of re-encryption; deregisters from former root keys once nothing uses them.
    /// Returns how many data keys moved.
    pub(crate) async fn reencrypt_step(&self, instance_id: &str) -> ServiceResult<usize> {
        let root = self.sealer.root(instance_id).await?;
        let name = root.name();
        let mut moved = 0;
        for mut v in self
            .store
            .versions_not_under_root(instance_id, &name, 0, STEP)
            .await?
        {
            let Some(wrapped) = v.wrapped_dek.take() else {
                continue;
            };
            let context = version_context(&v.secret_id, &v.id);
            let dek = self
                .sealer
                .unwrap_dek(instance_id, &context, &v.root_key, &wrapped)
                .await?;
            v.wrapped_dek = Some(
                self.sealer
                    .wrap_dek(instance_id, &context, &root, &dek)
                    .await?,
            );
            let old = std::mem::replace(&mut v.root_key, name.clone());
            if self.store.rewrap_secret_version(&v, &old).await? {
                moved += 1;
            }
        }
        for mut c in self.store.list_secrets_configs(instance_id).await? {
            if c.root_key == name {
                continue;
            }
            let Some(wrapped) = c.wrapped_dek.take() else {
                continue;
            };
            let context = super::configs::config_context(&c.name);
            let dek = self
                .sealer
                .unwrap_dek(instance_id, &context, &c.root_key, &wrapped)
                .await?;
            c.wrapped_dek = Some(
                self.sealer
                    .wrap_dek(instance_id, &context, &root, &dek)
                    .await?,
            );
            let old = std::mem::replace(&mut c.root_key, name.clone());
            if self.store.rewrap_secrets_config(&c, &old).await? {
                moved += 1;
            }
        }
        let record = self.store.get_secrets_root(instance_id).await?;
        let retired = retired_list(record.as_ref());
        if !retired.is_empty()
            && self
                .store
                .versions_not_under_root(instance_id, &name, 0, 1)
                .await?
                .is_empty()
            && let Some(mut record) = record
        {
            let instance = self.instances.lookup(instance_id).await?;
            for r in &retired {
                if let Ok(RootKey::Kms {
                    instance_id: kms,
                    key_id,
                }) = RootKey::parse(r)
                {
                    match self
                        .registrations
                        .deregister(&service_principal(&instance), &kms, &key_id, &instance.crn)
                        .await
                    {
                        // Gone already (or the key is): nothing left to undo.
                        Ok(_) | Err(ServiceError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            record.retired = "[]".into();
            self.store
                .put_secrets_root(instance_id, Some(&record))
                .await?;
        }
        if moved > 0 {
            tracing::info!(
                instance_id,
                moved,
                "secret data keys re-encrypted to the root key"
            );
        }
        Ok(moved)
    }

    /// After the customer root key rotated: rewraps every data key to its latest version.
    pub(crate) async fn follow_rotation(&self, record: &SecretsRootRecord) -> ServiceResult<usize> {
        let root = RootKey::parse(&record.root_key)?;
        let RootKey::Kms {
            instance_id: kms,
            key_id,
        } = &root
        else {
            return Ok(0);
        };
        let instance = self.instances.lookup(&record.instance_id).await?;
        let key = self
            .keys
            .get(&service_principal(&instance), kms, key_id, false)
            .await?;
        let latest = key.record.current_version_id.clone();
        if latest == record.key_version || key.state != KeyState::Active {
            return Ok(0);
        }
        let latest_bytes = uuid::Uuid::try_parse(&latest)
            .map(|u| *u.as_bytes())
            .unwrap_or_default();
        let mut rewrapped = 0;
        let mut offset = 0;
        loop {
            // Every version with data that is under this root (the empty name matches all).
            let batch = self
                .store
                .versions_not_under_root(&instance.id, "", offset, STEP)
                .await?;
            if batch.is_empty() {
                break;
            }
            offset += i64::try_from(batch.len()).unwrap_or(STEP);
            for mut v in batch {
                if v.root_key != record.root_key {
                    continue;
                }
                let Some(wrapped) = v.wrapped_dek.take() else {
                    continue;
                };
                let current = envelope::parse(&wrapped)
                    .map(|e| *e.key_version.as_bytes() == latest_bytes)
                    .unwrap_or(false);
                if current {
                    continue;
                }
                let context = version_context(&v.secret_id, &v.id);
                v.wrapped_dek = Some(
                    self.sealer
                        .rewrap_dek(&instance.id, &context, &root, &wrapped)
                        .await?,
                );
                if self
                    .store
                    .rewrap_secret_version(&v, &record.root_key)
                    .await?
                {
                    rewrapped += 1;
                }
            }
        }
        for mut c in self.store.list_secrets_configs(&instance.id).await? {
            if c.root_key != record.root_key {
                continue;
            }
            let Some(wrapped) = c.wrapped_dek.take() else {
                continue;
            };
            let context = super::configs::config_context(&c.name);
            c.wrapped_dek = Some(
                self.sealer
                    .rewrap_dek(&instance.id, &context, &root, &wrapped)
                    .await?,
            );
            if self
                .store
                .rewrap_secrets_config(&c, &record.root_key)
                .await?
            {
                rewrapped += 1;
            }
        }
        let mut updated = record.clone();
        updated.key_version = latest;
        updated.updated_at = to_millis(self.now());
        self.store
            .put_secrets_root(&instance.id, Some(&updated))
            .await?;
        tracing::info!(instance_id = %instance.id, rewrapped, "secret data keys rewrapped after a root key rotation");
        Ok(rewrapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_crns_parse() {
        let (a, i, k) = parse_key_crn("crn:v1:arca:private:kms:local:a/acct:inst:key:kid").unwrap();
        assert_eq!(
            (a.as_str(), i.as_str(), k.as_str()),
            ("acct", "inst", "kid")
        );
        for bad in [
            "",
            "crn:v1:arca:private:kms:local:a/acct:inst:key:",
            "crn:v1:arca:private:secrets-manager:local:a/acct:inst:key:kid",
            "crn:v1:arca:private:kms:local:acct:inst:key:kid",
            "crn:v1:arca:private:kms:local:a/acct:inst:secret:kid",
        ] {
            assert!(parse_key_crn(bad).is_err(), "{bad}");
        }
    }
}
