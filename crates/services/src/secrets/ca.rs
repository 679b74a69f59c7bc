//! The private CA: root and intermediate CA configurations, templates, and their actions.

use arca_store::secrets::SecretsConfigRecord;
use serde_json::{Map, Value};

use super::SecretsService;
use super::configs::ConfigView;
use crate::auth::Principal;
use crate::{ServiceError, ServiceResult};

/// Fields a patch may change on CA configurations.
pub(crate) const PATCHABLE: &[&str] = &[
    "max_ttl",
    "crl_expiry",
    "crl_disable",
    "crl_distribution_points_encoded",
    "issuing_certificates_urls_encoded",
];

impl SecretsService {
    pub(crate) async fn create_ca_config(
        &self,
        _principal: &Principal,
        _instance_id: &str,
        _config_type: &str,
        _name: String,
        _proto: Map<String, Value>,
        _existing: &[SecretsConfigRecord],
    ) -> ServiceResult<ConfigView> {
        Err(ServiceError::Unsupported(
            "private CA configurations are not available yet".into(),
        ))
    }

    pub(crate) async fn check_config_unused(
        &self,
        _instance_id: &str,
        _record: &SecretsConfigRecord,
    ) -> ServiceResult<()> {
        Ok(())
    }
}

impl SecretsService {
    /// A configuration action (private CA: sign, rotate CRL, ...). Returns the action's result
    /// fields.
    pub async fn config_action(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        accept_type: Option<&str>,
        action_type: &str,
        _params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        self.authorize(principal, instance_id, crate::access::Permission::Manage)
            .await?;
        let record = self.config_record(instance_id, name).await?;
        if accept_type.is_some_and(|t| !t.is_empty() && t != record.config_type) {
            return Err(ServiceError::NotFound("configuration"));
        }
        Err(ServiceError::InvalidInput(format!(
            "{action_type} does not apply to {} configurations",
            record.config_type
        )))
    }
}
