//! Identities and access: `/v1/iam/...` (users, service IDs, API keys, role grants).

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
