//! Identities and access: `/v1/iam/...` (users, service IDs, API keys, role grants,
//! service-to-service authorizations).

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/iam/principals`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreatePrincipalRequest {
    /// `user` or `service_id`.
    pub kind: String,
    /// Display name, 1 to 100 characters.
    pub name: String,
}

/// A user or service ID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Principal {
    /// Principal id (the IAM id in tokens).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// `user` or `service_id`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Account administrator.
    pub is_admin: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Answer of `GET /v1/iam/principals`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrincipalList {
    /// The account's principals.
    pub principals: Vec<Principal>,
}

/// Body of `POST /v1/iam/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Whose key.
    pub principal_id: String,
    /// Display name.
    pub name: String,
}

/// An API key's metadata (never the key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKey {
    /// API key id.
    pub id: String,
    /// Whose key.
    pub principal_id: String,
    /// Display name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Answer of `POST /v1/iam/api-keys`: the key, shown once.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// Metadata.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The API key itself.
    pub api_key: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// Answer of `GET /v1/iam/api-keys?principal_id=`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKeyList {
    /// The principal's keys.
    pub api_keys: Vec<ApiKey>,
}

/// Body of `POST /v1/iam/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// Who receives the role.
    pub principal_id: String,
    /// On which instance.
    pub instance_id: String,
    /// `Reader`, `ReaderPlus`, `Writer`, `Manager` or `KeyPurge`.
    pub role: String,
}

/// A role grant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// Grant id.
    pub id: String,
    /// Who holds the role.
    pub principal_id: String,
    /// On which instance.
    pub instance_id: String,
    /// The role.
    pub role: String,
    /// Who granted it.
    pub created_by: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Answer of `GET /v1/iam/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantList {
    /// The account's grants.
    pub grants: Vec<Grant>,
}

/// Body of `POST /v1/iam/authorizations`: authorizes a service instance to use one key, or
/// all keys, of a key-service instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateAuthorizationRequest {
    /// The instance that is authorized (a `secrets-manager` or `kms` instance).
    pub source_service_instance_id: String,
    /// The key-service (`kms`) instance whose keys it may use.
    pub target_service_instance_id: String,
    /// One key (id or alias) of the target; all its keys when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    /// `Reader`, `ReaderPlus`, `Writer` or `Manager`.
    pub role: String,
}

/// A service-to-service authorization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Authorization {
    /// Authorization id.
    pub id: String,
    /// The source instance's service: `secrets-manager` or `kms`.
    pub source_service_name: String,
    /// The instance that is authorized.
    pub source_service_instance_id: String,
    /// The target's service: always `kms`.
    pub target_service_name: String,
    /// The key-service instance whose keys it may use.
    pub target_service_instance_id: String,
    /// The one key it may use (an id); `null` for all keys of the target.
    pub target_key_id: Option<String>,
    /// The role.
    pub role: String,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Answer of `GET /v1/iam/authorizations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationList {
    /// The account's authorizations, oldest first.
    pub authorizations: Vec<Authorization>,
}
