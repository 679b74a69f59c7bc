//! Service instances (tenants): the resource-controller style API under `/v1/instances`.

use serde::{Deserialize, Serialize};

/// The service an instance belongs to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// A key-service (Key Protect compatible) instance.
    Kms,
    /// A secrets-service (Secrets Manager compatible) instance.
    SecretsManager,
}

impl ServiceKind {
    /// The wire name (`kms`, `secrets-manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kms => "kms",
            Self::SecretsManager => "secrets-manager",
        }
    }
}

/// Body of `POST /v1/instances`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceRequest {
    /// A display name, 1 to 100 characters.
    pub name: String,
    /// Which service the instance is for.
    pub service: ServiceKind,
}

/// A service instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Instance {
    /// The instance id (a UUID), used as the `Bluemix-Instance` header value.
    pub id: String,
    /// The instance's CRN.
    pub crn: String,
    /// The owning account.
    pub account_id: String,
    /// The display name.
    pub name: String,
    /// Which service the instance is for.
    pub service: ServiceKind,
    /// `active` (later: `reclaiming`).
    pub state: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Answer of `GET /v1/instances`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceList {
    /// The instances of the caller's account.
    pub instances: Vec<Instance>,
}
