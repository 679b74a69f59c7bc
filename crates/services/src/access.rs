//! Authorization: IAM service roles per instance, as Key Protect defines them, and the grants
//! that give them to principals. Decisions are lookups in memory (grants are cached per
//! principal and instance, and the cache is updated by every grant and revoke on this node).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arca_store::{RoleGrantRecord, Store, StoreError};

use crate::auth::Principal;
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

/// Grants and decisions.
#[derive(Clone)]
pub struct AccessService {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<RolesByGrantee>>,
}

/// (principal id, instance id) → roles.
type RolesByGrantee = HashMap<(String, String), Vec<Role>>;

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
        }
    }

    async fn roles(&self, principal_id: &str, instance_id: &str) -> ServiceResult<Vec<Role>> {
        let key = (principal_id.to_owned(), instance_id.to_owned());
        if let Some(r) = self.cache.read().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(r);
        }
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
        if let Ok(mut c) = self.cache.write() {
            c.insert(key, roles.clone());
        }
        Ok(roles)
    }

    /// Whether `principal` may do `permission` on `instance_id` (an instance of its account:
    /// the caller checks that). Account administrators may do everything.
    pub async fn allows(
        &self,
        principal: &Principal,
        instance_id: &str,
        permission: Permission,
    ) -> ServiceResult<bool> {
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
        if self.allows(principal, instance_id, permission).await? {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "your roles on this instance do not allow this operation",
            ))
        }
    }

    fn forget(&self, principal_id: &str, instance_id: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(&(principal_id.to_owned(), instance_id.to_owned()));
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
