//! The Key Protect v2 API (`/api/v2/...`), as IBM's `keyprotect` SDK speaks it: the collection
//! envelope, vendor media types (the SDK only hands back parsed dicts for `application/json`,
//! and its own tests call `.json()` on key and wrap responses), the `Bluemix-Instance` header,
//! and Key Protect's error envelope.

mod import_token;
mod key_extras;
mod keys;
mod kmip;
mod network;
mod policies;
mod rings;
pub(crate) mod wire;

pub(crate) use network::network_policy;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};
use wire::{Collection, ErrorReason, ErrorResource, media};

/// An error rendered in Key Protect's envelope. Status and code come from [`ApiError::parts`],
/// the one mapping; only the body shape differs.
#[derive(Debug)]
pub(crate) struct KpError(pub(crate) ApiError);

impl<E: Into<ApiError>> From<E> for KpError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for KpError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.0.parts();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = ?self.0, "internal error");
        }
        let body = Collection::new(
            media::ERROR,
            vec![ErrorResource {
                error_msg: message.clone(),
                reasons: vec![ErrorReason {
                    code: code.to_uppercase(),
                    message,
                    status: status.as_u16(),
                    more_info: "https://cloud.ibm.com/docs/key-protect?topic=key-protect-error-messages",
                }],
            }],
        );
        (status, axum::Json(body)).into_response()
    }
}

pub(crate) type KpResult = Result<Response, KpError>;

/// A JSON body under a vendor media type.
pub(crate) fn vnd(status: StatusCode, media_type: &'static str, body: &impl Serialize) -> KpResult {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    Ok((
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(media_type))],
        bytes,
    )
        .into_response())
}

/// A validated `limit`/`offset`/`totalCount` of a listing paged in memory. Validated before the
/// listing is fetched, so a bad page is refused first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    limit: usize,
    offset: usize,
    total_count: bool,
}

impl Page {
    /// Checks `limit` (1 to `max_limit`, `default_limit` when absent) and `offset` (not negative).
    pub(crate) fn new(
        limit: Option<i64>,
        offset: Option<i64>,
        total_count: Option<bool>,
        default_limit: i64,
        max_limit: i64,
    ) -> Result<Self, KpError> {
        let limit = limit.unwrap_or(default_limit);
        let offset = offset.unwrap_or(0);
        if !(1..=max_limit).contains(&limit) || offset < 0 {
            return Err(ApiError::InvalidBody(format!(
                "limit must be 1 to {max_limit} and offset not negative"
            ))
            .into());
        }
        Ok(Self {
            limit: usize::try_from(limit).unwrap_or(0),
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            total_count: total_count == Some(true),
        })
    }

    /// The page of `items` (converted by `to_wire`) in the collection envelope, with
    /// `totalCount` (all items) when asked.
    pub(crate) fn respond<U, T: Serialize>(
        self,
        items: Vec<U>,
        to_wire: impl FnMut(U) -> T,
        collection_type: &'static str,
    ) -> KpResult {
        let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(to_wire)
            .collect();
        let mut body = Collection::new(collection_type, page);
        if self.total_count {
            body = body.with_total(total);
        }
        vnd(StatusCode::OK, media::COLLECTION, &body)
    }
}

/// The instance named by `Bluemix-Instance`.
pub(crate) fn instance_id(headers: &HeaderMap) -> Result<String, KpError> {
    let value = headers
        .get("bluemix-instance")
        .ok_or(ApiError::Header("the Bluemix-Instance header is required"))?
        .to_str()
        .map_err(|_| ApiError::Header("the Bluemix-Instance header is not valid text"))?
        .trim();
    if value.is_empty() {
        return Err(ApiError::Header("the Bluemix-Instance header is required").into());
    }
    Ok(value.to_owned())
}

/// `Prefer: return=minimal` (else representation).
pub(crate) fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("return=minimal"))
}

/// Parses an optional JSON body: empty means the default (the SDK sends a content type with an
/// empty body when the optional body is absent).
pub(crate) fn optional_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, KpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidBody(format!("invalid JSON body: {e}")).into())
}

/// Parses a required JSON body.
pub(crate) fn required_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, KpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidBody("Missing body in request".into()).into());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidBody(format!("invalid JSON body: {e}")).into())
}

/// The `/api/v2` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/keys",
            post(keys::create).get(keys::list).head(keys::count),
        )
        .route(
            "/api/v2/keys_with_policy_overrides",
            post(keys::create_with_overrides),
        )
        .route(
            "/api/v2/keys/{id}",
            get(keys::get)
                .delete(keys::delete)
                .patch(keys::patch)
                .post(keys::legacy_action),
        )
        .route(
            "/api/v2/keys/registrations",
            get(key_extras::all_registrations),
        )
        .route("/api/v2/keys/{id}/metadata", get(keys::metadata))
        .route(
            "/api/v2/keys/{id}/policies",
            put(key_extras::put_policies).get(key_extras::get_policies),
        )
        .route(
            "/api/v2/keys/{id}/aliases/{alias}",
            post(key_extras::create_alias).delete(key_extras::delete_alias),
        )
        .route(
            "/api/v2/keys/{id}/registrations",
            get(key_extras::key_registrations),
        )
        .route(
            "/api/v2/keys/{id}/registrations/{crn}",
            post(key_extras::register).delete(key_extras::deregister),
        )
        .route("/api/v2/keys/{id}/versions", get(keys::versions))
        .route("/api/v2/keys/{id}/restore", post(keys::restore))
        .route("/api/v2/keys/{id}/purge", delete(keys::purge))
        .route("/api/v2/keys/{id}/actions/{action}", post(keys::action))
        .route("/api/v2/key_rings", get(rings::list))
        .route(
            "/api/v2/key_rings/{id}",
            post(rings::create).delete(rings::delete),
        )
        .route(
            "/api/v2/instance/policies",
            put(policies::put).get(policies::get),
        )
        .route(
            "/api/v2/kmip_adapters",
            post(kmip::create_adapter).get(kmip::list_adapters),
        )
        .route(
            "/api/v2/kmip_adapters/{id}",
            get(kmip::get_adapter).delete(kmip::delete_adapter),
        )
        .route(
            "/api/v2/kmip_adapters/{id}/kmip_objects",
            get(kmip::list_objects),
        )
        .route(
            "/api/v2/kmip_adapters/{id}/kmip_objects/{object}",
            get(kmip::object).delete(kmip::object),
        )
        .route(
            "/api/v2/kmip_adapters/{id}/certificates",
            post(kmip::add_certificate).get(kmip::list_certificates),
        )
        .route(
            "/api/v2/kmip_adapters/{id}/certificates/{cert}",
            get(kmip::get_certificate).delete(kmip::delete_certificate),
        )
        .route(
            "/api/v2/import_token",
            post(import_token::create).get(import_token::get),
        )
}
