//! Identity administration within an account: users and service IDs, their API keys, the
//! role grants that give them access to instances, and the service-to-service authorizations
//! that let a service instance use keys of a key-service instance. Account administrators only.

use std::sync::Arc;

use arca_store::{
    ApiKeyRecord, PrincipalKind, PrincipalRecord, RoleGrantRecord, ServiceAuthorizationRecord,
    Store,
};
use zeroize::Zeroizing;

use crate::access::{AccessService, Role};
use crate::auth::{AuthService, Principal, new_api_key};
use crate::clock::{Clock, to_millis};
use crate::instances::{InstanceService, ServiceKind};
use crate::keys::KeyService;
use crate::{ServiceError, ServiceResult, ids};

/// A new API key: its record and the key, shown once.
pub struct CreatedApiKey {
    /// Metadata (digest inside; not for display).
    pub record: ApiKeyRecord,
    /// The key.
    pub text: Zeroizing<String>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Identity administration.
#[derive(Debug, Clone)]
pub struct IamService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    auth: AuthService,
    access: AccessService,
    instances: InstanceService,
    keys: KeyService,
}

fn valid_name(name: &str) -> ServiceResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::InvalidInput(
            "name must be 1 to 100 printable characters".into(),
        ));
    }
    Ok(name)
}

