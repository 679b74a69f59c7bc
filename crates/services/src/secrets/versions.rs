//! Versions of a secret. The newest is `current`, the one before it `previous`; only those two
//! keep their data. A new version destroys the data of the version that stops being `previous`,
//! and is refused (412) when that version is locked.

use arca_store::secrets::{SecretChange, SecretRecord, SecretVersionRecord};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::model::{
    SecretMeta, SecretState, SecretType, VersionMeta, check_custom_metadata, from_doc, to_doc,
};
use super::secret_ops::{DataFields, next_rotation};
use super::{SecretData, SecretWithData, SecretsService, VersionView};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::{rfc3339, to_millis};
use crate::events::EventType;
use crate::{ServiceError, ServiceResult, ids};

/// `POST /secrets/{id}/versions`.
#[derive(Debug, Default, Deserialize)]
pub struct VersionPrototype {
    /// The new data.
    #[serde(flatten)]
    pub data: DataFields,
    /// Replaces the secret's custom metadata.
    pub custom_metadata: Option<Map<String, Value>>,
    /// The new version's metadata.
    pub version_custom_metadata: Option<Map<String, Value>>,
}

/// The alias of the version at `index` in a newest-first list.
pub(crate) fn alias_at(index: usize) -> Option<&'static str> {
    match index {
        0 => Some("current"),
        1 => Some("previous"),
        _ => None,
    }
}

impl SecretsService {
    /// The secret and its versions (newest first).
    pub(crate) async fn with_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> ServiceResult<(SecretRecord, Vec<SecretVersionRecord>)> {
        let record = self.record(instance_id, secret_id).await?;
        let versions = self
            .store
            .list_secret_versions(instance_id, secret_id)
            .await?;
        Ok((record, versions))
    }

    /// The secret, its newest version and every version that still holds data (newest first):
    /// all that adding a version reads, however many versions the secret has.
    pub(crate) async fn with_live_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> ServiceResult<(SecretRecord, Vec<SecretVersionRecord>)> {
        let record = self.record(instance_id, secret_id).await?;
        let versions = self
            .store
            .live_secret_versions(instance_id, secret_id)
            .await?;
        Ok((record, versions))
    }

    /// Adds a version with new data (or rotates: generated data where the type generates it).
    pub async fn create_version(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        proto: VersionPrototype,
    ) -> ServiceResult<SecretWithData> {
        let instance = self
            .authorize(principal, instance_id, Permission::Rotate)
            .await?;
        if let Some(m) = &proto.custom_metadata {
            check_custom_metadata("custom_metadata", m)?;
        }
        let version_custom_metadata = proto.version_custom_metadata.unwrap_or_default();
        check_custom_metadata("version_custom_metadata", &version_custom_metadata)?;
        let _turn = self.write_turn(secret_id).await;
        let (record, versions) = self.with_live_versions(instance_id, secret_id).await?;
        let t = SecretType::parse(&record.secret_type)?;
        let meta: SecretMeta = from_doc(&record.metadata)?;
        let previous_data = match (t, versions.first()) {
            (SecretType::UsernamePassword, Some(current)) if current.payload.is_some() => {
                Some(self.open_version(current).await?)
            }
            _ => None,
        };
        let prepared = self
            .prepare_data(instance_id, t, proto.data, &meta, previous_data.as_ref())
            .await?;
        let (record, version) = self
            .add_version(
                principal.id.clone(),
                record,
                versions,
                &prepared.data,
                VersionMeta {
                    version_custom_metadata,
                    certificate: prepared.certificate.clone(),
                },
                |meta: &mut SecretMeta| {
                    if let Some(m) = &proto.custom_metadata {
                        meta.custom_metadata = m.clone();
                    }
                    if prepared.certificate.is_some() {
                        meta.certificate = prepared.certificate.clone();
                    }
                    if prepared.request.is_some() {
                        meta.certificate_request = prepared.request.clone();
                    }
                },
                prepared.expiration,
                false,
            )
            .await?;
        let secret = self.view(&instance, record)?;
        let version = self.version_view(&secret.record, version, Some("current"))?;
        Ok(SecretWithData {
            secret,
            version,
            data: SecretData(prepared.data),
        })
    }

