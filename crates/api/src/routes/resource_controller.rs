//! IBM Resource Controller v2 over Arca's instances: `/v2/resource_instances` and the
//! reclamation actions of `/v1/reclamations` (whose list it shares with Arca's own API).

use arca_proto::instance::ReclamationList;
use arca_proto::resource_controller::{
    self as wire, CreateResourceInstance, LastOperation, ReclamationActionRequest,
    ResourceInstancesList, UpdateResourceInstance,
};
use arca_services::reclamations::Reclamation;
use arca_services::resource_controller::{ListFilter, Parameters, ResourceInstance};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::extract::{ApiJson, Caller};
use crate::routes::instances::{rfc3339, to_native_reclamation};
use crate::{ApiError, AppState};

const RESOURCE_INSTANCES: &str = "/v2/resource_instances";

/// The known parameters: `root_key_crn` (a string, or `null` for the provider-managed key).
fn parameters(map: Option<Map<String, Value>>) -> Result<Parameters, ApiError> {
    let mut out = Parameters::default();
    for (name, value) in map.unwrap_or_default() {
        match (name.as_str(), value) {
            ("root_key_crn", Value::String(crn)) => out.root_key_crn = Some(Some(crn)),
            ("root_key_crn", Value::Null) => out.root_key_crn = Some(None),
            ("root_key_crn", _) => {
                return Err(ApiError::InvalidBody(
                    "parameters.root_key_crn must be a string or null".into(),
                ));
            }
            (other, _) => {
                return Err(ApiError::InvalidBody(format!(
                    "unknown parameter {other:?}: the only one is root_key_crn"
                )));
            }
        }
    }
    Ok(out)
}

fn to_wire(r: ResourceInstance) -> wire::ResourceInstance {
    let state = r.state();
    let i = r.instance;
    let mut parameters = Map::new();
    if let Some(crn) = r.root_key_crn {
        parameters.insert("root_key_crn".into(), Value::String(crn));
    }
    let last_operation = match (&r.reclamation, r.updated_at) {
        (Some(rec), _) => LastOperation {
            kind: "delete".into(),
            state: "succeeded".into(),
            is_async: false,
            description: format!(
                "deleted; reclaimed at {} unless restored first",
                rfc3339(rec.reclaim_at)
            ),
        },
        (None, Some(_)) => LastOperation {
            kind: "update".into(),
            state: "succeeded".into(),
            is_async: false,
            description: "updated".into(),
        },
        (None, None) => LastOperation {
            kind: "create".into(),
            state: "succeeded".into(),
            is_async: false,
            description: "created".into(),
        },
    };
    wire::ResourceInstance {
        url: format!("{RESOURCE_INSTANCES}/{}", i.id),
        id: i.crn.clone(),
        guid: i.id,
        crn: i.crn,
        name: i.name,
        account_id: i.account_id,
        region_id: r.region,
        resource_id: r.plan.resource_id.into(),
        resource_plan_id: r.plan.plan_id.into(),
        resource_group_id: "default".into(),
        kind: "service_instance".into(),
        sub_type: i.service.as_str().into(),
        state: state.into(),
        parameters,
        allow_cleanup: false,
        locked: false,
        created_at: rfc3339(i.created_at),
        updated_at: rfc3339(r.updated_at.unwrap_or(i.created_at)),
        deleted_at: r.reclamation.as_ref().map(|rec| rfc3339(rec.deleted_at)),
        deleted_by: r.reclamation.as_ref().map(|rec| rec.deleted_by.clone()),
        scheduled_reclaim_at: r.reclamation.as_ref().map(|rec| rfc3339(rec.reclaim_at)),
        dashboard_url: None,
        last_operation,
    }
}

fn to_wire_reclamation(
    r: &Reclamation,
    state: &str,
    updated: Option<(time::OffsetDateTime, &str)>,
) -> wire::Reclamation {
    let (updated_at, updated_by) = updated.unwrap_or((r.deleted_at, r.deleted_by.as_str()));
    wire::Reclamation {
        id: r.instance.id.clone(),
        entity_id: r.instance.id.clone(),
        entity_type_id: "resource-instance".into(),
        entity_crn: r.instance.crn.clone(),
        resource_instance_id: r.instance.id.clone(),
        resource_group_id: "default".into(),
        account_id: r.instance.account_id.clone(),
        state: state.into(),
        target_time: rfc3339(r.reclaim_at),
        created_at: rfc3339(r.deleted_at),
        created_by: r.deleted_by.clone(),
        updated_at: rfc3339(updated_at),
        updated_by: updated_by.into(),
    }
}

