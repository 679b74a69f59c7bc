//! The instance's Event Notifications registration. Stored and returned; delivering lifecycle
//! events to callback URLs is the events service's work.

use arca_store::secrets::NotificationRegistrationRecord;

use super::SecretsService;
use super::model::{check_description, invalid};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::to_millis;
use crate::{ServiceError, ServiceResult};

/// A new registration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRegistration {
    /// CRN of the Event Notifications instance.
    pub event_notifications_instance_crn: String,
    /// Source name.
    pub event_notifications_source_name: String,
    /// Source description.
    pub event_notifications_source_description: Option<String>,
}

impl SecretsService {
    /// Registers the instance with an Event Notifications instance.
    pub async fn create_notifications_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
        r: NotificationRegistration,
    ) -> ServiceResult<NotificationRegistrationRecord> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let crn = r.event_notifications_instance_crn.trim();
        if !crn.starts_with("crn:") || crn.len() > 512 || crn.chars().any(char::is_control) {
            return Err(invalid(
                "event_notifications_instance_crn must be a CRN (crn:v1:...)",
            ));
        }
        let name = r.event_notifications_source_name.trim();
        if !(2..=256).contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Err(invalid(
                "event_notifications_source_name must be 2 to 256 printable characters",
            ));
        }
        let description = r.event_notifications_source_description.unwrap_or_default();
        check_description(&description)?;
        let record = NotificationRegistrationRecord {
            instance_id: instance_id.to_owned(),
            instance_crn: crn.to_owned(),
            source_name: name.to_owned(),
            source_description: description,
            created_by: principal.id.clone(),
            created_at: to_millis(self.now()),
        };
        self.store.create_notification_registration(&record).await?;
        Ok(record)
    }

    /// The registration.
    pub async fn get_notifications_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<NotificationRegistrationRecord> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        self.store
            .get_notification_registration(instance_id)
            .await?
            .ok_or(ServiceError::NotFound("notifications registration"))
    }

    /// Removes the registration.
    pub async fn delete_notifications_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        if self
            .store
            .delete_notification_registration(instance_id)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound("notifications registration"))
        }
    }

    /// The test event: checks that a registration exists. (Delivery is the events service's.)
    pub async fn test_notifications_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<()> {
        self.get_notifications_registration(principal, instance_id)
            .await
            .map(|_| ())
    }
}
