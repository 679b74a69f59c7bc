//! Key rings: `/api/v2/key_rings`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::keys::{CallerResult, date};
use super::wire::{Collection, media};
use super::{KpResult, Page, instance_id, vnd};
use crate::AppState;
use crate::extract::Caller;

const KEY_RING: &str = "application/vnd.ibm.kms.key_ring+json";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyRingOut {
    id: String,
    creation_date: String,
    created_by: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListParams {
    limit: Option<i64>,
    offset: Option<i64>,
    total_count: Option<bool>,
}

/// `GET /api/v2/key_rings`.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<ListParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let page = Page::new(params.limit, params.offset, params.total_count, 100, 5000)?;
    let rings = state.arca.key_rings.list(&caller, &instance).await?;
    page.respond(
        rings,
        |r| KeyRingOut {
            id: r.id,
            creation_date: date(r.creation_date),
            created_by: r.created_by,
        },
        KEY_RING,
    )
}

/// `POST /api/v2/key_rings/{id}` (no body).
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let ring = state.arca.key_rings.create(&caller, &instance, &id).await?;
    let body = Collection::new(
        KEY_RING,
        vec![KeyRingOut {
            id: ring.id,
            creation_date: date(ring.creation_date),
            created_by: ring.created_by,
        }],
    );
    vnd(StatusCode::CREATED, media::COLLECTION, &body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeleteParams {
    force: Option<bool>,
}

/// `DELETE /api/v2/key_rings/{id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<DeleteParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    state
        .arca
        .key_rings
        .delete(&caller, &instance, &id, params.force.unwrap_or(false))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
