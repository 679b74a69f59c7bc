//! Lifecycle events: callback registrations of an instance and their delivery log, under
//! `/v1/instances/{id}/event_registrations` and `/v1/instances/{id}/event_deliveries`.

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/instances/{id}/event_registrations`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateEventRegistration {
    /// The callback URL (`https://`; `http://` only to a loopback host unless the server allows
    /// it).
    pub url: String,
    /// The event types to receive; absent or empty for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// The signing secret (16 to 256 characters); made by the server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl std::fmt::Debug for CreateEventRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateEventRegistration")
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .finish_non_exhaustive()
    }
}

/// A callback registration (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventRegistration {
    /// Registration id.
    pub id: String,
    /// Its instance.
    pub instance_id: String,
    /// The callback URL.
    pub url: String,
    /// The event types it receives; empty for all.
    pub event_types: Vec<String>,
    /// Who made it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// Answer of `POST .../event_registrations`: the registration and its signing secret, shown
/// this once.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedEventRegistration {
    /// The registration.
    #[serde(flatten)]
    pub registration: EventRegistration,
    /// The HMAC-SHA256 signing secret (its UTF-8 bytes are the key).
    pub secret: String,
}

impl std::fmt::Debug for CreatedEventRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedEventRegistration")
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

/// `GET .../event_registrations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventRegistrationList {
    /// Oldest first.
    pub event_registrations: Vec<EventRegistration>,
}

/// One delivery of an event to a registration: an entry of the delivery log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventDelivery {
    /// Delivery id.
    pub id: String,
    /// The event (`Arca-Event-Id`).
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The registration.
    pub registration_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending only; RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// When the last attempt was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    /// The receiver's HTTP status at the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the event happened (RFC 3339).
    pub created_at: String,
}

/// `GET .../event_deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventDeliveryList {
    /// Newest first.
    pub event_deliveries: Vec<EventDelivery>,
}
