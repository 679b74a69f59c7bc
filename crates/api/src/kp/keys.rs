//! Key Protect keys and key actions.

use arca_services::keys::query::{ListSpec, QueryError, parse_states};
use arca_services::keys::{Key, NewKey, SecureImportProof};
use arca_store::KeyQuery;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::wire::{
    AlgorithmMetadata, CiphertextRequest, Collection, CreateKeyItem, DualAuthPolicy, KeyOut,
    KeyVersionOut, RequestEnvelope, RewrapResponse, RotateRequest, RotationPolicy, UnwrapResponse,
    WrapRequest, WrapResponse, media,
};
use super::{
    KpError, KpResult, Page, instance_id, optional_body, prefers_minimal, required_body, vnd,
};
use crate::extract::Caller;
use crate::{ApiError, AppState};
use arca_services::Principal;

pub(crate) type CallerResult = Result<Caller, ApiError>;
type BodyResult = Result<Bytes, BytesRejection>;
type IdPath = Result<Path<String>, PathRejection>;

pub(crate) fn date(t: OffsetDateTime) -> String {
    // Key Protect emits UTC with a `Z`; the SDK parses leniently.
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn date_ms(ms: i64) -> String {
    date(arca_services::clock::from_millis(ms))
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(field: &'static str, text: &str) -> Result<Zeroizing<Vec<u8>>, KpError> {
    B64.decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| ApiError::InvalidBody(format!("{field} is not valid base64")).into())
}

pub(crate) fn key_out(key: &Key) -> KeyOut {
    let r = &key.record;
    let deleted = r.deletion_date.is_some();
    KeyOut {
        kind: media::KEY,
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        aliases: key.aliases.clone(),
        tags: r.tags.clone(),
        state: key.state.number(),
        expiration_date: r.expiration_date.map(date_ms),
        extractable: r.extractable,
        crn: key.crn.clone(),
        imported: r.imported,
        key_ring_id: r.key_ring_id.clone(),
        creation_date: date_ms(r.creation_date),
        created_by: r.created_by.clone(),
        algorithm_type: "AES",
        algorithm_metadata: AlgorithmMetadata {
            bit_length: "256".into(),
            mode: "GCM",
        },
        algorithm_bit_size: 256,
        algorithm_mode: "GCM",
        last_update_date: date_ms(r.last_update_date),
        last_rotate_date: r.last_rotate_date.map(date_ms),
        key_version: KeyVersionOut {
            id: r.current_version_id.clone(),
            creation_date: Some(date(key.version_created)),
        },
        dual_auth_delete: DualAuthPolicy {
            enabled: r.dual_auth_delete,
            key_set_for_deletion: r.dual_auth_delete.then_some(key.key_set_for_deletion),
            auth_expiration: key.deletion_auth_expiration.map(date),
        },
        rotation: r.rotation_enabled.map(|enabled| RotationPolicy {
            enabled,
            interval_month: r.rotation_interval,
        }),
        deleted,
        deletion_date: r.deletion_date.map(date_ms),
        deleted_by: r.deleted_by.clone(),
        restore_expiration_date: key.restore_expiration.map(date),
        restore_allowed: deleted.then_some(key.restore_allowed),
        purge_allowed: deleted.then_some(key.purge_allowed),
        purge_allowed_from: key.purge_allowed_from.map(date),
        purge_scheduled_on: key.purge_scheduled_on.map(date),
        payload: key.payload.as_ref().map(|p| b64(p)),
    }
}

fn key_response(status: StatusCode, key: &Key) -> KpResult {
    vnd(
        status,
        media::KEY,
        &Collection::new(media::KEY, vec![key_out(key)]),
    )
}

/// The key ring named by `X-Kms-Key-Ring`, if any.
fn key_ring(headers: &HeaderMap) -> Result<Option<String>, KpError> {
    match headers.get("x-kms-key-ring") {
        None => Ok(None),
        Some(v) => {
            let ring = v
                .to_str()
                .map_err(|_| ApiError::Header("the X-Kms-Key-Ring header is not valid text"))?
                .trim();
            Ok((!ring.is_empty()).then(|| ring.to_owned()))
        }
    }
}

fn parse_new_key(item: CreateKeyItem, overrides: bool) -> Result<NewKey, KpError> {
    if let Some(kind) = &item.kind
        && kind != media::KEY
    {
        return Err(ApiError::InvalidBody(format!("resource type must be {}", media::KEY)).into());
    }
    let secure_import = secure_import_proof(
        item.encrypted_nonce.as_deref(),
        item.iv.as_deref(),
        item.encryption_algorithm.as_deref(),
    )?;
    if item.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(
            ApiError::InvalidBody("aliases at creation are not supported yet".into()).into(),
        );
    }
    let name = item
        .name
        .ok_or_else(|| ApiError::InvalidBody("name is required".into()))?;
    let expiration = item
        .expiration_date
        .map(|d| {
            OffsetDateTime::parse(&d, &Rfc3339).map_err(|_| {
                ApiError::InvalidBody("expirationDate must be an RFC 3339 date".into())
            })
        })
        .transpose()?;
    let payload = item.payload.map(|p| unb64("payload", &p)).transpose()?;
    let (rotation, dual_auth) = if overrides {
        (
            item.rotation.map(|r| (r.enabled, r.interval_month)),
            item.dual_auth_delete.map(|d| d.enabled),
        )
    } else {
        (None, None)
    };
    Ok(NewKey {
        name,
        description: item.description,
        extractable: item.extractable.unwrap_or(true),
        payload,
        expiration,
        tags: item.tags.unwrap_or_default(),
        key_ring_id: None,
        rotation,
        dual_auth_delete: dual_auth,
        secure_import,
    })
}

