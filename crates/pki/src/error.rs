//! The single error type of this crate.
//!
//! Messages name the input field and what was wrong with it, so the
//! secrets service can hand them to API callers as 400 responses. They never
//! contain key material or echo the submitted PEM text.

use thiserror::Error;

/// Every failure an `arca-pki` operation can report.
///
/// Map variants to HTTP statuses by variant, never by message text:
/// everything except [`PkiError::Random`] and [`PkiError::Signing`] is caused
/// by the caller's input or policy and is a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A PEM input was shorter or longer than the API allows.
    #[error("{field} must be between {min} and {max} bytes long, got {len}")]
    InvalidSize {
        /// Which input (`certificate`, `intermediate`, `private_key`, `csr`).
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// Smallest accepted length.
        min: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// The text is not PEM, or has the wrong kind or number of PEM blocks.
    #[error("{field}: malformed PEM: {reason}")]
    MalformedPem {
        /// Which input.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A PEM block held DER that is not a usable X.509 certificate.
    #[error("{field}: invalid certificate: {reason}")]
    InvalidCertificate {
        /// Which input.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The private key could not be parsed (PKCS#8, PKCS#1 RSA and SEC1 EC
    /// are accepted).
    #[error("private_key: invalid private key: {0}")]
    InvalidPrivateKey(&'static str),
    /// The private key is password-protected; only unencrypted keys can be
    /// imported.
    #[error("private_key: encrypted private keys are not supported")]
    EncryptedPrivateKey,
    /// The private key does not belong to the certificate's public key.
    #[error("private_key: the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The key algorithm or size is outside what this crate handles.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// The certificate signing request could not be parsed, or its signature
    /// does not verify.
    #[error("csr: invalid certificate signing request: {0}")]
    InvalidCsr(String),
    /// A parameter value is malformed or out of range.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// The template (or the CA's constraints) does not allow the request.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The certificate given as a signing CA cannot act as one.
    #[error("not a usable CA: {0}")]
    NotACa(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    Random,
    /// Building or signing a certificate, CSR or CRL failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<rcgen::Error> for PkiError {
    fn from(err: rcgen::Error) -> Self {
        // rcgen's messages describe parameters and algorithms only, never key
        // bytes, so they are safe to surface.
        Self::Signing(err.to_string())
    }
}
