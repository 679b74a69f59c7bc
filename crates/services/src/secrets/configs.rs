//! Secrets-engine configurations: private CA (root, intermediate, template) and the public
//! certificate, IAM and custom credentials engines. Fields that are credentials (API keys,
//! passwords, private keys) are sealed like secret data; the rest is stored as metadata. The
//! engines that need IBM Cloud are stored so that configurations round-trip, but the secret types
//! they serve are refused.

use arca_store::secrets::SecretsConfigRecord;
use serde_json::{Map, Value};

use super::SecretsService;
use super::model::{check_name, from_doc, invalid, to_doc};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::to_millis;
use crate::{ServiceError, ServiceResult};

/// `POST /configurations`: a JSON object discriminated by `config_type`.
pub type ConfigurationPrototype = Map<String, Value>;

/// What each configuration type takes.
pub(crate) struct ConfigSpec {
    pub config_type: &'static str,
    pub secret_type: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// Credentials among the fields: sealed, and left out of listings.
    pub secret: &'static [&'static str],
    /// Fields a patch may change.
    pub patchable: &'static [&'static str],
    /// Most configurations of this type per instance.
    pub max: usize,
}

pub(crate) const ROOT_CA: &str = "private_cert_configuration_root_ca";
pub(crate) const INTERMEDIATE_CA: &str = "private_cert_configuration_intermediate_ca";
pub(crate) const TEMPLATE: &str = "private_cert_configuration_template";

const SPECS: [ConfigSpec; 5] = [
    ConfigSpec {
        config_type: "public_cert_configuration_ca_lets_encrypt",
        secret_type: "public_cert",
        required: &["lets_encrypt_environment", "lets_encrypt_private_key"],
        optional: &["lets_encrypt_preferred_chain"],
        secret: &["lets_encrypt_private_key"],
        patchable: &[
            "lets_encrypt_environment",
            "lets_encrypt_private_key",
            "lets_encrypt_preferred_chain",
        ],
        max: 10,
    },
    ConfigSpec {
        config_type: "public_cert_configuration_dns_cloud_internet_services",
        secret_type: "public_cert",
        required: &["cloud_internet_services_crn"],
        optional: &["cloud_internet_services_apikey"],
        secret: &["cloud_internet_services_apikey"],
        patchable: &[
            "cloud_internet_services_apikey",
            "cloud_internet_services_crn",
        ],
        max: 10,
    },
    ConfigSpec {
        config_type: "public_cert_configuration_dns_classic_infrastructure",
        secret_type: "public_cert",
        required: &[
            "classic_infrastructure_username",
            "classic_infrastructure_password",
        ],
        optional: &[],
        secret: &["classic_infrastructure_password"],
        patchable: &[
            "classic_infrastructure_username",
            "classic_infrastructure_password",
        ],
        max: 10,
    },
    ConfigSpec {
        config_type: "iam_credentials_configuration",
        secret_type: "iam_credentials",
        required: &["api_key"],
        optional: &["disabled"],
        secret: &["api_key"],
        patchable: &["api_key", "disabled"],
        max: 1,
    },
    ConfigSpec {
        config_type: "custom_credentials_configuration",
        secret_type: "custom_credentials",
        required: &["code_engine"],
        optional: &["api_key_ref", "task_timeout"],
        secret: &[],
        patchable: &["task_timeout"],
        max: 10,
    },
];

fn spec(config_type: &str) -> Option<&'static ConfigSpec> {
    SPECS.iter().find(|s| s.config_type == config_type)
}

/// Whether `config_type` belongs to the private CA (root, intermediate, template), whose
/// configurations [`super::ca`] manages.
pub(crate) fn is_private_ca(config_type: &str) -> bool {
    [ROOT_CA, INTERMEDIATE_CA, TEMPLATE].contains(&config_type)
}

/// A configuration as callers see it.
#[derive(Clone)]
pub struct ConfigView {
    /// The stored row (sealed fields not opened).
    pub record: SecretsConfigRecord,
    /// Non-secret fields.
    pub fields: Map<String, Value>,
    /// Credentials, opened (only for a single configuration, never in listings).
    pub secret_fields: Option<Map<String, Value>>,
}

impl std::fmt::Debug for ConfigView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigView")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

pub(crate) fn config_context(name: &str) -> String {
    format!("config/{name}")
}

/// The `X-Sm-Accept-Configuration-Type` check: names are unique per instance, so the header
/// only has to agree with the configuration's type.
pub(crate) fn check_type(record: &SecretsConfigRecord, accept: Option<&str>) -> ServiceResult<()> {
    match accept {
        Some(t) if !t.is_empty() && t != record.config_type => {
            Err(ServiceError::NotFound("configuration"))
        }
        _ => Ok(()),
    }
}

