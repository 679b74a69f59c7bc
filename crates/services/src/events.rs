//! Lifecycle events delivered to callback URLs (Arca's own webhooks; not the Secrets Manager
//! Event Notifications registration, which is stored for wire compatibility only).
//!
//! An instance's Manager registers callback URLs, each with an optional filter of event types
//! and an HMAC-SHA256 signing secret. The secret is made by the server (or given by the caller),
//! shown once, and stored wrapped by the master key with the instance and registration ids in
//! the AAD, like instance keys: a copy of the database does not reveal it.
//!
//! **Emission.** The services call [`EventService::emit`] after their change has committed; it
//! writes the event and one pending delivery per matching registration in one transaction (an
//! outbox). Nothing is written for an instance without matching registrations, so events cost
//! one indexed read there. A crash between a change's commit and its event's write loses that
//! event: the window is one local write, the change itself is never lost, and threading the
//! outbox through every store transaction would tie each store method to this feature. The
//! clock-driven notices are not exposed to it: an expiring notice is written with its mark in
//! one transaction and recomputed on every pass until written, so each threshold is notified
//! exactly once. Once written, an event is delivered at least once (receivers dedupe on
//! `Arca-Event-Id`).
//!
//! **Delivery** ([`EventService::run_due_work`], in the server's jobs loop and callable from
//! tests with a manual clock): due deliveries are claimed under a lease (safe with several nodes
//! on one PostgreSQL database), POSTed with a short timeout and no redirects, and signed at each
//! attempt: `Arca-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A 2xx
//! answer delivers; anything else is retried with exponential backoff from the clock (30 s,
//! 1 min, 2 min, ... capped at 1 h by default) until the attempts run out (then `failed`). Every
//! attempt updates the delivery log and is logged.
//!
//! **Instance reclamation** removes the instance's registrations, events and deliveries with
//! everything else it owned (nothing of a reclaimed instance may remain in the database). Its
//! `instance.reclaimed` event is therefore sent first, once, right before the purge: it gets
//! one attempt and no retries.
//!
//! **Callback URLs** must be `https`; plain `http` only to a loopback host (local receivers,
//! tests) unless the operator allows it (`[events] allow_http = true`). URLs with credentials are
//! refused. SSRF: a Manager can make the server POST to any address it can reach (including
//! private networks and metadata endpoints when https is served there); redirects are never
//! followed and only the status of the answer is kept (never its body), but operators who host
//! untrusted tenants should restrict the server's egress at the network.
//!
//! Payloads carry ids, types, states and times; never key material or secret data.

mod delivery;
mod registrations;

use std::sync::Arc;

use arca_keystore::Keystore;
use arca_store::Store;
use arca_store::events::{DeliveryRecord, DeliveryState, EventRecord, EventRegistrationRecord};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::access::AccessService;
use crate::clock::{Clock, to_millis};
use crate::instances::InstanceService;
use crate::{ServiceResult, ids};

pub use delivery::EventsDueWork;
pub use registrations::{CreatedRegistration, Delivery, NewRegistration, Registration};

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A key was created.
    KeyCreated,
    /// A root key got a new version (by request or by its rotation policy).
    KeyRotated,
    /// A key was disabled.
    KeyDisabled,
    /// A key was enabled.
    KeyEnabled,
    /// A key was deleted (restorable).
    KeyDeleted,
    /// A deleted key was restored.
    KeyRestored,
    /// A deleted key was purged (its material shredded).
    KeyPurged,
    /// A secret was created.
    SecretCreated,
    /// A secret got a new version by request.
    SecretNewVersion,
    /// A secret was rotated by its rotation policy.
    SecretRotated,
    /// A secret (not a certificate) expires within 30, 7 or 1 days.
    SecretExpiring,
    /// A secret expired; its data was destroyed.
    SecretExpired,
    /// A secret was deleted with all its versions.
    SecretDestroyed,
    /// A certificate expires within 30, 7 or 1 days.
    CertificateExpiring,
    /// A certificate expired.
    CertificateExpired,
    /// The instance was deleted (its reclamation period started).
    InstanceDeleted,
    /// The instance was restored.
    InstanceRestored,
    /// The instance is being reclaimed (sent once, right before it is removed).
    InstanceReclaimed,
    /// A test event sent on request.
    Test,
}

impl EventType {
    /// Every type, in documentation order.
    pub const ALL: [Self; 19] = [
        Self::KeyCreated,
        Self::KeyRotated,
        Self::KeyDisabled,
        Self::KeyEnabled,
        Self::KeyDeleted,
        Self::KeyRestored,
        Self::KeyPurged,
        Self::SecretCreated,
        Self::SecretNewVersion,
        Self::SecretRotated,
        Self::SecretExpiring,
        Self::SecretExpired,
        Self::SecretDestroyed,
        Self::CertificateExpiring,
        Self::CertificateExpired,
        Self::InstanceDeleted,
        Self::InstanceRestored,
        Self::InstanceReclaimed,
        Self::Test,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyCreated => "key.created",
            Self::KeyRotated => "key.rotated",
            Self::KeyDisabled => "key.disabled",
            Self::KeyEnabled => "key.enabled",
            Self::KeyDeleted => "key.deleted",
            Self::KeyRestored => "key.restored",
            Self::KeyPurged => "key.purged",
            Self::SecretCreated => "secret.created",
            Self::SecretNewVersion => "secret.new_version",
            Self::SecretRotated => "secret.rotated",
            Self::SecretExpiring => "secret.expiring",
            Self::SecretExpired => "secret.expired",
            Self::SecretDestroyed => "secret.destroyed",
            Self::CertificateExpiring => "certificate.expiring",
            Self::CertificateExpired => "certificate.expired",
            Self::InstanceDeleted => "instance.deleted",
            Self::InstanceRestored => "instance.restored",
            Self::InstanceReclaimed => "instance.reclaimed",
            Self::Test => "arca.test",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Allow `http://` callback URLs to any host (by default only to loopback hosts).
    pub allow_http: bool,
    /// Timeout of one attempt.
    pub timeout: std::time::Duration,
    /// Delay before the first retry; doubled at each further one.
    pub retry_base: time::Duration,
    /// Longest delay between retries.
    pub retry_cap: time::Duration,
    /// Attempts before a delivery is `failed`.
    pub max_attempts: i64,
    /// Days before expiration at which expiring notices are sent (each once), largest first.
    pub expiry_notice_days: Vec<i64>,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            timeout: std::time::Duration::from_secs(10),
            retry_base: time::Duration::seconds(30),
            retry_cap: time::Duration::hours(1),
            max_attempts: 10,
            expiry_notice_days: vec![30, 7, 1],
        }
    }
}

