//! Authentication: API keys (stored as SHA-256 digests) to principals.
//!
//! A verified key is cached in memory by its digest, so the hot path does no database round trip.
//! (IAM tokens, roles and key revocation come with the key service.)

use std::sync::Arc;

use arca_crypto::hash::sha256;
use arca_crypto::random::fill_random;
use arca_store::{PrincipalKind, Store};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::cache::CoherentMap;
use crate::instances::ServiceKind;
use crate::{ServiceError, ServiceResult};

/// Who is calling: the result of authentication, or a service instance acting on its own
/// behalf ([`Principal::for_service_instance`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Principal id (for a service instance: `<service>/<instance id>`, e.g.
    /// `secrets-manager/0b9e…`, recorded as `createdBy` of what it makes).
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// User, service ID, or service instance.
    pub kind: PrincipalKind,
    /// Account administrator (never for a service instance, and ignored if set on one).
    pub is_admin: bool,
    /// Set only by [`Principal::for_service_instance`]: the instance this principal is. Its
    /// access is decided by service-to-service authorizations alone.
    pub service_instance: Option<ServiceInstanceRef>,
}

/// The service instance a [`Principal`] stands for. Made only by
/// [`Principal::for_service_instance`] (its fields are private).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstanceRef {
    service: ServiceKind,
    instance_id: String,
}

impl ServiceInstanceRef {
    /// The instance's service.
    pub fn service(&self) -> ServiceKind {
        self.service
    }

    /// The instance's id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }
}

impl Principal {
    /// A service instance of `account_id` (e.g. a secrets-manager instance) calling another
    /// service in-process on its own behalf: the secrets service wraps and unwraps its data keys
    /// with a customer root key, and registers itself on that key, as this principal.
    ///
    /// What it may do is decided only by the service-to-service authorizations an account
    /// administrator gave `instance_id` (`POST /v1/iam/authorizations`); it is never an
    /// administrator and holds no roles. No request can produce one: neither the token
    /// endpoint nor API keys authenticate as a service instance ([`PrincipalKind::parse`]
    /// refuses the kind, no store accepts it), so only code in this process makes it — and
    /// that code must have established that it acts for `instance_id` (it serves a request
    /// already authorized on that instance).
    pub fn for_service_instance(account_id: &str, service: ServiceKind, instance_id: &str) -> Self {
        Self {
            id: format!("{}/{instance_id}", service.as_str()),
            account_id: account_id.to_owned(),
            kind: PrincipalKind::ServiceInstance,
            is_admin: false,
            service_instance: Some(ServiceInstanceRef {
                service,
                instance_id: instance_id.to_owned(),
            }),
        }
    }

    /// Whether this principal is (or claims to be) a service instance. Either mark counts, so a
    /// principal put together inconsistently is held to the stricter rules.
    pub fn is_service_instance(&self) -> bool {
        self.service_instance.is_some() || self.kind == PrincipalKind::ServiceInstance
    }

    /// Refuses non-administrators (and service instances, whatever `is_admin` says).
    pub fn require_admin(&self) -> ServiceResult<()> {
        if self.is_admin && !self.is_service_instance() {
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
    cache: Arc<CoherentMap<[u8; 32], Principal>>,
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
        if let Ok(digest) = <[u8; 32]>::try_from(digest) {
            self.cache.remove(&digest);
        }
    }

    /// Forgets every cached API key of a principal (changed or deleted by another node).
    pub(crate) fn forget_principal(&self, principal_id: &str) {
        self.cache.retain(|_, p| p.id != principal_id);
    }

    /// Forgets every cached API key.
    pub(crate) fn forget_all(&self) {
        self.cache.clear();
    }

    /// The principal an API key belongs to.
    pub async fn authenticate_api_key(&self, key: &str) -> ServiceResult<Principal> {
        if key.is_empty() || key.len() > MAX_CREDENTIAL_LEN {
            return Err(ServiceError::Unauthenticated("invalid credentials"));
        }
        // The digest is the lookup key; equality of digests is not secret-dependent timing on
        // the key itself (a preimage would be needed), so a hash map lookup is safe here.
        let digest = sha256(key.as_bytes());
        if let Some(p) = self.cache.get(&digest) {
            return Ok(p);
        }
        let generation = self.cache.generation();
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
            service_instance: None,
        };
        self.cache
            .insert_if_current(generation, digest, principal.clone());
        Ok(principal)
    }
}
