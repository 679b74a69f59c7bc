//! Authorization: IAM service roles per instance, as Key Protect defines them, the grants
//! that give them to principals, and the service-to-service authorizations that let a service
//! instance use one key or all keys of a key-service instance. Decisions are lookups in memory
//! (grants are cached per principal and instance, authorizations per source and target
//! instance, and both caches are updated by every change on this node).
//!
//! Users and service IDs hold roles on whole instances. A service instance
//! ([`Principal::for_service_instance`]) holds none: it may do what an authorization from it to
//! the target instance allows, and a key-scoped authorization only on its key (see [`Scope`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arca_store::{RoleGrantRecord, ServiceAuthorizationRecord, Store, StoreError};

use crate::auth::{Principal, ServiceInstanceRef};
use crate::cache::CoherentMap;
use crate::instances::ServiceKind;
use crate::{ServiceError, ServiceResult};

/// The service access roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Lists keys, reads metadata, wraps and unwraps.
    Reader,
    /// Reader, and reads standard keys' material.
    ReaderPlus,
    /// ReaderPlus, and creates, rotates and modifies keys.
    Writer,
    /// Everything but purge: deletes, restores, disables, sets policies, manages the instance.
    Manager,
    /// Purges deleted keys (and nothing else).
    KeyPurge,
    /// Secrets service: reads metadata and secret data.
    SecretsReader,
}

impl Role {
    /// All roles.
    pub const ALL: [Self; 6] = [
        Self::Reader,
        Self::ReaderPlus,
        Self::Writer,
        Self::Manager,
        Self::KeyPurge,
        Self::SecretsReader,
    ];

    /// The IAM name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "Reader",
            Self::ReaderPlus => "ReaderPlus",
            Self::Writer => "Writer",
            Self::Manager => "Manager",
            Self::KeyPurge => "KeyPurge",
            Self::SecretsReader => "SecretsReader",
        }
    }

    /// Parses an IAM role name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the role allows `p`.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Self::Reader => matches!(p, Read | Wrap),
            Self::ReaderPlus => matches!(p, Read | Wrap | ReadPayload),
            Self::Writer => matches!(p, Read | Wrap | ReadPayload | Create | Rotate | Modify),
            Self::Manager => !matches!(p, Purge),
            Self::KeyPurge => matches!(p, Purge),
            Self::SecretsReader => matches!(p, Read | ReadPayload),
        }
    }
}

/// What an operation touches, which decides the service-to-service authorizations that count.
/// Roles of users and service IDs are per instance: for them the scope changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The instance as a whole (listing, creating keys, policies, rings, ...), or a key
    /// operation that an authorization for one key does not cover: only authorizations for
    /// all keys count.
    Instance,
    /// Some key of the instance, not yet looked up: any authorization counts. The first of
    /// the two checks of a key operation, made before the key is resolved so that a service
    /// instance without any authorization learns nothing about which keys exist; the second
    /// is [`Scope::Key`].
    AnyKey,
    /// One key, by id (aliases resolved first): authorizations for all keys or for this key.
    Key(&'a str),
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List and read metadata.
    Read,
    /// Wrap, unwrap, rewrap.
    Wrap,
    /// Read a standard key's material, or a secret's data.
    ReadPayload,
    /// Create keys.
    Create,
    /// Rotate keys.
    Rotate,
    /// Aliases, key ring moves.
    Modify,
    /// Disable, enable, restore, key policies, rings, instance policies, import tokens, KMIP.
    Manage,
    /// Delete keys.
    Delete,
    /// Purge deleted keys.
    Purge,
}

/// Grants, service-to-service authorizations, and decisions.
#[derive(Clone)]
pub struct AccessService {
    store: Arc<dyn Store>,
    cache: Arc<CoherentMap<(String, String), Vec<Role>>>,
    authorizations: Arc<RwLock<AuthorizationCache>>,
}

/// One service-to-service authorization, as decisions need it.
#[derive(Debug, Clone)]
struct Authorization {
    account_id: String,
    source_service: ServiceKind,
    /// `None`: all keys of the target.
    key_id: Option<String>,
    role: Role,
}

impl Authorization {
    fn covers(&self, scope: Scope<'_>) -> bool {
        match scope {
            Scope::Instance => self.key_id.is_none(),
            Scope::AnyKey => true,
            Scope::Key(id) => self.key_id.as_deref().is_none_or(|k| k == id),
        }
    }
}

