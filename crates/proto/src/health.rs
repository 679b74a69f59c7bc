//! Health and readiness.

use serde::{Deserialize, Serialize};

/// Body of `GET /health` and `GET /health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    /// `ok` when the process serves requests (liveness); readiness adds "and is unsealed".
    pub status: String,
    /// Whether the root of trust has been initialized.
    pub initialized: bool,
    /// Whether the master key is sealed (not in memory): data requests then get 503.
    pub sealed: bool,
    /// The root of trust: `shamir` or `pkcs11`.
    pub keystore: String,
    /// The server version.
    pub version: String,
    /// The audit trail's spool (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHealth>,
}

/// The audit trail's part of health: a full spool or a failing writer makes the node not ready
/// (it refuses requests rather than run them unaudited).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditHealth {
    /// Records waiting to be written.
    pub backlog: u64,
    /// What the spool holds at most.
    pub capacity: u64,
    /// Requests refused since start because the spool was full.
    pub refused: u64,
    /// Failed append attempts since start (each is retried).
    pub failed_appends: u64,
    /// Whether the last append attempt failed.
    pub failing: bool,
}
