//! The audit layer: one record for every request (every API, the token endpoint, the operator
//! endpoints; not `/health`), made from what the request and its answer say — never a body or
//! a query string (they may carry key material or secret data).
//!
//! * initiator: the principal the `Caller` extractor (or the token endpoint) authenticated,
//!   else `anonymous`;
//! * action: a stable name from the matched route template and the method
//!   (`kms.keys.create`, `kms.keys.wrap`, `secrets-manager.secrets.create`, `instances.delete`);
//! * target: the instance (`Bluemix-Instance`, or the `{instance}`/`{id}` of the path) and the
//!   request path, whose segments are the resource ids;
//! * outcome and reason code: from the status of the answer;
//! * correlation id: the caller's `Correlation-Id` or `X-Correlation-Id`, else a new one,
//!   echoed in `Correlation-Id` of the answer.
//!
//! The request takes a place in the audit spool before it runs and is refused (503) when there
//! is none. A request that may change state is answered only after its record is committed;
//! reads and the key actions that change nothing are not held (see `arca_services::audit`).

use std::sync::{Arc, OnceLock};

use arca_services::Principal;
use arca_services::audit::ANONYMOUS;
use arca_store::audit::NewAuditEvent;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState, ClientAddr};

/// Where a handler leaves who the caller turned out to be, for the record.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditSlot(Arc<OnceLock<(String, String)>>);

impl AuditSlot {
    /// Notes the authenticated caller (the first one noted stays).
    pub(crate) fn note(&self, principal_id: &str, account_id: &str) {
        let _ = self.0.set((principal_id.to_owned(), account_id.to_owned()));
    }

    /// Notes `principal`.
    pub(crate) fn note_principal(&self, principal: &Principal) {
        self.note(&principal.id, &principal.account_id);
    }
}

const CORRELATION_ID: HeaderName = HeaderName::from_static("correlation-id");
const X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
/// Longest correlation id kept (longer ones are replaced by a new one).
const MAX_CORRELATION_ID: usize = 128;
/// Longest target kept.
const MAX_TARGET: usize = 512;
/// Longest instance id or action word taken from a request.
const MAX_WORD: usize = 64;

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_WORD
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn correlation_id(headers: &HeaderMap) -> String {
    [CORRELATION_ID, X_CORRELATION_ID]
        .iter()
        .filter_map(|h| headers.get(h))
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| {
            !v.is_empty()
                && v.len() <= MAX_CORRELATION_ID
                && v.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| arca_services::ids::uuid().unwrap_or_default())
}

/// The API a path belongs to, as the first word of its actions.
fn api_of(template: &str) -> &'static str {
    if template.starts_with("/api/v2/") {
        "kms"
    } else if template.starts_with("/sm/") {
        "secrets-manager"
    } else if template.starts_with("/identity/") || template.starts_with("/oidc/") {
        "iam"
    } else {
        "arca"
    }
}

/// `kms.keys.create`, `secrets-manager.secrets.versions.list`, `kms.keys.wrap`...: the template's
/// fixed segments (without the API prefix), then a verb from the method — or, for Key
/// Protect's key actions, the action itself.
fn action_name(method: &Method, template: &str, path: &str, query: Option<&str>) -> String {
    let api = api_of(template);
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let skip = match api {
        "kms" => 2,             // api/v2
        "secrets-manager" => 4, // sm/{instance}/api/v2
        _ => 0,
    };
    let mut words: Vec<&str> = t
        .iter()
        .skip(skip)
        .filter(|s| !s.starts_with('{'))
        .copied()
        .filter(|s| *s != "v1")
        .collect();
    let ends_in_param = t.last().is_some_and(|s| s.starts_with('{'));
    // Key Protect names its key actions in the path (`/actions/wrap`) or, in the older form,
    // in the query (`POST /keys/{id}?action=wrap`).
    let kp_action = match (api, t.last(), p.last()) {
        ("kms", Some(&"{action}"), Some(a)) if is_word(a) => Some((*a).to_owned()),
        ("kms", Some(&"{id}"), _) if method == Method::POST && t.len() == 4 => query
            .and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("action="))
                    .filter(|a| is_word(a))
                    .map(str::to_owned)
            })
            .or_else(|| Some("action".to_owned())),
        _ => None,
    };
    if let Some(a) = kp_action {
        words.retain(|w| *w != "actions");
        return format!("{api}.{}.{a}", words.join("."));
    }
    let verb = match *method {
        Method::GET if ends_in_param => "get",
        Method::GET => "list",
        Method::HEAD => "count",
        Method::POST if words.last().is_some_and(|w| *w == "actions") => "run",
        Method::POST => "create",
        Method::PUT | Method::PATCH => "update",
        Method::DELETE => "delete",
        _ => "other",
    };
    if words.is_empty() {
        format!("{api}.{verb}")
    } else {
        format!("{api}.{}.{verb}", words.join("."))
    }
}