    /// Stores a new current version; the caller prepared its data. Retries on a concurrent
    /// change of the secret by re-reading it.
    #[allow(clippy::too_many_arguments)] // one internal call shape for manual and automatic rotation
    pub(crate) async fn add_version(
        &self,
        created_by: String,
        mut record: SecretRecord,
        mut versions: Vec<SecretVersionRecord>,
        data: &Map<String, Value>,
        version_meta: VersionMeta,
        update_meta: impl Fn(&mut SecretMeta),
        expiration: Option<i64>,
        auto_rotated: bool,
    ) -> ServiceResult<(SecretRecord, SecretVersionRecord)> {
        let instance_id = record.instance_id.clone();
        let secret_id = record.id.clone();
        let version_id = ids::uuid()?;
        let mut version = self
            .seal_version(&instance_id, &secret_id, &version_id, data)
            .await?;
        let locks = self
            .store
            .list_secret_locks(&instance_id, Some(&secret_id))
            .await?;
        for _ in 0..5 {
            // The version that stops being `previous` loses its data: refused if it is locked.
            let demoted: Vec<SecretVersionRecord> = versions
                .iter()
                .skip(1)
                .filter(|v| v.payload.is_some())
                .cloned()
                .collect();
            if demoted
                .iter()
                .any(|v| locks.iter().any(|l| l.version_id == v.id))
            {
                return Err(ServiceError::Locked(
                    "The requested action can't be completed because the secret version is locked.",
                ));
            }
            let destroyed: Vec<SecretVersionRecord> = demoted
                .into_iter()
                .map(|mut v| {
                    v.payload = None;
                    v.wrapped_dek = None;
                    v
                })
                .collect();
            let now = self.now();
            let now_ms = to_millis(now);
            let mut meta: SecretMeta = from_doc(&record.metadata)?;
            update_meta(&mut meta);
            let mut next = record.clone();
            next.metadata = to_doc(&meta)?;
            next.versions_total += 1;
            next.updated_at = now_ms;
            next.revision += 1;
            next.state = SecretState::Active.number();
            if let Some(e) = expiration {
                next.expiration_date = Some(e);
            }
            if meta.rotation.as_ref().is_some_and(|r| r.auto_rotate) {
                next.next_rotation_date = next_rotation(&meta, now);
            }
            version.serial = versions.first().map_or(1, |v| v.serial + 1);
            version.created_by = created_by.clone();
            version.created_at = now_ms;
            version.expiration_date = next.expiration_date;
            version.auto_rotated = auto_rotated;
            version.metadata = to_doc(&version_meta)?;
            let change = SecretChange {
                new_version: Some(&version),
                versions: &destroyed,
                ..Default::default()
            };
            match self.store.update_secret(&next, change).await {
                Ok(()) => {
                    tracing::info!(%instance_id, %secret_id, version_id = %version.id, auto_rotated, "secret version created");
                    let event_type = if auto_rotated {
                        EventType::SecretRotated
                    } else {
                        EventType::SecretNewVersion
                    };
                    let data = serde_json::json!({
                        "version_id": version.id,
                        "version": version.serial,
                        "expiration_date": next.expiration_date.map(rfc3339),
                    });
                    self.secret_event(
                        event_type,
                        &instance_id,
                        &secret_id,
                        &next.secret_type,
                        data,
                    )
                    .await;
                    return Ok((next, version));
                }
                Err(arca_store::StoreError::Stale(_)) => {
                    (record, versions) = self.with_live_versions(&instance_id, &secret_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Concurrent("the secret changed concurrently"))
    }

    /// The versions' metadata, newest first.
    pub async fn list_versions(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
    ) -> ServiceResult<Vec<VersionView>> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let (record, versions) = self.with_versions(instance_id, secret_id).await?;
        versions
            .into_iter()
            .take(self.settings.max_versions)
            .enumerate()
            .map(|(i, v)| self.version_view(&record, v, alias_at(i)))
            .collect()
    }

    /// A version with its data; records the read.
    pub async fn get_version(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
    ) -> ServiceResult<SecretWithData> {
        let instance = self
            .authorize(principal, instance_id, Permission::ReadPayload)
            .await?;
        let (record, mut versions) = self.with_versions(instance_id, secret_id).await?;
        let at = self.version_position(&versions, version_id)?;
        let version = versions.swap_remove(at);
        self.read_version(&instance, record, version, alias_at(at))
            .await
    }

    /// A version's metadata.
    pub async fn get_version_metadata(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
    ) -> ServiceResult<VersionView> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let (record, mut versions) = self.with_versions(instance_id, secret_id).await?;
        let at = self.version_position(&versions, version_id)?;
        let version = versions.swap_remove(at);
        self.version_view(&record, version, alias_at(at))
    }

    /// Replaces a version's custom metadata (merge-patch: absent keeps it, `null` clears it).
    pub async fn update_version_metadata(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
        version_custom_metadata: Option<Option<Map<String, Value>>>,
    ) -> ServiceResult<VersionView> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        let patch = &version_custom_metadata;
        let _turn = self.write_turn(secret_id).await;
        self.retrying(|| async move {
            let (mut record, mut versions) = self.with_versions(instance_id, secret_id).await?;
            let at = self.version_position(&versions, version_id)?;
            let mut version = versions.swap_remove(at);
            if let Some(m) = patch {
                let m = m.clone().unwrap_or_default();
                check_custom_metadata("version_custom_metadata", &m)?;
                let mut meta: VersionMeta = from_doc(&version.metadata)?;
                meta.version_custom_metadata = m;
                version.metadata = to_doc(&meta)?;
                record.updated_at = to_millis(self.now());
                record.revision += 1;
                let change = SecretChange {
                    versions: std::slice::from_ref(&version),
                    ..Default::default()
                };
                self.store.update_secret(&record, change).await?;
            }
            self.version_view(&record, version, alias_at(at))
        })
        .await
    }

    /// Deleting a version's data applies to IAM and custom credentials only, which need IBM
    /// Cloud: refused for every type Arca stores.
    pub async fn delete_version_data(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Delete)
            .await?;
        let (record, versions) = self.with_versions(instance_id, secret_id).await?;
        self.version_position(&versions, version_id)?;
        Err(ServiceError::InvalidInput(format!(
            "deleting the data of a version applies to iam_credentials and custom_credentials \
             secrets only, not to {} secrets",
            record.secret_type
        )))
    }
}
