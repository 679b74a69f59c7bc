//! IBM Resource Controller v2 wire types: `/v2/resource_instances` and the reclamations of
//! `/v1/reclamations`, as `ibm-platform-services`' `ResourceControllerV2` sends and reads them.
//! Fields Arca has no notion of (resource groups, tags, locks) are accepted and ignored, or
//! answered with fixed values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Body of `POST /v2/resource_instances`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CreateResourceInstance {
    /// The name.
    pub name: String,
    /// The deployment location (ignored: Arca serves one region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The resource group (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// A plan id, or the service's catalog name (`kms`, `secrets-manager`).
    pub resource_plan_id: String,
    /// Tags (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_cleanup: Option<bool>,
    /// Configuration: only `root_key_crn` is known, and only on update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

/// Body of `PATCH /v2/resource_instances/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UpdateResourceInstance {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New configuration: `{"root_key_crn": "<crn>"}` (secrets instances; `null` goes back to
    /// the provider-managed key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// The plan: only the instance's own (there is one per service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_plan_id: Option<String>,
    /// Ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_cleanup: Option<bool>,
}

/// The last operation on an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastOperation {
    /// `create`, `update` or `delete`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `succeeded`: Arca's operations are synchronous.
    pub state: String,
    /// Always `false`.
    #[serde(rename = "async")]
    pub is_async: bool,
    /// What happened.
    pub description: String,
}

/// A resource instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceInstance {
    /// The CRN (the Resource Controller's id).
    pub id: String,
    /// Arca's instance id (the `Bluemix-Instance` of the data-plane APIs).
    pub guid: String,
    /// The CRN.
    pub crn: String,
    /// `/v2/resource_instances/<guid>`.
    pub url: String,
    /// The name.
    pub name: String,
    /// The account.
    pub account_id: String,
    /// The region.
    pub region_id: String,
    /// The offering: `kms` or `secrets-manager`.
    pub resource_id: String,
    /// The plan.
    pub resource_plan_id: String,
    /// Always `default`.
    pub resource_group_id: String,
    /// `service_instance`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service (`kms`, `secrets-manager`).
    pub sub_type: String,
    /// `active` or `pending_reclamation`.
    pub state: String,
    /// Configuration (`root_key_crn` of a secrets instance with a customer root key).
    pub parameters: Map<String, Value>,
    /// Always `false`.
    pub allow_cleanup: bool,
    /// Always `false`.
    pub locked: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the last change (its creation if none since).
    pub updated_at: String,
    /// RFC 3339, when deleted.
    #[serde(default)]
    pub deleted_at: Option<String>,
    /// Who deleted it.
    #[serde(default)]
    pub deleted_by: Option<String>,
    /// RFC 3339: when it is reclaimed unless restored first.
    #[serde(default)]
    pub scheduled_reclaim_at: Option<String>,
    /// Always `null`: Arca has no dashboard.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// The last operation.
    pub last_operation: LastOperation,
}

/// Answer of `GET /v2/resource_instances`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceInstancesList {
    /// How many in `resources`.
    pub rows_count: usize,
    /// The next page (with its `start` token), `null` on the last.
    pub next_url: Option<String>,
    /// The instances.
    pub resources: Vec<ResourceInstance>,
}

/// A reclamation: a deleted instance awaiting reclamation. Its id is the instance's GUID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reclamation {
    /// The reclamation id (the instance's GUID).
    pub id: String,
    /// The instance's GUID.
    pub entity_id: String,
    /// `resource-instance`.
    pub entity_type_id: String,
    /// The instance's CRN.
    pub entity_crn: String,
    /// The instance's GUID.
    pub resource_instance_id: String,
    /// Always `default`.
    pub resource_group_id: String,
    /// The account.
    pub account_id: String,
    /// `SCHEDULED` while listed; `RESTORING` or `RECLAIMING` in an action's answer.
    pub state: String,
    /// RFC 3339: when the instance is reclaimed unless restored first.
    pub target_time: String,
    /// RFC 3339: when the instance was deleted.
    pub created_at: String,
    /// Who deleted it.
    pub created_by: String,
    /// RFC 3339: the last change (the action's time in an action's answer).
    pub updated_at: String,
    /// Who made the last change.
    pub updated_by: String,
}

/// Reclamations, as `resources`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReclamationsList {
    /// The reclamations.
    pub resources: Vec<Reclamation>,
}

/// Body of `POST /v1/reclamations/{id}/actions/{action_name}` (both ignored but for the
/// record of who asked).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReclamationActionRequest {
    /// The initiator, if not the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_by: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
