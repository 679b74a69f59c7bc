//! Extractors: JSON bodies and callers, failing with [`ApiError`] so every rejection has the
//! API's error shape.

use arca_services::Principal;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::audit::AuditSlot;
use crate::{ApiError, AppState};

/// `axum::Json`, rejecting with [`ApiError`].
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// The authenticated caller (`Authorization: Bearer <credential>`).
#[derive(Debug)]
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::MissingCredentials)?;
        let value = header.to_str().map_err(|_| ApiError::MissingCredentials)?;
        let (scheme, credential) = value.split_once(' ').ok_or(ApiError::MissingCredentials)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::MissingCredentials);
        }
        let principal = state.arca.tokens.authenticate(credential.trim()).await?;
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.note_principal(&principal);
        }
        Ok(Self(principal))
    }
}