/// The proof fields of a secure import: `encryptedNonce` and `iv` together or neither
/// (`encryptionAlgorithm` defaults to RSAES_OAEP_SHA_256, as Key Protect's).
fn secure_import_proof(
    encrypted_nonce: Option<&str>,
    iv: Option<&str>,
    algorithm: Option<&str>,
) -> Result<Option<SecureImportProof>, KpError> {
    match (encrypted_nonce, iv) {
        (None, None) if algorithm.is_none() => Ok(None),
        (Some(nonce), Some(iv)) => Ok(Some(SecureImportProof {
            encrypted_nonce: unb64("encryptedNonce", nonce)?.to_vec(),
            iv: unb64("iv", iv)?.to_vec(),
            algorithm: algorithm.unwrap_or("RSAES_OAEP_SHA_256").to_owned(),
        })),
        _ => Err(ApiError::InvalidBody(
            "a secure import needs encryptedNonce and iv together (with payload)".into(),
        )
        .into()),
    }
}

async fn create_inner(
    state: AppState,
    headers: HeaderMap,
    caller: CallerResult,
    body: BodyResult,
    overrides: bool,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let ring = key_ring(&headers)?;
    let envelope: RequestEnvelope<CreateKeyItem> = required_body(&body?)?;
    if let Some(kind) = envelope
        .metadata
        .as_ref()
        .and_then(|m| m.collection_type.as_deref())
        && kind != media::KEY
    {
        return Err(ApiError::InvalidBody(format!("collectionType must be {}", media::KEY)).into());
    }
    if let Some(total) = envelope.metadata.as_ref().and_then(|m| m.collection_total)
        && usize::try_from(total).ok() != Some(envelope.resources.len())
    {
        return Err(ApiError::InvalidBody(
            "Collection total does not match number of resources".into(),
        )
        .into());
    }
    let mut items = envelope.resources.into_iter();
    let (Some(item), None) = (items.next(), items.next()) else {
        return Err(ApiError::InvalidBody("exactly one key resource is required".into()).into());
    };
    let mut new = parse_new_key(item, overrides)?;
    new.key_ring_id = ring;
    let key = state.arca.keys.create(&caller, &instance, new).await?;
    key_response(StatusCode::CREATED, &key)
}

/// `POST /api/v2/keys`.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    body: BodyResult,
) -> KpResult {
    create_inner(state, headers, caller, body, false).await
}

