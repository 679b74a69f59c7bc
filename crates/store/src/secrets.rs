//! Persistence of the secrets service: secret groups, secrets, their versions and locks,
//! configurations and the notifications registration. Every secret byte arrives already sealed
//! (see the service layer); JSON `metadata` columns hold non-secret, type-specific fields whose
//! shape the service layer owns.

use async_trait::async_trait;

use crate::StoreResult;

/// A secret group. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretGroupRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Group id (UUID; the `default` group is implicit and never stored).
    pub id: String,
    /// Name, unique in the instance.
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A secret (its metadata; the data lives in its versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Secret id (UUID).
    pub id: String,
    /// `arbitrary`, `kv`, `username_password`, `imported_cert`, `private_cert`.
    pub secret_type: String,
    /// Name, unique per type in the instance.
    pub name: String,
    /// Group id (`default` or a group's UUID).
    pub group_id: String,
    /// NIST state number (0, 1, 2, 3, 5).
    pub state: i64,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// When the current data expires.
    pub expiration_date: Option<i64>,
    /// When automatic rotation is next due.
    pub next_rotation_date: Option<i64>,
    /// Last read of the data.
    pub retrieved_at: Option<i64>,
    /// Whether the data was ever read through the API.
    pub downloaded: bool,
    /// Versions created so far.
    pub versions_total: i64,
    /// Locks on its versions.
    pub locks_total: i64,
    /// Optimistic concurrency: every update must carry `revision + 1` of the stored row.
    pub revision: i64,
    /// Type-specific metadata, JSON.
    pub metadata: String,
}

/// A version of a secret. The data is `payload`, sealed by a data key that `wrapped_dek` holds
/// wrapped by the root key named in `root_key`; both are `None` once the data is destroyed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersionRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Owning secret.
    pub secret_id: String,
    /// Version id (UUID).
    pub id: String,
    /// 1 for the first version, then +1: the newest is `current`, the one before `previous`.
    pub serial: i64,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// When this version's data expires.
    pub expiration_date: Option<i64>,
    /// Whether this version's data was read through the API.
    pub downloaded: bool,
    /// Made by automatic rotation.
    pub auto_rotated: bool,
    /// Version metadata, JSON.
    pub metadata: String,
    /// Sealed data (ciphertext).
    pub payload: Option<Vec<u8>>,
    /// The data key, wrapped by the root key.
    pub wrapped_dek: Option<Vec<u8>>,
    /// Which root key wrapped the data key (`instance` or a key-service key reference).
    pub root_key: String,
}

impl std::fmt::Debug for SecretVersionRecord {
    // Ciphertexts are not secret, but they are large and useless in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretVersionRecord")
            .field("instance_id", &self.instance_id)
            .field("secret_id", &self.secret_id)
            .field("id", &self.id)
            .field("serial", &self.serial)
            .field("payload_available", &self.payload.is_some())
            .field("root_key", &self.root_key)
            .finish_non_exhaustive()
    }
}

/// A lock on a secret version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretLockRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Locked secret.
    pub secret_id: String,
    /// Locked version.
    pub version_id: String,
    /// Lock name, unique per version.
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// Attributes, a JSON object.
    pub attributes: String,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A secrets-engine configuration (private CA, DNS provider, ...). Its secret fields are sealed
/// like secret data.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsConfigRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Name, unique in the instance.
    pub name: String,
    /// The configuration type (`private_cert_configuration_root_ca`, ...).
    pub config_type: String,
    /// The secret type it serves.
    pub secret_type: String,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Optimistic concurrency, as for secrets.
    pub revision: i64,
    /// Non-secret fields, JSON.
    pub metadata: String,
    /// Secret fields, sealed.
    pub sealed: Option<Vec<u8>>,
    /// Their data key, wrapped by the root key.
    pub wrapped_dek: Option<Vec<u8>>,
    /// Which root key wrapped the data key.
    pub root_key: String,
}

