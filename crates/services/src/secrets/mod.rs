//! The secrets service (Secrets Manager v2 compatible): secret groups, secrets of several types,
//! their versions and locks, secrets-engine configurations and the notifications registration.
//!
//! Every version's data is sealed by [`sealing`]: its own data key, wrapped by the instance's
//! root key. The database never sees secret data in clear.

mod ca;
mod certs;
mod configs;
mod groups;
mod jobs;
mod locks;
pub mod model;
mod notifications;
pub mod password;
pub mod query;
mod root_keys;
mod sealing;
mod secret_ops;
mod versions;

use std::sync::Arc;

use arca_store::Store;
use arca_store::secrets::{SecretRecord, SecretVersionRecord};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::access::{AccessService, Permission};
use crate::audit::AuditService;
use crate::auth::Principal;
use crate::clock::Clock;
use crate::events::{EventService, EventType};
use crate::instances::{Instance, InstanceService, ServiceKind};
use crate::keys::KeyService;
use crate::registrations::RegistrationService;
use crate::{ServiceError, ServiceResult};

pub use configs::{ConfigView, ConfigurationPrototype};
pub use groups::DEFAULT_GROUP;
pub use jobs::SecretsDueWork;
pub use locks::{LockMode, LockView, NewLock, SecretLocksView, VersionLocks};
pub use model::{SecretMeta, SecretState, SecretType, VersionMeta};
pub use notifications::NotificationRegistration;
pub use query::SecretFilter;
pub use root_keys::RootKeyStatus;
pub use secret_ops::{MetadataPatch, SecretPrototype};
pub use versions::VersionPrototype;

use sealing::Sealer;

/// A secret's metadata as callers see it.
#[derive(Debug, Clone)]
pub struct SecretView {
    /// The stored row (no secret data in it).
    pub record: SecretRecord,
    /// Its metadata document.
    pub meta: SecretMeta,
    /// Its CRN.
    pub crn: String,
}

/// A version's metadata as callers see it.
#[derive(Debug, Clone)]
pub struct VersionView {
    /// The stored row, with the sealed data removed.
    pub record: SecretVersionRecord,
    /// Its metadata document.
    pub meta: VersionMeta,
    /// `current`, `previous`, or none for older versions.
    pub alias: Option<&'static str>,
    /// Whether its data is still kept.
    pub payload_available: bool,
    /// The secret's name.
    pub secret_name: String,
    /// The secret's type.
    pub secret_type: String,
    /// The secret's group.
    pub secret_group_id: String,
}

/// Secret data in clear: the type's data fields (`payload`, `data`, `username` and `password`,
/// `certificate`, `private_key`, ...) as a JSON object.
pub struct SecretData(pub Map<String, Value>);

impl std::fmt::Debug for SecretData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretData(<redacted>)")
    }
}

/// A secret (or one of its versions) with its data.
#[derive(Debug)]
pub struct SecretWithData {
    /// The secret.
    pub secret: SecretView,
    /// The version the data belongs to.
    pub version: VersionView,
    /// The data.
    pub data: SecretData,
}

/// Windows and limits of the secrets service.
#[derive(Debug, Clone, Copy)]
pub struct SecretsSettings {
    /// How many versions keep their metadata (their data is kept for current and previous only).
    pub max_versions: usize,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        Self { max_versions: 50 }
    }
}

/// The secrets service.
#[derive(Debug, Clone)]
pub struct SecretsService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    keys: KeyService,
    registrations: RegistrationService,
    events: EventService,
    audit: AuditService,
    sealer: Sealer,
    settings: SecretsSettings,
    /// Writers of one secret queue here (striped by secret id) instead of racing on its
    /// revision: on one node, concurrent new versions of a secret all succeed, in turn. Nodes
    /// sharing a database still meet the revision check and retry.
    writers: Arc<[tokio::sync::Mutex<()>; WRITER_STRIPES]>,
}

/// Stripes of the per-secret writer queue.
const WRITER_STRIPES: usize = 64;

fn stale(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Concurrent(_))
}

impl SecretsService {
    #[allow(clippy::too_many_arguments)] // one handle per collaborator, wired once in Arca::new
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
        keys: KeyService,
        registrations: RegistrationService,
        events: EventService,
        audit: AuditService,
        settings: SecretsSettings,
    ) -> Self {
        Self {
            sealer: Sealer::new(store.clone(), instances.clone(), keys.clone()),
            store,
            clock,
            instances,
            access,
            keys,
            registrations,
            events,
            audit,
            settings,
            writers: Arc::new(std::array::from_fn(|_| tokio::sync::Mutex::new(()))),
        }
    }

    /// Waits for this node's other writers of the secret `secret_id` to finish.
    pub(crate) async fn write_turn(&self, secret_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(secret_id);
        let stripe = usize::try_from(hash % WRITER_STRIPES as u64).unwrap_or(0);
        self.writers[stripe].lock().await
    }

    /// Drops every key derived from instance keys (the server is being sealed).
    pub fn forget_keys(&self) {
        self.sealer.forget_keys();
    }

    /// Drops what is cached of one instance (changed on another node).
    pub(crate) fn forget_instance(&self, instance_id: &str) {
        self.sealer.forget_instance(instance_id);
    }

    /// Checks that `principal` may do `permission` on the secrets instance `instance_id`.
    async fn authorize(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<Arc<Instance>> {
        let instance = self.instances.get_shared(principal, instance_id).await?;
        if instance.service != ServiceKind::SecretsManager {
            return Err(ServiceError::NotFound("instance"));
        }
        instance.require_active()?;
        self.access
            .require(principal, instance_id, permission)
            .await?;
        Ok(instance)
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Records a lifecycle event of a secret whose change has committed: ids, type, state and
    /// times only, never its data.
    pub(crate) async fn secret_event(
        &self,
        event_type: EventType,
        instance_id: &str,
        secret_id: &str,
        secret_type: &str,
        mut data: Value,
    ) {
        if let Some(fields) = data.as_object_mut() {
            fields.insert("secret_id".into(), Value::from(secret_id));
            fields.insert("secret_type".into(), Value::from(secret_type));
        }
        self.events
            .emit(instance_id, event_type, secret_id, data)
            .await;
    }

    fn secret_crn(&self, instance: &Instance, secret_id: &str) -> String {
        format!(
            "crn:v1:arca:private:secrets-manager:{}:a/{}:{}:secret:{}",
            self.instances.region(),
            instance.account_id,
            instance.id,
            secret_id
        )
    }

    fn view(&self, instance: &Instance, record: SecretRecord) -> ServiceResult<SecretView> {
        let meta = model::from_doc(&record.metadata)?;
        Ok(SecretView {
            crn: self.secret_crn(instance, &record.id),
            record,
            meta,
        })
    }

    /// A secret of the instance by id ("not found" for malformed ids and other instances').
    async fn record(&self, instance_id: &str, id: &str) -> ServiceResult<SecretRecord> {
        if !crate::ids::is_uuid(id) {
            return Err(ServiceError::NotFound("secret"));
        }
        self.store
            .get_secret(instance_id, id)
            .await?
            .ok_or(ServiceError::NotFound("secret"))
    }

    /// Runs `op` again when the secret changed under it (optimistic concurrency).
    async fn retrying<T, F, Fut>(&self, mut op: F) -> ServiceResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ServiceResult<T>>,
    {
        let mut last = None;
        for _ in 0..5 {
            match op().await {
                Err(e) if stale(&e) => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or(ServiceError::Concurrent("the secret changed concurrently")))
    }
}
