//! The IAM-compatible token endpoint: `POST /identity/token` (and `/oidc/token`, which Go clients
//! use), trading an API key for an access token.

use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::audit::AuditSlot;
use crate::{ApiError, AppState};

const GRANT_APIKEY: &str = "urn:ibm:params:oauth:grant-type:apikey";

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    apikey: Option<String>,
    // Sent by IBM's SDKs; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    response_type: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    scope: Option<String>,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    expiration: i64,
    scope: &'static str,
}

/// IAM's error body: `{errorCode, errorMessage, context}`; IBM's SDKs show `errorMessage`.
pub(crate) struct IamError(ApiError);

impl<E: Into<ApiError>> From<E> for IamError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IamErrorBody {
    error_code: String,
    error_message: String,
    context: serde_json::Value,
}

impl IntoResponse for IamError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.0.parts();
        let body = IamErrorBody {
            error_code: code.to_uppercase(),
            error_message: message,
            context: serde_json::json!({}),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// `POST /identity/token`.
pub(crate) async fn token(
    State(state): State<AppState>,
    slot: Option<Extension<AuditSlot>>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, IamError> {
    let Form(form) = form.map_err(|e| ApiError::InvalidBody(e.body_text()))?;
    if form.grant_type.as_deref() != Some(GRANT_APIKEY) {
        return Err(ApiError::InvalidBody(format!(
            "unsupported grant_type: only {GRANT_APIKEY} is supported"
        ))
        .into());
    }
    let apikey = form
        .apikey
        .ok_or_else(|| ApiError::InvalidBody("apikey is required".into()))?;
    let issued = state.arca.tokens.issue(apikey.trim()).await?;
    if let Some(Extension(slot)) = slot {
        slot.note(&issued.principal_id, &issued.account_id);
    }
    let body = TokenResponse {
        access_token: issued.access_token.to_string(),
        // Refresh is by API key (IBM's SDKs request a new token when one nears expiry).
        refresh_token: "not_supported".into(),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        expiration: issued.expiration,
        scope: "ibm openid",
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
