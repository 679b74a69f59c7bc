use arca_keystore::KeystoreError;
use arca_store::StoreError;
use thiserror::Error;

/// What a service operation can fail with. The API maps each variant to a status code and wire
/// error in one place. Messages are safe to show: they never carry key material or secret data.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The master key is not in memory.
    #[error("the server is sealed: an operator must unseal it (arca operator unseal)")]
    Sealed,
    /// The root of trust was never initialized.
    #[error("the server is not initialized: an operator must run `arca operator init`")]
    NotInitialized,
    /// Initialize was called twice.
    #[error("the server is already initialized")]
    AlreadyInitialized,
    /// An unseal share was refused; it did not count toward the threshold.
    #[error("{0}")]
    InvalidShare(String),
    /// The request is malformed or violates a rule.
    #[error("{0}")]
    InvalidInput(String),
    /// The operation does not apply to this server's configuration.
    #[error("{0}")]
    Unsupported(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such resource (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A conflicting resource exists.
    #[error("{0}")]
    Conflict(&'static str),
    /// A key search would have to look through more keys than it may (Key Protect's
    /// `KEY_SEARCH_TOO_BROAD`).
    #[error("{0}")]
    SearchTooBroad(String),
    /// The resource's state does not allow the operation (e.g. wrap with a suspended key).
    #[error("{0}")]
    InvalidState(String),
    /// The resource changed while the operation ran; it may be retried.
    #[error("{0}; retry")]
    Concurrent(&'static str),
    /// The resource is locked (a secret version with locks): Secrets Manager's 412.
    #[error("{0}")]
    Locked(&'static str),
    /// The root of trust (HSM) is unavailable.
    #[error("the root of trust is unavailable: {0}")]
    Unavailable(String),
    /// The audit trail cannot take the record of this request (its spool is full or its
    /// writer is failing): the request is refused rather than run unaudited.
    #[error("{0}")]
    AuditUnavailable(&'static str),
    /// Anything else: a bug or a broken dependency. The source is logged, not shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Stale(what) => Self::Concurrent(what),
            StoreError::UnstorableText => {
                Self::InvalidInput("text must not contain the NUL character".into())
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<KeystoreError> for ServiceError {
    fn from(err: KeystoreError) -> Self {
        match err {
            KeystoreError::Sealed => Self::Sealed,
            KeystoreError::NotInitialized => Self::NotInitialized,
            KeystoreError::AlreadyInitialized => Self::AlreadyInitialized,
            KeystoreError::InvalidParams(m) => Self::InvalidInput(m.to_owned()),
            e @ (KeystoreError::InvalidShare(_) | KeystoreError::DuplicateShare) => {
                Self::InvalidShare(e.to_string())
            }
            e @ KeystoreError::Unsupported(_) => Self::Unsupported(e.to_string()),
            e @ KeystoreError::Hsm(_) => Self::Unavailable(e.to_string()),
            other => Self::Internal(Box::new(other)),
        }
    }
}