/// `POST /api/v2/keys_with_policy_overrides`.
pub(crate) async fn create_with_overrides(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    body: BodyResult,
) -> KpResult {
    create_inner(state, headers, caller, body, true).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListParams {
    limit: Option<i64>,
    offset: Option<i64>,
    state: Option<String>,
    extractable: Option<bool>,
    search: Option<String>,
    sort: Option<String>,
    filter: Option<String>,
}

fn query_error(e: QueryError) -> KpError {
    ApiError::Service(arca_services::ServiceError::InvalidInput(e.0)).into()
}

/// The listing a `GET`/`HEAD /api/v2/keys` asks for: the store query (state, extractable and
/// ring, from the parameters or the filter) and the parsed `search`, `sort` and `filter`.
fn key_query(params: &ListParams, headers: &HeaderMap) -> Result<(KeyQuery, ListSpec), KpError> {
    let spec = ListSpec::parse(
        params.search.as_deref(),
        params.sort.as_deref(),
        params.filter.as_deref(),
    )
    .map_err(query_error)?;
    // The SDK always sends `state=`; empty means "not given".
    let state_param = params
        .state
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if spec.filter.states.is_some() && state_param.is_some() {
        return Err(query_error(QueryError(
            "state is given both in filter and as a query parameter".into(),
        )));
    }
    if (spec.filter.extractable.is_some() || spec.filter.impossible) && params.extractable.is_some()
    {
        return Err(query_error(QueryError(
            "extractable is given both in filter and as a query parameter".into(),
        )));
    }
    let states = match (state_param, &spec.filter.states) {
        (Some(list), _) => parse_states(list).map_err(query_error)?,
        (None, Some(states)) => states.clone(),
        // Every state but destroyed.
        (None, None) => vec![0, 1, 2, 3],
    };
    let limit = params.limit.unwrap_or(200);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::InvalidBody("limit must be 1 to 5000".into()).into());
    }
    let offset = params.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::InvalidBody("offset must not be negative".into()).into());
    }
    let query = KeyQuery {
        states: Some(states),
        extractable: params.extractable.or(spec.filter.extractable),
        key_ring_id: key_ring(headers)?,
        limit: Some(limit),
        offset,
    };
    Ok((query, spec))
}

/// `metadata` of a key list (`CollectionMetadataListKeys`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMetadata {
    collection_type: &'static str,
    collection_total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    incomplete_search: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    search_query: Option<SearchQueryOut>,
}

/// `metadata.searchQuery`: the parsed search.
#[derive(Debug, Serialize)]
struct SearchQueryOut {
    query: String,
    scopes: Vec<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    not: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    exact: bool,
}

#[derive(Serialize)]
struct ListKeysBody {
    metadata: ListMetadata,
    resources: Vec<KeyOut>,
}

/// `GET /api/v2/keys`.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<ListParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let (query, spec) = key_query(&params, &headers)?;
    let listing = state
        .arca
        .keys
        .search(&caller, &instance, &query, &spec)
        .await?;
    let resources: Vec<KeyOut> = listing.keys.iter().map(key_out).collect();
    let search_query = spec.search.as_ref().map(|s| SearchQueryOut {
        query: s.query.clone(),
        scopes: s.scopes.iter().map(|scope| scope.as_str()).collect(),
        not: s.not,
        exact: s.exact,
    });
    let body = ListKeysBody {
        metadata: ListMetadata {
            collection_type: media::KEY,
            collection_total: resources.len(),
            incomplete_search: search_query.as_ref().map(|_| listing.incomplete_search),
            search_query,
        },
        resources,
    };
    vnd(StatusCode::OK, media::COLLECTION, &body)
}

/// `HEAD /api/v2/keys`: the count in `Key-Total`.
pub(crate) async fn count(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<ListParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let (mut query, spec) = key_query(&params, &headers)?;
    query.limit = Some(1);
    let listing = state
        .arca
        .keys
        .search(&caller, &instance, &query, &spec)
        .await?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        "key-total",
        HeaderValue::from_str(&listing.total.to_string())
            .map_err(|_| ApiError::Header("key total"))?,
    );
    Ok(response)
}

/// `GET /api/v2/keys/{id}`: with a standard key's material.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let key = state.arca.keys.get(&caller, &instance, &id, true).await?;
    key_response(StatusCode::OK, &key)
}

/// `GET /api/v2/keys/{id}/metadata`.
pub(crate) async fn metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let key = state.arca.keys.get(&caller, &instance, &id, false).await?;
    key_response(StatusCode::OK, &key)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionParams {
    limit: Option<i64>,
    offset: Option<i64>,
    total_count: Option<bool>,
    all_key_states: Option<bool>,
}