/// (source instance id, target instance id) → its authorizations.
///
/// `generation` moves on every change: a lookup that read the store before a change finished
/// must not put what it read into the cache after the change dropped the entry, or a deleted
/// authorization would live on in memory. A lookup caches its result only if the generation
/// is still the one it started with.
#[derive(Default)]
struct AuthorizationCache {
    entries: HashMap<(String, String), Arc<[Authorization]>>,
    generation: u64,
}

impl std::fmt::Debug for AccessService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessService").finish_non_exhaustive()
    }
}

impl AccessService {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
            authorizations: Arc::default(),
        }
    }

    async fn roles(&self, principal_id: &str, instance_id: &str) -> ServiceResult<Vec<Role>> {
        let key = (principal_id.to_owned(), instance_id.to_owned());
        if let Some(r) = self.cache.get(&key) {
            return Ok(r);
        }
        let generation = self.cache.generation();
        let Some(principal) = self.store.get_principal(principal_id).await? else {
            return Ok(Vec::new());
        };
        let roles: Vec<Role> = self
            .store
            .list_grants(&principal.account_id)
            .await?
            .into_iter()
            .filter(|g| g.principal_id == principal_id && g.instance_id == instance_id)
            .filter_map(|g| Role::parse(&g.role))
            .collect();
        self.cache.insert_if_current(generation, key, roles.clone());
        Ok(roles)
    }

    /// The authorizations of `source_instance_id` on `target_instance_id`, from memory.
    async fn authorizations(
        &self,
        source_instance_id: &str,
        target_instance_id: &str,
    ) -> ServiceResult<Arc<[Authorization]>> {
        let key = (source_instance_id.to_owned(), target_instance_id.to_owned());
        let generation = match self.authorizations.read() {
            Ok(c) => {
                if let Some(found) = c.entries.get(&key) {
                    return Ok(found.clone());
                }
                c.generation
            }
            // A poisoned lock: decide from the store, cache nothing.
            Err(_) => u64::MAX,
        };
        let found: Arc<[Authorization]> = self
            .store
            .find_service_authorizations(source_instance_id, target_instance_id)
            .await?
            .into_iter()
            .filter_map(|a| {
                Some(Authorization {
                    source_service: ServiceKind::parse(&a.source_service)?,
                    role: Role::parse(&a.role)?,
                    account_id: a.account_id,
                    key_id: a.target_key_id,
                })
            })
            .collect();
        if let Ok(mut c) = self.authorizations.write()
            && c.generation == generation
        {
            c.entries.insert(key, found.clone());
        }
        Ok(found)
    }

    /// Whether a service instance's authorizations on `instance_id` allow `permission` in
    /// `scope`.
    async fn authorized(
        &self,
        principal: &Principal,
        source: &ServiceInstanceRef,
        instance_id: &str,
        scope: Scope<'_>,
        permission: Permission,
    ) -> ServiceResult<bool> {
        Ok(self
            .authorizations(source.instance_id(), instance_id)
            .await?
            .iter()
            .any(|a| {
                a.account_id == principal.account_id
                    && a.source_service == source.service()
                    && a.role.allows(permission)
                    && a.covers(scope)
            }))
    }

    /// Whether `principal` may do `permission` on the whole of `instance_id` (an instance of
    /// its account: the caller checks that). Account administrators may do everything; a
    /// service instance needs an authorization for all keys ([`Scope::Instance`]).
    pub async fn allows(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<bool> {
        self.allows_in(principal, instance_id, Scope::Instance, permission)
            .await
    }

    /// Whether `principal` may do `permission` on `scope` of `instance_id` (an instance of its
    /// account: the caller checks that).
    pub async fn allows_in(
        &self,
        principal: &Principal,
        instance_id: &str,
        scope: Scope<'_>,
        permission: Permission,
    ) -> ServiceResult<bool> {
        // Service instances first: they are decided by authorizations alone, whatever
        // `is_admin` says, and one that lacks its instance reference is refused everything.
        if principal.is_service_instance() {
            return match &principal.service_instance {
                Some(source) => {
                    self.authorized(principal, source, instance_id, scope, permission)
                        .await
                }
                None => Ok(false),
            };
        }
        if principal.is_admin {
            return Ok(true);
        }
        Ok(self
            .roles(&principal.id, instance_id)
            .await?
            .iter()
            .any(|r| r.allows(permission)))
    }

    /// Like [`AccessService::allows`], failing with 403.
    pub async fn require(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<()> {
        self.require_in(principal, instance_id, Scope::Instance, permission)
            .await
    }

    /// Like [`AccessService::allows_in`], failing with 403.
    pub async fn require_in(
        &self,
        principal: &Principal,
        instance_id: &str,
        scope: Scope<'_>,
        permission: Permission,
    ) -> ServiceResult<()> {
        if self
            .allows_in(principal, instance_id, scope, permission)
            .await?
        {
            Ok(())
        } else if principal.is_service_instance() {
            Err(ServiceError::Forbidden(
                "no service-to-service authorization of this instance allows this operation",
            ))
        } else {
            Err(ServiceError::Forbidden(
                "your roles on this instance do not allow this operation",
            ))
        }
    }

    fn forget(&self, principal_id: &str, instance_id: &str) {
        self.cache
            .remove(&(principal_id.to_owned(), instance_id.to_owned()));
    }

    /// Drops the cached roles of a principal (its grants changed on another node).
    pub(crate) fn forget_principal(&self, principal_id: &str) {
        self.cache.retain(|(p, _), _| p != principal_id);
    }

    /// Drops the cached authorizations of a source instance (changed on another node).
    pub(crate) fn forget_source(&self, source_instance_id: &str) {
        if let Ok(mut c) = self.authorizations.write() {
            c.entries
                .retain(|(source, _), _| source != source_instance_id);
            c.generation = c.generation.wrapping_add(1);
        }
    }

    /// Drops every cached role and authorization.
    pub(crate) fn forget_all(&self) {
        self.cache.clear();
        if let Ok(mut c) = self.authorizations.write() {
            c.entries.clear();
            c.generation = c.generation.wrapping_add(1);
        }
    }

    /// Stores a grant (the IAM service checks who may grant) and updates the cache.
    pub(crate) async fn add(&self, grant: &RoleGrantRecord) -> ServiceResult<()> {
        match self.store.create_grant(grant).await {
            Ok(()) => {}
            Err(StoreError::Conflict(why)) => return Err(ServiceError::Conflict(why)),
            Err(e) => return Err(e.into()),
        }
        self.forget(&grant.principal_id, &grant.instance_id);
        Ok(())
    }

    /// Revokes a grant and updates the cache.
    pub(crate) async fn remove(
        &self,
        account_id: &str,
        id: &str,
    ) -> ServiceResult<RoleGrantRecord> {
        let grant = self
            .store
            .delete_grant(account_id, id)
            .await?
            .ok_or(ServiceError::NotFound("grant"))?;
        self.forget(&grant.principal_id, &grant.instance_id);
        Ok(grant)
    }
}

impl AccessService {
    fn forget_authorizations(&self, source_instance_id: &str, target_instance_id: &str) {
        if let Ok(mut c) = self.authorizations.write() {
            c.entries
                .remove(&(source_instance_id.to_owned(), target_instance_id.to_owned()));
            c.generation = c.generation.wrapping_add(1);
        }
    }

    /// Stores a service-to-service authorization (the IAM service checks who may authorize and
    /// what) and updates the cache.
    pub(crate) async fn add_authorization(
        &self,
        authorization: &ServiceAuthorizationRecord,
    ) -> ServiceResult<()> {
        self.store
            .create_service_authorization(authorization)
            .await?;
        self.forget_authorizations(
            &authorization.source_instance_id,
            &authorization.target_instance_id,
        );
        Ok(())
    }

    /// Deletes a service-to-service authorization of an account and updates the cache: the
    /// next decision on this node no longer sees it.
    pub(crate) async fn remove_authorization(
        &self,
        account_id: &str,
        id: &str,
    ) -> ServiceResult<ServiceAuthorizationRecord> {
        let authorization = self
            .store
            .delete_service_authorization(account_id, id)
            .await?
            .ok_or(ServiceError::NotFound("authorization"))?;
        self.forget_authorizations(
            &authorization.source_instance_id,
            &authorization.target_instance_id,
        );
        Ok(authorization)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_key_protect() {
        use Permission::*;
        assert!(Role::Reader.allows(Wrap) && Role::Reader.allows(Read));
        assert!(!Role::Reader.allows(ReadPayload) && !Role::Reader.allows(Create));
        assert!(!Role::Reader.allows(Delete));
        assert!(Role::ReaderPlus.allows(ReadPayload) && !Role::ReaderPlus.allows(Create));
        assert!(Role::Writer.allows(Create) && Role::Writer.allows(Rotate));
        assert!(!Role::Writer.allows(Delete) && !Role::Writer.allows(Manage));
        assert!(Role::Manager.allows(Delete) && Role::Manager.allows(Manage));
        assert!(!Role::Manager.allows(Purge));
        assert!(Role::KeyPurge.allows(Purge) && !Role::KeyPurge.allows(Read));
        assert_eq!(Role::parse("readerplus"), Some(Role::ReaderPlus));
        assert_eq!(Role::parse("Owner"), None);
    }
}
