//! IBM Resource Controller's view of instances: plans, CRN-or-GUID ids, list filters and pages,
//! parameters, and reclamations with ids and states of their own. Every change goes through the
//! instance, secrets and reclamation services: this module only translates.

use std::sync::Arc;

use arca_store::Store;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::clock::{Clock, from_millis};
use crate::instances::{Instance, InstanceService, ServiceKind};
use crate::reclamations::{Reclamation, ReclamationService};
use crate::secrets::SecretsService;
use crate::{ServiceError, ServiceResult};

/// A catalog plan: Arca has one per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The offering's id (`resource_id`): the service's catalog name.
    pub resource_id: &'static str,
    /// The plan's id (`resource_plan_id`).
    pub plan_id: &'static str,
    /// Which service.
    pub service: ServiceKind,
}

/// The plans, one per service.
pub const PLANS: [Plan; 2] = [
    Plan {
        resource_id: "kms",
        plan_id: "arca-kms-standard",
        service: ServiceKind::Kms,
    },
    Plan {
        resource_id: "secrets-manager",
        plan_id: "arca-secrets-manager-standard",
        service: ServiceKind::SecretsManager,
    },
];

impl Plan {
    /// The plan of a service.
    pub fn of(service: ServiceKind) -> &'static Self {
        match service {
            ServiceKind::Kms => &PLANS[0],
            ServiceKind::SecretsManager => &PLANS[1],
        }
    }

    /// A plan by plan id or by the service's catalog name (`kms`, `secrets-manager`).
    pub fn find(id: &str) -> Option<&'static Self> {
        PLANS
            .iter()
            .find(|p| p.plan_id == id || p.resource_id == id)
    }
}

/// Instance parameters (`parameters` of create and update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    /// Secrets instances: `Some(Some(crn))` sets the customer root key, `Some(None)` goes back
    /// to the provider-managed key, `None` leaves it.
    pub root_key_crn: Option<Option<String>>,
}

/// An instance as the Resource Controller shows it.
#[derive(Debug, Clone)]
pub struct ResourceInstance {
    /// The instance.
    pub instance: Instance,
    /// Its plan.
    pub plan: &'static Plan,
    /// The region it is in.
    pub region: String,
    /// Its customer root key (active secrets instances with one).
    pub root_key_crn: Option<String>,
    /// When it last changed after its creation.
    pub updated_at: Option<OffsetDateTime>,
    /// Its reclamation, when deleted.
    pub reclamation: Option<Reclamation>,
}

impl ResourceInstance {
    /// The Resource Controller's state: `active`, or `pending_reclamation` once deleted.
    pub fn state(&self) -> &'static str {
        if self.instance.state == "active" {
            "active"
        } else {
            "pending_reclamation"
        }
    }
}

/// What `list` returns only.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Instance id.
    pub guid: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Offering (`kms`, `secrets-manager`).
    pub resource_id: Option<String>,
    /// Plan id (or the service's catalog name).
    pub resource_plan_id: Option<String>,
    /// `active` (the default), `pending_reclamation` or `removed` (none: reclaimed instances
    /// leave nothing behind).
    pub state: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// The instances.
    pub resources: Vec<ResourceInstance>,
    /// The `start` token of the next page, if there is one.
    pub next_start: Option<String>,
}

/// What a reclamation action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReclamationAction {
    /// Restored the instance.
    Restore,
    /// Reclaimed (removed) it.
    Reclaim,
}

impl ReclamationAction {
    /// Parses an action name (`restore`, `reclaim`).
    pub fn parse(s: &str) -> ServiceResult<Self> {
        match s {
            "restore" => Ok(Self::Restore),
            "reclaim" => Ok(Self::Reclaim),
            _ => Err(ServiceError::InvalidInput(
                "the reclamation action must be restore or reclaim".into(),
            )),
        }
    }

    /// The Resource Controller's reclamation state after the action.
    pub fn state(self) -> &'static str {
        match self {
            Self::Restore => "RESTORING",
            Self::Reclaim => "RECLAIMING",
        }
    }
}

/// A reclamation and when an action on it ran.
#[derive(Debug, Clone)]
pub struct ActedReclamation {
    /// The reclamation as it was before the action.
    pub reclamation: Reclamation,
    /// The action.
    pub action: ReclamationAction,
    /// When it ran.
    pub at: OffsetDateTime,
}

/// Largest page.
const MAX_LIMIT: usize = 100;

/// The Resource Controller API over the instance, secrets and reclamation services.
#[derive(Debug, Clone)]
pub struct ResourceControllerService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    secrets: SecretsService,
    reclamations: ReclamationService,
}

