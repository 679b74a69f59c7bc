//! Secret groups. Every instance has the implicit `default` group, listed first and never stored:
//! it cannot be renamed or deleted.

use arca_store::secrets::SecretGroupRecord;

use super::SecretsService;
use super::model::{check_description, check_name};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::to_millis;
use crate::{ServiceError, ServiceResult, ids};

/// The id (and name) of the implicit group.
pub const DEFAULT_GROUP: &str = "default";

/// At most this many groups per instance, as in Secrets Manager.
const MAX_GROUPS: usize = 200;

impl SecretsService {
    fn default_group(&self, instance_id: &str, created_at: i64) -> SecretGroupRecord {
        SecretGroupRecord {
            instance_id: instance_id.to_owned(),
            id: DEFAULT_GROUP.to_owned(),
            name: DEFAULT_GROUP.to_owned(),
            description: String::new(),
            created_by: "system".to_owned(),
            created_at,
            updated_at: created_at,
        }
    }

    /// Creates a group.
    pub async fn create_group(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> ServiceResult<SecretGroupRecord> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        check_name("name", name, 2, 64)?;
        if name.eq_ignore_ascii_case(DEFAULT_GROUP) {
            return Err(ServiceError::Conflict(
                "a secret group with this name already exists",
            ));
        }
        let description = description.unwrap_or_default();
        check_description(description)?;
        if self.store.list_secret_groups(instance_id).await?.len() >= MAX_GROUPS {
            return Err(ServiceError::InvalidInput(format!(
                "an instance has at most {MAX_GROUPS} secret groups"
            )));
        }
        let now = to_millis(self.now());
        let group = SecretGroupRecord {
            instance_id: instance_id.to_owned(),
            id: ids::uuid()?,
            name: name.to_owned(),
            description: description.to_owned(),
            created_by: principal.id.clone(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_secret_group(&group).await?;
        Ok(group)
    }

    /// The groups, `default` first.
    pub async fn list_groups(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<Vec<SecretGroupRecord>> {
        let instance = self
            .authorize(principal, instance_id, Permission::Read)
            .await?;
        let mut groups = vec![self.default_group(instance_id, to_millis(instance.created_at))];
        groups.extend(self.store.list_secret_groups(instance_id).await?);
        Ok(groups)
    }

    /// A group by id (`default` included).
    pub async fn get_group(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<SecretGroupRecord> {
        let instance = self
            .authorize(principal, instance_id, Permission::Read)
            .await?;
        if id == DEFAULT_GROUP {
            return Ok(self.default_group(instance_id, to_millis(instance.created_at)));
        }
        self.group_record(instance_id, id).await
    }

    async fn group_record(&self, instance_id: &str, id: &str) -> ServiceResult<SecretGroupRecord> {
        if !ids::is_uuid(id) {
            return Err(ServiceError::NotFound("secret group"));
        }
        self.store
            .get_secret_group(instance_id, id)
            .await?
            .ok_or(ServiceError::NotFound("secret group"))
    }

    /// Checks that a secret may go into group `id` (`default` or an existing group).
    pub(crate) async fn require_group(&self, instance_id: &str, id: &str) -> ServiceResult<()> {
        if id == DEFAULT_GROUP {
            return Ok(());
        }
        match self.group_record(instance_id, id).await {
            Ok(_) => Ok(()),
            Err(ServiceError::NotFound(_)) => Err(ServiceError::InvalidInput(
                "secret_group_id names no secret group of this instance".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// The group id of the group named `name` (`default` included).
    pub(crate) async fn group_id_by_name(
        &self,
        instance_id: &str,
        name: &str,
    ) -> ServiceResult<String> {
        if name == DEFAULT_GROUP {
            return Ok(DEFAULT_GROUP.to_owned());
        }
        self.store
            .list_secret_groups(instance_id)
            .await?
            .into_iter()
            .find(|g| g.name == name)
            .map(|g| g.id)
            .ok_or(ServiceError::NotFound("secret group"))
    }

    /// Renames or redescribes a group (merge-patch: absent fields are kept).
    pub async fn update_group(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> ServiceResult<SecretGroupRecord> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        if id == DEFAULT_GROUP {
            if name.is_some_and(|n| n != DEFAULT_GROUP)
                || description.is_some_and(|d| !d.is_empty())
            {
                return Err(ServiceError::InvalidInput(
                    "the default secret group cannot be changed".into(),
                ));
            }
            return self.get_group(principal, instance_id, id).await;
        }
        let mut group = self.group_record(instance_id, id).await?;
        if let Some(name) = name {
            check_name("name", name, 2, 64)?;
            if name.eq_ignore_ascii_case(DEFAULT_GROUP) {
                return Err(ServiceError::Conflict(
                    "a secret group with this name already exists",
                ));
            }
            group.name = name.to_owned();
        }
        if let Some(description) = description {
            check_description(description)?;
            group.description = description.to_owned();
        }
        group.updated_at = to_millis(self.now());
        if !self.store.update_secret_group(&group).await? {
            return Err(ServiceError::NotFound("secret group"));
        }
        Ok(group)
    }

    /// Deletes an empty group.
    pub async fn delete_group(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        if id == DEFAULT_GROUP {
            return Err(ServiceError::InvalidInput(
                "the default secret group cannot be deleted".into(),
            ));
        }
        if !ids::is_uuid(id) || !self.store.delete_secret_group(instance_id, id).await? {
            return Err(ServiceError::NotFound("secret group"));
        }
        Ok(())
    }
}
