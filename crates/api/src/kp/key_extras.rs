//! Per-key resources: policies, aliases, registrations.

use arca_services::keys::Key;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::keys::{CallerResult, date_ms};
use super::wire::{Collection, DualAuthPolicy, RequestEnvelope, RotationPolicy, media};
use super::{KpResult, Page, instance_id, required_body, vnd};
use crate::extract::Caller;
use crate::{ApiError, AppState};

const POLICY: &str = "application/vnd.ibm.kms.policy+json";
const ALIAS: &str = "application/vnd.ibm.kms.alias+json";
const REGISTRATION: &str = "application/vnd.ibm.kms.registration+json";

#[derive(Debug, Deserialize)]
pub(crate) struct PolicyParams {
    policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PolicyItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    rotation: Option<RotationPolicy>,
    #[serde(default)]
    dual_auth_delete: Option<DualAuthPolicy>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyOut {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    crn: String,
    creation_date: String,
    created_by: String,
    last_update_date: String,
    updated_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<RotationPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dual_auth_delete: Option<DualAuthPolicy>,
}

enum Which {
    Rotation,
    DualAuth,
    Both,
}

fn which(params: &PolicyParams) -> Result<Which, ApiError> {
    match params.policy.as_deref().map(str::trim) {
        None | Some("") => Ok(Which::Both),
        Some("rotation") => Ok(Which::Rotation),
        Some("dualAuthDelete") => Ok(Which::DualAuth),
        Some(other) => Err(ApiError::InvalidBody(format!(
            "policy {other:?}: expected rotation or dualAuthDelete"
        ))),
    }
}

fn policies_response(key: &Key, which: &Which) -> KpResult {
    let r = &key.record;
    let rotation = RotationPolicy {
        enabled: r.rotation_enabled.unwrap_or(false),
        interval_month: r.rotation_interval.or(Some(1)),
    };
    let dual = DualAuthPolicy {
        enabled: r.dual_auth_delete,
        key_set_for_deletion: None,
        auth_expiration: None,
    };
    let item = |rotation: Option<RotationPolicy>, dual: Option<DualAuthPolicy>| PolicyOut {
        kind: POLICY,
        id: r.id.clone(),
        crn: format!("{}:policy", key.crn),
        creation_date: date_ms(r.creation_date),
        created_by: r.created_by.clone(),
        last_update_date: date_ms(r.last_update_date),
        updated_by: r.created_by.clone(),
        rotation,
        dual_auth_delete: dual,
    };
    let items = match which {
        Which::Rotation => vec![item(Some(rotation), None)],
        Which::DualAuth => vec![item(None, Some(dual))],
        Which::Both => vec![item(Some(rotation), Some(dual))],
    };
    vnd(
        StatusCode::OK,
        media::COLLECTION,
        &Collection::new(POLICY, items),
    )
}

/// `PUT /api/v2/keys/{id}/policies`.
pub(crate) async fn put_policies(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PolicyParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let which = which(&params)?;
    let envelope: RequestEnvelope<PolicyItem> = required_body(&body?)?;
    let mut rotation = None;
    let mut dual = None;
    for item in envelope.resources {
        if item.kind.as_deref().is_some_and(|k| k != POLICY) {
            return Err(ApiError::InvalidBody(format!("policy type must be {POLICY}")).into());
        }
        if let Some(r) = item.rotation {
            rotation = Some((r.enabled, r.interval_month));
        }
        if let Some(d) = item.dual_auth_delete {
            dual = Some(d.enabled);
        }
    }
    let consistent = match which {
        Which::Rotation => rotation.is_some() && dual.is_none(),
        Which::DualAuth => dual.is_some() && rotation.is_none(),
        Which::Both => rotation.is_some() || dual.is_some(),
    };
    if !consistent {
        return Err(ApiError::InvalidBody(
            "the body must hold the policy named by the policy parameter".into(),
        )
        .into());
    }
    let key = state
        .arca
        .keys
        .set_policies(&caller, &instance, &id, rotation, dual)
        .await?;
    policies_response(&key, &which)
}

/// `GET /api/v2/keys/{id}/policies`.
pub(crate) async fn get_policies(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<PolicyParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let which = which(&params)?;
    let key = state.arca.keys.get(&caller, &instance, &id, false).await?;
    policies_response(&key, &which)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AliasOut {
    key_id: String,
    alias: String,
    created_by: String,
    creation_date: String,
}

/// `POST /api/v2/keys/{id}/aliases/{alias}`: 201.
pub(crate) async fn create_alias(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((id, alias)) = path?;
    let a = state
        .arca
        .keys
        .create_alias(&caller, &instance, &id, &alias)
        .await?;
    let body = Collection::new(
        ALIAS,
        vec![AliasOut {
            key_id: a.key_id,
            alias: a.alias,
            created_by: a.created_by,
            creation_date: date_ms(a.creation_date),
        }],
    );
    vnd(StatusCode::CREATED, media::COLLECTION, &body)
}

/// `DELETE /api/v2/keys/{id}/aliases/{alias}`: 204.
pub(crate) async fn delete_alias(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((id, alias)) = path?;
    state
        .arca
        .keys
        .delete_alias(&caller, &instance, &id, &alias)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationParams {
    limit: Option<i64>,
    offset: Option<i64>,
    total_count: Option<bool>,
    #[serde(rename = "urlEncodedResourceCRNQuery")]
    crn_query: Option<String>,
    prevent_key_deletion: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationOut {
    key_id: String,
    resource_crn: String,
    created_by: String,
    creation_date: String,
    updated_by: String,
    last_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    prevent_key_deletion: bool,
    key_version: super::wire::KeyVersionOut,
}

fn registration_out(r: arca_store::RegistrationRecord) -> RegistrationOut {
    RegistrationOut {
        key_id: r.key_id,
        resource_crn: r.resource_crn,
        created_by: r.created_by,
        creation_date: date_ms(r.creation_date),
        updated_by: r.updated_by,
        last_updated: date_ms(r.last_updated),
        description: r.description,
        prevent_key_deletion: r.prevent_key_deletion,
        key_version: super::wire::KeyVersionOut {
            id: r.key_version_id,
            creation_date: None,
        },
    }
}

/// `GET /api/v2/keys/{id}/registrations`.
pub(crate) async fn key_registrations(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<RegistrationParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let all = state
        .arca
        .registrations
        .list(
            &caller,
            &instance,
            Some(&id),
            params.crn_query.as_deref(),
            params.prevent_key_deletion,
        )
        .await?;
    Page::new(params.limit, params.offset, params.total_count, 200, 5000)?.respond(
        all,
        registration_out,
        REGISTRATION,
    )
}

/// `GET /api/v2/keys/registrations`.
pub(crate) async fn all_registrations(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<RegistrationParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let all = state
        .arca
        .registrations
        .list(
            &caller,
            &instance,
            None,
            params.crn_query.as_deref(),
            params.prevent_key_deletion,
        )
        .await?;
    Page::new(params.limit, params.offset, params.total_count, 200, 5000)?.respond(
        all,
        registration_out,
        REGISTRATION,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RegistrationBody {
    #[serde(default)]
    prevent_key_deletion: Option<bool>,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /api/v2/keys/{id}/registrations/{urlEncodedResourceCRN}` (by consuming services):
/// 201 with the registration.
pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((id, crn)) = path?;
    let req: RegistrationBody = super::optional_body(&body?)?;
    let r = state
        .arca
        .registrations
        .register(
            &caller,
            &instance,
            &id,
            &crn,
            req.prevent_key_deletion.unwrap_or(false),
            req.description,
        )
        .await?;
    vnd(
        StatusCode::CREATED,
        media::COLLECTION,
        &Collection::new(REGISTRATION, vec![registration_out(r)]),
    )
}

/// `DELETE /api/v2/keys/{id}/registrations/{urlEncodedResourceCRN}`: 204.
pub(crate) async fn deregister(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((id, crn)) = path?;
    state
        .arca
        .registrations
        .deregister(&caller, &instance, &id, &crn)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
