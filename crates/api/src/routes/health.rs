//! Liveness and readiness.

use arca_proto::health::{AuditHealth, Health};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

fn health(state: &AppState, ready: bool) -> Health {
    let s = state.arca.system.status();
    let audit = state.arca.audit.status();
    let status = if !ready {
        "ok"
    } else if !s.initialized {
        "uninitialized"
    } else if s.sealed {
        "sealed"
    } else if !audit.healthy() {
        // Requests are being refused (or would be) rather than run unaudited.
        "audit_backlog"
    } else {
        "ready"
    };
    Health {
        status: status.to_owned(),
        initialized: s.initialized,
        sealed: s.sealed,
        keystore: s.kind.as_str().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        audit: Some(AuditHealth {
            backlog: audit.backlog as u64,
            capacity: audit.capacity as u64,
            refused: audit.refused,
            failed_appends: audit.failed_appends,
            failing: audit.failing,
        }),
    }
}

/// `GET /health`: 200 while the process serves requests, sealed or not.
pub(crate) async fn live(State(state): State<AppState>) -> Json<Health> {
    Json(health(&state, false))
}

/// `GET /health/ready`: 200 only when initialized and unsealed, else 503 (load balancers route
/// traffic only to ready nodes).
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let h = health(&state, true);
    let code = if h.status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h))
}
