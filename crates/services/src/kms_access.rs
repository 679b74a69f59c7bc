//! Who may use a key-service instance. Shared by every key-service resource.

use crate::ServiceError;
use crate::ServiceResult;
use crate::auth::Principal;
use crate::instances::{InstanceService, ServiceKind};

/// Checks that `principal` may use the key-service instance `instance_id`: the instance exists,
/// belongs to the principal's account and is a key-service instance. Roles per instance come
/// with IAM grants; until then account administrators act as Managers and nobody else has access.
pub(crate) async fn authorize(
    instances: &InstanceService,
    principal: &Principal,
    instance_id: &str,
) -> ServiceResult<()> {
    let instance = instances.get(principal, instance_id).await?;
    if instance.service != ServiceKind::Kms {
        return Err(ServiceError::NotFound("instance"));
    }
    principal.require_admin()
}
