//! Service instances (tenants). Each has its own instance key (IK): 256 random bits, wrapped by
//! the master key with the instance id in the AAD, the provider-managed root of that instance.

use std::sync::Arc;

use arca_crypto::keys::AesKey256;
use arca_keystore::Keystore;
use arca_store::{InstanceRecord, Store};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::cache::CoherentMap;
use crate::clock::{Clock, from_millis, to_millis};
use crate::{ServiceError, ServiceResult, Settings, ids};

/// The service an instance belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Key service (Key Protect compatible).
    Kms,
    /// Secrets service (Secrets Manager compatible).
    SecretsManager,
}

impl ServiceKind {
    /// The stored and CRN name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kms => "kms",
            Self::SecretsManager => "secrets-manager",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kms" => Some(Self::Kms),
            "secrets-manager" => Some(Self::SecretsManager),
            _ => None,
        }
    }
}

/// An instance as callers see it (never the wrapped key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Instance id (UUID).
    pub id: String,
    /// Its CRN.
    pub crn: String,
    /// Owning account.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// Which service.
    pub service: ServiceKind,
    /// Lifecycle state.
    pub state: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

impl Instance {
    /// Refuses a deleted instance (in its reclamation period): no data-plane call may use it.
    pub fn require_active(&self) -> ServiceResult<()> {
        if self.state == "active" {
            Ok(())
        } else {
            Err(ServiceError::InvalidState(
                "the instance was deleted; an administrator can restore it during its \
                 reclamation period (arca instance restore)"
                    .into(),
            ))
        }
    }
}

/// A trimmed instance name of 1 to 100 printable characters.
fn valid_name(name: &str) -> ServiceResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::InvalidInput(
            "name must be 1 to 100 printable characters".into(),
        ));
    }
    Ok(name)
}

/// The AAD binding an instance key to its instance.
pub fn instance_key_aad(instance_id: &str) -> Vec<u8> {
    let mut aad = b"arca:instance-key:v1:".to_vec();
    aad.extend_from_slice(instance_id.as_bytes());
    aad
}

/// Instance management.
#[derive(Debug, Clone)]
pub struct InstanceService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    /// Instances by id: every key and secret request names one, so it is looked up in memory.
    /// Every change of an instance goes through this service, which refreshes the entry.
    cache: Arc<CoherentMap<String, Arc<Instance>>>,
}

impl InstanceService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            settings,
            cache: Arc::default(),
        }
    }

    /// The region named in CRNs.
    pub fn region(&self) -> &str {
        &self.settings.region
    }

    fn to_instance(&self, r: InstanceRecord) -> ServiceResult<Instance> {
        let service = ServiceKind::parse(&r.service).ok_or_else(|| {
            ServiceError::Internal("stored instance has an unknown service".into())
        })?;
        Ok(Instance {
            crn: ids::instance_crn(
                service.as_str(),
                &self.settings.region,
                &r.account_id,
                &r.id,
            ),
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            service,
            state: r.state,
            created_at: from_millis(r.created_at),
        })
    }

    /// Renames an active instance of the admin's account.
    pub async fn rename(
        &self,
        principal: &Principal,
        id: &str,
        name: &str,
    ) -> ServiceResult<Instance> {
        principal.require_admin()?;
        let name = valid_name(name)?;
        self.get(principal, id).await?.require_active()?;
        if !self
            .store
            .rename_instance(id, name, to_millis(self.clock.now()))
            .await?
        {
            return Err(ServiceError::Concurrent(
                "the instance changed concurrently",
            ));
        }
        self.forget(id);
        tracing::info!(instance_id = %id, "instance renamed");
        self.get(principal, id).await
    }

    /// Creates an instance in the caller's account with a fresh instance key.
    pub async fn create(
        &self,
        principal: &Principal,
        name: &str,
        service: ServiceKind,
    ) -> ServiceResult<Instance> {
        principal.require_admin()?;
        let name = valid_name(name)?;
        let id = ids::uuid()?;
        let key = AesKey256::generate().map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let wrapped_key = self
            .keystore
            .wrap(&instance_key_aad(&id), key.expose_secret())?;
        let record = InstanceRecord {
            id,
            account_id: principal.account_id.clone(),
            service: service.as_str().to_owned(),
            name: name.to_owned(),
            state: "active".into(),
            wrapped_key,
            created_at: to_millis(self.clock.now()),
        };
        self.store.create_instance(&record).await?;
        tracing::info!(instance_id = %record.id, service = service.as_str(), "instance created");
        self.to_instance(record)
    }

    /// An instance of the caller's account. Another account's instance is "not found", so ids
    /// cannot be probed across tenants.
    pub async fn get(&self, principal: &Principal, id: &str) -> ServiceResult<Instance> {
        self.get_shared(principal, id).await.map(|i| (*i).clone())
    }

    /// [`InstanceService::get`] without copying the instance: the hot path of every key and
    /// secret request.
    pub(crate) async fn get_shared(
        &self,
        principal: &Principal,
        id: &str,
    ) -> ServiceResult<Arc<Instance>> {
        let instance = self.lookup(id).await?;
        if instance.account_id == principal.account_id {
            Ok(instance)
        } else {
            Err(ServiceError::NotFound("instance"))
        }
    }

    /// Drops the cached copy of an instance (its state changed in the store).
    pub(crate) fn forget(&self, id: &str) {
        self.cache.remove(id);
    }

    /// Drops every cached instance.
    pub(crate) fn forget_all(&self) {
        self.cache.clear();
    }

    /// An instance by id, whatever the account: for in-process callers that act for an
    /// instance already authorized (never for a request's own lookup).
    pub(crate) async fn lookup(&self, id: &str) -> ServiceResult<Arc<Instance>> {
        if !ids::is_uuid(id) {
            return Err(ServiceError::NotFound("instance"));
        }
        let instance = match self.cache.get(id) {
            Some(i) => i,
            None => {
                let generation = self.cache.generation();
                let record = self
                    .store
                    .get_instance(id)
                    .await?
                    .ok_or(ServiceError::NotFound("instance"))?;
                let instance = Arc::new(self.to_instance(record)?);
                self.cache
                    .insert_if_current(generation, instance.id.clone(), instance.clone());
                instance
            }
        };
        Ok(instance)
    }

    /// The instance key in clear, for services that derive their keys from it (the secrets
    /// service's key-encryption key). Callers cache what they derive, not this.
    pub(crate) async fn instance_key(
        &self,
        id: &str,
    ) -> ServiceResult<zeroize::Zeroizing<Vec<u8>>> {
        let record = self
            .store
            .get_instance(id)
            .await?
            .ok_or(ServiceError::NotFound("instance"))?;
        Ok(self
            .keystore
            .unwrap(&instance_key_aad(id), &record.wrapped_key)?)
    }

    /// The instances of the caller's account.
    pub async fn list(&self, principal: &Principal) -> ServiceResult<Vec<Instance>> {
        self.store
            .list_instances(&principal.account_id)
            .await?
            .into_iter()
            .map(|r| self.to_instance(r))
            .collect()
    }
}
