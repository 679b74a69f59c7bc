//! Arca's persistence, behind one trait.
//!
//! The database is untrusted storage: everything secret arrives here already encrypted (wrapped keys,
//! sealed master key) or hashed (API keys). [`Store`] is implemented by [`SqliteStore`] (the embedded
//! default) and [`PostgresStore`] (for clusters of nodes on one database); both pass the same test
//! suite (`tests/suite`).
//!
//! Each method is one transaction: a method returns only after its write is committed and synced,
//! so a caller may acknowledge it.
#![warn(missing_docs)]

pub mod audit;
pub mod backup;
pub mod cluster;
mod error;
pub mod events;
pub mod instance_updates;
mod postgres;
pub mod reclamations;
mod records;
pub mod secrets;
mod sqlite;

pub use audit::AuditStore;
pub use backup::BackupStore;
pub use cluster::ClusterStore;
pub use error::StoreError;
pub use events::EventStore;
pub use instance_updates::InstanceUpdateStore;
pub use postgres::{PostgresOptions, PostgresStore};
pub use reclamations::ReclamationStore;
pub use records::{
    AccountRecord, AliasRecord, ApiKeyRecord, ImportTokenRecord, InstancePolicyRecord,
    InstanceRecord, KeyQuery, KeyRecord, KeyRingRecord, KeyVersionRecord, KmipAdapterRecord,
    KmipCertificateRecord, PrincipalKind, PrincipalRecord, RegistrationRecord, RoleGrantRecord,
    ServiceAuthorizationRecord,
};
pub use secrets::SecretStore;
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
pub trait Store:
    SecretStore
    + ReclamationStore
    + EventStore
    + InstanceUpdateStore
    + ClusterStore
    + AuditStore
    + BackupStore
    + Send
    + Sync
    + std::fmt::Debug
{
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

    /// Keys of an instance matching `query`, by id (Key Protect's default order), and how many
    /// match in all.
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

    /// Purges a deleted key (state 5) in one transaction: every version's wrapped material is
    /// shredded (set to NULL), then the key, its versions, its aliases and the KMIP adapters bound
    /// to it (with their certificates) are deleted. Returns the ids of the shredded versions, or
    /// `None` when the instance has no such key; [`StoreError::Conflict`] (nothing written) when
    /// the key is not in state 5. Backends also make the deleted bytes unrecoverable from their
    /// files where they can (SQLite: `secure_delete` and a WAL checkpoint).
    async fn purge_key(&self, instance_id: &str, key_id: &str) -> StoreResult<Option<Vec<String>>>;

    /// Keys of every instance with lifecycle work due at `now` (Unix ms): active keys past their
    /// expiration date, active generated root keys whose rotation policy is due (the last
    /// rotation, or the creation, plus `interval_month` × 30 days), and deleted keys whose
    /// deletion is at least `purge_after_ms` old. Oldest first, at most `limit`.
    async fn keys_due(
        &self,
        now: i64,
        purge_after_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<KeyRecord>>;

    /// A key version by id.
    async fn get_key_version(&self, version_id: &str) -> StoreResult<Option<KeyVersionRecord>>;

    /// The versions of a key, newest first.
    async fn list_key_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersionRecord>>;

    /// The stored key rings of an instance (not `default`), by id.
    async fn list_key_rings(&self, instance_id: &str) -> StoreResult<Vec<KeyRingRecord>>;

    /// Creates a key ring. [`StoreError::Conflict`] if it exists.
    async fn create_key_ring(&self, ring: &KeyRingRecord) -> StoreResult<()>;

    /// Deletes a key ring. Refused ([`StoreError::Conflict`]) while it holds keys that are not
    /// destroyed; with `force`, destroyed keys move to `default`, else any key refuses it.
    /// Returns whether the ring existed.
    async fn delete_key_ring(&self, instance_id: &str, id: &str, force: bool) -> StoreResult<bool>;

    /// The instance policies of an instance.
    async fn instance_policies(&self, instance_id: &str) -> StoreResult<Vec<InstancePolicyRecord>>;

    /// Creates or replaces instance policies, all in one transaction.
    async fn put_instance_policies(&self, policies: &[InstancePolicyRecord]) -> StoreResult<()>;

    /// Creates or replaces the instance's import token.
    async fn put_import_token(&self, token: &ImportTokenRecord) -> StoreResult<()>;

    /// The instance's import token.
    async fn import_token(&self, instance_id: &str) -> StoreResult<Option<ImportTokenRecord>>;

    /// Adds an alias. [`StoreError::Conflict`] if the alias exists in the instance or the key
    /// already has `max_per_key` aliases (checked in the same transaction).
    async fn create_alias(&self, alias: &AliasRecord, max_per_key: i64) -> StoreResult<()>;

    /// Removes an alias of a key; returns whether it existed.
    async fn delete_alias(&self, instance_id: &str, key_id: &str, alias: &str)
    -> StoreResult<bool>;

    /// The aliases of a key, oldest first.
    async fn key_aliases(&self, key_id: &str) -> StoreResult<Vec<AliasRecord>>;

    /// Every alias of an instance, by key then age (for searching its keys).
    async fn instance_aliases(&self, instance_id: &str) -> StoreResult<Vec<AliasRecord>>;

    /// The key an alias names.
    async fn resolve_alias(&self, instance_id: &str, alias: &str) -> StoreResult<Option<String>>;

    /// Creates a KMIP adapter. [`StoreError::Conflict`] if the name is taken in the instance.
    async fn create_kmip_adapter(&self, adapter: &KmipAdapterRecord) -> StoreResult<()>;

    /// The KMIP adapters of an instance, oldest first.
    async fn list_kmip_adapters(&self, instance_id: &str) -> StoreResult<Vec<KmipAdapterRecord>>;

    /// Deletes a KMIP adapter and its certificates; returns whether it existed.
    async fn delete_kmip_adapter(&self, instance_id: &str, id: &str) -> StoreResult<bool>;

    /// Adds a client certificate. [`StoreError::Conflict`] if the name is taken in the adapter
    /// or the adapter already has `max_per_adapter` certificates.
    async fn create_kmip_certificate(
        &self,
        cert: &KmipCertificateRecord,
        max_per_adapter: i64,
    ) -> StoreResult<()>;

    /// The certificates of an adapter, oldest first.
    async fn list_kmip_certificates(
        &self,
        adapter_id: &str,
    ) -> StoreResult<Vec<KmipCertificateRecord>>;

    /// Deletes a certificate of an adapter; returns whether it existed.
    async fn delete_kmip_certificate(&self, adapter_id: &str, id: &str) -> StoreResult<bool>;

    /// Creates a principal (user or service ID) of an existing account.
    async fn create_principal(&self, principal: &PrincipalRecord) -> StoreResult<()>;

    /// A principal by id.
    async fn get_principal(&self, id: &str) -> StoreResult<Option<PrincipalRecord>>;

    /// The principals of an account, oldest first.
    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>>;

    /// Stores a new API key (digest only).
    async fn create_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;

    /// The API keys of a principal (digests included; callers must not show them).
    async fn list_api_keys(&self, principal_id: &str) -> StoreResult<Vec<ApiKeyRecord>>;

    /// Deletes an API key; returns the deleted record.
    async fn delete_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>>;

    /// Grants a role. [`StoreError::Conflict`] if the principal holds it on the instance already.
    async fn create_grant(&self, grant: &RoleGrantRecord) -> StoreResult<()>;

    /// The grants of an account.
    async fn list_grants(&self, account_id: &str) -> StoreResult<Vec<RoleGrantRecord>>;

    /// Revokes a grant of an account; returns the revoked record.
    async fn delete_grant(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<RoleGrantRecord>>;

    /// Creates or replaces a registration of a key.
    async fn put_registration(&self, registration: &RegistrationRecord) -> StoreResult<()>;

    /// Deletes a registration; returns whether it existed.
    async fn delete_registration(&self, key_id: &str, resource_crn: &str) -> StoreResult<bool>;

    /// Deletes every registration of a key; returns how many.
    async fn delete_key_registrations(&self, key_id: &str) -> StoreResult<u64>;

    /// The registrations of an instance, or of one key, by key then CRN.
    async fn list_registrations(
        &self,
        instance_id: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<RegistrationRecord>>;

    /// Stores a service-to-service authorization. [`StoreError::Conflict`] if the source already
    /// holds the same role on the same target and key scope.
    async fn create_service_authorization(
        &self,
        authorization: &ServiceAuthorizationRecord,
    ) -> StoreResult<()>;

    /// The service-to-service authorizations of an account, oldest first.
    async fn list_service_authorizations(
        &self,
        account_id: &str,
    ) -> StoreResult<Vec<ServiceAuthorizationRecord>>;

    /// The authorizations of one source instance on one target instance (every key scope and
    /// role), oldest first: what an access decision needs.
    async fn find_service_authorizations(
        &self,
        source_instance_id: &str,
        target_instance_id: &str,
    ) -> StoreResult<Vec<ServiceAuthorizationRecord>>;

    /// Deletes a service-to-service authorization of an account; returns the deleted record.
    async fn delete_service_authorization(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<ServiceAuthorizationRecord>>;

    /// Takes one retrieval of the token `id`; `None` when none is left (or the token changed).
    async fn take_import_token_retrieval(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<ImportTokenRecord>>;
}
