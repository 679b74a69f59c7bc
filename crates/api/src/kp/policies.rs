//! Instance policies: `/api/v2/instance/policies` and `/api/v2/instance/allowed_ip_port`.

use arca_services::instance_policies::PolicyInput;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::{CallerResult, date};
use super::wire::{Collection, RequestEnvelope, media};
use super::{KpResult, instance_id, required_body, vnd};
use crate::extract::Caller;
use crate::{ApiError, AppState};

const POLICY: &str = "application/vnd.ibm.kms.policy+json";

#[derive(Debug, Deserialize)]
pub(crate) struct PolicyParams {
    policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyItem {
    policy_type: String,
    policy_data: PolicyData,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyData {
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attributes: Option<Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyOut {
    creation_date: String,
    created_by: String,
    updated_by: String,
    last_updated: String,
    #[serde(rename = "policy_type")]
    policy_type: String,
    #[serde(rename = "policy_data")]
    policy_data: PolicyData,
}

fn only(params: &PolicyParams) -> Option<&str> {
    params
        .policy
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// `PUT /api/v2/instance/policies`: 204.
pub(crate) async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<PolicyParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let envelope: RequestEnvelope<PolicyItem> = required_body(&body?)?;
    if let Some(total) = envelope.metadata.as_ref().and_then(|m| m.collection_total)
        && usize::try_from(total).ok() != Some(envelope.resources.len())
    {
        return Err(ApiError::InvalidBody(
            "Collection total does not match number of resources".into(),
        )
        .into());
    }
    let items = envelope
        .resources
        .into_iter()
        .map(|i| PolicyInput {
            policy_type: i.policy_type,
            enabled: i.policy_data.enabled,
            attributes: i.policy_data.attributes,
        })
        .collect();
    state
        .arca
        .instance_policies
        .put(&caller, &instance, only(&params), items)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v2/instance/policies`.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: CallerResult,
    params: Result<Query<PolicyParams>, QueryRejection>,
) -> KpResult {
    let instance = instance_id(&headers)?;
    let Caller(caller) = caller?;
    let Query(params) = params?;
    let policies = state
        .arca
        .instance_policies
        .get(&caller, &instance, only(&params))
        .await?;
    let items: Vec<PolicyOut> = policies
        .into_iter()
        .map(|p| PolicyOut {
            creation_date: date(p.creation_date),
            created_by: p.created_by,
            updated_by: p.updated_by,
            last_updated: date(p.last_updated),
            policy_type: p.policy_type,
            policy_data: PolicyData {
                enabled: p.enabled,
                attributes: p.attributes,
            },
        })
        .collect();
    vnd(
        StatusCode::OK,
        media::COLLECTION,
        &Collection::new(POLICY, items),
    )
}
