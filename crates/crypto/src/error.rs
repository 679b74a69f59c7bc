//! The single error type of this crate.
//!
//! Variants carry only static descriptions or public metadata (lengths,
//! format bytes), never key material or plaintext, so errors can be logged
//! and returned to callers freely.

use thiserror::Error;

/// Every failure an `arca-crypto` operation can report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key had the wrong length for the algorithm.
    #[error("invalid key length")]
    InvalidKeyLength,
    /// Decryption or unwrapping failed: wrong key, wrong associated data, or
    /// tampered input. Deliberately not more specific, so callers cannot be
    /// used as a padding or tag oracle.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// Input could not be parsed as the expected ciphertext layout.
    #[error("malformed ciphertext: {0}")]
    MalformedCiphertext(&'static str),
    /// The ciphertext header names a format version this build does not know.
    #[error("unsupported ciphertext format version {0}")]
    UnsupportedFormat(u8),
    /// The ciphertext header names an algorithm id this build does not know.
    #[error("unsupported algorithm id {0}")]
    UnsupportedAlgorithm(u8),
    /// An input (plaintext, key to wrap, requested output length) was outside
    /// the range the algorithm accepts.
    #[error("invalid input length: {0}")]
    InvalidLength(&'static str),
    /// Shamir secret sharing: bad parameters or shares that cannot be combined.
    #[error("shamir: {0}")]
    Shamir(&'static str),
    /// A textual share could not be parsed.
    #[error("malformed share: {0}")]
    MalformedShare(&'static str),
    /// A public key could not be parsed or is not acceptable.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private key could not be parsed or is not acceptable.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// Key generation failed.
    #[error("key generation failed")]
    KeyGeneration,
    /// Encoding a key or value failed.
    #[error("encoding failed")]
    Encoding,
    /// The system random number generator failed.
    #[error("random number generator failure")]
    Rng,
    /// An underlying primitive failed for a reason it does not disclose.
    #[error("cryptographic operation failed")]
    Internal,
}
