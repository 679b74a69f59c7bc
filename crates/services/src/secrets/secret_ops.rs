//! Secrets: create (with the first version), read (with data, or metadata only), find by group,
//! type and name, update metadata (merge-patch), delete.

use arca_store::secrets::{SecretChange, SecretDeletion, SecretRecord, SecretVersionRecord};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::groups::DEFAULT_GROUP;
use super::model::{
    CertificateMeta, PasswordPolicy, RotationPolicy, SecretMeta, SecretState, SecretType,
    VersionMeta, check_custom_metadata, check_description, check_labels, check_name, from_doc,
    invalid, to_doc,
};
use super::{SecretData, SecretView, SecretWithData, SecretsService, VersionView, password};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::{rfc3339, to_millis};
use crate::events::EventType;
use crate::{ServiceError, ServiceResult, ids};

/// `POST /secrets`: the fields of every supported type (the type decides which apply). Unknown
/// fields are ignored: serde cannot refuse them next to a flattened struct.
#[derive(Debug, Default, Deserialize)]
pub struct SecretPrototype {
    /// The type.
    pub secret_type: String,
    /// Name, unique per type in the instance.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Group (`default` when absent).
    pub secret_group_id: Option<String>,
    /// Labels.
    pub labels: Option<Vec<String>>,
    /// Caller's metadata.
    pub custom_metadata: Option<Map<String, Value>>,
    /// Caller's metadata of the first version.
    pub version_custom_metadata: Option<Map<String, Value>>,
    /// Expiry (arbitrary, username_password), RFC 3339.
    pub expiration_date: Option<String>,
    /// The data fields.
    #[serde(flatten)]
    pub data: DataFields,
    /// Rotation policy.
    pub rotation: Option<RotationPolicy>,
    /// Password generation policy.
    pub password_generation_policy: Option<PasswordPolicy>,
}

/// The data fields of a new secret or version.
#[derive(Default, Deserialize)]
pub struct DataFields {
    /// arbitrary: the text.
    pub payload: Option<Value>,
    /// kv: the object.
    pub data: Option<Value>,
    /// username_password: the username.
    pub username: Option<String>,
    /// username_password: the password (generated when absent).
    pub password: Option<String>,
    /// imported_cert: the certificate (PEM).
    pub certificate: Option<String>,
    /// imported_cert: the intermediate chain (PEM).
    pub intermediate: Option<String>,
    /// imported_cert: the private key (PEM).
    pub private_key: Option<String>,
    /// private_cert: the template.
    pub certificate_template: Option<String>,
    /// private_cert: the common name.
    pub common_name: Option<String>,
    /// private_cert: DNS alternative names.
    pub alt_names: Option<Vec<String>>,
    /// private_cert: IP SANs (comma-separated).
    pub ip_sans: Option<String>,
    /// private_cert: URI SANs (comma-separated).
    pub uri_sans: Option<String>,
    /// private_cert: other SANs.
    pub other_sans: Option<Vec<String>>,
    /// private_cert: a CSR to sign instead of generating a key.
    pub csr: Option<String>,
    /// private_cert: `pem` or `pem_bundle`.
    pub format: Option<String>,
    /// private_cert: `der` or `pkcs8`.
    pub private_key_format: Option<String>,
    /// private_cert: leave the CN out of the SANs.
    pub exclude_cn_from_sans: Option<bool>,
    /// private_cert: validity.
    pub ttl: Option<String>,
    /// imported_cert: a CSR to generate (not supported; named so that it is refused, not
    /// ignored).
    pub managed_csr: Option<Value>,
}

impl std::fmt::Debug for DataFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataFields(<redacted>)")
    }
}

/// `PATCH /secrets/{id}/metadata` (merge-patch: absent fields are kept, `null` clears).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataPatch {
    /// New name.
    pub name: Option<String>,
    /// New description (`null` clears).
    #[serde(default, deserialize_with = "patch_field")]
    pub description: Option<Option<String>>,
    /// New labels (`null` clears).
    #[serde(default, deserialize_with = "patch_field")]
    pub labels: Option<Option<Vec<String>>>,
    /// New custom metadata (`null` clears).
    #[serde(default, deserialize_with = "patch_field")]
    pub custom_metadata: Option<Option<Map<String, Value>>>,
    /// New expiry (`null` clears).
    #[serde(default, deserialize_with = "patch_field")]
    pub expiration_date: Option<Option<String>>,
    /// New rotation policy.
    pub rotation: Option<RotationPolicy>,
    /// New password policy.
    pub password_generation_policy: Option<PasswordPolicy>,
}

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
fn patch_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Largest arbitrary payload (1 MB) and kv document (512 KB).
const MAX_PAYLOAD: usize = 1024 * 1024;
const MAX_KV: usize = 512 * 1024;