/// The instance a request acts on: `Bluemix-Instance` for Key Protect, else the path's
/// `{instance}`, or the `{id}` of the instance and reclamation routes.
fn instance_of(template: &str, path: &str, headers: &HeaderMap) -> String {
    if template.starts_with("/api/v2/") {
        return headers
            .get("bluemix-instance")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| is_word(v))
            .unwrap_or_default()
            .to_owned();
    }
    let t = template.split('/').filter(|s| !s.is_empty());
    let p = path.split('/').filter(|s| !s.is_empty());
    let instance_routes =
        template.starts_with("/v1/instances/") || template.starts_with("/v1/reclamations/");
    for (ts, ps) in t.zip(p) {
        if (ts == "{instance}" || (instance_routes && ts == "{id}")) && is_word(ps) {
            return ps.to_owned();
        }
    }
    String::new()
}

/// Whether the answer may wait for the record's commit: everything that may change state.
/// Reads, and the key actions that only compute (the hot path), are not held.
fn is_durable(method: &Method, action: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        _ => !matches!(
            action,
            "kms.keys.wrap" | "kms.keys.unwrap" | "kms.keys.rewrap"
        ),
    }
}

/// A refusal in the shape of the API the request was for.
fn refusal(path: &str, e: ApiError) -> Response {
    if path.starts_with("/api/v2/") {
        crate::kp::KpError(e).into_response()
    } else {
        e.into_response()
    }
}

