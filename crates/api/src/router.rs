//! The router and its middleware: request ids, tracing, body limits, timeouts, panic catching,
//! the sealed gate, and error-shaped fallbacks.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, TRANSFER_ENCODING,
};
use axum::http::{HeaderName, HeaderValue, StatusCode, Version};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::routes::{audit, events, health, iam, identity, instances, resource_controller, sys};
use crate::{ApiError, AppState};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Secrets Manager's largest secret is 1 MB of text; its JSON encoding can double it.
const SM_MIN_BODY_BYTES: usize = 2 * 1024 * 1024 + 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Data endpoints need the master key: while sealed they answer 503 before anything else runs.
async fn require_unsealed(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.arca.system.require_unsealed()?;
    Ok(next.run(req).await)
}

async fn timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// A refusal of a request that has a body (a 413, or a 401 or 503 given before the body is read)
/// may leave part of that body unread, and the connection is then closed. Say so, or an HTTP/1.1
/// client could send its next request on a connection that is going away.
async fn close_after_refused_body(req: Request, next: Next) -> Response {
    let has_body = req.version() < Version::HTTP_2
        && (req.headers().contains_key(TRANSFER_ENCODING)
            || req
                .headers()
                .get(CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0"));
    let mut response = next.run(req).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The decompression layer refuses an unknown `Content-Encoding` with a bare 415: give it the
/// API's error shape.
async fn unsupported_encoding(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE
        && !response.headers().contains_key(CONTENT_TYPE)
    {
        return ApiError::UnsupportedEncoding.into_response();
    }
    response
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Builds the application router.
pub fn router(state: AppState, limits: Limits) -> Router {
    let data = Router::new()
        .route(
            "/v1/instances",
            post(instances::create).get(instances::list),
        )
        .route(
            "/v1/instances/{id}",
            get(instances::get).delete(instances::delete),
        )
        .route("/v1/reclamations", get(resource_controller::reclamations))
        .route(
            "/v1/reclamations/{id}/actions/{action_name}",
            post(resource_controller::action),
        )
        .route(
            "/v2/resource_instances",
            post(resource_controller::create).get(resource_controller::list),
        )
        .route(
            "/v2/resource_instances/{id}",
            get(resource_controller::get)
                .patch(resource_controller::update)
                .delete(resource_controller::delete),
        )
        .route("/v1/reclamations/{id}/restore", post(instances::restore))
        .route("/v1/reclamations/{id}/reclaim", post(instances::reclaim))
        .route(
            "/v1/instances/{id}/root_key",
            get(instances::root_key).put(instances::set_root_key),
        )
        .route(
            "/v1/instances/{id}/root_key/reencrypt",
            post(instances::reencrypt),
        )
        .route(
            "/v1/instances/{id}/event_registrations",
            post(events::create).get(events::list),
        )
        .route(
            "/v1/instances/{id}/event_registrations/{rid}",
            get(events::get).delete(events::delete),
        )
        .route(
            "/v1/instances/{id}/event_registrations/{rid}/test",
            post(events::test),
        )
        .route(
            "/v1/instances/{id}/event_deliveries",
            get(events::deliveries),
        )
        .route(
            "/v1/iam/principals",
            post(iam::create_principal).get(iam::list_principals),
        )
        .route(
            "/v1/iam/api-keys",
            post(iam::create_api_key).get(iam::list_api_keys),
        )
        .route(
            "/v1/iam/api-keys/{id}",
            axum::routing::delete(iam::delete_api_key),
        )
        .route(
            "/v1/iam/grants",
            post(iam::create_grant).get(iam::list_grants),
        )
        .route(
            "/v1/iam/grants/{id}",
            axum::routing::delete(iam::delete_grant),
        )
        .route(
            "/v1/iam/authorizations",
            post(iam::create_authorization).get(iam::list_authorizations),
        )
        .route(
            "/v1/iam/authorizations/{id}",
            axum::routing::delete(iam::delete_authorization),
        )
        .route("/v1/audit/events", get(audit::events))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/identity/token", post(identity::token))
        .route("/oidc/token", post(identity::token))
        // Secrets Manager takes payloads of up to 1 MB, in JSON, and IBM's SDK may gzip its
        // request bodies (the body limit applies to the decompressed bytes).
        .merge(
            crate::sm::routes()
                .layer(DefaultBodyLimit::max(
                    limits.max_body_bytes.max(SM_MIN_BODY_BYTES),
                ))
                .layer(RequestDecompressionLayer::new())
                .layer(middleware::from_fn(unsupported_encoding)),
        )
        .merge(
            crate::kp::routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::kp::network_policy,
            )),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_unsealed,
        ));

    let operator = Router::new()
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/v1/sys/seal-status", get(sys::seal_status))
        .route("/v1/sys/init", post(sys::init))
        .route("/v1/sys/unseal", post(sys::unseal))
        .route("/v1/sys/seal", post(sys::seal))
        .route("/v1/sys/backup", post(sys::backup));

    let request_timeout = limits.request_timeout;
    Router::new()
        .merge(operator)
        .merge(data)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    AUTHORIZATION,
                    COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        // 5xx are logged where they are made (see `error`); 503 while sealed is
                        // routine and must not flood the log at ERROR.
                        .on_failure(
                            tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                        )
                        .make_span_with(|req: &Request| {
                            let id = req
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            // The path only: query strings may carry values worth keeping out of logs.
                            tracing::info_span!(
                                "request",
                                request_id = %id,
                                method = %req.method(),
                                path = %req.uri().path(),
                            )
                        }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(middleware::from_fn(close_after_refused_body))
                .layer(CatchPanicLayer::custom(|_| ApiError::Panic.into_response()))
                .layer(middleware::from_fn(move |req, next| {
                    timeout(request_timeout, req, next)
                })),
        )
        // Outermost but the request id: the record carries the final status (a timeout, a
        // caught panic), and the answer waits for the record when it must.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::audit::record,
        ))
        .with_state(state)
}
