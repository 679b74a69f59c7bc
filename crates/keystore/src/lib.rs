//! Arca's root of trust.
//!
//! The master key (MK) wraps every instance key and root key version. It exists in clear only in
//! memory, inside this crate, and is zeroized when sealed or dropped. How the MK is protected at
//! rest is the keystore's business, behind one trait, [`Keystore`]:
//!
//! * [`ShamirKeystore`]: the MK is sealed (AES-256-GCM) under an unseal key that is split into
//!   Shamir shares; operators unseal with `threshold` of them, one per call. Dev mode is the same
//!   keystore with one share kept in a file.
//! * [`Pkcs11Keystore`]: the MK is sealed by a non-extractable AES key inside an HSM token and is
//!   unsealed automatically at start.
//!
//! Both hand the persisted [`SealRecord`] (ciphertext and public parameters only) to the caller to
//! store; nothing here knows about the database. One test suite (`tests/suite`) runs against both.
#![warn(missing_docs)]

mod error;
mod master;
mod pkcs11;
mod record;
mod shamir;
pub mod softhsm;

pub use error::KeystoreError;
pub use pkcs11::{DEFAULT_KEY_LABEL, Pkcs11Config, Pkcs11Keystore, init_token};
pub use record::{SealRecord, ShareCheck};
pub use shamir::ShamirKeystore;

use zeroize::Zeroizing;

/// Which root of trust a keystore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeystoreKind {
    /// Master key sealed by Shamir shares.
    Shamir,
    /// Master key sealed by a key in a PKCS#11 token.
    Pkcs11,
}

impl KeystoreKind {
    /// The name used in status answers and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shamir => "shamir",
            Self::Pkcs11 => "pkcs11",
        }
    }
}

/// Where a keystore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealStatus {
    /// The kind of root of trust.
    pub kind: KeystoreKind,
    /// Whether a master key exists (a record was created or loaded).
    pub initialized: bool,
    /// Whether the master key is out of memory.
    pub sealed: bool,
    /// Shares needed to unseal (0 for an HSM).
    pub threshold: u8,
    /// Shares created (0 for an HSM).
    pub shares: u8,
    /// Valid shares accepted so far.
    pub progress: u8,
}

/// Parameters of [`Keystore::initialize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitParams {
    /// Number of shares to create (Shamir only).
    pub shares: u8,
    /// Shares needed to unseal (Shamir only).
    pub threshold: u8,
}

/// What [`Keystore::initialize`] produced: the record to persist and what the operator sees once.
pub struct Initialized {
    /// To persist with the store; needed to unseal after a restart.
    pub record: SealRecord,
    /// The unseal shares in text form (empty for an HSM).
    pub shares: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Initialized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initialized")
            .field("record", &self.record)
            .field("shares", &format_args!("<{} redacted>", self.shares.len()))
            .finish()
    }
}

/// What an unseal call brings.
pub enum UnsealInput<'a> {
    /// One Shamir share in text form.
    Share(&'a str),
    /// No input: the keystore unseals by itself (HSM).
    Auto,
}

impl std::fmt::Debug for UnsealInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Share(_) => f.write_str("Share(<redacted>)"),
            Self::Auto => f.write_str("Auto"),
        }
    }
}

/// The root of trust. Implementations are cheap to call once unsealed: wrapping and unwrapping
/// with the master key runs in memory (AES-256-GCM), never in the HSM.
pub trait Keystore: Send + Sync + std::fmt::Debug {
    /// Which kind this is.
    fn kind(&self) -> KeystoreKind;

    /// Current status.
    fn status(&self) -> SealStatus;

    /// Creates a new master key and returns its record, changing nothing in this keystore: the
    /// caller persists the record, then calls [`Keystore::load`] and [`Keystore::unseal`]. So a
    /// failed write leaves no half-initialized state. Refused if a record is loaded already.
    fn initialize(&self, params: InitParams) -> Result<Initialized, KeystoreError>;

    /// Loads the persisted record at start. The keystore is then initialized and sealed.
    fn load(&self, record: SealRecord) -> Result<(), KeystoreError>;

    /// Brings one unseal step. Returns the status after it.
    fn unseal(&self, input: UnsealInput<'_>) -> Result<SealStatus, KeystoreError>;

    /// Drops the master key from memory (zeroized) and forgets shares given so far.
    fn seal(&self);

    /// Wraps `key` under the master key, bound to `aad` (purpose and ids).
    fn wrap(&self, aad: &[u8], key: &[u8]) -> Result<Vec<u8>, KeystoreError>;

    /// Unwraps what [`Keystore::wrap`] made with the same `aad`.
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeystoreError>;

    /// HMAC-SHA256 of `data` under a key derived from the master key for `purpose`: a
    /// statement that only a holder of the root of trust can make (audit checkpoints).
    fn mac(&self, purpose: &[u8], data: &[u8]) -> Result<[u8; 32], KeystoreError>;
}
