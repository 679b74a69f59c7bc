//! Arca's cryptographic primitives.
//!
//! - [`keys`], [`random`] — key types and OS randomness.
//! - [`aead`] — AES-256-GCM.
//! - [`envelope`] — the versioned ciphertext format for data sealed under a
//!   key version.
//! - [`keywrap`] — RFC 5649 AES key wrap with padding.
//! - [`oaep`] — RSA-OAEP for secure key import.
//! - [`passphrase`] — files sealed under a passphrase (Argon2id + AES-256-GCM).
//! - [`kdf`], [`hash`] — HKDF-SHA256, SHA-256, HMAC, constant-time compare.
//! - [`shamir`] — Shamir secret sharing for the root key.
//! - [`stream`] — long data sealed in authenticated frames (backups).
//!
//! ```
//! use arca_crypto::{aead::AeadKey, envelope, AesKey256};
//!
//! let key = AeadKey::new(&AesKey256::generate()?)?;
//! let version = envelope::KeyVersionId::from_uuid_bytes([7; 16]);
//! let sealed = envelope::seal(&key, version, b"tenant-1", b"secret")?;
//! assert_eq!(envelope::parse(&sealed)?.key_version, version);
//! assert_eq!(&**envelope::open(&key, b"tenant-1", &sealed)?, b"secret");
//! # Ok::<(), arca_crypto::CryptoError>(())
//! ```
//!
//! Secret-holding types zeroize on drop and print as `<redacted>`; errors
//! never contain secret material.

#![warn(missing_docs)]

pub mod aead;
pub mod envelope;
pub mod error;
pub mod hash;
pub mod kdf;
pub mod keys;
pub mod keywrap;
pub mod oaep;
pub mod passphrase;
pub mod random;
pub mod shamir;
pub mod stream;

pub use error::CryptoError;
pub use keys::AesKey256;
