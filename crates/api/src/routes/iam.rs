//! Identity administration: `/v1/iam/...`.

use arca_proto::iam::{
    ApiKey, ApiKeyList, Authorization, AuthorizationList, CreateApiKeyRequest,
    CreateAuthorizationRequest, CreateGrantRequest, CreatePrincipalRequest, CreatedApiKey, Grant,
    GrantList, Principal, PrincipalList,
};
use arca_services::clock::rfc3339;
use arca_store::{ApiKeyRecord, PrincipalRecord, RoleGrantRecord, ServiceAuthorizationRecord};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::extract::{ApiJson, Caller};
use crate::{ApiError, AppState};

fn principal(p: PrincipalRecord) -> Principal {
    Principal {
        id: p.id,
        account_id: p.account_id,
        kind: p.kind.as_str().to_owned(),
        name: p.name,
        is_admin: p.is_admin,
        created_at: rfc3339(p.created_at),
    }
}

fn api_key(k: ApiKeyRecord) -> ApiKey {
    ApiKey {
        id: k.id,
        principal_id: k.principal_id,
        name: k.name,
        created_at: rfc3339(k.created_at),
    }
}

fn grant(g: RoleGrantRecord) -> Grant {
    Grant {
        id: g.id,
        principal_id: g.principal_id,
        instance_id: g.instance_id,
        role: g.role,
        created_by: g.created_by,
        created_at: rfc3339(g.created_at),
    }
}

fn authorization(a: ServiceAuthorizationRecord) -> Authorization {
    Authorization {
        id: a.id,
        source_service_name: a.source_service,
        source_service_instance_id: a.source_instance_id,
        target_service_name: "kms".to_owned(),
        target_service_instance_id: a.target_instance_id,
        target_key_id: a.target_key_id,
        role: a.role,
        created_by: a.created_by,
        created_at: rfc3339(a.created_at),
    }
}

/// `POST /v1/iam/principals`.
pub(crate) async fn create_principal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreatePrincipalRequest>,
) -> Result<(StatusCode, Json<Principal>), ApiError> {
    let p = state
        .arca
        .iam
        .create_principal(&caller, &req.kind, &req.name)
        .await?;
    Ok((StatusCode::CREATED, Json(principal(p))))
}

/// `GET /v1/iam/principals`.
pub(crate) async fn list_principals(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<PrincipalList>, ApiError> {
    let list = state.arca.iam.principals(&caller).await?;
    Ok(Json(PrincipalList {
        principals: list.into_iter().map(principal).collect(),
    }))
}

/// `POST /v1/iam/api-keys`: the key is in the answer, once.
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let created = state
        .arca
        .iam
        .create_api_key(&caller, &req.principal_id, &req.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key: created.text.to_string(),
            key: api_key(created.record),
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct KeysQuery {
    principal_id: String,
}

/// `GET /v1/iam/api-keys?principal_id=`.
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<KeysQuery>, QueryRejection>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let Query(q) = query?;
    let keys = state.arca.iam.api_keys(&caller, &q.principal_id).await?;
    Ok(Json(ApiKeyList {
        api_keys: keys.into_iter().map(api_key).collect(),
    }))
}

/// `DELETE /v1/iam/api-keys/{id}`: 204.
pub(crate) async fn delete_api_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path?;
    state.arca.iam.delete_api_key(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/iam/grants`.
pub(crate) async fn create_grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreateGrantRequest>,
) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let g = state
        .arca
        .iam
        .grant(&caller, &req.principal_id, &req.instance_id, &req.role)
        .await?;
    Ok((StatusCode::CREATED, Json(grant(g))))
}

/// `GET /v1/iam/grants`.
pub(crate) async fn list_grants(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<GrantList>, ApiError> {
    let list = state.arca.iam.grants(&caller).await?;
    Ok(Json(GrantList {
        grants: list.into_iter().map(grant).collect(),
    }))
}

/// `DELETE /v1/iam/grants/{id}`: 204.
pub(crate) async fn delete_grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path?;
    state.arca.iam.revoke(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/iam/authorizations`: 201 with the authorization.
pub(crate) async fn create_authorization(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<CreateAuthorizationRequest>,
) -> Result<(StatusCode, Json<Authorization>), ApiError> {
    let a = state
        .arca
        .iam
        .create_authorization(
            &caller,
            &req.source_service_instance_id,
            &req.target_service_instance_id,
            req.target_key_id.as_deref(),
            &req.role,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(authorization(a))))
}

/// `GET /v1/iam/authorizations`.
pub(crate) async fn list_authorizations(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<AuthorizationList>, ApiError> {
    let list = state.arca.iam.authorizations(&caller).await?;
    Ok(Json(AuthorizationList {
        authorizations: list.into_iter().map(authorization).collect(),
    }))
}

/// `DELETE /v1/iam/authorizations/{id}`: 204.
pub(crate) async fn delete_authorization(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = path?;
    state.arca.iam.delete_authorization(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
