//! Authentication: API keys (stored as SHA-256 digests) to principals.
//!
//! A verified key is cached in memory by its digest, so the hot path does no database round trip.
//! (IAM tokens, roles and key revocation come with the key service.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arca_crypto::hash::sha256;
use arca_crypto::random::fill_random;
use arca_store::{PrincipalKind, Store};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::{ServiceError, ServiceResult};

/// Who is calling: the result of authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Principal id.
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// User or service ID.
    pub kind: PrincipalKind,
    /// Account administrator.
    pub is_admin: bool,
}

impl Principal {
    /// Refuses non-administrators.
    pub fn require_admin(&self) -> ServiceResult<()> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "this operation needs an account administrator",
            ))
        }
    }
}

/// A new API key: the text, shown once, and its digest, stored.
pub struct NewApiKey {
    /// The key as the caller will send it.
    pub text: Zeroizing<String>,
    /// SHA-256 of the text.
    pub digest: [u8; 32],
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewApiKey(<redacted>)")
    }
}

/// Generates an API key: 32 random bytes, base64url (43 characters, like IBM's keys).
pub fn new_api_key() -> ServiceResult<NewApiKey> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut()).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    let text = Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes));
    let digest = sha256(text.as_bytes());
    Ok(NewApiKey { text, digest })
}

/// Longest credential accepted; anything longer is refused before hashing.
const MAX_CREDENTIAL_LEN: usize = 4096;

/// Authenticates callers.
#[derive(Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<HashMap<[u8; 32], Principal>>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

impl AuthService {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// Forgets a cached API key (after it was deleted).
    pub fn forget(&self, digest: &[u8]) {
        if let (Ok(digest), Ok(mut cache)) = (<[u8; 32]>::try_from(digest), self.cache.write()) {
            cache.remove(&digest);
        }
    }

    /// The principal an API key belongs to.
    pub async fn authenticate_api_key(&self, key: &str) -> ServiceResult<Principal> {
        if key.is_empty() || key.len() > MAX_CREDENTIAL_LEN {
            return Err(ServiceError::Unauthenticated("invalid credentials"));
        }
        // The digest is the lookup key; equality of digests is not secret-dependent timing on
        // the key itself (a preimage would be needed), so a hash map lookup is safe here.
        let digest = sha256(key.as_bytes());
        if let Some(p) = self.cache.read().ok().and_then(|c| c.get(&digest).cloned()) {
            return Ok(p);
        }
        let (_, record) = self
            .store
            .find_api_key(&digest)
            .await?
            .ok_or(ServiceError::Unauthenticated("invalid credentials"))?;
        let principal = Principal {
            id: record.id,
            account_id: record.account_id,
            kind: record.kind,
            is_admin: record.is_admin,
        };
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(digest, principal.clone());
        }
        Ok(principal)
    }
}
