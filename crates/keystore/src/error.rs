use thiserror::Error;

/// Errors of the root of trust. None carries key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The master key is not in memory.
    #[error("the server is sealed: unseal it with `arca operator unseal`")]
    Sealed,
    /// No master key exists yet.
    #[error("the server is not initialized: run `arca operator init`")]
    NotInitialized,
    /// `initialize` was called on an initialized keystore.
    #[error("the server is already initialized")]
    AlreadyInitialized,
    /// Bad initialization parameters.
    #[error("invalid parameters: {0}")]
    InvalidParams(&'static str),
    /// The share is malformed, or not one of this server's shares. It was not counted.
    #[error("invalid unseal share: {0}; it was not counted")]
    InvalidShare(&'static str),
    /// The same share was given twice.
    #[error("this unseal share was already given; it was not counted twice")]
    DuplicateShare,
    /// The call does not fit this kind of keystore (e.g. a share given to an HSM keystore).
    #[error("not supported by the {0} keystore")]
    Unsupported(&'static str),
    /// A wrapped value did not authenticate under the master key (wrong purpose, tampered, or
    /// from another master key).
    #[error("wrapped key failed to authenticate")]
    UnwrapFailed,
    /// The persisted seal record is unreadable.
    #[error("corrupt seal record: {0}")]
    CorruptRecord(&'static str),
    /// The HSM failed or is misconfigured.
    #[error("HSM error: {0}")]
    Hsm(String),
    /// A cryptographic primitive failed.
    #[error("crypto error")]
    Crypto(#[from] arca_crypto::CryptoError),
}
