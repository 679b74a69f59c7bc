//! The import token: `/api/v2/import_token`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::keys::{CallerResult, date};
use super::{KpResult, instance_id, optional_body, vnd};
use crate::AppState;
use crate::extract::Caller;

const IMPORT_TOKEN: &str = "application/vnd.ibm.kms.import_token+json";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateRequest {
    expiration: Option<i64>,
    max_allowed_retrievals: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenOut {
    id: String,
    creation_date: String,
    expiration_date: String,
    expiration: i64,
    max_allowed_retrievals: i64,
    remaining_retrievals: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
}

fn out(t: &arca_services::import_tokens::ImportToken) -> TokenOut {
    TokenOut {
        id: t.id.clone(),
        creation_date: date(t.creation_date),
        expiration_date: date(t.expiration_date),
        expiration: t.expiration_secs,
        max_allowed_retrievals: t.max_retrievals,
        remaining_retrievals: t.remaining_retrievals,
        payload: None,
        nonce: None,
    }
}

/// `POST /api/v2/import_token`: 200 (not 201, as Key Protect answers).
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let req: CreateRequest = optional_body(&body?)?;
    let token = state
        .arca
        .import_tokens
        .create(
            &caller,
            &instance,
            req.expiration,
            req.max_allowed_retrievals,
        )
        .await?;
    vnd(StatusCode::OK, IMPORT_TOKEN, &out(&token))
}

/// `GET /api/v2/import_token`: the public key (base64 of the PEM) and the nonce.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let got = state
        .arca
        .import_tokens
        .retrieve(&caller, &instance)
        .await?;
    let mut body = out(&got.token);
    body.payload = Some(B64.encode(got.public_key_pem.as_bytes()));
    body.nonce = Some(B64.encode(&*got.nonce));
    vnd(StatusCode::OK, IMPORT_TOKEN, &body)
}