/// `POST /v2/resource_instances`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreateResourceInstance>,
) -> Result<(StatusCode, Json<wire::ResourceInstance>), ApiError> {
    let params = parameters(req.parameters)?;
    let instance = state
        .arca
        .resource_controller
        .create(&caller, &req.name, &req.resource_plan_id, &params)
        .await?;
    Ok((StatusCode::CREATED, Json(to_wire(instance))))
}

/// Query of `GET /v2/resource_instances` (also what `next_url` repeats).
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
}

/// `GET /v2/resource_instances`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ResourceInstancesList>, ApiError> {
    let Query(mut q) = query?;
    let filter = ListFilter {
        guid: q.guid.clone(),
        name: q.name.clone(),
        resource_id: q.resource_id.clone(),
        resource_plan_id: q.resource_plan_id.clone(),
        state: q.state.clone(),
    };
    let page = state
        .arca
        .resource_controller
        .list(&caller, &filter, q.limit, q.start.as_deref())
        .await?;
    let next_url = match page.next_start {
        Some(start) => {
            q.start = Some(start);
            let qs = serde_urlencoded::to_string(&q)
                .map_err(|e| ApiError::InvalidBody(format!("invalid query: {e}")))?;
            Some(format!("{RESOURCE_INSTANCES}?{qs}"))
        }
        None => None,
    };
    let resources: Vec<_> = page.resources.into_iter().map(to_wire).collect();
    Ok(Json(ResourceInstancesList {
        rows_count: resources.len(),
        next_url,
        resources,
    }))
}

/// `GET /v2/resource_instances/{id}` (GUID or URL-encoded CRN).
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<wire::ResourceInstance>, ApiError> {
    let Path(id) = path?;
    let instance = state.arca.resource_controller.get(&caller, &id).await?;
    Ok(Json(to_wire(instance)))
}

/// `PATCH /v2/resource_instances/{id}`: name and parameters.
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<UpdateResourceInstance>,
) -> Result<Json<wire::ResourceInstance>, ApiError> {
    let Path(id) = path?;
    let params = parameters(req.parameters)?;
    let instance = state
        .arca
        .resource_controller
        .update(
            &caller,
            &id,
            req.name.as_deref(),
            req.resource_plan_id.as_deref(),
            &params,
        )
        .await?;
    Ok(Json(to_wire(instance)))
}

/// `DELETE /v2/resource_instances/{id}`: starts the reclamation period. (`recursive` changes
/// nothing: Arca instances have no resource keys, aliases or bindings.)
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path?;
    state.arca.resource_controller.delete(&caller, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Query of `GET /v1/reclamations`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReclamationsQuery {
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    resource_instance_id: Option<String>,
}

/// `GET /v1/reclamations`: Arca's list (`reclamations`) and the Resource Controller's
/// (`resources`), of the same reclamations.
pub(crate) async fn reclamations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<ReclamationsQuery>, QueryRejection>,
) -> Result<Json<ReclamationList>, ApiError> {
    let Query(q) = query?;
    let list = state
        .arca
        .resource_controller
        .reclamations(
            &caller,
            q.account_id.as_deref(),
            q.resource_instance_id.as_deref(),
        )
        .await?;
    Ok(Json(ReclamationList {
        resources: list
            .iter()
            .map(|r| to_wire_reclamation(r, "SCHEDULED", None))
            .collect(),
        reclamations: list.into_iter().map(to_native_reclamation).collect(),
    }))
}

/// `POST /v1/reclamations/{id}/actions/{action_name}`: `restore` or `reclaim`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Json<wire::Reclamation>, ApiError> {
    let Path((id, action)) = path?;
    // The body (optional) only comments on the action: checked, not kept.
    if !body.is_empty() {
        serde_json::from_slice::<ReclamationActionRequest>(&body)
            .map_err(|e| ApiError::InvalidBody(format!("invalid JSON body: {e}")))?;
    }
    let acted = state
        .arca
        .resource_controller
        .run_reclamation_action(&caller, &id, &action)
        .await?;
    Ok(Json(to_wire_reclamation(
        &acted.reclamation,
        acted.action.state(),
        Some((acted.at, caller.id.as_str())),
    )))
}