/// `GET /api/v2/keys/{id}/versions`.
pub(crate) async fn versions(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
    params: Result<Query<VersionParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let page = Page::new(params.limit, params.offset, params.total_count, 200, 5000)?;
    if params.all_key_states != Some(true) {
        let key = state.arca.keys.get(&caller, &instance, &id, false).await?;
        if key.state == arca_services::keys::KeyState::Destroyed {
            return Err(ApiError::Service(arca_services::ServiceError::InvalidState(
                "Key has already been deleted (use allKeyStates=true)".into(),
            ))
            .into());
        }
    }
    let all = state.arca.keys.versions(&caller, &instance, &id).await?;
    page.respond(
        all,
        |(id, created)| KeyVersionOut {
            id,
            creation_date: Some(date(created)),
        },
        "application/vnd.ibm.kms.key_version+json",
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeleteParams {
    /// Removes registrations first (refused while one prevents deletion).
    force: Option<bool>,
}

/// `DELETE /api/v2/keys/{id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
    params: Result<Query<DeleteParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let force = params.force.unwrap_or(false);
    let key = state
        .arca
        .keys
        .delete(&caller, &instance, &id, force)
        .await?;
    if prefers_minimal(&headers) || headers.get("prefer").is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    key_response(StatusCode::OK, &key)
}

/// `DELETE /api/v2/keys/{id}/purge`: 200 with the purged key (`KeyFullRepresentation`, no
/// payload); only for a deleted key past the purge wait.
pub(crate) async fn purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let key = state.arca.keys.purge(&caller, &instance, &id).await?;
    vnd(
        StatusCode::OK,
        media::KEY,
        &Collection::new(media::KEY, vec![key_out(&key)]),
    )
}

/// `POST /api/v2/keys/{id}/restore`.
pub(crate) async fn restore(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let key = state.arca.keys.restore(&caller, &instance, &id).await?;
    key_response(StatusCode::CREATED, &key)
}

/// `POST /api/v2/keys/{id}/actions/{action}`.
pub(crate) async fn action(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: Result<Path<(String, String)>, PathRejection>,
    body: BodyResult,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path((id, action)) = path?;
    let body = body?;
    match run_action(&state, &caller, &instance, &id, &action, &body).await? {
        Some(response) => Ok(response),
        None => Err(ApiError::NoRoute.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionParams {
    action: Option<String>,
}

/// The actions of the deprecated `POST /api/v2/keys/{id}?action=<a>` (`action_on_key`).
const LEGACY_ACTIONS: [&str; 9] = [
    "disable",
    "enable",
    "restore",
    "rewrap",
    "rotate",
    "setKeyForDeletion",
    "unsetKeyForDeletion",
    "unwrap",
    "wrap",
];

/// `POST /api/v2/keys/{id}?action=<a>` (deprecated `action_on_key`): the same actions as
/// `/actions/{action}` with the same statuses (200 with a body for wrap, unwrap and rewrap,
/// 204 for the others), plus `restore` (201 with the key, as `/restore`).
pub(crate) async fn legacy_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
    params: Result<Query<ActionParams>, QueryRejection>,
    body: BodyResult,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let Query(params) = params?;
    let body = body?;
    let action = params
        .action
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| ApiError::InvalidBody("the action query parameter is required".into()))?;
    if !LEGACY_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::InvalidBody(format!(
            "unknown action {action:?}; use one of {}",
            LEGACY_ACTIONS.join(", ")
        ))
        .into());
    }
    if action == "restore" {
        let key = state.arca.keys.restore(&caller, &instance, &id).await?;
        return key_response(StatusCode::CREATED, &key);
    }
    run_action(&state, &caller, &instance, &id, &action, &body)
        .await?
        .ok_or_else(|| ApiError::NoRoute.into())
}

