//! The audit trail (`/v1/audit/...`): an account's records, and the server's verification of
//! the chain.

use arca_proto::audit::{AuditEvent, AuditEventList, AuditVerification};
use reqwest::Method;

use crate::{Client, ClientError};

/// Which records `GET /v1/audit/events` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Records after this seq.
    pub after_seq: Option<i64>,
    /// At most this many (server default 100, at most 1000).
    pub limit: Option<i64>,
    /// Only this instance's.
    pub instance_id: Option<String>,
    /// Only this action (e.g. `kms.keys.wrap`).
    pub action: Option<String>,
    /// Only this initiator's.
    pub initiator: Option<String>,
}

impl Client {
    /// `GET /v1/audit/events`: one page of the account's records.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<AuditEventList, ClientError> {
        let mut url = self.url("/v1/audit/events")?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(v) = filter.after_seq {
                q.append_pair("after_seq", &v.to_string());
            }
            if let Some(v) = filter.limit {
                q.append_pair("limit", &v.to_string());
            }
            for (k, v) in [
                ("instance_id", &filter.instance_id),
                ("action", &filter.action),
                ("initiator", &filter.initiator),
            ] {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
        }
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// Every record of the account (all pages), by seq.
    pub async fn audit_events_all(&self) -> Result<Vec<AuditEvent>, ClientError> {
        let mut out = Vec::new();
        let mut filter = AuditFilter {
            limit: Some(1_000),
            ..Default::default()
        };
        loop {
            let page = self.audit_events(&filter).await?;
            out.extend(page.events);
            match page.next_after_seq {
                Some(next) => filter.after_seq = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// `GET /v1/audit/verify`: the server verifies the whole stored chain.
    pub async fn audit_verify(&self) -> Result<AuditVerification, ClientError> {
        self.send(Method::GET, "/v1/audit/verify", None::<&()>)
            .await
    }
}