impl std::fmt::Debug for SecretsConfigRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfigRecord")
            .field("instance_id", &self.instance_id)
            .field("name", &self.name)
            .field("config_type", &self.config_type)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

/// The instance's Event Notifications registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRegistrationRecord {
    /// Owning instance.
    pub instance_id: String,
    /// CRN of the notifications instance.
    pub instance_crn: String,
    /// Source name shown there.
    pub source_name: String,
    /// Source description (may be empty).
    pub source_description: String,
    /// Creator's IAM id.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
}

/// The customer-managed root key of a secrets instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsRootRecord {
    /// The secrets instance.
    pub instance_id: String,
    /// `kms:<key-service instance>:<key id>`, or `instance` (provider-managed again).
    pub root_key: String,
    /// The key's CRN, as the operator gave it.
    pub root_key_crn: String,
    /// The key version the data keys were last rewrapped to.
    pub key_version: String,
    /// Former root keys still to deregister from, JSON array.
    pub retired: String,
    /// Last change.
    pub updated_at: i64,
}

/// What deleting a secret did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretDeletion {
    /// Deleted with its versions.
    Deleted,
    /// No such secret.
    NotFound,
    /// A version is locked: nothing was deleted.
    Locked,
}

/// A change to a secret and its versions, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SecretChange<'a> {
    /// A version to add.
    pub new_version: Option<&'a SecretVersionRecord>,
    /// Versions to overwrite (metadata, or data destroyed).
    pub versions: &'a [SecretVersionRecord],
    /// Locks to create or replace.
    pub put_locks: &'a [SecretLockRecord],
    /// Locks to remove: (version id, name).
    pub remove_locks: &'a [(String, String)],
}

