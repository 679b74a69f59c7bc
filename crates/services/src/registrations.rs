//! Registrations: the cloud resources (CRNs) a key protects, recorded by the services that use
//! the key. A key with registrations is deleted only with `force`, and never while one of them
//! prevents deletion.

use std::sync::Arc;

use arca_store::{RegistrationRecord, Store};

use crate::access::{AccessService, Permission, Scope};
use crate::auth::Principal;
use crate::clock::{Clock, to_millis};
use crate::instances::InstanceService;
use crate::keys::{KeyService, KeyState};
use crate::{ServiceError, ServiceResult, kms_access};

/// Longest CRN accepted.
const MAX_CRN: usize = 512;

/// Registrations of key-service instances.
#[derive(Debug, Clone)]
pub struct RegistrationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    keys: KeyService,
}

/// Whether `crn` is a CRN: `crn:v1:` and ten colon-separated segments.
fn is_crn(crn: &str) -> bool {
    crn.len() <= MAX_CRN
        && crn.starts_with("crn:v1:")
        && crn.split(':').count() == 10
        && !crn.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Matches a CRN against a query where `*` in a segment is a wildcard and a trailing `*` in the
/// last given segment is a prefix match (Key Protect's `urlEncodedResourceCRNQuery`).
pub fn crn_matches(query: &str, crn: &str) -> bool {
    let q: Vec<&str> = query.split(':').collect();
    let c: Vec<&str> = crn.split(':').collect();
    if q.len() > c.len() {
        return false;
    }
    for (i, (qs, cs)) in q.iter().zip(&c).enumerate() {
        let last = i + 1 == q.len();
        let ok = match qs.strip_suffix('*') {
            _ if *qs == "*" => true,
            Some(prefix) if last => cs.starts_with(prefix),
            _ => qs == cs,
        };
        if !ok {
            return false;
        }
    }
    // A query with fewer segments must end in a wildcard to match longer CRNs.
    q.len() == c.len() || q.last().is_some_and(|s| s.ends_with('*'))
}

impl RegistrationService {
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

    /// Registers (or updates) a resource on a key. The key must not be deleted.
    pub async fn register(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
        resource_crn: &str,
        prevent_key_deletion: bool,
        description: Option<String>,
    ) -> ServiceResult<RegistrationRecord> {
        // A service instance authorized on the key (or on all keys) registers itself on it:
        // first any authorization on the instance, then, once the key is resolved, one that
        // covers it.
        kms_access::authorize_in(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Scope::AnyKey,
            Permission::Wrap,
        )
        .await?;
        if !is_crn(resource_crn) {
            return Err(ServiceError::InvalidInput(
                "resource CRN must look like crn:v1:<cloud>:<type>:<service>:<region>:<scope>:<instance>:<resource type>:<resource>".into(),
            ));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 240)
        {
            return Err(ServiceError::InvalidInput(
                "description must be at most 240 characters".into(),
            ));
        }
        let key = self
            .keys
            .get(principal, instance_id, key_ref, false)
            .await?;
        self.access
            .require_in(
                principal,
                instance_id,
                Scope::Key(&key.record.id),
                Permission::Wrap,
            )
            .await?;
        if key.state == KeyState::Destroyed {
            return Err(ServiceError::InvalidState(
                "Key has already been deleted".into(),
            ));
        }
        let now = to_millis(self.clock.now());
        let existing = self
            .store
            .list_registrations(instance_id, Some(&key.record.id))
            .await?
            .into_iter()
            .find(|r| r.resource_crn == resource_crn);
        let record = RegistrationRecord {
            key_id: key.record.id.clone(),
            resource_crn: resource_crn.to_owned(),
            instance_id: instance_id.to_owned(),
            prevent_key_deletion,
            description,
            key_version_id: key.record.current_version_id.clone(),
            created_by: existing
                .as_ref()
                .map_or_else(|| principal.id.clone(), |e| e.created_by.clone()),
            creation_date: existing.as_ref().map_or(now, |e| e.creation_date),
            updated_by: principal.id.clone(),
            last_updated: now,
        };
        self.store.put_registration(&record).await?;
        tracing::info!(instance_id, key_id = %record.key_id, "registration recorded");
        Ok(record)
    }

    /// Removes a registration.
    pub async fn deregister(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: &str,
        resource_crn: &str,
    ) -> ServiceResult<()> {
        // As for `register`: any authorization on the instance first, then one that covers
        // the resolved key.
        kms_access::authorize_in(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Scope::AnyKey,
            Permission::Wrap,
        )
        .await?;
        let key = self
            .keys
            .get(principal, instance_id, key_ref, false)
            .await?;
        self.access
            .require_in(
                principal,
                instance_id,
                Scope::Key(&key.record.id),
                Permission::Wrap,
            )
            .await?;
        if !self
            .store
            .delete_registration(&key.record.id, resource_crn)
            .await?
        {
            return Err(ServiceError::NotFound("registration"));
        }
        Ok(())
    }

    /// Registrations of the instance, or of one key, filtered by a CRN query and by
    /// `preventKeyDeletion`.
    pub async fn list(
        &self,
        principal: &Principal,
        instance_id: &str,
        key_ref: Option<&str>,
        crn_query: Option<&str>,
        prevent_key_deletion: Option<bool>,
    ) -> ServiceResult<Vec<RegistrationRecord>> {
        // One key's registrations: any authorization first, the key's own check in `get`.
        // The whole instance's: an authorization for all keys.
        let scope = if key_ref.is_some() {
            Scope::AnyKey
        } else {
            Scope::Instance
        };
        kms_access::authorize_in(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            scope,
            Permission::Read,
        )
        .await?;
        let key_id = match key_ref {
            Some(k) => Some(
                self.keys
                    .get(principal, instance_id, k, false)
                    .await?
                    .record
                    .id,
            ),
            None => None,
        };
        if let Some(q) = crn_query
            && key_id.is_none()
            && q.split(':').take(8).any(|s| s.contains('*'))
        {
            return Err(ServiceError::InvalidInput(
                "a CRN query over all keys may not use * in its first 8 segments".into(),
            ));
        }
        Ok(self
            .store
            .list_registrations(instance_id, key_id.as_deref())
            .await?
            .into_iter()
            .filter(|r| crn_query.is_none_or(|q| crn_matches(q, &r.resource_crn)))
            .filter(|r| prevent_key_deletion.is_none_or(|p| p == r.prevent_key_deletion))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRN: &str = "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst:secret:abc";

    #[test]
    fn crn_queries_match_with_wildcards() {
        assert!(is_crn(CRN));
        assert!(!is_crn("crn:v1:short"));
        assert!(!is_crn("not a crn"));
        assert!(crn_matches(CRN, CRN));
        assert!(crn_matches(
            "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst:secret:*",
            CRN
        ));
        assert!(crn_matches(
            "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst:secret:a*",
            CRN
        ));
        assert!(crn_matches(
            "crn:v1:bluemix:public:secrets-manager:*:a/acct:inst:secret:abc",
            CRN
        ));
        assert!(crn_matches(
            "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst*",
            CRN
        ));
        assert!(!crn_matches(
            "crn:v1:bluemix:public:kms:us-south:a/acct:inst:secret:abc",
            CRN
        ));
        assert!(!crn_matches(
            "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst",
            CRN
        ));
        assert!(!crn_matches(
            "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst:secret:b*",
            CRN
        ));
    }
}
