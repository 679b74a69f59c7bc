//! The audit trail: `GET /v1/audit/events` and `GET /v1/audit/verify`.

use serde::{Deserialize, Serialize};

/// One record of the chain, with the hashes that link it (hex). An export is one of these per
/// line (JSON lines), after an [`ExportHeader`] line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, in Unix milliseconds (what the hash covers).
    pub time_ms: i64,
    /// The account.
    pub account_id: String,
    /// Who: a principal id, `anonymous`, or `system`.
    pub initiator: String,
    /// What, e.g. `kms.keys.wrap`.
    pub action: String,
    /// The instance acted on (empty: none).
    pub instance_id: String,
    /// The resource acted on (the request path).
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The HTTP status of the answer (background work: 200 or 500).
    pub reason_code: i64,
    /// The request's correlation id.
    pub correlation_id: String,
    /// The caller's IP address (empty for background work).
    pub source_address: String,
    /// Hash of the record before it in the chain.
    pub prev_hash: String,
    /// Hash of the account's record before it.
    pub account_prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// Body of `GET /v1/audit/events`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEventList {
    /// The records, by seq.
    pub events: Vec<AuditEvent>,
    /// The seq to pass as `after_seq` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after_seq: Option<i64>,
}

/// Body of `GET /v1/audit/verify`: the server's verification of the whole stored chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditVerification {
    /// Whether every record's hash and link holds, up to the head.
    pub ok: bool,
    /// Records checked.
    pub records: u64,
    /// The last record checked.
    pub last_seq: i64,
    /// Its hash (hex).
    pub last_hash: String,
    /// Checkpoints checked: heads attested by a MAC only the root of trust can make, each
    /// matched with its record (a chain rewritten with recomputed hashes fails here).
    #[serde(default)]
    pub checkpoints: u64,
    /// The last checkpoint's seq (0: none); later records are not yet attested.
    #[serde(default)]
    pub last_checkpoint_seq: i64,
    /// The first bad seq, when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_seq: Option<i64>,
    /// What is wrong, when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The first line of an export file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The account exported (its records only, linked by their account hashes).
    pub account_id: String,
    /// How many records follow.
    pub records: u64,
    /// The last record's seq (0: none).
    pub last_seq: i64,
    /// The last record's hash (hex).
    pub last_hash: String,
}

/// The format tag of export files.
pub const EXPORT_FORMAT: &str = "arca-audit-export-v1";
