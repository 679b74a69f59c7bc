//! The key service: root keys (never leave the service) and standard keys, envelope encryption
//! (wrap, unwrap, rewrap with AAD), rotation with versions, the NIST states, delete and restore.
//!
//! Material: every key version's material is stored wrapped by the master key (AAD binds the
//! instance, key and version). Root key versions wrap data keys with AES-256-GCM in Arca's
//! envelope format; the envelope names the version, so old versions keep unwrapping after a
//! rotation. The wrapping key of a version is derived (HKDF) from its material, which lets
//! imported 128/192-bit root keys wrap with AES-256-GCM too.
//!
//! Hot path: key records and derived wrapping keys are cached in memory; every change goes
//! through this service, which replaces the cached record after the store commits.

use std::collections::HashMap;
use std::sync::Arc;

use arca_crypto::aead::AeadKey;
use arca_crypto::envelope::{self, KeyVersionId};
use arca_crypto::kdf::hkdf_sha256_key;
use arca_crypto::random::random_bytes;
use arca_keystore::Keystore;
use arca_store::{KeyQuery, KeyRecord, KeyVersionRecord, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::access::{AccessService, Permission, Scope};
use crate::audit::AuditService;
use crate::auth::Principal;
use crate::cache::CoherentMap;
use crate::clock::{Clock, from_millis, to_millis};
use crate::events::{EventService, EventType};
use crate::import_tokens::{ImportTokenService, SecureImport};
use crate::instances::InstanceService;
use crate::kms_access;
use crate::{ServiceError, ServiceResult, ids};

mod lifecycle;
pub mod query;

pub use lifecycle::DueWork;
use query::{ListSpec, Lookup, SEARCH_SPACE_LIMIT, SelectError};

/// NIST SP 800-57 key states, as Key Protect numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// 0: not yet usable.
    PreActivation,
    /// 1: usable for everything.
    Active,
    /// 2: disabled by a user; no crypto until enabled.
    Suspended,
    /// 3: past its expiration date; unwrap and rewrap only.
    Deactivated,
    /// 5: deleted; restorable within the restore window.
    Destroyed,
}

impl KeyState {
    /// The wire number.
    pub fn number(self) -> i64 {
        match self {
            Self::PreActivation => 0,
            Self::Active => 1,
            Self::Suspended => 2,
            Self::Deactivated => 3,
            Self::Destroyed => 5,
        }
    }

    fn from_number(n: i64) -> ServiceResult<Self> {
        match n {
            0 => Ok(Self::PreActivation),
            1 => Ok(Self::Active),
            2 => Ok(Self::Suspended),
            3 => Ok(Self::Deactivated),
            5 => Ok(Self::Destroyed),
            _ => Err(ServiceError::Internal(
                "stored key has an unknown state".into(),
            )),
        }
    }
}

/// Time windows of the key lifecycle (configurable so tests need no sleeping).
#[derive(Debug, Clone, Copy)]
pub struct KeyWindows {
    /// How long a deleted key can be restored (Key Protect: 30 days).
    pub restore: time::Duration,
    /// How long after deletion a purge is allowed (Key Protect: 4 hours).
    pub purge_wait: time::Duration,
    /// When a deleted key is purged automatically (Key Protect: 90 days).
    pub purge_scheduled: time::Duration,
    /// How long the first authorization of a dual-authorization delete stays valid (7 days).
    pub dual_auth: time::Duration,
}

impl Default for KeyWindows {
    fn default() -> Self {
        Self {
            restore: time::Duration::days(30),
            purge_wait: time::Duration::hours(4),
            purge_scheduled: time::Duration::days(90),
            dual_auth: time::Duration::days(7),
        }
    }
}

/// A key as callers see it. `payload` is set only for standard keys, and only where the API
/// returns material.
#[derive(Clone)]
pub struct Key {
    /// The stored record (state already adjusted for expiry).
    pub record: KeyRecord,
    /// The effective state.
    pub state: KeyState,
    /// The current version's creation time.
    pub version_created: OffsetDateTime,
    /// The owning account.
    pub account_id: String,
    /// The key's CRN.
    pub crn: String,
    /// When the restore window ends (deleted keys).
    pub restore_expiration: Option<OffsetDateTime>,
    /// From when a purge is allowed (deleted keys).
    pub purge_allowed_from: Option<OffsetDateTime>,
    /// When the key is purged automatically (deleted keys).
    pub purge_scheduled_on: Option<OffsetDateTime>,
    /// Whether a restore is possible now.
    pub restore_allowed: bool,
    /// Whether a purge is possible now.
    pub purge_allowed: bool,
    /// Standard keys' material, when asked for.
    pub payload: Option<Zeroizing<Vec<u8>>>,
    /// The key's aliases.
    pub aliases: Vec<String>,
    /// Dual-authorization delete: a first authorization is in force (set for deletion).
    pub key_set_for_deletion: bool,
    /// Dual-authorization delete: when that authorization expires.
    pub deletion_auth_expiration: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("record", &self.record)
            .field("state", &self.state)
            .field("payload", &self.payload.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What a new key is made of.
pub struct NewKey {
    /// Name (required, 2 to 90 characters).
    pub name: String,
    /// Description (up to 240 characters).
    pub description: Option<String>,
    /// Standard (`true`) or root (`false`).
    pub extractable: bool,
    /// Material to import in clear, or `None` to generate.
    pub payload: Option<Zeroizing<Vec<u8>>>,
    /// Expiration date.
    pub expiration: Option<OffsetDateTime>,
    /// Tags.
    pub tags: Vec<String>,
    /// Key ring (`default` when `None`).
    pub key_ring_id: Option<String>,
    /// Rotation policy override: (enabled, interval in months).
    pub rotation: Option<(bool, Option<i64>)>,
    /// Dual-authorization delete override.
    pub dual_auth_delete: Option<bool>,
    /// Secure import: `payload` then holds the RSA-OAEP ciphertext of the material, made with
    /// the instance's import token, and this the proof that goes with it.
    pub secure_import: Option<SecureImportProof>,
}

/// The proof of a secure import that accompanies an RSA-OAEP-encrypted payload.
#[derive(Debug, Clone)]
pub struct SecureImportProof {
    /// The token's nonce, AES-GCM-encrypted with the key material.
    pub encrypted_nonce: Vec<u8>,
    /// The GCM IV of that encryption.
    pub iv: Vec<u8>,
    /// `RSAES_OAEP_SHA_256` or `RSAES_OAEP_SHA_1`.
    pub algorithm: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("name", &self.name)
            .field("extractable", &self.extractable)
            .field("imported", &self.payload.is_some())
            .finish_non_exhaustive()
    }
}

/// Result of a wrap.
pub struct Wrapped {
    /// The generated data key, when the caller sent none.
    pub generated: Option<Zeroizing<Vec<u8>>>,
    /// The wrapped data key.
    pub ciphertext: Vec<u8>,
    /// The version that wrapped it.
    pub version_id: String,
}

impl std::fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrapped")
            .field("generated", &self.generated.as_ref().map(|_| "<redacted>"))
            .field("version_id", &self.version_id)
            .finish_non_exhaustive()
    }
}

