//! `/secret_groups`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{SmResult, body, json, optional_body, wire};
use crate::AppState;
use crate::extract::Caller;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    description: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupPatch {
    name: Option<String>,
    description: Option<String>,
}

/// `POST /secret_groups`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let req: NewGroup = body(&bytes)?;
    let group = state
        .arca
        .secrets
        .create_group(&caller, &instance, &req.name, req.description.as_deref())
        .await?;
    json(StatusCode::CREATED, wire::group(&group))
}

/// `GET /secret_groups`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
) -> SmResult {
    let groups = state.arca.secrets.list_groups(&caller, &instance).await?;
    let items: Vec<_> = groups.iter().map(wire::group).collect();
    json(
        StatusCode::OK,
        json!({ "total_count": items.len(), "secret_groups": items }),
    )
}

/// `GET /secret_groups/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let group = state
        .arca
        .secrets
        .get_group(&caller, &instance, &id)
        .await?;
    json(StatusCode::OK, wire::group(&group))
}

/// `PATCH /secret_groups/{id}` (merge-patch).
pub(crate) async fn update(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let patch: GroupPatch = optional_body(&bytes)?;
    let group = state
        .arca
        .secrets
        .update_group(
            &caller,
            &instance,
            &id,
            patch.name.as_deref(),
            patch.description.as_deref(),
        )
        .await?;
    json(StatusCode::OK, wire::group(&group))
}

/// `DELETE /secret_groups/{id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> Result<StatusCode, crate::ApiError> {
    state
        .arca
        .secrets
        .delete_group(&caller, &instance, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
