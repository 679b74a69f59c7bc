//! The KMIP management plane: `/api/v2/kmip_adapters/...` (snake_case fields, as Key Protect's).

use arca_services::kmip::{KmipAdapter, KmipCertificate, NewAdapter};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::keys::{CallerResult, date};
use super::wire::{Collection, RequestEnvelope, media};
use super::{KpResult, Page, instance_id, required_body, vnd};
use crate::extract::Caller;
use crate::{ApiError, AppState};

const ADAPTER: &str = "application/vnd.ibm.kms.kmip_adapter+json";
const CERTIFICATE: &str = "application/vnd.ibm.kms.kmip_client_certificate+json";
const OBJECT: &str = "application/vnd.ibm.kms.kmip_object+json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdapterItem {
    name: Option<String>,
    description: Option<String>,
    profile: String,
    profile_data: Option<ProfileData>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileData {
    crk_id: String,
}

#[derive(Serialize)]
struct AdapterOut {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    profile: String,
    profile_data: ProfileData,
    created_at: String,
    created_by: String,
    updated_at: String,
    updated_by: String,
}

fn adapter_out(a: KmipAdapter) -> AdapterOut {
    AdapterOut {
        id: a.id,
        name: a.name,
        description: a.description,
        profile: a.profile,
        profile_data: ProfileData { crk_id: a.crk_id },
        created_at: date(a.created_at),
        created_by: a.created_by.clone(),
        updated_at: date(a.updated_at),
        updated_by: a.updated_by,
    }
}

#[derive(Serialize)]
struct CertificateOut {
    id: String,
    name: String,
    created_at: String,
    created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<String>,
}

fn certificate_out(c: KmipCertificate, full: bool) -> CertificateOut {
    CertificateOut {
        id: c.id,
        name: c.name,
        created_at: date(c.created_at),
        created_by: c.created_by,
        certificate: full.then_some(c.certificate),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateParams {
    allow_expiring_key: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageParams {
    limit: Option<i64>,
    offset: Option<i64>,
    total_count: Option<bool>,
    #[serde(rename = "crk_id")]
    crk_id: Option<String>,
    state: Option<String>,
}

fn one_resource<T>(envelope: RequestEnvelope<T>) -> Result<T, ApiError> {
    let mut items = envelope.resources.into_iter();
    match (items.next(), items.next()) {
        (Some(item), None) => Ok(item),
        _ => Err(ApiError::InvalidBody(
            "exactly one resource is required".into(),
        )),
    }
}

/// `POST /api/v2/kmip_adapters`: 201.
pub(crate) async fn create_adapter(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<CreateParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let item = one_resource(required_body::<RequestEnvelope<AdapterItem>>(&body?)?)?;
    let adapter = state
        .arca
        .kmip
        .create_adapter(
            &caller,
            &instance,
            NewAdapter {
                name: item.name,
                description: item.description,
                profile: item.profile,
                crk_id: item.profile_data.map(|p| p.crk_id),
                allow_expiring_key: params.allow_expiring_key.unwrap_or(false),
            },
        )
        .await?;
    let body = Collection::new(ADAPTER, vec![adapter_out(adapter)]).with_total(1);
    vnd(StatusCode::CREATED, media::COLLECTION, &body)
}

/// `GET /api/v2/kmip_adapters`.
pub(crate) async fn list_adapters(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<PageParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let adapters = state
        .arca
        .kmip
        .list_adapters(&caller, &instance, params.crk_id.as_deref())
        .await?;
    Page::new(params.limit, params.offset, params.total_count, 100, 200)?.respond(
        adapters,
        adapter_out,
        ADAPTER,
    )
}

/// `GET /api/v2/kmip_adapters/{id}` (id or name).
pub(crate) async fn get_adapter(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let adapter = state.arca.kmip.adapter(&caller, &instance, &id).await?;
    vnd(
        StatusCode::OK,
        media::COLLECTION,
        &Collection::new(ADAPTER, vec![adapter_out(adapter)]),
    )
}

/// `DELETE /api/v2/kmip_adapters/{id}`: 204.
pub(crate) async fn delete_adapter(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    state
        .arca
        .kmip
        .delete_adapter(&caller, &instance, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v2/kmip_adapters/{adapter}/kmip_objects`.
pub(crate) async fn list_objects(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(adapter) = path?;
    let Query(params) = params?;
    if let Some(states) = params.state.as_deref().filter(|s| !s.trim().is_empty())
        && states
            .split(',')
            .any(|s| !matches!(s.trim().parse::<u8>(), Ok(1..=6)))
    {
        return Err(
            ApiError::InvalidBody("state must be a comma-separated list of 1 to 6".into()).into(),
        );
    }
    let objects = state
        .arca
        .kmip
        .objects(&caller, &instance, &adapter)
        .await?;
    Page::new(params.limit, params.offset, params.total_count, 100, 5000)?.respond(
        objects,
        |o| o,
        OBJECT,
    )
}

/// `GET` or `DELETE /api/v2/kmip_adapters/{adapter}/kmip_objects/{id}`: none exist yet.
pub(crate) async fn object(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((adapter, _id)) = path?;
    state
        .arca
        .kmip
        .objects(&caller, &instance, &adapter)
        .await?;
    Err(ApiError::Service(arca_services::ServiceError::NotFound("KMIP object")).into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertificateItem {
    certificate: String,
    name: Option<String>,
}

/// `POST /api/v2/kmip_adapters/{adapter}/certificates`: 201.
pub(crate) async fn add_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(adapter) = path?;
    let item = one_resource(required_body::<RequestEnvelope<CertificateItem>>(&body?)?)?;
    let cert = state
        .arca
        .kmip
        .add_certificate(&caller, &instance, &adapter, item.name, &item.certificate)
        .await?;
    let body = Collection::new(CERTIFICATE, vec![certificate_out(cert, true)]);
    vnd(StatusCode::CREATED, media::COLLECTION, &body)
}

/// `GET /api/v2/kmip_adapters/{adapter}/certificates` (without the PEM).
pub(crate) async fn list_certificates(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(adapter) = path?;
    let Query(params) = params?;
    let certs = state
        .arca
        .kmip
        .certificates(&caller, &instance, &adapter)
        .await?;
    Page::new(params.limit, params.offset, params.total_count, 100, 200)?.respond(
        certs,
        |c| certificate_out(c, false),
        CERTIFICATE,
    )
}

/// `GET /api/v2/kmip_adapters/{adapter}/certificates/{id}` (id or name).
pub(crate) async fn get_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((adapter, id)) = path?;
    let cert = state
        .arca
        .kmip
        .certificate(&caller, &instance, &adapter, &id)
        .await?;
    vnd(
        StatusCode::OK,
        media::COLLECTION,
        &Collection::new(CERTIFICATE, vec![certificate_out(cert, true)]),
    )
}

/// `DELETE /api/v2/kmip_adapters/{adapter}/certificates/{id}`: 204.
pub(crate) async fn delete_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((adapter, id)) = path?;
    state
        .arca
        .kmip
        .delete_certificate(&caller, &instance, &adapter, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
