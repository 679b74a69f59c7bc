//! Certificate secrets: imported certificates (parsed and checked) and private certificates
//! issued by the instance's private CA.

use super::SecretsService;
use super::model::SecretMeta;
use super::secret_ops::{DataFields, PreparedData};
use crate::{ServiceError, ServiceResult};

impl SecretsService {
    pub(crate) fn prepare_imported_cert(&self, _fields: DataFields) -> ServiceResult<PreparedData> {
        Err(ServiceError::Unsupported(
            "imported_cert secrets are not available yet".into(),
        ))
    }

    pub(crate) async fn prepare_private_cert(
        &self,
        _instance_id: &str,
        _fields: DataFields,
        _meta: &SecretMeta,
    ) -> ServiceResult<PreparedData> {
        Err(ServiceError::Unsupported(
            "private_cert secrets are not available yet".into(),
        ))
    }
}

impl SecretsService {
    /// A secret action (secret-level, or on a version): `private_cert_action_revoke_certificate`.
    /// Returns the revocation time (Unix seconds).
    pub async fn secret_action(
        &self,
        principal: &crate::Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: Option<&str>,
        action_type: &str,
    ) -> ServiceResult<i64> {
        self.authorize(principal, instance_id, crate::access::Permission::Manage)
            .await?;
        let (record, versions) = self.with_versions(instance_id, secret_id).await?;
        let at = self.version_position(&versions, version_id.unwrap_or("current"))?;
        match action_type {
            "private_cert_action_revoke_certificate" => {
                if record.secret_type != super::SecretType::PrivateCert.as_str() {
                    return Err(ServiceError::InvalidInput(format!(
                        "{action_type} applies to private_cert secrets, not to {} secrets",
                        record.secret_type
                    )));
                }
                self.revoke_private_cert(record, &versions[at]).await
            }
            "public_cert_action_validate_dns_challenge" => Err(ServiceError::InvalidInput(
                "public_cert secrets are not supported by this server".into(),
            )),
            _ => Err(ServiceError::InvalidInput(format!(
                "unknown action_type {action_type}"
            ))),
        }
    }

    /// Tasks belong to custom credentials, which need IBM Code Engine and are not stored here:
    /// the named secret is looked up (404 if absent) and the request refused.
    pub async fn tasks(
        &self,
        principal: &crate::Principal,
        instance_id: &str,
        secret_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, crate::access::Permission::Read)
            .await?;
        let record = self.record(instance_id, secret_id).await?;
        Err(ServiceError::InvalidInput(format!(
            "tasks apply to custom_credentials secrets only, not to {} secrets",
            record.secret_type
        )))
    }

    async fn revoke_private_cert(
        &self,
        _record: arca_store::secrets::SecretRecord,
        _version: &arca_store::secrets::SecretVersionRecord,
    ) -> ServiceResult<i64> {
        Err(ServiceError::Unsupported(
            "private_cert secrets are not available yet".into(),
        ))
    }
}