/// The middleware (see the module docs).
pub(crate) async fn record(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/health" || path.starts_with("/health/") {
        return next.run(req).await;
    }
    let audit = &state.arca.audit;
    let permit = match audit.reserve() {
        Ok(permit) => permit,
        Err(e) => return refusal(&path, e.into()),
    };
    let correlation = correlation_id(req.headers());
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().clone();
    let (action, instance_id) = match &template {
        Some(t) => (
            action_name(&method, t, &path, req.uri().query()),
            instance_of(t, &path, req.headers()),
        ),
        None => ("unmatched".to_owned(), String::new()),
    };
    let source = req
        .extensions()
        .get::<ClientAddr>()
        .map(|a| a.0.to_string())
        .unwrap_or_default();
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let time = audit.now_millis();

    let mut response = next.run(req).await;

    let status = response.status();
    let (initiator, account_id) = slot
        .0
        .get()
        .cloned()
        .unwrap_or_else(|| (ANONYMOUS.to_owned(), String::new()));
    let mut target = path.clone();
    if target.len() > MAX_TARGET {
        let mut cut = MAX_TARGET;
        while !target.is_char_boundary(cut) {
            cut -= 1;
        }
        target.truncate(cut);
    }
    let event = NewAuditEvent {
        time,
        account_id,
        initiator,
        action: action.clone(),
        instance_id,
        target,
        outcome: if status.is_success() || status.is_redirection() {
            "success"
        } else {
            "failure"
        }
        .to_owned(),
        reason_code: i64::from(status.as_u16()),
        correlation_id: correlation.clone(),
        source_address: source,
    };
    if is_durable(&method, &action) {
        if let Err(e) = permit.submit_durable(event).await {
            return refusal(&path, e.into());
        }
    } else {
        permit.submit(event);
    }
    if let Ok(v) = HeaderValue::from_str(&correlation) {
        response.headers_mut().insert(CORRELATION_ID, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_from_the_template_and_method() {
        let cases = [
            (
                Method::POST,
                "/api/v2/keys",
                "/api/v2/keys",
                None,
                "kms.keys.create",
            ),
            (
                Method::GET,
                "/api/v2/keys",
                "/api/v2/keys",
                None,
                "kms.keys.list",
            ),
            (
                Method::HEAD,
                "/api/v2/keys",
                "/api/v2/keys",
                None,
                "kms.keys.count",
            ),
            (
                Method::GET,
                "/api/v2/keys/{id}",
                "/api/v2/keys/k1",
                None,
                "kms.keys.get",
            ),
            (
                Method::POST,
                "/api/v2/keys/{id}/actions/{action}",
                "/api/v2/keys/k1/actions/wrap",
                None,
                "kms.keys.wrap",
            ),
            (
                Method::POST,
                "/api/v2/keys/{id}",
                "/api/v2/keys/k1",
                Some("action=unwrap"),
                "kms.keys.unwrap",
            ),
            (
                Method::POST,
                "/api/v2/keys/{id}/actions/{action}",
                "/api/v2/keys/k1/actions/<script>",
                None,
                "kms.keys.actions.run",
            ),
            (
                Method::POST,
                "/sm/{instance}/api/v2/secrets",
                "/sm/i1/api/v2/secrets",
                None,
                "secrets-manager.secrets.create",
            ),
            (
                Method::GET,
                "/sm/{instance}/api/v2/secrets/{id}/versions",
                "/sm/i1/api/v2/secrets/s1/versions",
                None,
                "secrets-manager.secrets.versions.list",
            ),
            (
                Method::POST,
                "/sm/{instance}/api/v2/secrets/{id}/actions",
                "/sm/i1/api/v2/secrets/s1/actions",
                None,
                "secrets-manager.secrets.actions.run",
            ),
            (
                Method::DELETE,
                "/v1/instances/{id}",
                "/v1/instances/i1",
                None,
                "arca.instances.delete",
            ),
            (
                Method::POST,
                "/identity/token",
                "/identity/token",
                None,
                "iam.identity.token.create",
            ),
        ];
        for (method, template, path, query, want) in cases {
            assert_eq!(
                action_name(&method, template, path, query),
                want,
                "{template}"
            );
        }
    }

    #[test]
    fn instances_come_from_the_header_or_the_path() {
        let mut h = HeaderMap::new();
        h.insert("bluemix-instance", HeaderValue::from_static("kp-1"));
        assert_eq!(instance_of("/api/v2/keys", "/api/v2/keys", &h), "kp-1");
        let none = HeaderMap::new();
        assert_eq!(instance_of("/api/v2/keys", "/api/v2/keys", &none), "");
        assert_eq!(
            instance_of(
                "/sm/{instance}/api/v2/secrets",
                "/sm/sm-1/api/v2/secrets",
                &h
            ),
            "sm-1"
        );
        assert_eq!(
            instance_of(
                "/v1/reclamations/{id}/restore",
                "/v1/reclamations/x/restore",
                &h
            ),
            "x"
        );
        assert_eq!(
            instance_of("/v1/iam/grants/{id}", "/v1/iam/grants/g", &h),
            ""
        );
    }

    #[test]
    fn correlation_ids_are_taken_or_made() {
        let mut h = HeaderMap::new();
        h.insert("x-correlation-id", HeaderValue::from_static("abc-1"));
        assert_eq!(correlation_id(&h), "abc-1");
        h.insert("correlation-id", HeaderValue::from_static("first"));
        assert_eq!(correlation_id(&h), "first");
        let mut bad = HeaderMap::new();
        bad.insert("correlation-id", HeaderValue::from_static("has space"));
        let made = correlation_id(&bad);
        assert_eq!(made.len(), 36, "{made}");
    }

    #[test]
    fn only_changes_wait_for_their_record() {
        assert!(!is_durable(&Method::GET, "kms.keys.get"));
        assert!(!is_durable(&Method::POST, "kms.keys.wrap"));
        assert!(is_durable(&Method::POST, "kms.keys.create"));
        assert!(is_durable(&Method::POST, "kms.keys.rotate"));
        assert!(is_durable(&Method::DELETE, "kms.keys.delete"));
    }
}