/// Result of an unwrap.
pub struct Unwrapped {
    /// The data key.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The version that had wrapped it.
    pub version_id: String,
    /// When that version is not the latest: the data key rewrapped by the latest.
    pub rewrapped: Option<(Vec<u8>, String)>,
}

impl std::fmt::Debug for Unwrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unwrapped")
            .field("plaintext", &"<redacted>")
            .field("version_id", &self.version_id)
            .finish_non_exhaustive()
    }
}

/// Result of a rewrap.
#[derive(Debug)]
pub struct Rewrapped {
    /// The data key wrapped by the latest version.
    pub ciphertext: Vec<u8>,
    /// The version that had wrapped it.
    pub version_id: String,
    /// The latest version.
    pub rewrapped_version_id: String,
}

/// A page of keys.
#[derive(Debug)]
pub struct KeyPage {
    /// The keys (no payload).
    pub keys: Vec<Key>,
    /// All matches, ignoring the page.
    pub total: i64,
}

/// A page of keys of a search ([`KeyService::search`]).
#[derive(Debug)]
pub struct KeyListing {
    /// The keys (no payload), a direct lookup hit first.
    pub keys: Vec<Key>,
    /// All matches, ignoring the page.
    pub total: i64,
    /// The search space was too large; only a direct lookup hit is returned.
    pub incomplete_search: bool,
}

/// Largest data key accepted by wrap (Key Protect takes up to 7,500 bytes of plaintext).
pub const MAX_PLAINTEXT: usize = 7500;
/// Largest imported standard key.
pub const MAX_STANDARD_KEY: usize = 7500;
const MAX_AAD_ITEMS: usize = 126;
const MAX_AAD_ITEM_LEN: usize = 255;
const WRAP_INFO: &[u8] = b"arca:kp:wrapping-key:v1";

fn material_aad(instance_id: &str, key_id: &str, version_id: &str) -> Vec<u8> {
    format!("arca:kp:key-material:v1:{instance_id}:{key_id}:{version_id}").into_bytes()
}

/// AAD of a wrapped data key: the key it belongs to and the caller's AAD strings, each
/// length-prefixed so `["ab","c"]` and `["a","bc"]` differ.
fn wrap_aad(instance_id: &str, key_id: &str, user: &[String]) -> Vec<u8> {
    let mut aad = format!("arca:kp:wrap:v1:{instance_id}:{key_id}").into_bytes();
    for item in user {
        aad.extend_from_slice(&(item.len() as u64).to_be_bytes());
        aad.extend_from_slice(item.as_bytes());
    }
    aad
}

fn uuid_bytes(id: &str) -> ServiceResult<[u8; 16]> {
    uuid::Uuid::try_parse(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| ServiceError::Internal("stored version id is not a UUID".into()))
}

