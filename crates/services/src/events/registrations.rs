//! Managing callback registrations and reading the delivery log (an instance's Manager or an
//! account administrator).

use arca_store::events::{DeliveryQuery, DeliveryRecord, DeliveryState, EventRegistrationRecord};
use reqwest::Url;
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{EventService, EventType, secret_aad};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::{from_millis, to_millis};
use crate::{ServiceError, ServiceResult, ids};

/// Registrations per instance.
const MAX_REGISTRATIONS: usize = 20;
/// Longest callback URL.
const MAX_URL_LEN: usize = 2048;
/// Deliveries listed when no limit is given, and the most one may ask for.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::InvalidInput(msg.into())
}

/// A new registration.
pub struct NewRegistration {
    /// The callback URL.
    pub url: String,
    /// The event types to receive; empty for all.
    pub event_types: Vec<String>,
    /// The signing secret; made by the server when absent.
    pub secret: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for NewRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRegistration")
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .finish_non_exhaustive()
    }
}

/// A registration as callers see it (never its secret).
#[derive(Debug, Clone)]
pub struct Registration {
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
    /// When.
    pub created_at: OffsetDateTime,
}

/// A registration just made, with its signing secret (shown this once).
pub struct CreatedRegistration {
    /// The registration.
    pub registration: Registration,
    /// The HMAC-SHA256 signing secret (its UTF-8 bytes are the key).
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for CreatedRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedRegistration")
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

/// One entry of the delivery log.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Delivery id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The registration it goes to.
    pub registration_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: &'static str,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The receiver's HTTP status at the last attempt.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the event happened.
    pub created_at: OffsetDateTime,
}

impl From<DeliveryRecord> for Delivery {
    fn from(d: DeliveryRecord) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            registration_id: d.registration_id,
            state: d.state.as_str(),
            attempts: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending)
                .then(|| from_millis(d.next_attempt_at)),
            last_attempt_at: d.last_attempt_at.map(from_millis),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: from_millis(d.created_at),
        }
    }
}

fn view(r: EventRegistrationRecord) -> Registration {
    Registration {
        id: r.id,
        instance_id: r.instance_id,
        url: r.url,
        event_types: r.event_types,
        created_by: r.created_by,
        created_at: from_millis(r.created_at),
    }
}

