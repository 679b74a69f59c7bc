//! `/secrets`, their versions, actions and tasks.

use arca_services::secrets::{MetadataPatch, SecretFilter, SecretPrototype, VersionPrototype};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Page, SmResult, base, body, json, list_param, optional_body, present, wire};
use crate::extract::Caller;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    sort: Option<String>,
    search: Option<String>,
    groups: Option<String>,
    secret_types: Option<String>,
    match_all_labels: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct DeleteQuery {
    #[allow(dead_code)] // accepted for the SDK; only custom credentials use it
    force_delete: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionMetadataPatch {
    #[serde(default, deserialize_with = "patch_field")]
    version_custom_metadata: Option<Option<Map<String, Value>>>,
}

fn patch_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct ActionRequest {
    action_type: String,
}

/// `POST /secrets`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let proto: SecretPrototype = body(&bytes)?;
    let s = state
        .arca
        .secrets
        .create_secret(&caller, &instance, proto)
        .await?;
    json(StatusCode::CREATED, wire::secret(&s.secret, &s.data))
}

/// `GET /secrets`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    Query(q): Query<ListQuery>,
) -> SmResult {
    let page = Page::new(q.offset, q.limit, 200, 1000, 10_000_000)?;
    let filter = SecretFilter {
        search: q.search.clone().filter(|s| !s.is_empty()),
        groups: list_param(q.groups.as_deref()),
        secret_types: list_param(q.secret_types.as_deref()),
        match_all_labels: list_param(q.match_all_labels.as_deref()),
        sort: q.sort.clone().filter(|s| !s.is_empty()),
    };
    let secrets = state
        .arca
        .secrets
        .list_secrets(&caller, &instance, &filter)
        .await?;
    let items = secrets
        .iter()
        .map(|s| Value::Object(wire::secret_metadata(s)))
        .collect();
    let filters = present([
        ("sort", q.sort),
        ("search", q.search),
        ("groups", q.groups),
        ("secret_types", q.secret_types),
        ("match_all_labels", q.match_all_labels),
    ]);
    json(
        StatusCode::OK,
        page.collection(
            items,
            "secrets",
            &format!("{}/secrets", base(&instance)),
            &filters,
        ),
    )
}

/// `GET /secrets/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let s = state
        .arca
        .secrets
        .get_secret(&caller, &instance, &id)
        .await?;
    json(StatusCode::OK, wire::secret(&s.secret, &s.data))
}

/// `GET /secret_groups/{group}/secret_types/{type}/secrets/{name}`.
pub(crate) async fn get_by_name(
    State(state): State<AppState>,
    Path((instance, group, secret_type, name)): Path<(String, String, String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let s = state
        .arca
        .secrets
        .get_secret_by_name(&caller, &instance, &group, &secret_type, &name)
        .await?;
    json(StatusCode::OK, wire::secret(&s.secret, &s.data))
}

/// `DELETE /secrets/{id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    Query(_q): Query<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    state
        .arca
        .secrets
        .delete_secret(&caller, &instance, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /secrets/{id}/metadata`.
pub(crate) async fn metadata(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let s = state
        .arca
        .secrets
        .get_secret_metadata(&caller, &instance, &id)
        .await?;
    json(StatusCode::OK, Value::Object(wire::secret_metadata(&s)))
}

/// `PATCH /secrets/{id}/metadata` (merge-patch).
pub(crate) async fn update_metadata(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let patch: MetadataPatch = optional_body(&bytes)?;
    let s = state
        .arca
        .secrets
        .update_secret_metadata(&caller, &instance, &id, patch)
        .await?;
    json(StatusCode::OK, Value::Object(wire::secret_metadata(&s)))
}

/// `POST /secrets/{id}/actions`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let req: ActionRequest = body(&bytes)?;
    let revoked_at = state
        .arca
        .secrets
        .secret_action(&caller, &instance, &id, None, &req.action_type)
        .await?;
    json(
        StatusCode::CREATED,
        json!({ "action_type": req.action_type, "revocation_time_seconds": revoked_at }),
    )
}

/// `POST /secrets/{id}/versions`.
pub(crate) async fn create_version(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let proto: VersionPrototype = optional_body(&bytes)?;
    let s = state
        .arca
        .secrets
        .create_version(&caller, &instance, &id, proto)
        .await?;
    json(StatusCode::CREATED, wire::version(&s.version, &s.data))
}

/// `GET /secrets/{id}/versions`.
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let versions = state
        .arca
        .secrets
        .list_versions(&caller, &instance, &id)
        .await?;
    let items: Vec<Value> = versions
        .iter()
        .map(|v| Value::Object(wire::version_metadata(v)))
        .collect();
    json(
        StatusCode::OK,
        json!({ "total_count": items.len(), "versions": items }),
    )
}

/// `GET /secrets/{id}/versions/{version}`.
pub(crate) async fn get_version(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let s = state
        .arca
        .secrets
        .get_version(&caller, &instance, &id, &version)
        .await?;
    json(StatusCode::OK, wire::version(&s.version, &s.data))
}

/// `DELETE /secrets/{id}/versions/{version}/secret_data`.
pub(crate) async fn delete_version_data(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
) -> Result<StatusCode, ApiError> {
    state
        .arca
        .secrets
        .delete_version_data(&caller, &instance, &id, &version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /secrets/{id}/versions/{version}/metadata`.
pub(crate) async fn version_metadata(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    let v = state
        .arca
        .secrets
        .get_version_metadata(&caller, &instance, &id, &version)
        .await?;
    json(StatusCode::OK, Value::Object(wire::version_metadata(&v)))
}

/// `PATCH /secrets/{id}/versions/{version}/metadata` (merge-patch).
pub(crate) async fn update_version_metadata(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let patch: VersionMetadataPatch = optional_body(&bytes)?;
    let v = state
        .arca
        .secrets
        .update_version_metadata(
            &caller,
            &instance,
            &id,
            &version,
            patch.version_custom_metadata,
        )
        .await?;
    json(StatusCode::OK, Value::Object(wire::version_metadata(&v)))
}

/// `POST /secrets/{id}/versions/{version}/actions`.
pub(crate) async fn version_action(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let req: ActionRequest = body(&bytes)?;
    let revoked_at = state
        .arca
        .secrets
        .secret_action(&caller, &instance, &id, Some(&version), &req.action_type)
        .await?;
    json(
        StatusCode::CREATED,
        json!({ "action_type": req.action_type, "revocation_time_seconds": revoked_at }),
    )
}

/// `GET /secrets/{id}/tasks`: tasks belong to custom credentials, which Arca does not store;
/// the service says so for the named secret (or that it does not exist).
pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    state.arca.secrets.tasks(&caller, &instance, &id).await?;
    Err(ApiError::NoRoute)
}

/// `GET|PUT|DELETE /secrets/{id}/tasks/{task}`, refused like [`list_tasks`].
pub(crate) async fn task(
    State(state): State<AppState>,
    Path((instance, id, _task)): Path<(String, String, String)>,
    Caller(caller): Caller,
) -> SmResult {
    state.arca.secrets.tasks(&caller, &instance, &id).await?;
    Err(ApiError::NoRoute)
}