impl ResourceControllerService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        secrets: SecretsService,
        reclamations: ReclamationService,
    ) -> Self {
        Self {
            store,
            clock,
            instances,
            secrets,
            reclamations,
        }
    }

    /// The instance id named by a GUID or a CRN (URL-decoded). An id that names nothing of
    /// Arca's is "not found".
    fn instance_id(&self, id: &str) -> ServiceResult<String> {
        if !id.starts_with("crn:") {
            return Ok(id.to_owned());
        }
        // crn:v1:arca:private:<service>:<region>:a/<account>:<instance>::
        id.split(':')
            .nth(7)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or(ServiceError::NotFound("instance"))
    }

    async fn instance(&self, principal: &Principal, id: &str) -> ServiceResult<Instance> {
        let instance = self
            .instances
            .get(principal, &self.instance_id(id)?)
            .await?;
        if id.starts_with("crn:") && id != instance.crn {
            return Err(ServiceError::NotFound("instance"));
        }
        Ok(instance)
    }

    async fn view(
        &self,
        principal: &Principal,
        instance: Instance,
    ) -> ServiceResult<ResourceInstance> {
        let updated_at = self
            .store
            .instance_updated_at(&instance.id)
            .await?
            .map(from_millis);
        let (root_key_crn, reclamation) = if instance.state == "active" {
            let root = if instance.service == ServiceKind::SecretsManager {
                // Every member of the account sees its instances; the root key only those
                // with a role on the instance (the rest see no parameters).
                match self.secrets.root_key_status(principal, &instance.id).await {
                    Ok(status) => status.root_key_crn,
                    Err(ServiceError::Forbidden(_)) => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            (root, None)
        } else {
            let r = self
                .store
                .get_reclamation(&instance.id)
                .await?
                .map(|r| Reclamation {
                    instance: instance.clone(),
                    deleted_by: r.deleted_by,
                    deleted_at: from_millis(r.deleted_at),
                    reclaim_at: from_millis(r.reclaim_at),
                });
            (None, r)
        };
        Ok(ResourceInstance {
            plan: Plan::of(instance.service),
            region: self.instances.region().to_owned(),
            instance,
            root_key_crn,
            updated_at,
            reclamation,
        })
    }

    /// Creates an instance of a plan (a plan id or the service's catalog name). A root key
    /// cannot be given here: the new instance must first be authorized to use it, which needs
    /// its id; set it with an update.
    pub async fn create(
        &self,
        principal: &Principal,
        name: &str,
        plan: &str,
        parameters: &Parameters,
    ) -> ServiceResult<ResourceInstance> {
        principal.require_admin()?;
        let plan = Plan::find(plan).ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "unknown resource_plan_id {plan:?}: use {} or {}",
                PLANS[0].plan_id, PLANS[1].plan_id
            ))
        })?;
        if parameters.root_key_crn.is_some() {
            return Err(ServiceError::InvalidInput(
                "root_key_crn cannot be set at creation: authorize the new instance to use the \
                 key (arca iam authorization-create), then update the instance with it"
                    .into(),
            ));
        }
        let instance = self.instances.create(principal, name, plan.service).await?;
        self.view(principal, instance).await
    }

    /// An instance by GUID or CRN.
    pub async fn get(&self, principal: &Principal, id: &str) -> ServiceResult<ResourceInstance> {
        let instance = self.instance(principal, id).await?;
        self.view(principal, instance).await
    }

    /// The caller's instances matching `filter`, `limit` at a time (default and most 100)
    /// from the `start` token of a previous page.
    pub async fn list(
        &self,
        principal: &Principal,
        filter: &ListFilter,
        limit: Option<usize>,
        start: Option<&str>,
    ) -> ServiceResult<Page> {
        let limit = limit.unwrap_or(MAX_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ServiceError::InvalidInput(format!(
                "limit must be 1 to {MAX_LIMIT}"
            )));
        }
        let offset = match start {
            None => 0,
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| ServiceError::InvalidInput("invalid start token".into()))?,
        };
        let state = filter.state.as_deref().unwrap_or("active");
        if !matches!(state, "active" | "pending_reclamation" | "removed") {
            return Err(ServiceError::InvalidInput(
                "state must be active, pending_reclamation or removed".into(),
            ));
        }
        let plan = match filter.resource_plan_id.as_deref() {
            None => None,
            Some(p) => match Plan::find(p) {
                Some(p) => Some(p),
                // An unknown plan matches nothing (as an unknown name does).
                None => {
                    return Ok(Page {
                        resources: Vec::new(),
                        next_start: None,
                    });
                }
            },
        };
        let matching: Vec<Instance> = self
            .instances
            .list(principal)
            .await?
            .into_iter()
            .filter(|i| filter.guid.as_deref().is_none_or(|g| g == i.id))
            .filter(|i| filter.name.as_deref().is_none_or(|n| n == i.name))
            .filter(|i| {
                filter
                    .resource_id
                    .as_deref()
                    .is_none_or(|r| r == Plan::of(i.service).resource_id)
            })
            .filter(|i| plan.is_none_or(|p| p.service == i.service))
            .filter(|i| (i.state == "active") == (state == "active") && state != "removed")
            .collect();
        let more = matching.len() > offset.saturating_add(limit);
        let mut resources = Vec::new();
        for instance in matching.into_iter().skip(offset).take(limit) {
            resources.push(self.view(principal, instance).await?);
        }
        Ok(Page {
            resources,
            next_start: more.then(|| (offset + limit).to_string()),
        })
    }

    /// Renames an instance and applies its parameters (a secrets instance's root key). A plan,
    /// if given, must be the instance's own: there is one per service.
    pub async fn update(
        &self,
        principal: &Principal,
        id: &str,
        name: Option<&str>,
        plan: Option<&str>,
        parameters: &Parameters,
    ) -> ServiceResult<ResourceInstance> {
        principal.require_admin()?;
        let instance = self.instance(principal, id).await?;
        instance.require_active()?;
        if plan.is_some_and(|p| Plan::find(p) != Some(Plan::of(instance.service))) {
            return Err(ServiceError::InvalidInput(format!(
                "the plan cannot change: {} instances have the one plan {}",
                instance.service.as_str(),
                Plan::of(instance.service).plan_id
            )));
        }
        if let Some(root) = &parameters.root_key_crn {
            if instance.service != ServiceKind::SecretsManager {
                return Err(ServiceError::InvalidInput(
                    "root_key_crn applies to secrets-manager instances only".into(),
                ));
            }
            self.secrets
                .set_root_key(principal, &instance.id, root.as_deref())
                .await?;
        }
        let instance = match name {
            Some(name) => self.instances.rename(principal, &instance.id, name).await?,
            None => instance,
        };
        self.view(principal, instance).await
    }

    /// Deletes an instance: disabled at once, restorable until its reclamation time.
    pub async fn delete(&self, principal: &Principal, id: &str) -> ServiceResult<Reclamation> {
        let instance = self.instance(principal, id).await?;
        self.reclamations.delete(principal, &instance.id).await
    }

    /// The caller's reclamations, optionally of one account (the caller's: another has none
    /// visible) or of one instance (GUID or CRN). A reclamation's id is its instance's GUID.
    pub async fn reclamations(
        &self,
        principal: &Principal,
        account_id: Option<&str>,
        resource_instance_id: Option<&str>,
    ) -> ServiceResult<Vec<Reclamation>> {
        if account_id.is_some_and(|a| a != principal.account_id) {
            return Ok(Vec::new());
        }
        let instance_id = resource_instance_id
            .map(|i| self.instance_id(i))
            .transpose()?;
        Ok(self
            .reclamations
            .list(principal)
            .await?
            .into_iter()
            .filter(|r| {
                instance_id.as_deref().is_none_or(|i| i == r.instance.id)
                    && resource_instance_id
                        .is_none_or(|i| !i.starts_with("crn:") || i == r.instance.crn)
            })
            .collect())
    }

    /// Restores or reclaims a deleted instance, by reclamation id (its instance's GUID).
    pub async fn run_reclamation_action(
        &self,
        principal: &Principal,
        reclamation_id: &str,
        action: &str,
    ) -> ServiceResult<ActedReclamation> {
        let action = ReclamationAction::parse(action)?;
        principal.require_admin()?;
        let instance = self
            .instances
            .get(principal, reclamation_id)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound(_) => ServiceError::NotFound("reclamation"),
                other => other,
            })?;
        let record = self
            .store
            .get_reclamation(&instance.id)
            .await?
            .ok_or(ServiceError::NotFound("reclamation"))?;
        let reclamation = Reclamation {
            instance,
            deleted_by: record.deleted_by,
            deleted_at: from_millis(record.deleted_at),
            reclaim_at: from_millis(record.reclaim_at),
        };
        match action {
            ReclamationAction::Restore => {
                self.reclamations
                    .restore(principal, &reclamation.instance.id)
                    .await?;
            }
            ReclamationAction::Reclaim => {
                self.reclamations
                    .reclaim(principal, &reclamation.instance.id)
                    .await?;
            }
        }
        Ok(ActedReclamation {
            reclamation,
            action,
            at: self.clock.now(),
        })
    }
}
