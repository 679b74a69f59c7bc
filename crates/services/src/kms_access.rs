//! Who may use a key-service instance. Shared by every key-service resource.

use crate::access::{AccessService, Permission, Scope};
use crate::auth::Principal;
use crate::instances::{InstanceService, ServiceKind};
use crate::{ServiceError, ServiceResult};

/// Checks that `principal` may do `permission` on the key-service instance `instance_id` as a
/// whole: the instance exists, belongs to the principal's account, is a key-service instance,
/// and the principal's roles on it allow the operation (account administrators may do
/// everything; a service instance needs an authorization for all keys).
pub(crate) async fn authorize(
    instances: &InstanceService,
    access: &AccessService,
    principal: &Principal,
    instance_id: &str,
    permission: Permission,
) -> ServiceResult<()> {
    authorize_in(
        instances,
        access,
        principal,
        instance_id,
        Scope::Instance,
        permission,
    )
    .await
}

/// [`authorize`] for `scope` of the instance (see [`Scope`]).
pub(crate) async fn authorize_in(
    instances: &InstanceService,
    access: &AccessService,
    principal: &Principal,
    instance_id: &str,
    scope: Scope<'_>,
    permission: Permission,
) -> ServiceResult<()> {
    let instance = instances.get_shared(principal, instance_id).await?;
    if instance.service != ServiceKind::Kms {
        return Err(ServiceError::NotFound("instance"));
    }
    instance.require_active()?;
    access
        .require_in(principal, instance_id, scope, permission)
        .await
}
