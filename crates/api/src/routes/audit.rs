//! The audit trail: `GET /v1/audit/events` (an account's records, paged by seq) and
//! `GET /v1/audit/verify` (the server's verification of the whole stored chain). Account
//! administrators only.

use arca_proto::audit::{AuditEvent, AuditEventList, AuditVerification};
use arca_store::audit::{AuditQuery, AuditRecord};
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::extract::Caller;
use crate::{ApiError, AppState};

/// The query of `GET /v1/audit/events`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    after_seq: Option<i64>,
    limit: Option<i64>,
    instance_id: Option<String>,
    action: Option<String>,
    initiator: Option<String>,
}

/// The wire form of a record (hashes in hex).
pub(crate) fn to_wire(r: AuditRecord) -> AuditEvent {
    let e = r.event;
    AuditEvent {
        seq: r.seq,
        time_ms: e.time,
        account_id: e.account_id,
        initiator: e.initiator,
        action: e.action,
        instance_id: e.instance_id,
        target: e.target,
        outcome: e.outcome,
        reason_code: e.reason_code,
        correlation_id: e.correlation_id,
        source_address: e.source_address,
        prev_hash: hex::encode(&r.prev_hash),
        account_prev_hash: hex::encode(&r.account_prev_hash),
        hash: hex::encode(&r.hash),
    }
}

/// `GET /v1/audit/events?after_seq=&limit=&instance_id=&action=&initiator=`.
pub(crate) async fn events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditEventList>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(0);
    let records = state
        .arca
        .audit
        .list(
            &caller,
            AuditQuery {
                account_id: None,
                after_seq: q.after_seq.unwrap_or(0),
                limit,
                instance_id: q.instance_id,
                action: q.action,
                initiator: q.initiator,
            },
        )
        .await?;
    let full = i64::try_from(records.len()).unwrap_or(i64::MAX)
        >= if limit == 0 {
            arca_services::audit::DEFAULT_PAGE
        } else {
            limit
        };
    let next_after_seq = if full {
        records.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Json(AuditEventList {
        events: records.into_iter().map(to_wire).collect(),
        next_after_seq,
    }))
}

/// `GET /v1/audit/verify`.
pub(crate) async fn verify(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<AuditVerification>, ApiError> {
    let report = state.arca.audit.verify(&caller).await?;
    Ok(Json(AuditVerification {
        ok: report.fault.is_none(),
        records: report.records,
        last_seq: report.last_seq,
        last_hash: hex::encode(&report.last_hash),
        checkpoints: report.checkpoints,
        last_checkpoint_seq: report.last_checkpoint_seq,
        bad_seq: report.fault.as_ref().map(|f| f.seq),
        problem: report.fault.map(|f| f.problem),
    }))
}