/// Lifecycle events: registrations, emission and delivery.
#[derive(Clone)]
pub struct EventService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    settings: EventSettings,
    /// `None` only if the TLS backend failed to start (logged; every attempt then fails).
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for EventService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The AAD binding a registration's signing secret to its instance and registration.
fn secret_aad(instance_id: &str, registration_id: &str) -> Vec<u8> {
    format!("arca:event-secret:v1:{instance_id}:{registration_id}").into_bytes()
}

impl EventService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
        settings: EventSettings,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // Never follow: a redirect would take the request to an address nobody validated.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arca-events/", env!("CARGO_PKG_VERSION")))
            .build()
            .inspect_err(|e| tracing::error!(error = %e, "the events HTTP client failed to start"))
            .ok();
        Self {
            store,
            keystore,
            clock,
            instances,
            access,
            settings,
            http,
        }
    }

    fn body(
        event_id: &str,
        instance_id: &str,
        event_type: EventType,
        subject: &str,
        now: OffsetDateTime,
        data: Value,
    ) -> String {
        json!({
            "id": event_id,
            "type": event_type.as_str(),
            "instance_id": instance_id,
            "subject": subject,
            "time": crate::clock::rfc3339(to_millis(now)),
            "data": data,
        })
        .to_string()
    }

    /// Builds an event and its deliveries to `registrations` (those whose filter matches, or
    /// `every` one of them).
    fn prepare(
        &self,
        instance_id: &str,
        event_type: EventType,
        subject: &str,
        data: Value,
        registrations: &[EventRegistrationRecord],
        every: bool,
    ) -> ServiceResult<(EventRecord, Vec<DeliveryRecord>)> {
        let now = self.clock.now();
        let now_ms = to_millis(now);
        let id = ids::uuid()?;
        let event = EventRecord {
            body: Self::body(&id, instance_id, event_type, subject, now, data),
            id,
            instance_id: instance_id.to_owned(),
            event_type: event_type.as_str().to_owned(),
            subject: subject.to_owned(),
            created_at: now_ms,
        };
        let mut deliveries = Vec::new();
        for r in registrations.iter().filter(|r| {
            every
                || r.event_types.is_empty()
                || r.event_types.iter().any(|t| t == event_type.as_str())
        }) {
            deliveries.push(DeliveryRecord {
                id: ids::uuid()?,
                event_id: event.id.clone(),
                registration_id: r.id.clone(),
                instance_id: instance_id.to_owned(),
                event_type: event.event_type.clone(),
                state: DeliveryState::Pending,
                attempts: 0,
                next_attempt_at: now_ms,
                lease_until: None,
                last_attempt_at: None,
                last_status: None,
                last_error: None,
                created_at: now_ms,
            });
        }
        Ok((event, deliveries))
    }

    /// Records an event of a change that has committed, for delivery by the jobs. Never fails
    /// the caller (the change is done): a failure is logged.
    pub(crate) async fn emit(
        &self,
        instance_id: &str,
        event_type: EventType,
        subject: &str,
        data: Value,
    ) {
        let outcome = async {
            let registrations = self.store.list_event_registrations(instance_id).await?;
            let (event, deliveries) = self.prepare(
                instance_id,
                event_type,
                subject,
                data,
                &registrations,
                false,
            )?;
            if !deliveries.is_empty() {
                self.store.record_event(&event, &deliveries, None).await?;
            }
            ServiceResult::Ok(())
        }
        .await;
        if let Err(e) = outcome {
            tracing::warn!(instance_id, event_type = event_type.as_str(), error = %e, "recording a lifecycle event failed");
        }
    }

    /// Records a notice once per `mark` of the instance; `false` when it was made before or
    /// nobody receives it (then it is not marked: a registration made later still gets it).
    pub(crate) async fn emit_once(
        &self,
        instance_id: &str,
        event_type: EventType,
        subject: &str,
        data: Value,
        mark: &str,
    ) -> ServiceResult<bool> {
        let registrations = self.store.list_event_registrations(instance_id).await?;
        let (event, deliveries) = self.prepare(
            instance_id,
            event_type,
            subject,
            data,
            &registrations,
            false,
        )?;
        if deliveries.is_empty() {
            return Ok(false);
        }
        Ok(self
            .store
            .record_event(&event, &deliveries, Some(mark))
            .await?)
    }
}
