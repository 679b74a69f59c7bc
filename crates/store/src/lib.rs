//! Arca's persistence, behind one trait.
//!
//! The database is untrusted storage: everything secret arrives here already encrypted (wrapped keys,
//! sealed master key) or hashed (API keys). [`Store`] is implemented by [`SqliteStore`] (the embedded
//! default); a PostgreSQL implementation runs the same test suite (`tests/suite`).
//!
//! Each method is one transaction: a method returns only after its write is committed and synced,
//! so a caller may acknowledge it.
#![warn(missing_docs)]

mod error;
mod records;
mod sqlite;

pub use error::StoreError;
pub use records::{
    AccountRecord, ApiKeyRecord, InstanceRecord, KeyQuery, KeyRecord, KeyVersionRecord,
    PrincipalKind, PrincipalRecord,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// What `initialize` writes in one transaction: the root of trust's record and the first admin.
#[derive(Debug, Clone)]
pub struct InitialState {
    /// The serialized seal record (ciphertext and public parameters only).
    pub seal_record: Vec<u8>,
    /// The first account.
    pub account: AccountRecord,
    /// Its admin user.
    pub admin: PrincipalRecord,
    /// The admin's first API key (digest only).
    pub api_key: ApiKeyRecord,
    /// When, in Unix milliseconds.
    pub created_at: i64,
}

/// Persistence for every Arca service. All methods are atomic and durable on return.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The backend's name, for logs and health (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// The seal record written by [`Store::initialize`], if any.
    async fn seal_record(&self) -> StoreResult<Option<Vec<u8>>>;

    /// Writes the seal record and the first admin. Fails with [`StoreError::Conflict`] when the
    /// store was already initialized, writing nothing.
    async fn initialize(&self, state: &InitialState) -> StoreResult<()>;

    /// An account by id.
    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>>;

    /// Looks up an API key by its digest, with the principal that owns it.
    async fn find_api_key(
        &self,
        digest: &[u8],
    ) -> StoreResult<Option<(ApiKeyRecord, PrincipalRecord)>>;

    /// Creates an instance. [`StoreError::Conflict`] if the id exists.
    async fn create_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;

    /// An instance by id.
    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>>;

    /// The instances of an account, oldest first.
    async fn list_instances(&self, account_id: &str) -> StoreResult<Vec<InstanceRecord>>;

    /// The wrapped IAM token signing key, if one was made.
    async fn signing_key(&self) -> StoreResult<Option<(String, Vec<u8>)>>;

    /// Stores the first signing key. [`StoreError::Conflict`] if one exists (a concurrent
    /// writer won: read it back).
    async fn put_signing_key(&self, id: &str, wrapped: &[u8], created_at: i64) -> StoreResult<()>;

    /// Creates a key with its first version.
    async fn create_key(&self, key: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()>;

    /// A key of an instance.
    async fn get_key(&self, instance_id: &str, key_id: &str) -> StoreResult<Option<KeyRecord>>;

    /// Keys of an instance matching `query`, oldest first, and how many match in all.
    async fn list_keys(
        &self,
        instance_id: &str,
        query: &KeyQuery,
    ) -> StoreResult<(Vec<KeyRecord>, i64)>;

    /// Writes `key` if its stored revision is still `key.revision - 1`; else
    /// [`StoreError::Conflict`] and nothing is written.
    async fn update_key(&self, key: &KeyRecord) -> StoreResult<()>;

    /// [`Store::update_key`] plus a new version, in one transaction (rotation).
    async fn rotate_key(&self, key: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()>;

    /// A key version by id.
    async fn get_key_version(&self, version_id: &str) -> StoreResult<Option<KeyVersionRecord>>;

    /// The versions of a key, newest first.
    async fn list_key_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersionRecord>>;
}
