//! Locks: `/secrets_locks`, `/secrets/{id}/locks`, `/secrets/{id}/locks_bulk` and their
//! per-version forms.

use arca_services::secrets::{LockMode, LockView, NewLock};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{Page, SmResult, base, body, json, list_param, present, wire};
use crate::AppState;
use crate::extract::Caller;
use arca_services::secrets::query::split_sort;

#[derive(Deserialize)]
pub(crate) struct AllQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    search: Option<String>,
    groups: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SecretQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    sort: Option<String>,
    search: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ModeQuery {
    mode: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct NamesQuery {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocksRequest {
    locks: Vec<NewLock>,
}

fn search_ok(search: Option<&str>) -> Result<Option<String>, crate::ApiError> {
    match search {
        None | Some("") => Ok(None),
        Some(s) if (1..=128).contains(&s.chars().count()) => Ok(Some(s.to_lowercase())),
        Some(_) => Err(crate::ApiError::InvalidBody(
            "search must be at most 128 characters".into(),
        )),
    }
}

/// `GET /secrets_locks`: every secret with locks.
pub(crate) async fn list_all(
    State(state): State<AppState>,
    Path(instance): Path<String>,
    Caller(caller): Caller,
    Query(q): Query<AllQuery>,
) -> SmResult {
    let page = Page::new(q.offset, q.limit, 200, 1000, 10_000_000)?;
    let search = search_ok(q.search.as_deref())?;
    let groups = list_param(q.groups.as_deref());
    let all = state
        .arca
        .secrets
        .list_instance_locks(&caller, &instance)
        .await?;
    let items: Vec<Value> = all
        .iter()
        .filter(|s| groups.is_empty() || groups.contains(&s.secret_group_id))
        .filter(|s| {
            search.as_ref().is_none_or(|q| {
                s.versions
                    .iter()
                    .any(|v| v.locks.iter().any(|l| l.to_lowercase().contains(q)))
            })
        })
        .map(wire::secret_locks)
        .collect();
    let filters = present([("search", q.search), ("groups", q.groups)]);
    json(
        StatusCode::OK,
        page.collection(
            items,
            "secrets_locks",
            &format!("{}/secrets_locks", base(&instance)),
            &filters,
        ),
    )
}

fn lock_page(locks: Vec<LockView>, q: SecretQuery, path: String) -> SmResult {
    let page = Page::new(q.offset, q.limit, 25, 100, 1000)?;
    let search = search_ok(q.search.as_deref())?;
    let mut locks: Vec<LockView> = locks
        .into_iter()
        .filter(|l| {
            search
                .as_ref()
                .is_none_or(|s| l.record.name.to_lowercase().contains(s))
        })
        .collect();
    let sort = q.sort.clone().unwrap_or_default();
    let (desc, field) = split_sort(&sort);
    match field {
        "" | "name" => locks.sort_by(|a, b| a.record.name.cmp(&b.record.name)),
        "created_at" => locks.sort_by_key(|l| l.record.created_at),
        "updated_at" => locks.sort_by_key(|l| l.record.updated_at),
        _ => {
            return Err(crate::ApiError::InvalidBody(
                "sort must be created_at, updated_at or name (prefix - for descending)".into(),
            ));
        }
    }
    if desc {
        locks.reverse();
    }
    let items = locks.iter().map(wire::lock).collect();
    let filters = present([("sort", q.sort), ("search", q.search)]);
    json(
        StatusCode::OK,
        page.collection(items, "locks", &path, &filters),
    )
}

/// `GET /secrets/{id}/locks`.
pub(crate) async fn list_secret(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    Query(q): Query<SecretQuery>,
) -> SmResult {
    let locks = state
        .arca
        .secrets
        .list_locks(&caller, &instance, &id, None)
        .await?;
    lock_page(locks, q, format!("{}/secrets/{id}/locks", base(&instance)))
}

/// `GET /secrets/{id}/versions/{version}/locks`.
pub(crate) async fn list_version(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
    Query(q): Query<SecretQuery>,
) -> SmResult {
    let locks = state
        .arca
        .secrets
        .list_locks(&caller, &instance, &id, Some(&version))
        .await?;
    lock_page(
        locks,
        q,
        format!("{}/secrets/{id}/versions/{version}/locks", base(&instance)),
    )
}

/// `POST /secrets/{id}/locks_bulk`: locks the current version.
pub(crate) async fn create_secret(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    Query(q): Query<ModeQuery>,
    bytes: Bytes,
) -> SmResult {
    let mode = LockMode::parse(q.mode.as_deref())?;
    let req: LocksRequest = body(&bytes)?;
    let view = state
        .arca
        .secrets
        .create_locks(&caller, &instance, &id, None, req.locks, mode)
        .await?;
    json(StatusCode::CREATED, wire::secret_locks(&view))
}

/// `POST /secrets/{id}/versions/{version}/locks_bulk`.
pub(crate) async fn create_version(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
    Query(q): Query<ModeQuery>,
    bytes: Bytes,
) -> SmResult {
    let mode = LockMode::parse(q.mode.as_deref())?;
    let req: LocksRequest = body(&bytes)?;
    let view = state
        .arca
        .secrets
        .create_locks(&caller, &instance, &id, Some(&version), req.locks, mode)
        .await?;
    json(StatusCode::CREATED, wire::secret_locks(&view))
}

/// `DELETE /secrets/{id}/locks_bulk`: by name, or all.
pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    Path((instance, id)): Path<(String, String)>,
    Caller(caller): Caller,
    Query(q): Query<NamesQuery>,
) -> SmResult {
    let names = q.name.as_deref().map(|n| list_param(Some(n)));
    let view = state
        .arca
        .secrets
        .delete_locks(&caller, &instance, &id, None, names)
        .await?;
    json(StatusCode::OK, wire::secret_locks(&view))
}

/// `DELETE /secrets/{id}/versions/{version}/locks_bulk`.
pub(crate) async fn delete_version(
    State(state): State<AppState>,
    Path((instance, id, version)): Path<(String, String, String)>,
    Caller(caller): Caller,
    Query(q): Query<NamesQuery>,
) -> SmResult {
    let names = q.name.as_deref().map(|n| list_param(Some(n)));
    let view = state
        .arca
        .secrets
        .delete_locks(&caller, &instance, &id, Some(&version), names)
        .await?;
    json(StatusCode::OK, wire::secret_locks(&view))
}