fn invalid(msg: &str) -> ServiceError {
    ServiceError::InvalidInput(msg.to_owned())
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

/// Keys of the key service.
#[derive(Clone)]
pub struct KeyService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    import_tokens: ImportTokenService,
    events: EventService,
    windows: KeyWindows,
    audit: AuditService,
    records: Arc<CoherentMap<String, Arc<KeyRecord>>>,
    /// (instance id, alias) → key id.
    aliases: Arc<CoherentMap<(String, String), String>>,
    /// Version id → (key id, the key it wraps with).
    wrapping_keys: Arc<CoherentMap<String, (String, Arc<AeadKey>)>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl KeyService {
    #[allow(clippy::too_many_arguments)] // one handle per collaborator, wired once in Arca::new
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
        import_tokens: ImportTokenService,
        events: EventService,
        windows: KeyWindows,
        audit: AuditService,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            instances,
            access,
            import_tokens,
            events,
            windows,
            audit,
            records: Arc::default(),
            aliases: Arc::default(),
            wrapping_keys: Arc::default(),
        }
    }

    /// Records a lifecycle event of a key whose change has committed: ids, type and state only.
    pub(crate) async fn key_event(
        &self,
        event_type: EventType,
        key: &KeyRecord,
        mut data: serde_json::Value,
    ) {
        if let Some(fields) = data.as_object_mut() {
            fields.insert("key_id".into(), json!(key.id));
            fields.insert(
                "key_type".into(),
                json!(if key.extractable { "standard" } else { "root" }),
            );
            fields.insert("state".into(), json!(key.state));
        }
        self.events
            .emit(&key.instance_id, event_type, &key.id, data)
            .await;
    }

    /// Drops every cached record, alias and wrapping key (on seal, and when a node may have
    /// missed other nodes' changes).
    pub fn forget_keys(&self) {
        self.wrapping_keys.clear();
        self.records.clear();
        self.aliases.clear();
    }

    /// Drops what is cached of one key (changed by another node): its record, its aliases and
    /// its versions' wrapping keys (a destroyed key's must not stay in memory).
    pub(crate) fn forget_key(&self, key_id: &str) {
        self.records.remove(key_id);
        self.aliases.retain(|_, id| id != key_id);
        self.wrapping_keys.retain(|_, (id, _)| id != key_id);
    }

    /// Checks that `principal` may use the key-service instance `instance_id`.
    async fn authorize(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<()> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            permission,
        )
        .await
    }

    /// The first check of an operation on one key, before the key is resolved: for users and
    /// service IDs the full check (their roles are per instance); for a service instance, that
    /// some authorization on the instance allows `permission`, so that one without any learns
    /// nothing about which keys exist. [`KeyService::authorize_key`] completes it.
    async fn authorize_any_key(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<()> {
        kms_access::authorize_in(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Scope::AnyKey,
            permission,
        )
        .await
    }

    /// The second check of an operation on one key, once it is resolved: a service instance
    /// needs an authorization for all keys or for this key, so an authorization for key A
    /// does not open key B (403). Nothing to add for users and service IDs, whose roles
    /// [`KeyService::authorize_any_key`] decided already; skipping them keeps the hot path
    /// at one lookup.
    async fn authorize_key(
        &self,
        principal: &Principal,
        record: &KeyRecord,
        permission: Permission,
    ) -> ServiceResult<()> {
        if !principal.is_service_instance() {
            return Ok(());
        }
        self.access
            .require_in(
                principal,
                &record.instance_id,
                Scope::Key(&record.id),
                permission,
            )
            .await
    }

    fn cache_record(&self, record: &KeyRecord) {
        self.records
            .insert(record.id.clone(), Arc::new(record.clone()));
    }

    /// The key id a reference names: a key id (UUID) or an alias.
    async fn resolve(&self, instance_id: &str, key_ref: &str) -> ServiceResult<String> {
        if ids::is_uuid(key_ref) {
            return Ok(key_ref.to_owned());
        }
        let cache_key = (instance_id.to_owned(), key_ref.to_owned());
        if let Some(id) = self.aliases.get(&cache_key) {
            return Ok(id);
        }
        let generation = self.aliases.generation();
        let id = self
            .store
            .resolve_alias(instance_id, key_ref)
            .await?
            .ok_or(ServiceError::NotFound("key"))?;
        self.aliases
            .insert_if_current(generation, cache_key, id.clone());
        Ok(id)
    }

    async fn record(&self, instance_id: &str, key_ref: &str) -> ServiceResult<Arc<KeyRecord>> {
        let key_id = self.resolve(instance_id, key_ref).await?;
        let key_id = key_id.as_str();
        if let Some(r) = self.records.get(key_id) {
            if r.instance_id == instance_id {
                return Ok(r);
            }
            return Err(ServiceError::NotFound("key"));
        }
        let generation = self.records.generation();
        let record = Arc::new(
            self.store
                .get_key(instance_id, key_id)
                .await?
                .ok_or(ServiceError::NotFound("key"))?,
        );
        self.records
            .insert_if_current(generation, record.id.clone(), record.clone());
        Ok(record)
    }

    fn effective_state(&self, r: &KeyRecord, now: OffsetDateTime) -> ServiceResult<KeyState> {
        let state = KeyState::from_number(r.state)?;
        Ok(match (state, r.expiration_date) {
            (KeyState::Active, Some(exp)) if to_millis(now) >= exp => KeyState::Deactivated,
            _ => state,
        })
    }

    fn view(
        &self,
        record: KeyRecord,
        version_created: i64,
        account_id: &str,
    ) -> ServiceResult<Key> {
        let now = self.clock.now();
        let state = self.effective_state(&record, now)?;
        let deleted = record.deletion_date.map(from_millis);
        let restore_expiration = deleted.map(|d| d + self.windows.restore);
        let purge_allowed_from = deleted.map(|d| d + self.windows.purge_wait);
        let purge_scheduled_on = deleted.map(|d| d + self.windows.purge_scheduled);
        let deletion_auth_expiration = self.deletion_auth_expiration(&record, now);
        let crn = ids::key_crn(
            self.instances.region(),
            account_id,
            &record.instance_id,
            &record.id,
        );
        Ok(Key {
            restore_allowed: state == KeyState::Destroyed
                && restore_expiration.is_some_and(|e| now < e),
            purge_allowed: state == KeyState::Destroyed
                && purge_allowed_from.is_some_and(|p| now >= p),
            record,
            state,
            version_created: from_millis(version_created),
            crn,
            account_id: account_id.to_owned(),
            restore_expiration,
            purge_allowed_from,
            purge_scheduled_on,
            payload: None,
            aliases: Vec::new(),
            key_set_for_deletion: deletion_auth_expiration.is_some(),
            deletion_auth_expiration,
        })
    }

    async fn version(&self, version_id: &str) -> ServiceResult<KeyVersionRecord> {
        self.store
            .get_key_version(version_id)
            .await?
            // Versions disappear only with their key, in a purge: a reader that still held the
            // key record when it was purged finds no version, and the key is gone.
            .ok_or(ServiceError::NotFound("key"))
    }

    async fn to_key(&self, record: KeyRecord, principal: &Principal) -> ServiceResult<Key> {
        let version = self.version(&record.current_version_id).await?;
        let mut key = self.view(record, version.creation_date, &principal.account_id)?;
        key.aliases = self.aliases_of(&key.record.id).await?;
        Ok(key)
    }

    async fn aliases_of(&self, key_id: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .store
            .key_aliases(key_id)
            .await?
            .into_iter()
            .map(|a| a.alias)
            .collect())
    }

    fn wrap_material(
        &self,
        record: &KeyRecord,
        version_id: &str,
        material: &[u8],
    ) -> ServiceResult<Vec<u8>> {
        Ok(self.keystore.wrap(
            &material_aad(&record.instance_id, &record.id, version_id),
            material,
        )?)
    }

    fn unwrap_material(
        &self,
        record: &KeyRecord,
        version: &KeyVersionRecord,
    ) -> ServiceResult<Zeroizing<Vec<u8>>> {
        let wrapped = version
            .wrapped_material
            .as_ref()
            .ok_or_else(|| ServiceError::InvalidState("the key material was destroyed".into()))?;
        Ok(self.keystore.unwrap(
            &material_aad(&record.instance_id, &record.id, &version.id),
            wrapped,
        )?)
    }

    /// The AES-256-GCM key a root key version wraps with (cached).
    async fn wrapping_key(
        &self,
        record: &KeyRecord,
        version_id: &str,
    ) -> ServiceResult<Arc<AeadKey>> {
        if let Some((_, k)) = self.wrapping_keys.get(version_id) {
            return Ok(k);
        }
        let generation = self.wrapping_keys.generation();
        let version = self.version(version_id).await?;
        if version.key_id != record.id {
            return Err(ServiceError::InvalidInput(
                "the ciphertext was not made by this key".into(),
            ));
        }
        let material = self.unwrap_material(record, &version)?;
        let derived =
            hkdf_sha256_key(&material, &uuid_bytes(version_id)?, WRAP_INFO).map_err(internal)?;
        let key = Arc::new(AeadKey::new(&derived).map_err(internal)?);
        self.wrapping_keys.insert_if_current(
            generation,
            version_id.to_owned(),
            (record.id.clone(), key.clone()),
        );
        Ok(key)
    }

    fn validate_new(&self, new: &NewKey) -> ServiceResult<()> {
        let name_len = new.name.chars().count();
        if !(2..=90).contains(&name_len) || new.name.chars().any(char::is_control) {
            return Err(invalid("name must be 2 to 90 printable characters"));
        }
        if new
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 240)
        {
            return Err(invalid("description must be at most 240 characters"));
        }
        if new.tags.len() > 30
            || new.tags.iter().any(|t| {
                t.chars().count() > 30 || t.chars().any(|c| "<>,:&|".contains(c) || c.is_control())
            })
        {
            return Err(invalid(
                "tags: at most 30, each at most 30 characters, without < > , : & |",
            ));
        }
        if let Some((_, Some(months))) = new.rotation
            && !(1..=12).contains(&months)
        {
            return Err(invalid("rotation interval_month must be 1 to 12"));
        }
        match (&new.payload, new.extractable) {
            (Some(p), false) if ![16, 24, 32].contains(&p.len()) => Err(invalid(
                "imported root key material must be 128, 192 or 256 bits",
            )),
            (Some(p), true) if p.is_empty() || p.len() > MAX_STANDARD_KEY => Err(invalid(
                "imported standard key material must be 1 to 7500 bytes",
            )),
            _ => Ok(()),
        }
    }

    /// Creates a key, generated or imported in clear.
    pub async fn create(
        &self,
        principal: &Principal,
        instance_id: &str,
        new: NewKey,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Create)
            .await?;
        let mut new = new;
        let secure = new.secure_import.is_some();
        if let Some(proof) = new.secure_import.take() {
            if new.extractable {
                return Err(invalid(
                    "secure import (import token) is for root keys only",
                ));
            }
            let encrypted = new
                .payload
                .take()
                .ok_or_else(|| invalid("payload is required with encryptedNonce and iv"))?;
            new.payload = Some(
                self.open_secure_import(instance_id, &encrypted, &proof)
                    .await?,
            );
        }
        self.apply_instance_policies(instance_id, &mut new, secure)
            .await?;
        self.validate_new(&new)?;
        let now = self.clock.now();
        if new.expiration.is_some_and(|e| e <= now) {
            return Err(invalid("expirationDate must be in the future"));
        }
        if let Some(ring) = &new.key_ring_id {
            self.require_ring(instance_id, ring).await?;
        }
        let imported = new.payload.is_some();
        let material = match new.payload {
            Some(p) => p,
            None => random_bytes(32).map_err(internal)?,
        };
        let id = ids::uuid()?;
        let version_id = ids::uuid()?;
        let now_ms = to_millis(now);
        let mut record = KeyRecord {
            id,
            instance_id: instance_id.to_owned(),
            name: new.name,
            description: new.description,
            extractable: new.extractable,
            imported,
            state: KeyState::Active.number(),
            state_before_delete: None,
            key_ring_id: new.key_ring_id.unwrap_or_else(|| "default".into()),
            tags: new.tags,
            expiration_date: new.expiration.map(to_millis),
            created_by: principal.id.clone(),
            creation_date: now_ms,
            last_update_date: now_ms,
            last_rotate_date: None,
            deletion_date: None,
            deleted_by: None,
            rotation_enabled: new.rotation.map(|(e, _)| e),
            rotation_interval: new.rotation.and_then(|(_, m)| m),
            dual_auth_delete: new.dual_auth_delete.unwrap_or(false),
            current_version_id: version_id.clone(),
            revision: 1,
            deletion_auth_by: None,
            deletion_auth_date: None,
        };
        if record.extractable && record.rotation_enabled == Some(true) {
            return Err(invalid("only root keys can have a rotation policy"));
        }
        let version = KeyVersionRecord {
            id: version_id.clone(),
            key_id: record.id.clone(),
            seq: 1,
            creation_date: now_ms,
            wrapped_material: Some(self.wrap_material(&record, &version_id, &material)?),
        };
        self.store.create_key(&record, &version).await?;
        record.revision = 1;
        self.cache_record(&record);
        tracing::info!(instance_id, key_id = %record.id, root = !record.extractable, imported, "key created");
        self.key_event(EventType::KeyCreated, &record, json!({}))
            .await;
        let mut key = self.view(record, now_ms, &principal.account_id)?;
        if key.record.extractable {
            key.payload = Some(material);
        }
        Ok(key)
    }

    /// A key with its metadata; `with_payload` adds a standard key's material.
    pub async fn get(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        with_payload: bool,
    ) -> ServiceResult<Key> {
        self.authorize_any_key(principal, instance_id, Permission::Read)
            .await?;
        let record = (*self.record(instance_id, key_id).await?).clone();
        self.authorize_key(principal, &record, Permission::Read)
            .await?;
        let version = self.version(&record.current_version_id).await?;
        let mut key = self.view(record, version.creation_date, &principal.account_id)?;
        // Material only for roles that may read it (ReaderPlus and up); others get metadata.
        if with_payload
            && key.record.extractable
            && key.state != KeyState::Destroyed
            && self
                .access
                .allows_in(
                    principal,
                    instance_id,
                    Scope::Key(&key.record.id),
                    Permission::ReadPayload,
                )
                .await?
        {
            key.payload = Some(self.unwrap_material(&key.record, &version)?);
        }
        key.aliases = self.aliases_of(&key.record.id).await?;
        Ok(key)
    }

    /// Keys of an instance.
    pub async fn list(
        &self,
        principal: &Principal,
        instance_id: &str,
        query: &KeyQuery,
    ) -> ServiceResult<KeyPage> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let (records, total) = self.store.list_keys(instance_id, query).await?;
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            keys.push(self.to_key(r, principal).await?);
        }
        Ok(KeyPage { keys, total })
    }

    /// Keys of an instance with Key Protect's `search`, `sort` and `filter` (§6.3 to §6.5).
    /// `query` already carries the state and extractable terms of the filter; the rest is
    /// applied in memory over the instance's keys (at most thousands), unless the store's own
    /// listing answers it.
    pub async fn search(
        &self,
        principal: &Principal,
        instance_id: &str,
        query: &KeyQuery,
        spec: &ListSpec,
    ) -> ServiceResult<KeyListing> {
        if spec.is_plain() {
            let page = self.list(principal, instance_id, query).await?;
            return Ok(KeyListing {
                keys: page.keys,
                total: page.total,
                incomplete_search: false,
            });
        }
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let everything = KeyQuery {
            limit: None,
            offset: 0,
            ..query.clone()
        };
        let (records, _) = self.store.list_keys(instance_id, &everything).await?;
        let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
        let mut direct = None;
        if let Some(search) = &spec.search {
            for a in self.store.instance_aliases(instance_id).await? {
                aliases.entry(a.key_id).or_default().push(a.alias);
            }
            let id = match search.lookup() {
                Some(Lookup::Id(id)) => Some(id),
                Some(Lookup::Alias(alias)) => self.store.resolve_alias(instance_id, &alias).await?,
                None => None,
            };
            if let Some(id) = id {
                direct = self.store.get_key(instance_id, &id).await?.filter(|r| {
                    query.states.as_ref().is_none_or(|s| s.contains(&r.state))
                        && query.extractable.is_none_or(|e| e == r.extractable)
                        && query
                            .key_ring_id
                            .as_ref()
                            .is_none_or(|k| *k == r.key_ring_id)
                });
            }
        }
        let selection = query::select(records, &aliases, direct, spec, SEARCH_SPACE_LIMIT)
            .map_err(|SelectError::TooBroad(n)| {
                ServiceError::SearchTooBroad(format!(
                    "the search space is {n} keys, more than {SEARCH_SPACE_LIMIT}: narrow it \
                     with state, extractable, filter or X-Kms-Key-Ring"
                ))
            })?;
        let total = i64::try_from(selection.records.len()).unwrap_or(i64::MAX);
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = query
            .limit
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(usize::MAX);
        let mut keys = Vec::new();
        for r in selection.records.into_iter().skip(offset).take(limit) {
            keys.push(self.to_key(r, principal).await?);
        }
        Ok(KeyListing {
            keys,
            total,
            incomplete_search: selection.incomplete,
        })
    }

    /// The versions of a key, newest first: (id, creation time).
    pub async fn versions(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
    ) -> ServiceResult<Vec<(String, OffsetDateTime)>> {
        self.authorize_any_key(principal, instance_id, Permission::Read)
            .await?;
        let record = self.record(instance_id, key_id).await?;
        self.authorize_key(principal, &record, Permission::Read)
            .await?;
        Ok(self
            .store
            .list_key_versions(&record.id)
            .await?
            .into_iter()
            .map(|v| (v.id, from_millis(v.creation_date)))
            .collect())
    }

    fn check_aad(aad: &[String]) -> ServiceResult<()> {
        if aad.len() > MAX_AAD_ITEMS || aad.iter().any(|a| a.len() > MAX_AAD_ITEM_LEN) {
            return Err(invalid("aad: at most 126 items of at most 255 characters"));
        }
        Ok(())
    }

    fn require_root(record: &KeyRecord) -> ServiceResult<()> {
        if record.extractable {
            return Err(invalid(
                "Requested action can only be completed with a root key",
            ));
        }
        Ok(())
    }

    fn require_state(&self, record: &KeyRecord, allowed: &[KeyState]) -> ServiceResult<KeyState> {
        let state = self.effective_state(record, self.clock.now())?;
        if allowed.contains(&state) {
            Ok(state)
        } else {
            Err(ServiceError::InvalidState(format!(
                "Key is not in a valid state for this action (state {})",
                state.number()
            )))
        }
    }

    async fn seal_with_current(
        &self,
        record: &KeyRecord,
        aad: &[String],
        plaintext: &[u8],
    ) -> ServiceResult<Vec<u8>> {
        let version_id = &record.current_version_id;
        let key = self.wrapping_key(record, version_id).await?;
        envelope::seal(
            &key,
            KeyVersionId(uuid_bytes(version_id)?),
            &wrap_aad(&record.instance_id, &record.id, aad),
            plaintext,
        )
        .map_err(internal)
    }

    /// Wraps a data key (generated when `plaintext` is `None`) with the key's latest version.
    pub async fn wrap(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        plaintext: Option<Zeroizing<Vec<u8>>>,
        aad: &[String],
    ) -> ServiceResult<Wrapped> {
        self.authorize_any_key(principal, instance_id, Permission::Wrap)
            .await?;
        Self::check_aad(aad)?;
        let record = self.record(instance_id, key_id).await?;
        self.authorize_key(principal, &record, Permission::Wrap)
            .await?;
        Self::require_root(&record)?;
        self.require_state(&record, &[KeyState::Active])?;
        let (data_key, generated) = match plaintext {
            Some(p) if p.is_empty() || p.len() > MAX_PLAINTEXT => {
                return Err(invalid("plaintext must be 1 to 7500 bytes"));
            }
            Some(p) => (p, false),
            None => (random_bytes(32).map_err(internal)?, true),
        };
        let ciphertext = self.seal_with_current(&record, aad, &data_key).await?;
        Ok(Wrapped {
            generated: generated.then_some(data_key),
            ciphertext,
            version_id: record.current_version_id.clone(),
        })
    }

    /// Opens a wrapped data key; the version comes from the ciphertext.
    async fn open(
        &self,
        record: &KeyRecord,
        aad: &[String],
        ciphertext: &[u8],
    ) -> ServiceResult<(Zeroizing<Vec<u8>>, String)> {
        let refused = || {
            invalid("The provided ciphertext is invalid or corrupted, or the aad does not match")
        };
        let env = envelope::parse(ciphertext).map_err(|_| refused())?;
        let version_id = uuid::Uuid::from_bytes(*env.key_version.as_bytes()).to_string();
        let key = match self.wrapping_key(record, &version_id).await {
            Ok(k) => k,
            // No such version (a forged or foreign version id): refused like any bad input.
            Err(ServiceError::Internal(_))
            | Err(ServiceError::InvalidInput(_))
            | Err(ServiceError::NotFound(_)) => {
                return Err(refused());
            }
            Err(e) => return Err(e),
        };
        let plaintext = env
            .open(&key, &wrap_aad(&record.instance_id, &record.id, aad))
            .map_err(|_| refused())?;
        Ok((plaintext, version_id))
    }

    /// Unwraps a data key. When an older version made it, also returns it rewrapped by the latest.
    pub async fn unwrap(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        ciphertext: &[u8],
        aad: &[String],
    ) -> ServiceResult<Unwrapped> {
        self.authorize_any_key(principal, instance_id, Permission::Wrap)
            .await?;
        Self::check_aad(aad)?;
        let record = self.record(instance_id, key_id).await?;
        self.authorize_key(principal, &record, Permission::Wrap)
            .await?;
        Self::require_root(&record)?;
        self.require_state(&record, &[KeyState::Active, KeyState::Deactivated])?;
        let (plaintext, version_id) = self.open(&record, aad, ciphertext).await?;
        let rewrapped = if version_id != record.current_version_id {
            Some((
                self.seal_with_current(&record, aad, &plaintext).await?,
                record.current_version_id.clone(),
            ))
        } else {
            None
        };
        Ok(Unwrapped {
            plaintext,
            version_id,
            rewrapped,
        })
    }

    /// Rewraps a data key with the latest version.
    pub async fn rewrap(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        ciphertext: &[u8],
        aad: &[String],
    ) -> ServiceResult<Rewrapped> {
        self.authorize_any_key(principal, instance_id, Permission::Wrap)
            .await?;
        Self::check_aad(aad)?;
        let record = self.record(instance_id, key_id).await?;
        self.authorize_key(principal, &record, Permission::Wrap)
            .await?;
        Self::require_root(&record)?;
        self.require_state(&record, &[KeyState::Active, KeyState::Deactivated])?;
        let (plaintext, version_id) = self.open(&record, aad, ciphertext).await?;
        Ok(Rewrapped {
            ciphertext: self.seal_with_current(&record, aad, &plaintext).await?,
            version_id,
            rewrapped_version_id: record.current_version_id.clone(),
        })
    }

    /// Applies `change` to the stored key and commits it, retrying on a concurrent change.
    async fn update(
        &self,
        instance_id: &str,
        key_id: &str,
        change: impl Fn(&mut KeyRecord, OffsetDateTime) -> ServiceResult<()>,
    ) -> ServiceResult<KeyRecord> {
        for _ in 0..3 {
            let record = self.record(instance_id, key_id).await?;
            let mut next = (*record).clone();
            let now = self.clock.now();
            change(&mut next, now)?;
            next.revision += 1;
            next.last_update_date = to_millis(now);
            match self.store.update_key(&next).await {
                Ok(()) => {
                    self.cache_record(&next);
                    return Ok(next);
                }
                Err(StoreError::Conflict(_)) => {
                    // Our cached copy is stale: reload from the store and try again.
                    self.records.remove(&record.id);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the key is being changed concurrently; retry",
        ))
    }

    /// Rotates a root key: a new version (generated, or imported for imported keys).
    pub async fn rotate(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        payload: Option<Zeroizing<Vec<u8>>>,
        secure_import: Option<SecureImportProof>,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Rotate)
            .await?;
        let payload = match (payload, secure_import) {
            (Some(encrypted), Some(proof)) => Some(
                self.open_secure_import(instance_id, &encrypted, &proof)
                    .await?,
            ),
            (None, Some(_)) => {
                return Err(invalid("payload is required with encryptedNonce and iv"));
            }
            (payload, None) => payload,
        };
        self.rotate_now(instance_id, key_id, payload).await
    }

    /// Makes a new version of a root key (shared by the rotate action and rotation by policy).
    async fn rotate_now(
        &self,
        instance_id: &str,
        key_id: &str,
        payload: Option<Zeroizing<Vec<u8>>>,
    ) -> ServiceResult<()> {
        for _ in 0..3 {
            let record = self.record(instance_id, key_id).await?;
            Self::require_root(&record)?;
            self.require_state(&record, &[KeyState::Active, KeyState::Deactivated])?;
            let material = match (&payload, record.imported) {
                (None, true) => {
                    return Err(invalid(
                        "an imported key is rotated with new key material (payload)",
                    ));
                }
                (Some(_), false) => {
                    return Err(invalid("a generated key is rotated without payload"));
                }
                (Some(p), true) if ![16, 24, 32].contains(&p.len()) => {
                    return Err(invalid(
                        "imported root key material must be 128, 192 or 256 bits",
                    ));
                }
                (Some(p), true) => p.clone(),
                (None, false) => random_bytes(32).map_err(internal)?,
            };
            let versions = self.store.list_key_versions(&record.id).await?;
            let seq = versions.first().map_or(1, |v| v.seq + 1);
            let now = to_millis(self.clock.now());
            let version_id = ids::uuid()?;
            let mut next = (*record).clone();
            next.current_version_id = version_id.clone();
            next.last_rotate_date = Some(now);
            next.last_update_date = now;
            next.revision += 1;
            let version = KeyVersionRecord {
                id: version_id.clone(),
                key_id: record.id.clone(),
                seq,
                creation_date: now,
                wrapped_material: Some(self.wrap_material(&record, &version_id, &material)?),
            };
            match self.store.rotate_key(&next, &version).await {
                Ok(()) => {
                    self.cache_record(&next);
                    tracing::info!(instance_id, key_id, version = seq, "key rotated");
                    let data = json!({ "key_version_id": version_id, "key_version": seq });
                    self.key_event(EventType::KeyRotated, &next, data).await;
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => {
                    self.records.remove(&record.id);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the key is being changed concurrently; retry",
        ))
    }

    /// Suspends an active key (state 1 → 2).
    pub async fn disable(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let clock = self.clock.clone();
        let this = self.clone();
        let record = self.update(instance_id, key_id, move |k, _| {
            match this.effective_state(k, clock.now())? {
                KeyState::Active => {
                    k.state = KeyState::Suspended.number();
                    Ok(())
                }
                s => Err(ServiceError::InvalidState(format!(
                    "Key is not in a valid state: only an active key can be disabled (state {})",
                    s.number()
                ))),
            }
        })
        .await?;
        tracing::info!(instance_id, key_id, "key disabled");
        self.key_event(EventType::KeyDisabled, &record, json!({}))
            .await;
        Ok(())
    }

    /// Re-enables a suspended key (state 2 → 1).
    pub async fn enable(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let record = self.update(instance_id, key_id, |k, _| {
            if k.state == KeyState::Suspended.number() {
                k.state = KeyState::Active.number();
                Ok(())
            } else {
                Err(ServiceError::InvalidState(format!(
                    "Key is not in a valid state: only a disabled key can be enabled (state {})",
                    k.state
                )))
            }
        })
        .await?;
        tracing::info!(instance_id, key_id, "key enabled");
        self.key_event(EventType::KeyEnabled, &record, json!({}))
            .await;
        Ok(())
    }

    /// Deletes a key: state 5, restorable within the restore window. The material is kept until
    /// the key is purged.
    pub async fn delete(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        force: bool,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Delete)
            .await?;
        // Registered resources: refuse unless forced, and always while one prevents deletion.
        // (A registration added between this check and the delete below is kept, not lost: it
        // then names a deleted key, as Key Protect's can after a forced delete.)
        let target = self.record(instance_id, key_id).await?;
        let registrations = self
            .store
            .list_registrations(instance_id, Some(&target.id))
            .await?;
        if registrations.iter().any(|r| r.prevent_key_deletion) {
            return Err(ServiceError::InvalidState(
                "Key is protecting one or more cloud resources that prevent its deletion".into(),
            ));
        }
        if !registrations.is_empty() {
            if !force {
                return Err(ServiceError::InvalidState(
                    "Key is protecting one or more cloud resources (delete with force=true)".into(),
                ));
            }
            self.store.delete_key_registrations(&target.id).await?;
        }
        let clock = self.clock.clone();
        let this = self.clone();
        let by = principal.id.clone();
        let record = self
            .update(instance_id, key_id, move |k, now| {
                let state = this.effective_state(k, clock.now())?;
                if state == KeyState::Destroyed {
                    return Err(ServiceError::InvalidState(
                        "Key has already been deleted".into(),
                    ));
                }
                if k.dual_auth_delete {
                    this.check_second_authorization(k, &by, now)?;
                }
                k.state_before_delete = Some(state.number());
                k.state = KeyState::Destroyed.number();
                k.deletion_date = Some(to_millis(now));
                k.deleted_by = Some(by.clone());
                k.deletion_auth_by = None;
                k.deletion_auth_date = None;
                Ok(())
            })
            .await?;
        tracing::info!(instance_id, key_id, "key deleted");
        self.key_event(EventType::KeyDeleted, &record, json!({}))
            .await;
        self.to_key(record, principal).await
    }

    /// Restores a deleted key within the restore window.
    pub async fn restore(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let window = self.windows.restore;
        let record = self
            .update(instance_id, key_id, move |k, now| {
                if k.state != KeyState::Destroyed.number() {
                    return Err(ServiceError::InvalidState(
                        "Key is not in a valid state: only a deleted key can be restored".into(),
                    ));
                }
                let deleted = k.deletion_date.map(from_millis).unwrap_or(now);
                if now >= deleted + window {
                    return Err(ServiceError::InvalidState(
                        "Key restoration has expired".into(),
                    ));
                }
                k.state = match k.state_before_delete {
                    Some(3) => KeyState::Deactivated.number(),
                    _ => KeyState::Active.number(),
                };
                k.state_before_delete = None;
                k.deletion_date = None;
                k.deleted_by = None;
                Ok(())
            })
            .await?;
        tracing::info!(instance_id, key_id, "key restored");
        self.key_event(EventType::KeyRestored, &record, json!({}))
            .await;
        self.to_key(record, principal).await
    }

    async fn open_secure_import(
        &self,
        instance_id: &str,
        encrypted: &[u8],
        proof: &SecureImportProof,
    ) -> ServiceResult<Zeroizing<Vec<u8>>> {
        self.import_tokens
            .open(
                instance_id,
                &SecureImport {
                    payload: encrypted,
                    encrypted_nonce: &proof.encrypted_nonce,
                    iv: &proof.iv,
                    algorithm: &proof.algorithm,
                },
            )
            .await
    }

    /// Applies the instance policies to a key being created (Key Protect applies them to keys
    /// created after the policy is set): `keyCreateImportAccess` may forbid creating or
    /// importing root or standard keys, or importing without an import token; `dualAuthDelete`
    /// and `rotation` give new keys their defaults unless the request overrides them.
    async fn apply_instance_policies(
        &self,
        instance_id: &str,
        new: &mut NewKey,
        secure: bool,
    ) -> ServiceResult<()> {
        let policies = self.store.instance_policies(instance_id).await?;
        let attrs = |kind: &str| {
            policies
                .iter()
                .find(|p| p.policy_type == kind && p.enabled)
                .map(|p| {
                    p.attributes
                        .as_deref()
                        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                        .unwrap_or(serde_json::Value::Null)
                })
        };
        if let Some(access) = attrs("keyCreateImportAccess") {
            let flag = |name: &str, default: bool| {
                access
                    .get(name)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(default)
            };
            let imported = new.payload.is_some();
            let (allowed, what) = match (new.extractable, imported) {
                (false, false) => (flag("create_root_key", true), "creating root keys"),
                (true, false) => (flag("create_standard_key", true), "creating standard keys"),
                (false, true) => (flag("import_root_key", true), "importing root keys"),
                (true, true) => (flag("import_standard_key", true), "importing standard keys"),
            };
            if !allowed {
                tracing::info!(
                    instance_id,
                    what,
                    "refused by the keyCreateImportAccess policy"
                );
                return Err(ServiceError::Forbidden(
                    "the instance's keyCreateImportAccess policy does not allow this kind of key",
                ));
            }
            if imported && !secure && flag("enforce_token", false) {
                return Err(ServiceError::Forbidden(
                    "the instance's keyCreateImportAccess policy requires an import token for imports",
                ));
            }
        }
        if new.dual_auth_delete.is_none() && attrs("dualAuthDelete").is_some() {
            new.dual_auth_delete = Some(true);
        }
        if !new.extractable
            && new.rotation.is_none()
            && let Some(rotation) = attrs("rotation")
        {
            let months = rotation
                .get("interval_month")
                .and_then(serde_json::Value::as_i64);
            new.rotation = Some((true, months));
        }
        Ok(())
    }

    /// Fails unless the key ring exists (`default` always does).
    async fn require_ring(&self, instance_id: &str, ring: &str) -> ServiceResult<()> {
        if ring == crate::key_rings::DEFAULT_RING
            || self
                .store
                .list_key_rings(instance_id)
                .await?
                .iter()
                .any(|r| r.id == ring)
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound("key ring"))
        }
    }

    /// Moves a key to another key ring. `current_ring`, when given (the `X-Kms-Key-Ring`
    /// header), must name the key's present ring.
    pub async fn set_key_ring(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_id: &str,
        current_ring: Option<&str>,
        ring: &str,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        self.require_ring(instance_id, ring).await?;
        if let Some(current) = current_ring
            && self.record(instance_id, key_id).await?.key_ring_id != current
        {
            return Err(ServiceError::NotFound("key"));
        }
        let ring = ring.to_owned();
        let record = self
            .update(instance_id, key_id, move |k, _| {
                k.key_ring_id = ring.clone();
                Ok(())
            })
            .await?;
        self.to_key(record, principal).await
    }

    /// Gives a key an alias (usable wherever a key id is).
    pub async fn create_alias(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
        alias: &str,
    ) -> ServiceResult<arca_store::AliasRecord> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        const RESERVED: [&str; 16] = [
            "allowed_ip",
            "key",
            "keys",
            "metadata",
            "policy",
            "policies",
            "registration",
            "registrations",
            "ring",
            "rings",
            "rotate",
            "wrap",
            "unwrap",
            "rewrap",
            "version",
            "versions",
        ];
        if !(2..=90).contains(&alias.len())
            || !alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || ids::is_uuid(alias)
            || RESERVED.contains(&alias)
        {
            return Err(invalid(
                "an alias is 2 to 90 characters of A-Z a-z 0-9 _ -, not a UUID and not a reserved word",
            ));
        }
        let record = self.record(instance_id, key_ref).await?;
        if record.state == KeyState::Destroyed.number() {
            return Err(ServiceError::InvalidState(
                "Key has already been deleted".into(),
            ));
        }
        let alias = arca_store::AliasRecord {
            instance_id: instance_id.to_owned(),
            alias: alias.to_owned(),
            key_id: record.id.clone(),
            created_by: principal.id.clone(),
            creation_date: to_millis(self.clock.now()),
        };
        match self.store.create_alias(&alias, 5).await {
            Ok(()) => Ok(alias),
            Err(StoreError::Conflict(why)) => Err(ServiceError::Conflict(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an alias from a key (the key stays).
    pub async fn delete_alias(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
        alias: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        let record = self.record(instance_id, key_ref).await?;
        if !self
            .store
            .delete_alias(instance_id, &record.id, alias)
            .await?
        {
            return Err(ServiceError::NotFound("alias"));
        }
        self.aliases
            .remove(&(instance_id.to_owned(), alias.to_owned()));
        Ok(())
    }

    /// Sets a key's policies: rotation `(enabled, interval months)` and dual-authorization
    /// delete. Either may be left as is.
    pub async fn set_policies(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
        rotation: Option<(bool, Option<i64>)>,
        dual_auth_delete: Option<bool>,
    ) -> ServiceResult<Key> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        if let Some((_, Some(months))) = rotation
            && !(1..=12).contains(&months)
        {
            return Err(invalid("rotation interval_month must be 1 to 12"));
        }
        let key_id = self.resolve(instance_id, key_ref).await?;
        let record = self
            .update(instance_id, &key_id, move |k, _| {
                if k.state == KeyState::Destroyed.number() {
                    return Err(ServiceError::InvalidState(
                        "Key has already been deleted".into(),
                    ));
                }
                if let Some((enabled, months)) = rotation {
                    if k.extractable {
                        return Err(invalid("only root keys can have a rotation policy"));
                    }
                    k.rotation_enabled = Some(enabled);
                    // Key Protect's default interval is 1 month.
                    k.rotation_interval = Some(months.or(k.rotation_interval).unwrap_or(1));
                }
                if let Some(enabled) = dual_auth_delete {
                    if k.dual_auth_delete && !enabled {
                        return Err(ServiceError::InvalidState(
                            "a dual authorization delete policy cannot be disabled once enabled"
                                .into(),
                        ));
                    }
                    k.dual_auth_delete = enabled;
                }
                Ok(())
            })
            .await?;
        self.to_key(record, principal).await
    }
}
