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

/// Body of `PUT /v1/instances/{id}/root_key`: the customer root key of a secrets instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetRootKeyRequest {
    /// The CRN of a root key of a key-service instance of the account; `null` goes back to the
    /// provider-managed instance key.
    pub root_key_crn: Option<String>,
}

/// A secrets instance's root key and the progress of moving its data keys to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootKeyStatus {
    /// The customer root key's CRN (`null`: provider-managed).
    pub root_key_crn: Option<String>,
    /// Whether the instance key (provider-managed) is the root.
    pub provider_managed: bool,
    /// Data keys of versions (and configurations) that hold data.
    pub data_keys_total: i64,
    /// Those still wrapped by a former root key.
    pub data_keys_pending: i64,
}

/// A deleted instance in its reclamation period (`GET /v1/reclamations`; the answer of
/// `DELETE /v1/instances/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reclamation {
    /// The instance (its id also names the reclamation).
    pub instance: Instance,
    /// Who deleted it.
    pub deleted_by: String,
    /// RFC 3339 deletion time.
    pub deleted_at: String,
    /// RFC 3339 time at which it is reclaimed for good unless restored first.
    pub reclaim_at: String,
}

/// Answer of `GET /v1/reclamations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReclamationList {
    /// The deleted instances of the caller's account.
    pub reclamations: Vec<Reclamation>,
    /// The same, in the Resource Controller's shape (`ResourceControllerV2.list_reclamations`
    /// reads this path too).
    #[serde(default)]
    pub resources: Vec<crate::resource_controller::Reclamation>,
}