/// Runs a key action (`/actions/{action}` and the deprecated `?action=`); `None` for an
/// unknown action.
async fn run_action(
    state: &AppState,
    caller: &Principal,
    instance: &str,
    id: &str,
    action: &str,
    body: &[u8],
) -> Result<Option<Response>, KpError> {
    let keys = &state.arca.keys;
    let response = match action {
        "wrap" => {
            let req: WrapRequest = optional_body(body)?;
            let plaintext = req.plaintext.map(|p| unb64("plaintext", &p)).transpose()?;
            let aad = req.aad.unwrap_or_default();
            let out = keys.wrap(caller, instance, id, plaintext, &aad).await?;
            let body = WrapResponse {
                plaintext: out.generated.as_ref().map(|p| b64(p)),
                ciphertext: b64(&out.ciphertext),
                key_version: KeyVersionOut {
                    id: out.version_id,
                    creation_date: None,
                },
            };
            vnd(StatusCode::OK, media::KEY_ACTION, &body)?
        }
        "unwrap" => {
            let req: CiphertextRequest = required_body(body)?;
            let ciphertext = ciphertext_of(&req)?;
            let aad = req.aad.unwrap_or_default();
            let out = keys.unwrap(caller, instance, id, &ciphertext, &aad).await?;
            let (rewrapped, rewrapped_version) = match out.rewrapped {
                Some((c, v)) => (
                    Some(b64(&c)),
                    Some(KeyVersionOut {
                        id: v,
                        creation_date: None,
                    }),
                ),
                None => (None, None),
            };
            let body = UnwrapResponse {
                plaintext: b64(&out.plaintext),
                key_version: KeyVersionOut {
                    id: out.version_id,
                    creation_date: None,
                },
                ciphertext: rewrapped,
                rewrapped_key_version: rewrapped_version,
            };
            vnd(StatusCode::OK, media::KEY_ACTION, &body)?
        }
        "rewrap" => {
            let req: CiphertextRequest = required_body(body)?;
            let ciphertext = ciphertext_of(&req)?;
            let aad = req.aad.unwrap_or_default();
            let out = keys.rewrap(caller, instance, id, &ciphertext, &aad).await?;
            let body = RewrapResponse {
                ciphertext: b64(&out.ciphertext),
                key_version: KeyVersionOut {
                    id: out.version_id,
                    creation_date: None,
                },
                rewrapped_key_version: KeyVersionOut {
                    id: out.rewrapped_version_id,
                    creation_date: None,
                },
            };
            vnd(StatusCode::OK, media::KEY_ACTION, &body)?
        }
        "rotate" => {
            let req: RotateRequest = optional_body(body)?;
            let proof = secure_import_proof(
                req.encrypted_nonce.as_deref(),
                req.iv.as_deref(),
                req.encryption_algorithm.as_deref(),
            )?;
            let payload = req.payload.map(|p| unb64("payload", &p)).transpose()?;
            keys.rotate(caller, instance, id, payload, proof).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        "disable" => {
            keys.disable(caller, instance, id).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        "enable" => {
            keys.enable(caller, instance, id).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        "sync" => {
            // Resynchronizes the resources registered on the key. No integrated service
            // registers resources yet, so there is nothing to notify; the key must exist.
            keys.get(caller, instance, id, false).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        "setKeyForDeletion" => {
            keys.set_key_for_deletion(caller, instance, id).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        "unsetKeyForDeletion" => {
            keys.unset_key_for_deletion(caller, instance, id).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => return Ok(None),
    };
    Ok(Some(response))
}

fn ciphertext_of(req: &CiphertextRequest) -> Result<Vec<u8>, KpError> {
    let text = req
        .ciphertext
        .as_deref()
        .ok_or_else(|| ApiError::InvalidBody("ciphertext is required".into()))?;
    Ok(unb64("ciphertext", text)?.to_vec())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchRequest {
    // The Go client sends `KeyRingID`; Python sends `keyRingID`.
    #[serde(default, rename = "keyRingID", alias = "KeyRingID")]
    key_ring_id: Option<String>,
}

/// `PATCH /api/v2/keys/{id}`: moves the key to another key ring.
pub(crate) async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    path: IdPath,
    body: BodyResult,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Path(id) = path?;
    let req: PatchRequest = optional_body(&body?)?;
    let ring = req
        .key_ring_id
        .ok_or_else(|| ApiError::InvalidBody("keyRingID is required".into()))?;
    let current = key_ring(&headers)?;
    let key = state
        .arca
        .keys
        .set_key_ring(&caller, &instance, &id, current.as_deref(), &ring)
        .await?;
    key_response(StatusCode::OK, &key)
}
