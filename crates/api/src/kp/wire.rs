//! Key Protect v2 wire types, field names exactly as on the wire (camelCase).

use serde::{Deserialize, Serialize};

/// Media types of Key Protect bodies.
pub(crate) mod media {
    pub(crate) const KEY: &str = "application/vnd.ibm.kms.key+json";
    pub(crate) const KEY_ACTION: &str = "application/vnd.ibm.kms.key_action+json";
    pub(crate) const COLLECTION: &str = "application/vnd.ibm.collection+json";
    pub(crate) const ERROR: &str = "application/vnd.ibm.kms.error+json";
}

/// `{metadata, resources}`: the envelope of most Key Protect bodies.
#[derive(Debug, Serialize)]
pub(crate) struct Collection<T> {
    pub(crate) metadata: Metadata,
    pub(crate) resources: Vec<T>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metadata {
    pub(crate) collection_type: &'static str,
    pub(crate) collection_total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_count: Option<i64>,
}

impl<T> Collection<T> {
    pub(crate) fn new(collection_type: &'static str, resources: Vec<T>) -> Self {
        Self {
            metadata: Metadata {
                collection_type,
                collection_total: resources.len(),
                total_count: None,
            },
            resources,
        }
    }

    pub(crate) fn with_total(mut self, total: i64) -> Self {
        self.metadata.total_count = Some(total);
        self
    }
}

/// A request envelope (only `resources` matters; metadata is checked for consistency).
#[derive(Debug, Deserialize)]
pub(crate) struct RequestEnvelope<T> {
    #[serde(default)]
    pub(crate) metadata: Option<RequestMetadata>,
    pub(crate) resources: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestMetadata {
    #[serde(default)]
    pub(crate) collection_type: Option<String>,
    #[serde(default)]
    pub(crate) collection_total: Option<i64>,
}

/// One key of a create request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateKeyItem {
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) extractable: Option<bool>,
    #[serde(default)]
    pub(crate) expiration_date: Option<String>,
    #[serde(default)]
    pub(crate) aliases: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) payload: Option<String>,
    #[serde(default)]
    pub(crate) encrypted_nonce: Option<String>,
    #[serde(default)]
    pub(crate) iv: Option<String>,
    #[serde(default)]
    pub(crate) encryption_algorithm: Option<String>,
    #[serde(default)]
    pub(crate) rotation: Option<RotationPolicy>,
    #[serde(default)]
    pub(crate) dual_auth_delete: Option<DualAuthPolicy>,
}

impl std::fmt::Debug for CreateKeyItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateKeyItem")
            .field("name", &self.name)
            .field("extractable", &self.extractable)
            .field("payload", &self.payload.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct RotationPolicy {
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) interval_month: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DualAuthPolicy {
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key_set_for_deletion: Option<bool>,
    /// Output only: when the first authorization expires.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_expiration: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyVersionOut {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) creation_date: Option<String>,
}

/// The key representation (`KeyWithPayload` / `KeyFullRepresentation`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyOut {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) aliases: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) state: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expiration_date: Option<String>,
    pub(crate) extractable: bool,
    pub(crate) crn: String,
    pub(crate) imported: bool,
    #[serde(rename = "keyRingID")]
    pub(crate) key_ring_id: String,
    pub(crate) creation_date: String,
    pub(crate) created_by: String,
    pub(crate) algorithm_type: &'static str,
    pub(crate) algorithm_metadata: AlgorithmMetadata,
    pub(crate) algorithm_bit_size: i64,
    pub(crate) algorithm_mode: &'static str,
    pub(crate) last_update_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_rotate_date: Option<String>,
    pub(crate) key_version: KeyVersionOut,
    pub(crate) dual_auth_delete: DualAuthPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rotation: Option<RotationPolicy>,
    pub(crate) deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deletion_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deleted_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) restore_expiration_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) restore_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) purge_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) purge_allowed_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) purge_scheduled_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payload: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlgorithmMetadata {
    pub(crate) bit_length: String,
    pub(crate) mode: &'static str,
}

/// Wrap request: `{plaintext?, aad?}`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrapRequest {
    #[serde(default)]
    pub(crate) plaintext: Option<String>,
    #[serde(default)]
    pub(crate) aad: Option<Vec<String>>,
}

/// Unwrap and rewrap requests: `{ciphertext, aad?}`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CiphertextRequest {
    #[serde(default)]
    pub(crate) ciphertext: Option<String>,
    #[serde(default)]
    pub(crate) aad: Option<Vec<String>>,
}

/// Rotate request: `{}` or `{payload, ...}` for imported keys.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RotateRequest {
    #[serde(default)]
    pub(crate) payload: Option<String>,
    #[serde(default)]
    pub(crate) encrypted_nonce: Option<String>,
    #[serde(default)]
    pub(crate) iv: Option<String>,
    #[serde(default)]
    pub(crate) encryption_algorithm: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WrapResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plaintext: Option<String>,
    pub(crate) ciphertext: String,
    pub(crate) key_version: KeyVersionOut,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UnwrapResponse {
    pub(crate) plaintext: String,
    pub(crate) key_version: KeyVersionOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ciphertext: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rewrapped_key_version: Option<KeyVersionOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RewrapResponse {
    pub(crate) ciphertext: String,
    pub(crate) key_version: KeyVersionOut,
    pub(crate) rewrapped_key_version: KeyVersionOut,
}

/// The Key Protect error item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorResource {
    pub(crate) error_msg: String,
    pub(crate) reasons: Vec<ErrorReason>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorReason {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) status: u16,
    pub(crate) more_info: &'static str,
}
