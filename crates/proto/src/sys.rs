//! Operator endpoints: initialize, unseal, seal, seal status (`/v1/sys/...`).

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/sys/init`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// Number of unseal shares to create (Shamir keystore only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u8>,
    /// Number of shares needed to unseal (Shamir keystore only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    /// Name of the first account, which receives the admin API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
}

/// Answer of `POST /v1/sys/init`. Shown once: the server keeps neither the shares nor the API key.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InitResponse {
    /// The unseal shares (empty for an HSM keystore, which unseals itself).
    pub shares: Vec<String>,
    /// Shares needed to unseal.
    pub threshold: u8,
    /// The first account.
    pub account_id: String,
    /// The admin API key of that account.
    pub api_key: String,
}

impl std::fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitResponse")
            .field("shares", &format_args!("<{} redacted>", self.shares.len()))
            .field("threshold", &self.threshold)
            .field("account_id", &self.account_id)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// Body of `POST /v1/sys/unseal`: one share per call.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// One unseal share, as printed by `arca operator init`. Absent for an HSM keystore, where
    /// the call retries the automatic unseal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
}

impl std::fmt::Debug for UnsealRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsealRequest { share: <redacted> }")
    }
}

/// Answer of `GET /v1/sys/seal-status`, `POST /v1/sys/unseal` and `POST /v1/sys/seal`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealStatus {
    /// The root of trust: `shamir` or `pkcs11`.
    pub keystore: String,
    /// Whether `init` has run.
    pub initialized: bool,
    /// Whether the master key is out of memory.
    pub sealed: bool,
    /// Shares needed to unseal (0 for an HSM keystore).
    pub threshold: u8,
    /// Shares that were created (0 for an HSM keystore).
    pub shares: u8,
    /// Valid shares accepted so far toward the threshold.
    pub progress: u8,
}
