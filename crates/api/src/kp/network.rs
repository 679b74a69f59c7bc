//! The instance network policies (`allowedIP`, `allowedNetwork`), applied to every Key Protect
//! request before its handler runs.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::KpError;
use crate::{ApiError, AppState, ClientAddr};

/// Refuses requests from addresses the instance's network policies exclude. Requests without a
/// `Bluemix-Instance` header pass through (their handler refuses them), and so do the instance
/// policy endpoints themselves: an administrator must be able to correct a policy that locks
/// everyone out (roles still decide who may change it).
pub(crate) async fn network_policy(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/api/v2/instance/policies" {
        return next.run(req).await;
    }
    let instance = req
        .headers()
        .get("bluemix-instance")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    let addr = req.extensions().get::<ClientAddr>().map(|a| a.0);
    if let (Some(instance), Some(addr)) = (instance, addr)
        && let Err(e) = state
            .arca
            .instance_policies
            .check_network(&instance, addr)
            .await
    {
        return KpError(ApiError::Service(e)).into_response();
    }
    next.run(req).await
}