impl IamService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        auth: AuthService,
        access: AccessService,
        instances: InstanceService,
        keys: KeyService,
    ) -> Self {
        Self {
            store,
            clock,
            auth,
            access,
            instances,
            keys,
        }
    }

    /// A principal of the admin's account ("not found" for any other).
    async fn own_principal(&self, admin: &Principal, id: &str) -> ServiceResult<PrincipalRecord> {
        match self.store.get_principal(id).await? {
            Some(p) if p.account_id == admin.account_id => Ok(p),
            _ => Err(ServiceError::NotFound("principal")),
        }
    }

    /// Creates a user or service ID in the admin's account.
    pub async fn create_principal(
        &self,
        admin: &Principal,
        kind: &str,
        name: &str,
    ) -> ServiceResult<PrincipalRecord> {
        admin.require_admin()?;
        let kind = PrincipalKind::parse(kind)
            .ok_or_else(|| ServiceError::InvalidInput("kind must be user or service_id".into()))?;
        let name = valid_name(name)?;
        let id = match kind {
            PrincipalKind::User => format!("user-{}", ids::uuid()?),
            PrincipalKind::ServiceId => format!("iam-ServiceId-{}", ids::uuid()?),
            // `parse` never yields it; kept explicit so a change there cannot create one.
            PrincipalKind::ServiceInstance => {
                return Err(ServiceError::InvalidInput(
                    "kind must be user or service_id".into(),
                ));
            }
        };
        let record = PrincipalRecord {
            id,
            account_id: admin.account_id.clone(),
            kind,
            name: name.to_owned(),
            is_admin: false,
            created_at: to_millis(self.clock.now()),
        };
        self.store.create_principal(&record).await?;
        tracing::info!(principal_id = %record.id, kind = kind.as_str(), "principal created");
        Ok(record)
    }

    /// The principals of the admin's account.
    pub async fn principals(&self, admin: &Principal) -> ServiceResult<Vec<PrincipalRecord>> {
        admin.require_admin()?;
        Ok(self.store.list_principals(&admin.account_id).await?)
    }

    /// Creates an API key for a principal of the admin's account.
    pub async fn create_api_key(
        &self,
        admin: &Principal,
        principal_id: &str,
        name: &str,
    ) -> ServiceResult<CreatedApiKey> {
        admin.require_admin()?;
        let owner = self.own_principal(admin, principal_id).await?;
        let name = valid_name(name)?;
        let key = new_api_key()?;
        let record = ApiKeyRecord {
            id: format!("ApiKey-{}", ids::uuid()?),
            principal_id: owner.id,
            name: name.to_owned(),
            digest: key.digest.to_vec(),
            created_at: to_millis(self.clock.now()),
        };
        self.store.create_api_key(&record).await?;
        tracing::info!(api_key_id = %record.id, principal_id, "API key created");
        Ok(CreatedApiKey {
            record,
            text: key.text,
        })
    }

    /// The API keys of a principal of the admin's account.
    pub async fn api_keys(
        &self,
        admin: &Principal,
        principal_id: &str,
    ) -> ServiceResult<Vec<ApiKeyRecord>> {
        admin.require_admin()?;
        let owner = self.own_principal(admin, principal_id).await?;
        Ok(self.store.list_api_keys(&owner.id).await?)
    }

    /// Deletes an API key: it stops authenticating at once on this node (access tokens already
    /// issued with it stay valid until they expire, at most an hour, as with IBM IAM).
    pub async fn delete_api_key(&self, admin: &Principal, id: &str) -> ServiceResult<()> {
        admin.require_admin()?;
        // Check ownership before deleting: find the key among the account's principals.
        let mut owner_found = false;
        for p in self.store.list_principals(&admin.account_id).await? {
            if self
                .store
                .list_api_keys(&p.id)
                .await?
                .iter()
                .any(|k| k.id == id)
            {
                owner_found = true;
                break;
            }
        }
        if !owner_found {
            return Err(ServiceError::NotFound("API key"));
        }
        let deleted = self
            .store
            .delete_api_key(id)
            .await?
            .ok_or(ServiceError::NotFound("API key"))?;
        self.auth.forget(&deleted.digest);
        tracing::info!(api_key_id = id, "API key deleted");
        Ok(())
    }

    /// Grants a role on an instance of the account to a principal of the account.
    pub async fn grant(
        &self,
        admin: &Principal,
        principal_id: &str,
        instance_id: &str,
        role: &str,
    ) -> ServiceResult<RoleGrantRecord> {
        admin.require_admin()?;
        let role = Role::parse(role).ok_or_else(|| {
            ServiceError::InvalidInput(
                "role must be Reader, ReaderPlus, Writer, Manager, KeyPurge or SecretsReader"
                    .into(),
            )
        })?;
        let principal = self.own_principal(admin, principal_id).await?;
        let instance = self.instances.get(admin, instance_id).await?;
        // Each service has its own roles (IBM's): SecretsReader is the secrets service's,
        // ReaderPlus and KeyPurge the key service's.
        let fits = match instance.service {
            ServiceKind::Kms => role != Role::SecretsReader,
            ServiceKind::SecretsManager => !matches!(role, Role::ReaderPlus | Role::KeyPurge),
        };
        if !fits {
            return Err(ServiceError::InvalidInput(format!(
                "the {} role does not exist for {} instances",
                role.as_str(),
                instance.service.as_str()
            )));
        }
        let grant = RoleGrantRecord {
            id: format!("grant-{}", ids::uuid()?),
            account_id: admin.account_id.clone(),
            principal_id: principal.id,
            instance_id: instance.id,
            role: role.as_str().to_owned(),
            created_by: admin.id.clone(),
            created_at: to_millis(self.clock.now()),
        };
        self.access.add(&grant).await?;
        tracing::info!(grant_id = %grant.id, role = role.as_str(), "role granted");
        Ok(grant)
    }

    /// The grants of the admin's account.
    pub async fn grants(&self, admin: &Principal) -> ServiceResult<Vec<RoleGrantRecord>> {
        admin.require_admin()?;
        Ok(self.store.list_grants(&admin.account_id).await?)
    }

    /// Revokes a grant.
    pub async fn revoke(&self, admin: &Principal, grant_id: &str) -> ServiceResult<()> {
        admin.require_admin()?;
        self.access.remove(&admin.account_id, grant_id).await?;
        tracing::info!(grant_id, "role revoked");
        Ok(())
    }

    /// Authorizes the service instance `source_instance_id` to use the key `target_key` (an id
    /// or an alias; stored as the id) or, when `None`, every key of the key-service instance
    /// `target_instance_id`, with `role` (Reader, ReaderPlus, Writer or Manager). Both
    /// instances must be of the admin's account (404 otherwise), the target a key-service
    /// instance other than the source (400), the key one of the target's (404).
    pub async fn create_authorization(
        &self,
        admin: &Principal,
        source_instance_id: &str,
        target_instance_id: &str,
        target_key: Option<&str>,
        role: &str,
    ) -> ServiceResult<ServiceAuthorizationRecord> {
        admin.require_admin()?;
        // KeyPurge is a person's role: a consuming service never purges keys.
        let role = Role::parse(role)
            .filter(|r| !matches!(r, Role::KeyPurge | Role::SecretsReader))
            .ok_or_else(|| {
                ServiceError::InvalidInput(
                    "role must be Reader, ReaderPlus, Writer or Manager".into(),
                )
            })?;
        let source = self.instances.get(admin, source_instance_id).await?;
        let target = self.instances.get(admin, target_instance_id).await?;
        if target.service != ServiceKind::Kms {
            return Err(ServiceError::InvalidInput(format!(
                "the target must be a key-service (kms) instance, not {}",
                target.service.as_str()
            )));
        }
        if source.id == target.id {
            return Err(ServiceError::InvalidInput(
                "an instance cannot be authorized on itself".into(),
            ));
        }
        let target_key_id = match target_key {
            Some(key_ref) => Some(
                self.keys
                    .get(admin, &target.id, key_ref, false)
                    .await?
                    .record
                    .id,
            ),
            None => None,
        };
        let authorization = ServiceAuthorizationRecord {
            id: format!("authorization-{}", ids::uuid()?),
            account_id: admin.account_id.clone(),
            source_service: source.service.as_str().to_owned(),
            source_instance_id: source.id,
            target_instance_id: target.id,
            target_key_id,
            role: role.as_str().to_owned(),
            created_by: admin.id.clone(),
            created_at: to_millis(self.clock.now()),
        };
        self.access.add_authorization(&authorization).await?;
        tracing::info!(
            authorization_id = %authorization.id,
            source_instance_id = %authorization.source_instance_id,
            target_instance_id = %authorization.target_instance_id,
            target_key_id = authorization.target_key_id.as_deref().unwrap_or("*"),
            role = role.as_str(),
            "service-to-service authorization created"
        );
        Ok(authorization)
    }

    /// The service-to-service authorizations of the admin's account.
    pub async fn authorizations(
        &self,
        admin: &Principal,
    ) -> ServiceResult<Vec<ServiceAuthorizationRecord>> {
        admin.require_admin()?;
        Ok(self
            .store
            .list_service_authorizations(&admin.account_id)
            .await?)
    }

    /// Deletes a service-to-service authorization: the source instance loses what it gave at
    /// once (on this node; other nodes follow with the cluster's cache invalidation).
    pub async fn delete_authorization(
        &self,
        admin: &Principal,
        authorization_id: &str,
    ) -> ServiceResult<()> {
        admin.require_admin()?;
        self.access
            .remove_authorization(&admin.account_id, authorization_id)
            .await?;
        tracing::info!(authorization_id, "service-to-service authorization deleted");
        Ok(())
    }
}
