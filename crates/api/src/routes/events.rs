//! Lifecycle event registrations and the delivery log of an instance:
//! `/v1/instances/{id}/event_registrations`, `/v1/instances/{id}/event_deliveries`.

use arca_proto::events::{
    CreateEventRegistration, CreatedEventRegistration, EventDelivery, EventDeliveryList,
    EventRegistration, EventRegistrationList,
};
use arca_services::events::{Delivery, NewRegistration, Registration};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::instances::rfc3339;
use crate::extract::{ApiJson, Caller};
use crate::{ApiError, AppState};

fn registration(r: Registration) -> EventRegistration {
    EventRegistration {
        id: r.id,
        instance_id: r.instance_id,
        url: r.url,
        event_types: r.event_types,
        created_by: r.created_by,
        created_at: rfc3339(r.created_at),
    }
}

fn delivery(d: Delivery) -> EventDelivery {
    EventDelivery {
        id: d.id,
        event_id: d.event_id,
        event_type: d.event_type,
        registration_id: d.registration_id,
        state: d.state.to_owned(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at.map(rfc3339),
        last_attempt_at: d.last_attempt_at.map(rfc3339),
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: rfc3339(d.created_at),
    }
}

/// `POST /v1/instances/{id}/event_registrations`: 201 with the signing secret, shown once.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<CreateEventRegistration>,
) -> Result<(StatusCode, Json<CreatedEventRegistration>), ApiError> {
    let Path(id) = path?;
    let new = NewRegistration {
        url: req.url,
        event_types: req.event_types,
        secret: req.secret.map(Zeroizing::new),
    };
    let created = state
        .arca
        .events
        .create_registration(&caller, &id, new)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEventRegistration {
            registration: registration(created.registration),
            secret: created.secret.to_string(),
        }),
    ))
}

/// `GET /v1/instances/{id}/event_registrations`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<EventRegistrationList>, ApiError> {
    let Path(id) = path?;
    let list = state.arca.events.list_registrations(&caller, &id).await?;
    Ok(Json(EventRegistrationList {
        event_registrations: list.into_iter().map(registration).collect(),
    }))
}

/// `GET /v1/instances/{id}/event_registrations/{rid}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<EventRegistration>, ApiError> {
    let Path((id, rid)) = path?;
    let r = state
        .arca
        .events
        .get_registration(&caller, &id, &rid)
        .await?;
    Ok(Json(registration(r)))
}

/// `DELETE /v1/instances/{id}/event_registrations/{rid}`: 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((id, rid)) = path?;
    state
        .arca
        .events
        .delete_registration(&caller, &id, &rid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/instances/{id}/event_registrations/{rid}/test`: sends a signed `arca.test` event
/// now; the delivery after its attempt.
pub(crate) async fn test(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<EventDelivery>, ApiError> {
    let Path((id, rid)) = path?;
    let d = state
        .arca
        .events
        .test_registration(&caller, &id, &rid)
        .await?;
    Ok(Json(delivery(d)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    registration_id: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/instances/{id}/event_deliveries?registration_id=&state=&limit=`.
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<EventDeliveryList>, ApiError> {
    let Path(id) = path?;
    let Query(q) = query?;
    let list = state
        .arca
        .events
        .deliveries(&caller, &id, q.registration_id, q.state.as_deref(), q.limit)
        .await?;
    Ok(Json(EventDeliveryList {
        event_deliveries: list.into_iter().map(delivery).collect(),
    }))
}
