//! Persistence of lifecycle events: callback registrations of an instance, an outbox of events
//! and their deliveries (one per matching registration: the delivery log), and marks that make
//! clock-driven notices (a certificate 30 days before it expires) happen exactly once.
//!
//! Deliveries are claimed with a lease (`lease_until`): a claim takes only pending deliveries
//! that are due and not leased, and leases them in the same statement, so nodes sharing one
//! PostgreSQL database never send one delivery twice at once (PostgreSQL also skips rows
//! another claim has locked). A node that dies mid-attempt leaves a lease that simply expires.

use async_trait::async_trait;

use crate::StoreResult;

/// A callback registration. Times are Unix milliseconds.
#[derive(Clone, PartialEq, Eq)]
pub struct EventRegistrationRecord {
    /// Registration id.
    pub id: String,
    /// The instance whose events it receives.
    pub instance_id: String,
    /// The callback URL.
    pub url: String,
    /// The event types it receives; empty for every type.
    pub event_types: Vec<String>,
    /// The HMAC signing secret, wrapped by the master key (AAD binds instance and id).
    pub wrapped_secret: Vec<u8>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

impl std::fmt::Debug for EventRegistrationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRegistrationRecord")
            .field("id", &self.id)
            .field("instance_id", &self.instance_id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An event in the outbox: its body is what is sent, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Event id.
    pub id: String,
    /// The instance it happened in.
    pub instance_id: String,
    /// Its type (`key.rotated`, ...).
    pub event_type: String,
    /// The id of what it is about (key, secret, instance, registration).
    pub subject: String,
    /// The JSON body sent to receivers.
    pub body: String,
    /// When.
    pub created_at: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; retried at `next_attempt_at`.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
}

impl DeliveryState {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// From stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event to one registration, with the outcome of its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Delivery id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The registration it goes to.
    pub registration_id: String,
    /// The instance.
    pub instance_id: String,
    /// The event's type (copied for the log).
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// Claimed by a sender until then.
    pub lease_until: Option<i64>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<i64>,
    /// The receiver's HTTP status at the last attempt, if it answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed (no secret in it).
    pub last_error: Option<String>,
    /// When the delivery was made.
    pub created_at: i64,
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: DeliveryRecord,
    /// Its event.
    pub event: EventRecord,
    /// Its registration.
    pub registration: EventRegistrationRecord,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The state after it.
    pub state: DeliveryState,
    /// When it was made.
    pub attempted_at: i64,
    /// When the next is due (pending only).
    pub next_attempt_at: i64,
    /// The receiver's status, if it answered.
    pub status: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Filter of the delivery log.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// Only this registration's.
    pub registration_id: Option<String>,
    /// Only in this state.
    pub state: Option<DeliveryState>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// A secret with an expiration date, for expiry notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringSecret {
    /// Its instance.
    pub instance_id: String,
    /// Its id.
    pub secret_id: String,
    /// Its type (`imported_cert`, ...).
    pub secret_type: String,
    /// When it expires (Unix ms).
    pub expiration_date: i64,
}

/// Persistence of lifecycle events. Same contract as [`crate::Store`].
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores a registration. [`crate::StoreError::Conflict`] if the id exists.
    async fn create_event_registration(&self, r: &EventRegistrationRecord) -> StoreResult<()>;

    /// A registration of an instance.
    async fn get_event_registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<EventRegistrationRecord>>;

    /// The registrations of an instance, oldest first.
    async fn list_event_registrations(
        &self,
        instance_id: &str,
    ) -> StoreResult<Vec<EventRegistrationRecord>>;

    /// Deletes a registration and its deliveries; returns whether it existed.
    async fn delete_event_registration(&self, instance_id: &str, id: &str) -> StoreResult<bool>;

    /// Writes an event with its deliveries in one transaction. With a `mark`, only if the
    /// instance does not hold that mark yet (the mark is stored with it): returns `false`, and
    /// writes nothing, when it does. An event without deliveries is not stored (nobody would
    /// receive it); its mark is.
    async fn record_event(
        &self,
        event: &EventRecord,
        deliveries: &[DeliveryRecord],
        mark: Option<&str>,
    ) -> StoreResult<bool>;

    /// Claims up to `limit` pending deliveries due at `now` that no one holds, leasing them
    /// until `lease_until`; oldest due first.
    async fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>>;

    /// Records an attempt of a delivery (attempts + 1) and releases its lease.
    async fn record_delivery_attempt(
        &self,
        delivery_id: &str,
        attempt: &DeliveryAttempt,
    ) -> StoreResult<()>;

    /// A delivery of an instance.
    async fn get_event_delivery(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>>;

    /// The delivery log of an instance, newest first.
    async fn list_event_deliveries(
        &self,
        instance_id: &str,
        query: &DeliveryQuery,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    /// Secrets that are not destroyed and expire after `after` and at or before `until`,
    /// soonest first, at most `limit`.
    async fn expiring_secrets(
        &self,
        after: i64,
        until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExpiringSecret>>;
}