impl SecretsService {
    pub(crate) async fn config_record(
        &self,
        instance_id: &str,
        name: &str,
    ) -> ServiceResult<SecretsConfigRecord> {
        self.store
            .get_secrets_config(instance_id, name)
            .await?
            .ok_or(ServiceError::NotFound("configuration"))
    }

    /// Opens a configuration's sealed fields.
    pub(crate) async fn open_config(
        &self,
        record: &SecretsConfigRecord,
    ) -> ServiceResult<Map<String, Value>> {
        match self.open_config_bytes(record).await? {
            Some(plain) => {
                serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(Box::new(e)))
            }
            None => Ok(Map::new()),
        }
    }

    /// Opens a configuration's sealed part as bytes (`None` when it has none).
    pub(crate) async fn open_config_bytes(
        &self,
        record: &SecretsConfigRecord,
    ) -> ServiceResult<Option<zeroize::Zeroizing<Vec<u8>>>> {
        match (&record.sealed, &record.wrapped_dek) {
            (Some(sealed), Some(dek)) => self
                .sealer
                .open(
                    &record.instance_id,
                    &config_context(&record.name),
                    sealed,
                    dek,
                    &record.root_key,
                )
                .await
                .map(Some),
            _ => Ok(None),
        }
    }

    /// Seals `secret_fields` into `record` (or clears them when empty).
    pub(crate) async fn seal_config(
        &self,
        record: &mut SecretsConfigRecord,
        secret_fields: &Map<String, Value>,
    ) -> ServiceResult<()> {
        if secret_fields.is_empty() {
            return self.seal_config_bytes(record, None).await;
        }
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(secret_fields).map_err(|e| ServiceError::Internal(Box::new(e)))?,
        );
        self.seal_config_bytes(record, Some(&plain)).await
    }

    /// Seals `plain` as `record`'s sealed part (`None` clears it).
    pub(crate) async fn seal_config_bytes(
        &self,
        record: &mut SecretsConfigRecord,
        plain: Option<&[u8]>,
    ) -> ServiceResult<()> {
        let Some(plain) = plain else {
            record.sealed = None;
            record.wrapped_dek = None;
            return Ok(());
        };
        let sealed = self
            .sealer
            .seal(&record.instance_id, &config_context(&record.name), plain)
            .await?;
        record.sealed = Some(sealed.payload);
        record.wrapped_dek = Some(sealed.wrapped_dek);
        record.root_key = sealed.root_key;
        Ok(())
    }

    pub(crate) fn config_view(
        &self,
        record: SecretsConfigRecord,
        secret_fields: Option<Map<String, Value>>,
    ) -> ServiceResult<ConfigView> {
        Ok(ConfigView {
            fields: from_doc(&record.metadata)?,
            record,
            secret_fields,
        })
    }

    /// Creates a configuration.
    pub async fn create_config(
        &self,
        principal: &Principal,
        instance_id: &str,
        mut proto: ConfigurationPrototype,
    ) -> ServiceResult<ConfigView> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let config_type = match proto.remove("config_type") {
            Some(Value::String(t)) => t,
            _ => return Err(invalid("config_type is required")),
        };
        let name = match proto.remove("name") {
            Some(Value::String(n)) => n,
            _ => return Err(invalid("name is required")),
        };
        check_name("name", &name, 2, 128)?;
        let existing = self.store.list_secrets_configs(instance_id).await?;
        if existing.iter().any(|c| c.name == name) {
            return Err(ServiceError::Conflict(
                "a configuration with this name already exists",
            ));
        }
        if is_private_ca(&config_type) {
            return self
                .create_ca_config(principal, instance_id, &config_type, name, proto, &existing)
                .await;
        }
        let spec = spec(&config_type).ok_or_else(|| {
            ServiceError::InvalidInput(format!("unknown config_type {config_type}"))
        })?;
        let count = existing
            .iter()
            .filter(|c| c.config_type == spec.config_type)
            .count();
        if count >= spec.max {
            return Err(ServiceError::InvalidInput(format!(
                "you reached the maximum of {} configurations of type {}",
                spec.max, spec.config_type
            )));
        }
        let (fields, secret_fields) = split_fields(spec, proto, spec.required, true)?;
        let now = to_millis(self.now());
        let mut record = SecretsConfigRecord {
            instance_id: instance_id.to_owned(),
            name,
            config_type: spec.config_type.to_owned(),
            secret_type: spec.secret_type.to_owned(),
            created_by: principal.id.clone(),
            created_at: now,
            updated_at: now,
            revision: 1,
            metadata: to_doc(&fields)?,
            sealed: None,
            wrapped_dek: None,
            root_key: super::sealing::INSTANCE_ROOT.to_owned(),
        };
        self.seal_config(&mut record, &secret_fields).await?;
        self.store.create_secrets_config(&record).await?;
        self.config_view(record, Some(secret_fields))
    }

    /// The instance's configurations (credentials left out), optionally of some secret types.
    pub async fn list_configs(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<Vec<ConfigView>> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        self.store
            .list_secrets_configs(instance_id)
            .await?
            .into_iter()
            .map(|r| {
                if is_private_ca(&r.config_type) {
                    self.ca_view_with(r, None)
                } else {
                    self.config_view(r, None)
                }
            })
            .collect()
    }

    /// A configuration with its credentials.
    pub async fn get_config(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        accept_type: Option<&str>,
    ) -> ServiceResult<ConfigView> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let record = self.config_record(instance_id, name).await?;
        check_type(&record, accept_type)?;
        if is_private_ca(&record.config_type) {
            return self.ca_view(record).await;
        }
        let secret_fields = self.open_config(&record).await?;
        let secret_fields = public_secret_fields(&record.config_type, secret_fields);
        self.config_view(record, Some(secret_fields))
    }

    /// Applies a merge-patch to a configuration.
    pub async fn update_config(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        accept_type: Option<&str>,
        patch: Map<String, Value>,
    ) -> ServiceResult<ConfigView> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let patch = &patch;
        self.retrying(|| async move {
            let mut record = self.config_record(instance_id, name).await?;
            check_type(&record, accept_type)?;
            if is_private_ca(&record.config_type) {
                return self.update_ca_config(record, patch).await;
            }
            let patchable: &[&str] = spec(&record.config_type).map_or(&[], |s| s.patchable);
            let mut fields: Map<String, Value> = from_doc(&record.metadata)?;
            let mut secret_fields = self.open_config(&record).await?;
            let secret_names: &[&str] = spec(&record.config_type).map_or(&[], |s| s.secret);
            for (k, v) in patch {
                if !patchable.contains(&k.as_str()) {
                    return Err(ServiceError::InvalidInput(format!(
                        "{k} cannot be changed on a {} configuration",
                        record.config_type
                    )));
                }
                let target = if secret_names.contains(&k.as_str()) {
                    &mut secret_fields
                } else {
                    &mut fields
                };
                if v.is_null() {
                    target.remove(k);
                } else {
                    target.insert(k.clone(), v.clone());
                }
            }
            if let Some(s) = spec(&record.config_type) {
                for r in s.required {
                    if !fields.contains_key(*r) && !secret_fields.contains_key(*r) {
                        return Err(ServiceError::InvalidInput(format!("{r} is required")));
                    }
                }
            }
            record.metadata = to_doc(&fields)?;
            self.seal_config(&mut record, &secret_fields).await?;
            record.updated_at = to_millis(self.now());
            record.revision += 1;
            self.store.update_secrets_config(&record).await?;
            let shown = public_secret_fields(&record.config_type, secret_fields);
            self.config_view(record, Some(shown))
        })
        .await
    }

    /// Deletes a configuration (a CA that still signs others, or a template's CA, is kept).
    pub async fn delete_config(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        accept_type: Option<&str>,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let record = self.config_record(instance_id, name).await?;
        check_type(&record, accept_type)?;
        self.check_config_unused(instance_id, &record).await?;
        if !self.store.delete_secrets_config(instance_id, name).await? {
            return Err(ServiceError::NotFound("configuration"));
        }
        Ok(())
    }
}

