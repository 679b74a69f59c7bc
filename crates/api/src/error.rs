//! The one place where errors become HTTP statuses and wire bodies, by variant.

use arca_proto::{ErrorBody, ErrorItem};
use arca_services::ServiceError;
use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Everything a handler or extractor can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// A service refused or failed.
    Service(ServiceError),
    /// The body is not acceptable JSON for this endpoint.
    Json(JsonRejection),
    /// The query string is malformed.
    Query(QueryRejection),
    /// A path parameter is malformed.
    Path(PathRejection),
    /// The body could not be read (too large, broken connection).
    Body(BytesRejection),
    /// The body is not what the endpoint takes.
    InvalidBody(String),
    /// A required header is missing or malformed.
    Header(&'static str),
    /// No `Authorization: Bearer` credentials.
    MissingCredentials,
    /// No such route.
    NoRoute,
    /// The route exists, not with this method.
    MethodNotAllowed,
    /// The request took longer than the configured timeout.
    Timeout,
    /// A handler panicked (a bug; caught so the connection survives).
    Panic,
    /// The request body's `Content-Encoding` is not one the server decodes (gzip).
    UnsupportedEncoding,
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::Json(e)
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::Path(e)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        Self::Body(e)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::Query(e)
    }
}

fn service_status(e: &ServiceError) -> (StatusCode, &'static str) {
    match e {
        ServiceError::Sealed => (StatusCode::SERVICE_UNAVAILABLE, "sealed"),
        ServiceError::NotInitialized => (StatusCode::SERVICE_UNAVAILABLE, "not_initialized"),
        ServiceError::AlreadyInitialized => (StatusCode::CONFLICT, "already_initialized"),
        ServiceError::InvalidShare(_) => (StatusCode::BAD_REQUEST, "invalid_share"),
        ServiceError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        ServiceError::SearchTooBroad(_) => (StatusCode::BAD_REQUEST, "key_search_too_broad"),
        ServiceError::Unsupported(_) => (StatusCode::BAD_REQUEST, "unsupported"),
        ServiceError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        ServiceError::InvalidState(_) => (StatusCode::CONFLICT, "invalid_state"),
        ServiceError::Concurrent(_) => (StatusCode::CONFLICT, "conflict"),
        ServiceError::Locked(_) => (StatusCode::PRECONDITION_FAILED, "locked"),
        ServiceError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        ServiceError::AuditUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"),
        // Unknown future variants and Internal: a 500 with no detail; the source is logged.
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
    }
}

impl ApiError {
    /// Status, stable code and a message safe to show.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Service(e) => {
                let (status, code) = service_status(e);
                let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
                    "internal error; see the server log for this request id".to_owned()
                } else {
                    e.to_string()
                };
                (status, code, message)
            }
            Self::Json(rejection) => {
                let code = match rejection {
                    JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
                    JsonRejection::BytesRejection(_)
                        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                    {
                        "payload_too_large"
                    }
                    _ => "invalid_json",
                };
                (rejection.status(), code, rejection.body_text())
            }
            Self::Query(rejection) => (
                StatusCode::BAD_REQUEST,
                "invalid_query",
                rejection.body_text(),
            ),
            Self::Path(rejection) => (
                StatusCode::BAD_REQUEST,
                "invalid_path",
                rejection.body_text(),
            ),
            Self::Body(rejection) => {
                let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "payload_too_large"
                } else {
                    "invalid_body"
                };
                (rejection.status(), code, rejection.body_text())
            }
            Self::InvalidBody(message) => {
                (StatusCode::BAD_REQUEST, "invalid_body", message.clone())
            }
            Self::Header(message) => (
                StatusCode::BAD_REQUEST,
                "invalid_header",
                (*message).to_owned(),
            ),
            Self::MissingCredentials => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "missing credentials: send `Authorization: Bearer <api key>`".to_owned(),
            ),
            Self::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint".to_owned(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint".to_owned(),
            ),
            Self::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the request took too long".to_owned(),
            ),
            Self::UnsupportedEncoding => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_encoding",
                "the request body's Content-Encoding is not supported (send identity or gzip)"
                    .to_owned(),
            ),
            Self::Panic => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error; see the server log for this request id".to_owned(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        // 503 (sealed, HSM down) is an expected state, not a server fault: only 500s are errors.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            match &self {
                Self::Service(ServiceError::Internal(source)) => {
                    tracing::error!(error = %source, detail = ?source, "internal error")
                }
                other => tracing::error!(error = ?other, "server error"),
            }
        }
        let body = ErrorBody {
            errors: vec![ErrorItem {
                code: code.to_owned(),
                message,
            }],
            trace: None,
            status_code: status.as_u16(),
        };
        (status, Json(body)).into_response()
    }
}
