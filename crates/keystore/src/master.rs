//! The master key in memory, shared by every keystore kind.

use std::sync::RwLock;

use arca_crypto::aead::AeadKey;
use arca_crypto::envelope::{self, KeyVersionId};
use arca_crypto::keys::AesKey256;
use zeroize::Zeroizing;

use crate::KeystoreError;

/// The unsealed master key: its id (named in every envelope it makes) and the expanded AEAD key.
/// `AesKey256` zeroizes on drop; the expanded schedule lives in aws-lc-rs, which clears it on free.
pub(crate) struct MasterKey {
    id: KeyVersionId,
    aead: AeadKey,
    raw: AesKey256,
}

impl MasterKey {
    pub(crate) fn new(id: KeyVersionId, raw: AesKey256) -> Result<Self, KeystoreError> {
        Ok(Self {
            id,
            aead: AeadKey::new(&raw)?,
            raw,
        })
    }
}

/// Holds the master key while unsealed. `None` is the sealed state.
#[derive(Default)]
pub(crate) struct MasterSlot {
    key: RwLock<Option<MasterKey>>,
}

impl std::fmt::Debug for MasterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterSlot {{ sealed: {} }}", self.is_sealed())
    }
}

impl MasterSlot {
    pub(crate) fn is_sealed(&self) -> bool {
        self.key.read().map(|k| k.is_none()).unwrap_or(true)
    }

    pub(crate) fn set(&self, key: MasterKey) {
        match self.key.write() {
            Ok(mut slot) => *slot = Some(key),
            // A poisoned lock only means a panic elsewhere; the data is a plain Option.
            Err(poisoned) => *poisoned.into_inner() = Some(key),
        }
    }

    /// Drops the key; `AesKey256` zeroizes on drop.
    pub(crate) fn clear(&self) {
        match self.key.write() {
            Ok(mut slot) => *slot = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    pub(crate) fn wrap(&self, aad: &[u8], key: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        let guard = self.key.read().map_err(|_| KeystoreError::Sealed)?;
        let mk = guard.as_ref().ok_or(KeystoreError::Sealed)?;
        Ok(envelope::seal(&mk.aead, mk.id, aad, key)?)
    }

    /// HMAC-SHA256 of `data` under a key derived from the master key for `purpose` (HKDF-SHA256):
    /// only a holder of the unsealed master key can make or check it.
    pub(crate) fn mac(&self, purpose: &[u8], data: &[u8]) -> Result<[u8; 32], KeystoreError> {
        let guard = self.key.read().map_err(|_| KeystoreError::Sealed)?;
        let mk = guard.as_ref().ok_or(KeystoreError::Sealed)?;
        let key = arca_crypto::kdf::hkdf_sha256_key(
            mk.raw.expose_secret(),
            b"arca-keystore-mac-v1",
            purpose,
        )?;
        Ok(arca_crypto::hash::hmac_sha256(key.expose_secret(), data))
    }

    pub(crate) fn unwrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        let guard = self.key.read().map_err(|_| KeystoreError::Sealed)?;
        let mk = guard.as_ref().ok_or(KeystoreError::Sealed)?;
        let env = envelope::parse(wrapped).map_err(|_| KeystoreError::UnwrapFailed)?;
        if env.key_version != mk.id {
            return Err(KeystoreError::UnwrapFailed);
        }
        env.open(&mk.aead, aad)
            .map_err(|_| KeystoreError::UnwrapFailed)
    }
}
