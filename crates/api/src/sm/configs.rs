//! `/configurations` and `/notifications/registration`.

use arca_services::secrets::{ConfigurationPrototype, NotificationRegistration};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Page, SmResult, base, body, json, list_param, optional_body, present, wire};
use crate::extract::Caller;
use crate::{ApiError, AppState};
use arca_services::secrets::query::split_sort;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    sort: Option<String>,
    search: Option<String>,
    secret_types: Option<String>,
}

#[derive(Deserialize)]
struct ActionRequest {
    action_type: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// `X-Sm-Accept-Configuration-Type`.
fn accept_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-sm-accept-configuration-type")
        .and_then(|v| v.to_str().ok())
}

/// `POST /configurations`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let proto: ConfigurationPrototype = body(&bytes)?;
    let c = state
        .arca
        .secrets
        .create_config(&caller, &instance, proto)
        .await?;
    json(StatusCode::CREATED, wire::config(&c))
}

/// `GET /configurations`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    Query(q): Query<ListQuery>,
) -> SmResult {
    let page = Page::new(q.offset, q.limit, 200, 1000, 10_000_000)?;
    let types = list_param(q.secret_types.as_deref());
    let search = q
        .search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let mut configs = state.arca.secrets.list_configs(&caller, &instance).await?;
    configs.retain(|c| {
        let r = &c.record;
        (types.is_empty() || types.contains(&r.secret_type))
            && search.as_ref().is_none_or(|s| {
                [&r.name, &r.config_type, &r.secret_type]
                    .iter()
                    .any(|f| f.to_lowercase().contains(s))
            })
    });
    let sort = q.sort.clone().unwrap_or_default();
    let (desc, field) = split_sort(&sort);
    match field {
        "" => {}
        "name" => configs.sort_by(|a, b| a.record.name.cmp(&b.record.name)),
        "config_type" => configs.sort_by(|a, b| a.record.config_type.cmp(&b.record.config_type)),
        "secret_type" => configs.sort_by(|a, b| a.record.secret_type.cmp(&b.record.secret_type)),
        _ => {
            return Err(ApiError::InvalidBody(
                "sort must be config_type, secret_type or name (prefix - for descending)".into(),
            ));
        }
    }
    if desc {
        configs.reverse();
    }
    let items = configs.iter().map(wire::config).collect();
    let filters = present([
        ("sort", q.sort),
        ("search", q.search),
        ("secret_types", q.secret_types),
    ]);
    json(
        StatusCode::OK,
        page.collection(
            items,
            "configurations",
            &format!("{}/configurations", base(&instance)),
            &filters,
        ),
    )
}

/// `GET /configurations/{name}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((instance, name)): Path<(String, String)>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> SmResult {
    let c = state
        .arca
        .secrets
        .get_config(&caller, &instance, &name, accept_type(&headers))
        .await?;
    json(StatusCode::OK, wire::config(&c))
}

/// `PATCH /configurations/{name}` (merge-patch).
pub(crate) async fn update(
    State(state): State<AppState>,
    Path((instance, name)): Path<(String, String)>,
    Caller(caller): Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> SmResult {
    let patch: Map<String, Value> = optional_body(&bytes)?;
    let c = state
        .arca
        .secrets
        .update_config(&caller, &instance, &name, accept_type(&headers), patch)
        .await?;
    json(StatusCode::OK, wire::config(&c))
}

/// `DELETE /configurations/{name}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((instance, name)): Path<(String, String)>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    state
        .arca
        .secrets
        .delete_config(&caller, &instance, &name, accept_type(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /configurations/{name}/actions`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Path((instance, name)): Path<(String, String)>,
    Caller(caller): Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> SmResult {
    let req: ActionRequest = body(&bytes)?;
    let result = state
        .arca
        .secrets
        .config_action(
            &caller,
            &instance,
            &name,
            accept_type(&headers),
            &req.action_type,
            req.rest,
        )
        .await?;
    let mut m = result;
    m.insert("action_type".into(), Value::String(req.action_type));
    json(StatusCode::CREATED, Value::Object(m))
}

/// `POST /notifications/registration`.
pub(crate) async fn create_notifications(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    bytes: Bytes,
) -> SmResult {
    let req: NotificationRegistration = body(&bytes)?;
    let r = state
        .arca
        .secrets
        .create_notifications_registration(&caller, &instance, req)
        .await?;
    json(StatusCode::CREATED, wire::notifications(&r))
}

/// `GET /notifications/registration`.
pub(crate) async fn get_notifications(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
) -> SmResult {
    let r = state
        .arca
        .secrets
        .get_notifications_registration(&caller, &instance)
        .await?;
    json(StatusCode::OK, wire::notifications(&r))
}

/// `DELETE /notifications/registration`.
pub(crate) async fn delete_notifications(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
) -> Result<StatusCode, ApiError> {
    state
        .arca
        .secrets
        .delete_notifications_registration(&caller, &instance)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /notifications/registration/test`.
pub(crate) async fn test_notifications(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
) -> Result<StatusCode, ApiError> {
    state
        .arca
        .secrets
        .test_notifications_registration(&caller, &instance)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
