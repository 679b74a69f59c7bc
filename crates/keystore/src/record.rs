//! The persisted description of a sealed master key. Holds ciphertext and public parameters only:
//! a copy of it (or of the whole database) without the shares or the HSM reveals nothing.

use serde::{Deserialize, Serialize};

use crate::KeystoreError;

/// Check value of one Shamir share: lets `unseal` reject a wrong share on arrival instead of
/// failing only once the threshold is reached. Shares are full-entropy, so a hash reveals nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShareCheck {
    /// The share's x-coordinate.
    pub index: u8,
    /// Hex SHA-256 of the domain-separated share text.
    pub digest: String,
}

/// How the master key is sealed. Serialized as JSON into the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SealRecord {
    /// Sealed under an unseal key split into Shamir shares.
    Shamir {
        /// Hex id of the master key (named in every envelope it makes).
        master_key_id: String,
        /// Shares needed.
        threshold: u8,
        /// Shares created.
        shares: u8,
        /// One check value per share.
        share_checks: Vec<ShareCheck>,
        /// Base64 envelope of the master key under the unseal key.
        sealed_master: String,
    },
    /// Sealed by an AES key inside a PKCS#11 token.
    Pkcs11 {
        /// Hex id of the master key.
        master_key_id: String,
        /// Label of the token holding the sealing key.
        token_label: String,
        /// Label of the sealing key.
        key_label: String,
        /// Base64 GCM IV used by the HSM.
        iv: String,
        /// Base64 ciphertext‖tag of the master key made by the HSM.
        sealed_master: String,
    },
}

impl SealRecord {
    /// Serializes for storage.
    pub fn to_bytes(&self) -> Result<Vec<u8>, KeystoreError> {
        serde_json::to_vec(self).map_err(|_| KeystoreError::CorruptRecord("cannot serialize"))
    }

    /// Parses what [`SealRecord::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeystoreError> {
        serde_json::from_slice(bytes).map_err(|_| KeystoreError::CorruptRecord("not a seal record"))
    }
}

pub(crate) fn b64_decode(s: &str, what: &'static str) -> Result<Vec<u8>, KeystoreError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| KeystoreError::CorruptRecord(what))
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn key_id_from_hex(
    s: &str,
) -> Result<arca_crypto::envelope::KeyVersionId, KeystoreError> {
    let bytes = hex::decode(s).map_err(|_| KeystoreError::CorruptRecord("master key id"))?;
    let arr: [u8; 16] = bytes
        .try_into()
        .map_err(|_| KeystoreError::CorruptRecord("master key id"))?;
    Ok(arca_crypto::envelope::KeyVersionId(arr))
}
