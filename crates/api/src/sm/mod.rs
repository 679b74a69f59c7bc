//! The Secrets Manager v2 API, as IBM's `ibm-secrets-manager-sdk` speaks it. An instance's
//! service URL is `https://HOST:PORT/sm/<instance_id>`; the SDK appends `/api/v2/...`.
//! Every answer is `application/json` (the SDK hands back anything else unparsed), errors use
//! IBM's error container (`errors[0].message`, `status_code`), and paged listings never carry a
//! `next` link on their last page (the SDK's pagers would loop).

mod configs;
mod groups;
mod locks;
mod secrets;
mod wire;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{ApiError, AppState};

pub(crate) type SmResult = Result<Response, ApiError>;

/// A JSON answer.
pub(crate) fn json(status: StatusCode, body: Value) -> SmResult {
    Ok((status, axum::Json(body)).into_response())
}

/// Parses a required JSON body (400 with the parser's reason otherwise).
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidBody("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidBody(format!("invalid JSON body: {e}")))
}

/// Parses an optional JSON body (empty means the default).
pub(crate) fn optional_body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    body(bytes)
}

/// A comma-separated query list (the SDK joins lists with `,`, percent-encoded).
pub(crate) fn list_param(v: Option<&str>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// The query parameters that were given, to keep in paging links.
pub(crate) fn present<const N: usize>(
    params: [(&'static str, Option<String>); N],
) -> Vec<(&'static str, String)> {
    params
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// A validated page of an in-memory listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

impl Page {
    /// Checks `limit` (1 to `max`, `default` when absent) and `offset` (0 to `max_offset`).
    pub(crate) fn new(
        offset: Option<i64>,
        limit: Option<i64>,
        default: i64,
        max: i64,
        max_offset: i64,
    ) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(default);
        let offset = offset.unwrap_or(0);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::InvalidBody(format!("limit must be 1 to {max}")));
        }
        if !(0..=max_offset).contains(&offset) {
            return Err(ApiError::InvalidBody(format!(
                "offset must be 0 to {max_offset}"
            )));
        }
        Ok(Self {
            offset: usize::try_from(offset).unwrap_or(0),
            limit: usize::try_from(limit).unwrap_or(1),
        })
    }

    /// The paged collection: `total_count`, `limit`, `offset`, `first`, `next` (only when more
    /// items follow), `previous`, `last`, and the page under `key`. `base` is the listing's path
    /// and `filters` its other query parameters, kept in the links.
    pub(crate) fn collection(
        self,
        items: Vec<Value>,
        key: &str,
        base: &str,
        filters: &[(&str, String)],
    ) -> Value {
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let href = |offset: Option<usize>| {
            let mut params: Vec<(&str, String)> = Vec::new();
            if let Some(o) = offset {
                params.push(("offset", o.to_string()));
            }
            params.push(("limit", self.limit.to_string()));
            params.extend(filters.iter().cloned());
            let query = serde_urlencoded::to_string(&params).unwrap_or_default();
            let mut link = Map::new();
            link.insert("href".into(), Value::String(format!("{base}?{query}")));
            Value::Object(link)
        };
        let last_offset = if total == 0 {
            0
        } else {
            (total - 1) / self.limit * self.limit
        };
        let mut m = Map::new();
        m.insert("total_count".into(), total.into());
        m.insert("limit".into(), self.limit.into());
        m.insert("offset".into(), self.offset.into());
        m.insert("first".into(), href(None));
        if self.offset + self.limit < total {
            m.insert("next".into(), href(Some(self.offset + self.limit)));
        }
        if self.offset > 0 {
            m.insert(
                "previous".into(),
                href(Some(self.offset.saturating_sub(self.limit))),
            );
        }
        m.insert("last".into(), href(Some(last_offset)));
        m.insert(key.to_owned(), Value::Array(page));
        Value::Object(m)
    }
}

/// The base path of an instance's API.
pub(crate) fn base(instance_id: &str) -> String {
    format!("/sm/{instance_id}/api/v2")
}

/// The `/sm/{instance}/api/v2` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sm/{instance}/api/v2/secret_groups",
            post(groups::create).get(groups::list),
        )
        .route(
            "/sm/{instance}/api/v2/secret_groups/{id}",
            get(groups::get)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route(
            "/sm/{instance}/api/v2/secret_groups/{group}/secret_types/{secret_type}/secrets/{name}",
            get(secrets::get_by_name),
        )
        .route(
            "/sm/{instance}/api/v2/secrets",
            post(secrets::create).get(secrets::list),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}",
            get(secrets::get).delete(secrets::delete),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/metadata",
            get(secrets::metadata).patch(secrets::update_metadata),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/actions",
            post(secrets::action),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions",
            post(secrets::create_version).get(secrets::list_versions),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}",
            get(secrets::get_version),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}/secret_data",
            axum::routing::delete(secrets::delete_version_data),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}/metadata",
            get(secrets::version_metadata).patch(secrets::update_version_metadata),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}/actions",
            post(secrets::version_action),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/tasks",
            get(secrets::list_tasks),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/tasks/{task}",
            get(secrets::task).put(secrets::task).delete(secrets::task),
        )
        .route("/sm/{instance}/api/v2/secrets_locks", get(locks::list_all))
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/locks",
            get(locks::list_secret),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/locks_bulk",
            post(locks::create_secret).delete(locks::delete_secret),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}/locks",
            get(locks::list_version),
        )
        .route(
            "/sm/{instance}/api/v2/secrets/{id}/versions/{version}/locks_bulk",
            post(locks::create_version).delete(locks::delete_version),
        )
        .route(
            "/sm/{instance}/api/v2/configurations",
            post(configs::create).get(configs::list),
        )
        .route(
            "/sm/{instance}/api/v2/configurations/{name}",
            get(configs::get)
                .patch(configs::update)
                .delete(configs::delete),
        )
        .route(
            "/sm/{instance}/api/v2/configurations/{name}/actions",
            post(configs::action),
        )
        .route(
            "/sm/{instance}/api/v2/notifications/registration",
            post(configs::create_notifications)
                .get(configs::get_notifications)
                .delete(configs::delete_notifications),
        )
        .route(
            "/sm/{instance}/api/v2/notifications/registration/test",
            get(configs::test_notifications),
        )
}
