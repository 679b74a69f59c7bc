//! Service instances: `/v1/instances`.

use arca_proto::instance::{
    self as wire, CreateInstanceRequest, InstanceList, RootKeyStatus, SetRootKeyRequest,
};
use arca_services::{Instance, ServiceKind};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::extract::{ApiJson, Caller};
use crate::{ApiError, AppState};

fn to_wire(i: Instance) -> wire::Instance {
    wire::Instance {
        id: i.id,
        crn: i.crn,
        account_id: i.account_id,
        name: i.name,
        service: match i.service {
            ServiceKind::Kms => wire::ServiceKind::Kms,
            ServiceKind::SecretsManager => wire::ServiceKind::SecretsManager,
        },
        state: i.state,
        created_at: rfc3339(i.created_at),
    }
}

/// `POST /v1/instances`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreateInstanceRequest>,
) -> Result<(StatusCode, Json<wire::Instance>), ApiError> {
    let service = match req.service {
        wire::ServiceKind::Kms => ServiceKind::Kms,
        wire::ServiceKind::SecretsManager => ServiceKind::SecretsManager,
    };
    let instance = state
        .arca
        .instances
        .create(&caller, &req.name, service)
        .await?;
    Ok((StatusCode::CREATED, Json(to_wire(instance))))
}

/// `GET /v1/instances`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<InstanceList>, ApiError> {
    let instances = state.arca.instances.list(&caller).await?;
    Ok(Json(InstanceList {
        instances: instances.into_iter().map(to_wire).collect(),
    }))
}

/// `GET /v1/instances/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<wire::Instance>, ApiError> {
    let Path(id) = path?;
    Ok(Json(to_wire(state.arca.instances.get(&caller, &id).await?)))
}

fn root_status(s: arca_services::secrets::RootKeyStatus) -> RootKeyStatus {
    RootKeyStatus {
        provider_managed: s.root_key_crn.is_none(),
        root_key_crn: s.root_key_crn,
        data_keys_total: s.total,
        data_keys_pending: s.pending,
    }
}

/// `GET /v1/instances/{id}/root_key` (secrets instances).
pub(crate) async fn root_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<RootKeyStatus>, ApiError> {
    let status = state.arca.secrets.root_key_status(&caller, &id).await?;
    Ok(Json(root_status(status)))
}

/// `PUT /v1/instances/{id}/root_key`: sets or removes the customer root key.
pub(crate) async fn set_root_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetRootKeyRequest>,
) -> Result<Json<RootKeyStatus>, ApiError> {
    let status = state
        .arca
        .secrets
        .set_root_key(&caller, &id, req.root_key_crn.as_deref())
        .await?;
    Ok(Json(root_status(status)))
}

/// `POST /v1/instances/{id}/root_key/reencrypt`: moves one batch of data keys to the root key
/// now (the background jobs do it too) and returns the progress.
pub(crate) async fn reencrypt(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<RootKeyStatus>, ApiError> {
    let status = state.arca.secrets.reencrypt(&caller, &id).await?;
    Ok(Json(root_status(status)))
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Arca's own shape of a reclamation.
pub(crate) fn to_native_reclamation(
    r: arca_services::reclamations::Reclamation,
) -> wire::Reclamation {
    wire::Reclamation {
        instance: to_wire(r.instance),
        deleted_by: r.deleted_by,
        deleted_at: rfc3339(r.deleted_at),
        reclaim_at: rfc3339(r.reclaim_at),
    }
}

/// `DELETE /v1/instances/{id}`: disables the instance and starts its reclamation period.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<wire::Reclamation>), ApiError> {
    let r = state.arca.reclamations.delete(&caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(to_native_reclamation(r))))
}

/// `POST /v1/reclamations/{id}/restore`.
pub(crate) async fn restore(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::Instance>, ApiError> {
    let instance = state.arca.reclamations.restore(&caller, &id).await?;
    Ok(Json(to_wire(instance)))
}

/// `POST /v1/reclamations/{id}/reclaim`: removes the instance for good, now.
pub(crate) async fn reclaim(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.arca.reclamations.reclaim(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