/// Persistence of the secrets service. Same contract as [`crate::Store`]: every method is one
/// durable transaction.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Creates a group; [`crate::StoreError::Conflict`] if the name is taken.
    async fn create_secret_group(&self, group: &SecretGroupRecord) -> StoreResult<()>;

    /// The instance's groups, by creation time.
    async fn list_secret_groups(&self, instance_id: &str) -> StoreResult<Vec<SecretGroupRecord>>;

    /// A group by id.
    async fn get_secret_group(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretGroupRecord>>;

    /// Overwrites a group's name and description; `Conflict` if the new name is taken. `false`
    /// when there is no such group.
    async fn update_secret_group(&self, group: &SecretGroupRecord) -> StoreResult<bool>;

    /// Deletes an empty group. `Ok(false)` when there is no such group; `Conflict` while it holds
    /// secrets.
    async fn delete_secret_group(&self, instance_id: &str, id: &str) -> StoreResult<bool>;

    /// Creates a secret with its first version; `Conflict` if a secret of that type and name
    /// exists.
    async fn create_secret(
        &self,
        secret: &SecretRecord,
        version: &SecretVersionRecord,
    ) -> StoreResult<()>;

    /// A secret by id.
    async fn get_secret(&self, instance_id: &str, id: &str) -> StoreResult<Option<SecretRecord>>;

    /// A secret by type and name.
    async fn find_secret(
        &self,
        instance_id: &str,
        secret_type: &str,
        name: &str,
    ) -> StoreResult<Option<SecretRecord>>;

    /// Every secret of the instance.
    async fn list_secrets(&self, instance_id: &str) -> StoreResult<Vec<SecretRecord>>;

    /// Secrets of every instance whose expiration or rotation is due at `now`.
    async fn secrets_due(&self, now: i64) -> StoreResult<Vec<SecretRecord>>;

    /// Writes `secret` (whose `revision` must be the stored one + 1, else `Conflict`) and
    /// `change`, atomically. A name taken by another secret of the type is a `Conflict` too.
    async fn update_secret(
        &self,
        secret: &SecretRecord,
        change: SecretChange<'_>,
    ) -> StoreResult<()>;

    /// Deletes a secret, its versions and their data, unless a version is locked.
    async fn delete_secret(&self, instance_id: &str, id: &str) -> StoreResult<SecretDeletion>;

    /// The newest version of a secret (the one reads return), without reading the others.
    async fn current_secret_version(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Option<SecretVersionRecord>>;

    /// The newest version of a secret and every version that still holds data, newest first:
    /// what adding a version needs (normally two rows, whatever the secret's history).
    async fn live_secret_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Vec<SecretVersionRecord>>;

    /// The versions of a secret, newest first.
    async fn list_secret_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Vec<SecretVersionRecord>>;

    /// The versions with data of every secret of the instance whose data key is wrapped by a
    /// root key other than `root_key` (for re-encryption under a new root), from `offset`, at
    /// most `limit`, in a stable order.
    async fn versions_not_under_root(
        &self,
        instance_id: &str,
        root_key: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<SecretVersionRecord>>;

    /// Replaces the wrapped data key of a version, if it is still wrapped by `old_root`.
    async fn rewrap_secret_version(
        &self,
        version: &SecretVersionRecord,
        old_root: &str,
    ) -> StoreResult<bool>;

    /// How many versions of the instance hold data, and how many of those have their data key
    /// wrapped by a root key other than `root_key`.
    async fn secret_version_counts(
        &self,
        instance_id: &str,
        root_key: &str,
    ) -> StoreResult<(i64, i64)>;

    /// The customer-managed root key of a secrets instance (`None`: provider-managed).
    async fn get_secrets_root(&self, instance_id: &str) -> StoreResult<Option<SecretsRootRecord>>;

    /// Sets (`Some`) or removes (`None`) the customer-managed root key of `instance_id`.
    async fn put_secrets_root(
        &self,
        instance_id: &str,
        root: Option<&SecretsRootRecord>,
    ) -> StoreResult<()>;

    /// Every customer-managed root key (for the background work that follows them).
    async fn list_secrets_roots(&self) -> StoreResult<Vec<SecretsRootRecord>>;

    /// Replaces the wrapped data key of a configuration, if it is still wrapped by `old_root`.
    async fn rewrap_secrets_config(
        &self,
        config: &SecretsConfigRecord,
        old_root: &str,
    ) -> StoreResult<bool>;

    /// Locks of one secret (`Some`) or of the whole instance (`None`).
    async fn list_secret_locks(
        &self,
        instance_id: &str,
        secret_id: Option<&str>,
    ) -> StoreResult<Vec<SecretLockRecord>>;

    /// Creates a configuration; `Conflict` if the name is taken.
    async fn create_secrets_config(&self, config: &SecretsConfigRecord) -> StoreResult<()>;

    /// A configuration by name.
    async fn get_secrets_config(
        &self,
        instance_id: &str,
        name: &str,
    ) -> StoreResult<Option<SecretsConfigRecord>>;

    /// The instance's configurations.
    async fn list_secrets_configs(
        &self,
        instance_id: &str,
    ) -> StoreResult<Vec<SecretsConfigRecord>>;

    /// Overwrites a configuration whose `revision` is the stored one + 1 (else `Conflict`).
    async fn update_secrets_config(&self, config: &SecretsConfigRecord) -> StoreResult<()>;

    /// Deletes a configuration; `false` if there is none.
    async fn delete_secrets_config(&self, instance_id: &str, name: &str) -> StoreResult<bool>;

    /// Creates the instance's notifications registration; `Conflict` if there is one.
    async fn create_notification_registration(
        &self,
        registration: &NotificationRegistrationRecord,
    ) -> StoreResult<()>;

    /// The instance's notifications registration.
    async fn get_notification_registration(
        &self,
        instance_id: &str,
    ) -> StoreResult<Option<NotificationRegistrationRecord>>;

    /// Deletes it; `false` if there is none.
    async fn delete_notification_registration(&self, instance_id: &str) -> StoreResult<bool>;
}