/// Data ready to seal, with what it tells about the secret.
pub(crate) struct PreparedData {
    pub data: Map<String, Value>,
    pub certificate: Option<CertificateMeta>,
    /// Expiry implied by the data (certificates).
    pub expiration: Option<i64>,
    /// What to keep to issue the next version (private certificates).
    pub request: Option<Value>,
}

pub(crate) fn parse_date(what: &str, s: &str) -> ServiceResult<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| ServiceError::InvalidInput(format!("{what} must be an RFC 3339 date")))
}

impl SecretsService {
    /// Validates and assembles the data of a new secret or version of type `t`. `previous` is
    /// the current data when making a new version (username_password keeps its username).
    pub(crate) async fn prepare_data(
        &self,
        instance_id: &str,
        t: SecretType,
        fields: DataFields,
        meta: &SecretMeta,
        previous: Option<&Map<String, Value>>,
    ) -> ServiceResult<PreparedData> {
        let mut data = Map::new();
        match t {
            SecretType::Arbitrary => {
                let payload = match fields.payload {
                    Some(Value::String(s)) => s,
                    Some(_) => return Err(invalid("payload must be a string")),
                    None => return Err(invalid("payload is required for arbitrary secrets")),
                };
                if payload.is_empty() || payload.len() > MAX_PAYLOAD {
                    return Err(invalid("payload must be 1 byte to 1 MB of text"));
                }
                data.insert("payload".into(), Value::String(payload));
            }
            SecretType::Kv => {
                let object = match fields.data {
                    Some(Value::Object(o)) if !o.is_empty() => o,
                    Some(_) => {
                        return Err(invalid("data must be a JSON object with at least one key"));
                    }
                    None => return Err(invalid("data is required for kv secrets")),
                };
                if serde_json::to_vec(&object)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX)
                    > MAX_KV
                {
                    return Err(invalid("data must be at most 512 KB"));
                }
                data.insert("data".into(), Value::Object(object));
            }
            SecretType::UsernamePassword => {
                let username = match (fields.username, previous) {
                    (Some(u), None) => u,
                    (None, Some(prev)) => prev
                        .get("username")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    (Some(_), Some(_)) => {
                        return Err(invalid("the username of a secret cannot change"));
                    }
                    (None, None) => {
                        return Err(invalid(
                            "username is required for username_password secrets",
                        ));
                    }
                };
                if !(2..=64).contains(&username.chars().count())
                    || username.chars().any(char::is_control)
                {
                    return Err(invalid("username must be 2 to 64 printable characters"));
                }
                let password = match fields.password {
                    Some(p) => {
                        if !(6..=256).contains(&p.chars().count()) {
                            return Err(invalid("password must be 6 to 256 characters"));
                        }
                        p
                    }
                    None => {
                        let policy = meta.password_generation_policy.clone().unwrap_or_default();
                        password::generate(&policy)?.to_string()
                    }
                };
                data.insert("username".into(), Value::String(username));
                data.insert("password".into(), Value::String(password));
            }
            SecretType::ImportedCert => return self.prepare_imported_cert(fields),
            SecretType::PrivateCert => {
                return self.prepare_private_cert(instance_id, fields, meta).await;
            }
        }
        Ok(PreparedData {
            data,
            certificate: None,
            expiration: None,
            request: None,
        })
    }

    /// Seals `data` as version `version_id` of the secret.
    pub(crate) async fn seal_version(
        &self,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
        data: &Map<String, Value>,
    ) -> ServiceResult<SecretVersionRecord> {
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(data).map_err(|e| ServiceError::Internal(Box::new(e)))?,
        );
        let sealed = self
            .sealer
            .seal(
                instance_id,
                &version_context(secret_id, version_id),
                &plaintext,
            )
            .await?;
        Ok(SecretVersionRecord {
            instance_id: instance_id.to_owned(),
            secret_id: secret_id.to_owned(),
            id: version_id.to_owned(),
            serial: 0,
            created_by: String::new(),
            created_at: 0,
            expiration_date: None,
            downloaded: false,
            auto_rotated: false,
            metadata: String::new(),
            payload: Some(sealed.payload),
            wrapped_dek: Some(sealed.wrapped_dek),
            root_key: sealed.root_key,
        })
    }

    /// Opens a version's data.
    pub(crate) async fn open_version(
        &self,
        v: &SecretVersionRecord,
    ) -> ServiceResult<Map<String, Value>> {
        let (Some(payload), Some(wrapped)) = (&v.payload, &v.wrapped_dek) else {
            return Err(ServiceError::InvalidState(
                "the data of this secret version was destroyed".into(),
            ));
        };
        let plaintext = self
            .sealer
            .open(
                &v.instance_id,
                &version_context(&v.secret_id, &v.id),
                payload,
                wrapped,
                &v.root_key,
            )
            .await?;
        serde_json::from_slice(&plaintext).map_err(|e| ServiceError::Internal(Box::new(e)))
    }

    /// Creates a secret and its first version.
    pub async fn create_secret(
        &self,
        principal: &Principal,
        instance_id: &str,
        proto: SecretPrototype,
    ) -> ServiceResult<SecretWithData> {
        let instance = self
            .authorize(principal, instance_id, Permission::Create)
            .await?;
        let t = SecretType::parse(&proto.secret_type)?;
        check_name("name", &proto.name, 2, 256)?;
        let description = proto.description.unwrap_or_default();
        check_description(&description)?;
        let labels = proto.labels.unwrap_or_default();
        check_labels(&labels)?;
        let custom_metadata = proto.custom_metadata.unwrap_or_default();
        check_custom_metadata("custom_metadata", &custom_metadata)?;
        let version_custom_metadata = proto.version_custom_metadata.unwrap_or_default();
        check_custom_metadata("version_custom_metadata", &version_custom_metadata)?;
        let group_id = proto
            .secret_group_id
            .unwrap_or_else(|| DEFAULT_GROUP.to_owned());
        self.require_group(instance_id, &group_id).await?;
        if t == SecretType::PrivateCert {
            self.check_template_group(instance_id, &proto.data, &group_id)
                .await?;
        }
        let now = self.now();
        let expiration = match proto.expiration_date {
            Some(_) if !t.takes_expiration() => {
                return Err(ServiceError::InvalidInput(format!(
                    "expiration_date cannot be set on {} secrets",
                    t.as_str()
                )));
            }
            Some(d) => Some(self.future_date(&d)?),
            None => None,
        };
        let rotation = match (proto.rotation, t.rotates()) {
            (Some(_), false) => {
                return Err(ServiceError::InvalidInput(format!(
                    "{} secrets do not rotate",
                    t.as_str()
                )));
            }
            (Some(r), true) => {
                r.validate()?;
                Some(r)
            }
            (None, true) => Some(RotationPolicy::manual()),
            (None, false) => None,
        };
        let password_generation_policy = match (proto.password_generation_policy, t) {
            (Some(p), SecretType::UsernamePassword) => {
                p.validate()?;
                Some(p)
            }
            (None, SecretType::UsernamePassword) => Some(PasswordPolicy::default()),
            (Some(_), _) => {
                return Err(invalid(
                    "password_generation_policy applies to username_password secrets only",
                ));
            }
            (None, _) => None,
        };
        let mut meta = SecretMeta {
            description,
            labels,
            custom_metadata,
            rotation,
            password_generation_policy,
            certificate_request: None,
            certificate: None,
        };
        let prepared = self
            .prepare_data(instance_id, t, proto.data, &meta, None)
            .await?;
        meta.certificate = prepared.certificate.clone();
        meta.certificate_request = prepared.request.clone();
        let secret_id = ids::uuid()?;
        let version_id = ids::uuid()?;
        let now_ms = to_millis(now);
        let expiration_date = expiration.map(to_millis).or(prepared.expiration);
        let mut version = self
            .seal_version(instance_id, &secret_id, &version_id, &prepared.data)
            .await?;
        version.serial = 1;
        version.created_by = principal.id.clone();
        version.created_at = now_ms;
        version.expiration_date = expiration_date;
        version.metadata = to_doc(&VersionMeta {
            version_custom_metadata,
            certificate: prepared.certificate.clone(),
        })?;
        let record = SecretRecord {
            instance_id: instance_id.to_owned(),
            id: secret_id,
            secret_type: t.as_str().to_owned(),
            name: proto.name,
            group_id,
            state: SecretState::Active.number(),
            created_by: principal.id.clone(),
            created_at: now_ms,
            updated_at: now_ms,
            expiration_date,
            next_rotation_date: next_rotation(&meta, now),
            retrieved_at: None,
            downloaded: false,
            versions_total: 1,
            locks_total: 0,
            revision: 1,
            metadata: to_doc(&meta)?,
        };
        self.store.create_secret(&record, &version).await?;
        tracing::info!(instance_id, secret_id = %record.id, secret_type = t.as_str(), "secret created");
        self.secret_event(
            EventType::SecretCreated,
            instance_id,
            &record.id,
            t.as_str(),
            serde_json::json!({
                "version_id": version.id,
                "expiration_date": record.expiration_date.map(rfc3339),
            }),
        )
        .await;
        let secret = self.view(&instance, record)?;
        let version = self.version_view(&secret.record, version, Some("current"))?;
        Ok(SecretWithData {
            secret,
            version,
            data: SecretData(prepared.data),
        })
    }

    pub(crate) fn future_date(&self, s: &str) -> ServiceResult<OffsetDateTime> {
        let d = parse_date("expiration_date", s)?;
        if d <= self.now() {
            return Err(invalid("expiration_date must be in the future"));
        }
        Ok(d)
    }

    /// The secret with its current data; records that the data was read.
    pub async fn get_secret(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<SecretWithData> {
        let instance = self
            .authorize(principal, instance_id, Permission::ReadPayload)
            .await?;
        let record = self.record(instance_id, id).await?;
        self.read_current(&instance, record).await
    }

    /// The secret of type `secret_type` named `name` in the group named `group_name`.
    pub async fn get_secret_by_name(
        &self,
        principal: &Principal,
        instance_id: &str,
        group_name: &str,
        secret_type: &str,
        name: &str,
    ) -> ServiceResult<SecretWithData> {
        let instance = self
            .authorize(principal, instance_id, Permission::ReadPayload)
            .await?;
        let t = SecretType::parse(secret_type)?;
        let group_id = self.group_id_by_name(instance_id, group_name).await?;
        let record = self
            .store
            .find_secret(instance_id, t.as_str(), name)
            .await?
            .filter(|s| s.group_id == group_id)
            .ok_or(ServiceError::NotFound("secret"))?;
        self.read_current(&instance, record).await
    }

    async fn read_current(
        &self,
        instance: &crate::Instance,
        record: SecretRecord,
    ) -> ServiceResult<SecretWithData> {
        // Only the newest version: a read costs the same whatever the secret's history.
        let current = self
            .store
            .current_secret_version(&instance.id, &record.id)
            .await?
            .ok_or(ServiceError::Internal("a secret without versions".into()))?;
        self.read_version(instance, record, current, Some("current"))
            .await
    }

    /// Opens a version's data and records the read (on the secret and on the version).
    pub(crate) async fn read_version(
        &self,
        instance: &crate::Instance,
        record: SecretRecord,
        version: SecretVersionRecord,
        alias: Option<&'static str>,
    ) -> ServiceResult<SecretWithData> {
        if SecretState::from_number(record.state) == SecretState::Destroyed {
            return Err(ServiceError::InvalidState(
                "the secret's data was destroyed (it expired or its root key was destroyed)".into(),
            ));
        }
        let data = self.open_version(&version).await?;
        let (record, version) = self.mark_read(record, version).await?;
        let secret = self.view(instance, record)?;
        let version = self.version_view(&secret.record, version, alias)?;
        Ok(SecretWithData {
            secret,
            version,
            data: SecretData(data),
        })
    }

    /// Sets `downloaded` and `retrieved_at`. To keep reads cheap, a read within a minute of the
    /// last recorded one (of a version already marked) is not written again.
    async fn mark_read(
        &self,
        mut record: SecretRecord,
        mut version: SecretVersionRecord,
    ) -> ServiceResult<(SecretRecord, SecretVersionRecord)> {
        let now = to_millis(self.now());
        let fresh = record.retrieved_at.is_some_and(|t| now - t < 60_000);
        if record.downloaded && version.downloaded && fresh {
            return Ok((record, version));
        }
        for _ in 0..5 {
            let mut next = record.clone();
            next.downloaded = true;
            next.retrieved_at = Some(now);
            next.revision += 1;
            let mut v = version.clone();
            v.downloaded = true;
            let change = SecretChange {
                versions: std::slice::from_ref(&v),
                ..Default::default()
            };
            match self.store.update_secret(&next, change).await {
                Ok(()) => return Ok((next, v)),
                Err(arca_store::StoreError::Stale(_)) => {
                    record = self.record(&record.instance_id, &record.id).await?;
                    if let Some(fresh) = self
                        .store
                        .list_secret_versions(&record.instance_id, &record.id)
                        .await?
                        .into_iter()
                        .find(|x| x.id == version.id)
                    {
                        version = fresh;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Losing the race to record a read is harmless: the data was read all the same.
        Ok((record, version))
    }

    /// The secret's metadata.
    pub async fn get_secret_metadata(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<SecretView> {
        let instance = self
            .authorize(principal, instance_id, Permission::Read)
            .await?;
        let record = self.record(instance_id, id).await?;
        self.view(&instance, record)
    }

    /// Applies a merge-patch to the secret's metadata.
    pub async fn update_secret_metadata(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
        patch: MetadataPatch,
    ) -> ServiceResult<SecretView> {
        let instance = self
            .authorize(principal, instance_id, Permission::Modify)
            .await?;
        let patch = &patch;
        let _turn = self.write_turn(id).await;
        let record = self
            .retrying(|| async move {
                let mut record = self.record(instance_id, id).await?;
                let t = SecretType::parse(&record.secret_type)?;
                let mut meta: SecretMeta = from_doc(&record.metadata)?;
                if let Some(name) = &patch.name {
                    check_name("name", name, 2, 256)?;
                    record.name = name.clone();
                }
                if let Some(d) = &patch.description {
                    let d = d.clone().unwrap_or_default();
                    check_description(&d)?;
                    meta.description = d;
                }
                if let Some(l) = &patch.labels {
                    let l = l.clone().unwrap_or_default();
                    check_labels(&l)?;
                    meta.labels = l;
                }
                if let Some(m) = &patch.custom_metadata {
                    let m = m.clone().unwrap_or_default();
                    check_custom_metadata("custom_metadata", &m)?;
                    meta.custom_metadata = m;
                }
                if let Some(e) = &patch.expiration_date {
                    if !t.takes_expiration() {
                        return Err(ServiceError::InvalidInput(format!(
                            "expiration_date cannot be set on {} secrets",
                            t.as_str()
                        )));
                    }
                    record.expiration_date = match e {
                        Some(d) => Some(to_millis(self.future_date(d)?)),
                        None => None,
                    };
                }
                if let Some(r) = &patch.rotation {
                    if !t.rotates() {
                        return Err(ServiceError::InvalidInput(format!(
                            "{} secrets do not rotate",
                            t.as_str()
                        )));
                    }
                    r.validate()?;
                    meta.rotation = Some(r.clone());
                    record.next_rotation_date = next_rotation(&meta, self.now());
                }
                if let Some(p) = &patch.password_generation_policy {
                    if t != SecretType::UsernamePassword {
                        return Err(invalid(
                            "password_generation_policy applies to username_password secrets only",
                        ));
                    }
                    p.validate()?;
                    meta.password_generation_policy = Some(p.clone());
                }
                record.metadata = to_doc(&meta)?;
                record.updated_at = to_millis(self.now());
                record.revision += 1;
                self.store
                    .update_secret(&record, SecretChange::default())
                    .await?;
                Ok(record)
            })
            .await?;
        self.view(&instance, record)
    }

    /// Deletes a secret with all its versions; refused (412) while any version is locked.
    pub async fn delete_secret(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Delete)
            .await?;
        if !ids::is_uuid(id) {
            return Err(ServiceError::NotFound("secret"));
        }
        match self.store.delete_secret(instance_id, id).await? {
            SecretDeletion::Deleted => {
                tracing::info!(instance_id, secret_id = id, "secret deleted");
                let data = serde_json::json!({ "secret_id": id, "state": "destroyed" });
                self.events
                    .emit(instance_id, EventType::SecretDestroyed, id, data)
                    .await;
                Ok(())
            }
            SecretDeletion::NotFound => Err(ServiceError::NotFound("secret")),
            SecretDeletion::Locked => Err(ServiceError::Locked(
                "The requested action can't be completed because the secret version is locked.",
            )),
        }
    }

    /// A version's view, without its sealed data.
    pub(crate) fn version_view(
        &self,
        secret: &SecretRecord,
        mut record: SecretVersionRecord,
        alias: Option<&'static str>,
    ) -> ServiceResult<VersionView> {
        let meta = from_doc(&record.metadata)?;
        let payload_available = record.payload.is_some();
        record.payload = None;
        record.wrapped_dek = None;
        Ok(VersionView {
            record,
            meta,
            alias,
            payload_available,
            secret_name: secret.name.clone(),
            secret_type: secret.secret_type.clone(),
            secret_group_id: secret.group_id.clone(),
        })
    }
}

/// The sealing context of a version's data.
pub(crate) fn version_context(secret_id: &str, version_id: &str) -> String {
    format!("secret/{secret_id}/{version_id}")
}

/// When automatic rotation is next due (from `from`), if the policy rotates.
pub(crate) fn next_rotation(meta: &SecretMeta, from: OffsetDateTime) -> Option<i64> {
    meta.rotation
        .as_ref()
        .and_then(RotationPolicy::period)
        .map(|p| to_millis(from + p))
}
