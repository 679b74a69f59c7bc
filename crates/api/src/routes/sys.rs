//! Operator endpoints: `/v1/sys/...`.

use arca_keystore::{InitParams, KeystoreKind, SealStatus};
use arca_proto::sys::{self as wire, InitRequest, InitResponse, UnsealRequest};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use zeroize::Zeroizing;

use crate::extract::{ApiJson, Caller};
use crate::{ApiError, AppState};

fn to_wire(s: SealStatus) -> wire::SealStatus {
    wire::SealStatus {
        keystore: s.kind.as_str().to_owned(),
        initialized: s.initialized,
        sealed: s.sealed,
        threshold: s.threshold,
        shares: s.shares,
        progress: s.progress,
    }
}

/// `GET /v1/sys/seal-status`.
pub(crate) async fn seal_status(State(state): State<AppState>) -> Json<wire::SealStatus> {
    Json(to_wire(state.arca.system.status()))
}

/// `POST /v1/sys/init`.
pub(crate) async fn init(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<InitRequest>,
) -> Result<Json<InitResponse>, ApiError> {
    let params = match state.arca.system.status().kind {
        KeystoreKind::Shamir => InitParams {
            shares: req.shares.unwrap_or(5),
            threshold: req.threshold.unwrap_or(3),
        },
        KeystoreKind::Pkcs11 => InitParams {
            shares: 0,
            threshold: 0,
        },
    };
    let account = req.account_name.as_deref().unwrap_or("default");
    let out = state
        .arca
        .system
        .initialize(params, account, |_| Ok(()))
        .await?;
    Ok(Json(InitResponse {
        shares: out.shares.iter().map(|s| s.to_string()).collect(),
        threshold: out.threshold,
        account_id: out.account_id.clone(),
        api_key: out.api_key.to_string(),
    }))
}

/// `POST /v1/sys/unseal`: one share per call.
pub(crate) async fn unseal(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UnsealRequest>,
) -> Result<Json<wire::SealStatus>, ApiError> {
    let share = req.share.map(Zeroizing::new);
    let status = state.arca.system.unseal(share).await?;
    Ok(Json(to_wire(status)))
}

/// `POST /v1/sys/seal`: administrators only.
pub(crate) async fn seal(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<wire::SealStatus>, ApiError> {
    Ok(Json(to_wire(state.arca.seal(&caller)?)))
}

/// `POST /v1/sys/backup`: administrators only. Streams an online backup of the whole store
/// (`application/octet-stream`, the `ARCA-BK1` format), sealed under the master key. An error
/// after the first byte cuts the stream short; the file then lacks its trailer and neither
/// verifies nor restores.
pub(crate) async fn backup(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let stream = state.arca.backup.stream(&caller).await?;
    let disposition = format!("attachment; filename=\"{}\"", stream.file_name);
    let chunks = futures_util::stream::unfold(stream, |mut s| async move {
        s.next_chunk().await.map(|chunk| (chunk, s))
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