/// `localhost` or a loopback address (`[::1]` as a URL writes it).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl EventService {
    /// Checks that `principal` may manage the events of the active instance `instance_id`.
    async fn authorize(&self, principal: &Principal, instance_id: &str) -> ServiceResult<()> {
        let instance = self.instances.get_shared(principal, instance_id).await?;
        instance.require_active()?;
        self.access
            .require(principal, instance_id, Permission::Manage)
            .await
    }

    /// A callback URL as stored, or why it is refused.
    fn check_url(&self, url: &str) -> ServiceResult<String> {
        let url = url.trim();
        if url.is_empty() || url.len() > MAX_URL_LEN {
            return Err(invalid(format!(
                "url must be 1 to {MAX_URL_LEN} characters"
            )));
        }
        let parsed =
            Url::parse(url).map_err(|e| invalid(format!("url is not a valid URL: {e}")))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("url must not carry credentials"));
        }
        if parsed.fragment().is_some() {
            return Err(invalid("url must not have a fragment"));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("url must name a host"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.settings.allow_http || is_loopback(host) => {}
            "http" => {
                return Err(invalid(
                    "url must be https:// (http:// only to a loopback host unless the server \
                     allows it: [events] allow_http)",
                ));
            }
            _ => return Err(invalid("url must be https://")),
        }
        Ok(parsed.to_string())
    }

    fn check_types(types: Vec<String>) -> ServiceResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for t in types {
            let parsed = EventType::parse(t.trim()).ok_or_else(|| {
                invalid(format!(
                    "unknown event type {:?}; known: {}",
                    t.chars().take(64).collect::<String>(),
                    EventType::ALL.map(EventType::as_str).join(", ")
                ))
            })?;
            if !out.iter().any(|o| o == parsed.as_str()) {
                out.push(parsed.as_str().to_owned());
            }
        }
        Ok(out)
    }

    fn make_secret(given: Option<Zeroizing<String>>) -> ServiceResult<Zeroizing<String>> {
        match given {
            Some(s) => {
                let n = s.chars().count();
                if !(16..=256).contains(&n) || s.chars().any(char::is_control) {
                    return Err(invalid("secret must be 16 to 256 printable characters"));
                }
                Ok(s)
            }
            None => {
                let bytes = arca_crypto::random::random_bytes(32)
                    .map_err(|e| ServiceError::Internal(Box::new(e)))?;
                Ok(Zeroizing::new(hex::encode(bytes.as_slice())))
            }
        }
    }

    /// Registers a callback URL of an instance; returns it with its signing secret, shown once.
    pub async fn create_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
        new: NewRegistration,
    ) -> ServiceResult<CreatedRegistration> {
        self.authorize(principal, instance_id).await?;
        let url = self.check_url(&new.url)?;
        let event_types = Self::check_types(new.event_types)?;
        let secret = Self::make_secret(new.secret)?;
        if self
            .store
            .list_event_registrations(instance_id)
            .await?
            .len()
            >= MAX_REGISTRATIONS
        {
            return Err(ServiceError::Conflict(
                "the instance has the most event registrations it may have (20)",
            ));
        }
        let id = ids::uuid()?;
        let wrapped_secret = self
            .keystore
            .wrap(&secret_aad(instance_id, &id), secret.as_bytes())?;
        let record = EventRegistrationRecord {
            id,
            instance_id: instance_id.to_owned(),
            url,
            event_types,
            wrapped_secret,
            created_by: principal.id.clone(),
            created_at: to_millis(self.clock.now()),
        };
        self.store.create_event_registration(&record).await?;
        tracing::info!(instance_id, registration_id = %record.id, "event registration created");
        Ok(CreatedRegistration {
            registration: view(record),
            secret,
        })
    }

    /// The registrations of an instance, oldest first.
    pub async fn list_registrations(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<Vec<Registration>> {
        self.authorize(principal, instance_id).await?;
        Ok(self
            .store
            .list_event_registrations(instance_id)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    async fn registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<EventRegistrationRecord> {
        if !ids::is_uuid(id) {
            return Err(ServiceError::NotFound("event registration"));
        }
        self.store
            .get_event_registration(instance_id, id)
            .await?
            .ok_or(ServiceError::NotFound("event registration"))
    }

    /// A registration of an instance.
    pub async fn get_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<Registration> {
        self.authorize(principal, instance_id).await?;
        Ok(view(self.registration(instance_id, id).await?))
    }

    /// Deletes a registration with its deliveries.
    pub async fn delete_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id).await?;
        if !ids::is_uuid(id)
            || !self
                .store
                .delete_event_registration(instance_id, id)
                .await?
        {
            return Err(ServiceError::NotFound("event registration"));
        }
        tracing::info!(
            instance_id,
            registration_id = id,
            "event registration deleted"
        );
        Ok(())
    }

    /// Sends a signed `arca.test` event to a registration now; returns its delivery after the
    /// attempt (retried later like any other when it failed).
    pub async fn test_registration(
        &self,
        principal: &Principal,
        instance_id: &str,
        id: &str,
    ) -> ServiceResult<Delivery> {
        self.authorize(principal, instance_id).await?;
        let registration = self.registration(instance_id, id).await?;
        let data = json!({ "registration_id": registration.id });
        self.send_now(instance_id, EventType::Test, id, data, Some(registration))
            .await?
            .into_iter()
            .next()
            .map(Delivery::from)
            .ok_or(ServiceError::NotFound("event registration"))
    }

    /// The delivery log of an instance, newest first.
    pub async fn deliveries(
        &self,
        principal: &Principal,
        instance_id: &str,
        registration_id: Option<String>,
        state: Option<&str>,
        limit: Option<i64>,
    ) -> ServiceResult<Vec<Delivery>> {
        self.authorize(principal, instance_id).await?;
        let state = state
            .map(|s| {
                DeliveryState::parse(s)
                    .ok_or_else(|| invalid("state must be pending, delivered or failed"))
            })
            .transpose()?;
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid(format!("limit must be 1 to {MAX_LIMIT}")));
        }
        let query = DeliveryQuery {
            registration_id,
            state,
            limit,
        };
        Ok(self
            .store
            .list_event_deliveries(instance_id, &query)
            .await?
            .into_iter()
            .map(Delivery::from)
            .collect())
    }
}
