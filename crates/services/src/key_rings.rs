//! Key rings: named groups of keys within an instance. `default` always exists; a ring with
//! keys in it cannot be deleted.

use std::sync::Arc;

use arca_store::{KeyRingRecord, Store, StoreError};
use time::OffsetDateTime;

use crate::access::{AccessService, Permission};
use crate::auth::Principal;
use crate::clock::{Clock, from_millis, to_millis};
use crate::instances::InstanceService;
use crate::keys::KeyService;
use crate::{ServiceError, ServiceResult, kms_access};

/// The ring every instance has.
pub const DEFAULT_RING: &str = "default";

/// A key ring as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    /// Ring id.
    pub id: String,
    /// When created.
    pub creation_date: OffsetDateTime,
    /// Creator.
    pub created_by: String,
}

/// Key rings of key-service instances.
#[derive(Debug, Clone)]
pub struct KeyRingService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    keys: KeyService,
}

fn valid_ring_id(id: &str) -> bool {
    (2..=100).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl KeyRingService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
        keys: KeyService,
    ) -> Self {
        Self {
            store,
            clock,
            instances,
            access,
            keys,
        }
    }

    /// The rings of an instance, `default` first.
    pub async fn list(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<Vec<KeyRing>> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Read,
        )
        .await?;
        let instance = self.instances.get(principal, instance_id).await?;
        let mut rings = vec![KeyRing {
            id: DEFAULT_RING.into(),
            creation_date: instance.created_at,
            created_by: "system".into(),
        }];
        rings.extend(
            self.store
                .list_key_rings(instance_id)
                .await?
                .into_iter()
                .map(|r| KeyRing {
                    id: r.id,
                    creation_date: from_millis(r.creation_date),
                    created_by: r.created_by,
                }),
        );
        Ok(rings)
    }

    /// Whether the ring exists (`default` always does).
    pub async fn exists(&self, instance_id: &str, id: &str) -> ServiceResult<bool> {
        if id == DEFAULT_RING {
            return Ok(true);
        }
        Ok(self
            .store
            .list_key_rings(instance_id)
            .await?
            .iter()
            .any(|r| r.id == id))
    }

    /// Creates a ring.
    pub async fn create(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<KeyRing> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Manage,
        )
        .await?;
        if id == DEFAULT_RING {
            return Err(ServiceError::Conflict("the default key ring always exists"));
        }
        if !valid_ring_id(id) {
            return Err(ServiceError::InvalidInput(
                "a key ring id is 2 to 100 characters: letters, digits and -".into(),
            ));
        }
        let now = self.clock.now();
        let record = KeyRingRecord {
            instance_id: instance_id.to_owned(),
            id: id.to_owned(),
            created_by: principal.id.clone(),
            creation_date: to_millis(now),
        };
        match self.store.create_key_ring(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict("the key ring already exists"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(instance_id, ring = id, "key ring created");
        Ok(KeyRing {
            id: record.id,
            creation_date: from_millis(record.creation_date),
            created_by: record.created_by,
        })
    }

    /// Deletes an empty ring; with `force`, destroyed keys in it move to `default`.
    pub async fn delete(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
        force: bool,
    ) -> ServiceResult<()> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Manage,
        )
        .await?;
        if id == DEFAULT_RING {
            return Err(ServiceError::Conflict(
                "the default key ring cannot be deleted",
            ));
        }
        match self.store.delete_key_ring(instance_id, id, force).await {
            Ok(true) => {
                // A forced delete moved keys to `default` in the store: drop cached records.
                if force {
                    self.keys.forget_keys();
                }
                tracing::info!(instance_id, ring = id, "key ring deleted");
                Ok(())
            }
            Ok(false) => Err(ServiceError::NotFound("key ring")),
            Err(StoreError::Conflict(_)) => Err(ServiceError::InvalidState(
                "the key ring holds keys: move or delete them first (force=true only when all are destroyed)"
                    .into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