/// The credentials a full configuration shows (private CA keys are never shown).
fn public_secret_fields(config_type: &str, fields: Map<String, Value>) -> Map<String, Value> {
    match spec(config_type) {
        Some(_) => fields,
        None => Map::new(),
    }
}

/// Checks a prototype against `spec` and splits it into stored and sealed fields.
fn split_fields(
    spec: &ConfigSpec,
    proto: Map<String, Value>,
    required: &[&str],
    creating: bool,
) -> ServiceResult<(Map<String, Value>, Map<String, Value>)> {
    let mut fields = Map::new();
    let mut secret = Map::new();
    for (k, v) in proto {
        if !spec.required.contains(&k.as_str()) && !spec.optional.contains(&k.as_str()) {
            return Err(ServiceError::InvalidInput(format!(
                "{k} is not a field of {} configurations",
                spec.config_type
            )));
        }
        if v.is_null() {
            continue;
        }
        if spec.secret.contains(&k.as_str()) {
            secret.insert(k, v);
        } else {
            fields.insert(k, v);
        }
    }
    if creating {
        for r in required {
            if !fields.contains_key(*r) && !secret.contains_key(*r) {
                return Err(ServiceError::InvalidInput(format!("{r} is required")));
            }
        }
    }
    if let Some(Value::String(env)) = fields.get("lets_encrypt_environment")
        && env != "production"
        && env != "staging"
    {
        return Err(invalid(
            "lets_encrypt_environment must be production or staging",
        ));
    }
    Ok((fields, secret))
}
