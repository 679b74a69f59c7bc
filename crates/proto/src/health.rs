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
}
