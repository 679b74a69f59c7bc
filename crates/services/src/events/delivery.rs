//! Sending deliveries: signing, one attempt, backoff, the jobs' pass, immediate sends (test
//! events, the reclaimed notice) and the clock-driven expiring notices.

use arca_store::events::{DeliveryAttempt, DeliveryRecord, DeliveryState, DueDelivery};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::{EventService, EventType, secret_aad};
use crate::ServiceResult;
use crate::clock::{rfc3339, to_millis};

/// Deliveries claimed per batch.
const BATCH: i64 = 50;
/// Batches per pass (the next pass goes on).
const BATCHES_PER_PASS: usize = 20;
/// Expiring secrets looked at per pass.
const EXPIRING_PER_PASS: i64 = 1000;
const DAY_MS: i64 = 86_400_000;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventsDueWork {
    /// Expiring notices recorded.
    pub notices: usize,
    /// Deliveries a receiver accepted.
    pub delivered: usize,
    /// Deliveries that failed and will be retried.
    pub retrying: usize,
    /// Deliveries that failed for good (out of attempts).
    pub failed: usize,
}

/// The signature of `body` sent at `t` (Unix seconds): hex HMAC-SHA256 over `"<t>.<body>"`.
pub(crate) fn signature(secret: &[u8], t: i64, body: &str) -> String {
    let signed = format!("{t}.{body}");
    hex::encode(arca_crypto::hash::hmac_sha256(secret, signed.as_bytes()))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else {
        // Without the URL: a query string may carry the receiver's own token.
        format!("request failed: {}", ErrorText(e))
    }
}

/// A reqwest error's text without its URL.
struct ErrorText<'a>(&'a reqwest::Error);

impl std::fmt::Display for ErrorText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        if let Some(url) = self.0.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        f.write_str(&text)
    }
}

impl EventService {
    fn lease(&self) -> time::Duration {
        time::Duration::try_from(self.settings.timeout).unwrap_or(time::Duration::MINUTE)
            + time::Duration::MINUTE
    }

    /// The delay before the retry that follows attempt number `attempts`.
    fn backoff(&self, attempts: i64) -> time::Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .settings
            .retry_base
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.settings.retry_cap);
        delay.min(self.settings.retry_cap)
    }

    /// POSTs a delivery once, signed at `now`; the receiver's status, or why there is none.
    async fn post(&self, due: &DueDelivery, now: OffsetDateTime) -> Result<u16, String> {
        let secret = self
            .keystore
            .unwrap(
                &secret_aad(&due.registration.instance_id, &due.registration.id),
                &due.registration.wrapped_secret,
            )
            .map_err(|_| "the signing secret is unavailable (is the server sealed?)".to_owned())?;
        let t = now.unix_timestamp();
        let sig = signature(&secret, t, &due.event.body);
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| "the server's HTTP client is unavailable".to_owned())?;
        let resp = http
            .post(&due.registration.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Arca-Event-Id", &due.event.id)
            .header("Arca-Event-Type", &due.event.event_type)
            .header("Arca-Delivery-Id", &due.delivery.id)
            .header("Arca-Timestamp", t.to_string())
            .header("Arca-Signature", format!("t={t},v1={sig}"))
            .body(due.event.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(resp.status().as_u16())
    }

    /// Makes one attempt of a claimed delivery and says what it led to.
    async fn attempt(&self, due: &DueDelivery, now: OffsetDateTime) -> DeliveryAttempt {
        let attempts = due.delivery.attempts + 1;
        let (delivered, status, error) = match self.post(due, now).await {
            Ok(s) if (200..300).contains(&s) => (true, Some(i64::from(s)), None),
            Ok(s) => (
                false,
                Some(i64::from(s)),
                Some(format!("the receiver answered HTTP {s}")),
            ),
            Err(e) => (false, None, Some(e)),
        };
        let state = if delivered {
            DeliveryState::Delivered
        } else if attempts >= self.settings.max_attempts {
            DeliveryState::Failed
        } else {
            DeliveryState::Pending
        };
        let next = if state == DeliveryState::Pending {
            now + self.backoff(attempts)
        } else {
            now
        };
        tracing::info!(
            instance_id = %due.delivery.instance_id,
            delivery_id = %due.delivery.id,
            event_type = %due.event.event_type,
            attempt = attempts,
            state = state.as_str(),
            status,
            error = error.as_deref().unwrap_or(""),
            "lifecycle event delivery attempt"
        );
        DeliveryAttempt {
            state,
            attempted_at: to_millis(now),
            next_attempt_at: to_millis(next),
            status,
            error,
        }
    }

    /// Sends due deliveries and records the due expiring notices, at the clock's now.
    pub async fn run_due_work_now(&self) -> ServiceResult<EventsDueWork> {
        self.run_due_work(self.clock.now()).await
    }

    /// Records the expiring notices due at `now`, then sends every delivery due at `now`.
    pub async fn run_due_work(&self, now: OffsetDateTime) -> ServiceResult<EventsDueWork> {
        let mut done = EventsDueWork {
            notices: self.expiring_notices(now).await?,
            ..Default::default()
        };
        let now_ms = to_millis(now);
        for _ in 0..BATCHES_PER_PASS {
            let claimed = self
                .store
                .claim_due_deliveries(now_ms, to_millis(now + self.lease()), BATCH)
                .await?;
            let full = i64::try_from(claimed.len()).unwrap_or(0) >= BATCH;
            let mut sends = JoinSet::new();
            for due in claimed {
                let this = self.clone();
                sends.spawn(async move {
                    let attempt = this.attempt(&due, now).await;
                    (due.delivery.id, attempt)
                });
            }
            while let Some(joined) = sends.join_next().await {
                let Ok((id, attempt)) = joined else {
                    // A panicked send leaves its lease to expire; the next pass retries it.
                    continue;
                };
                self.store.record_delivery_attempt(&id, &attempt).await?;
                match attempt.state {
                    DeliveryState::Delivered => done.delivered += 1,
                    DeliveryState::Pending => done.retrying += 1,
                    DeliveryState::Failed => done.failed += 1,
                }
            }
            if !full {
                break;
            }
        }
        Ok(done)
    }

    /// Records an event for `registrations` (all of the instance's when `None`, by their
    /// filters) and makes the first attempt of each delivery now, leased so no pass takes it
    /// meanwhile. Returns the deliveries as they stand after the attempt.
    pub(crate) async fn send_now(
        &self,
        instance_id: &str,
        event_type: EventType,
        subject: &str,
        data: Value,
        only: Option<arca_store::events::EventRegistrationRecord>,
    ) -> ServiceResult<Vec<DeliveryRecord>> {
        let every = only.is_some();
        let registrations = match only {
            Some(r) => vec![r],
            None => self.store.list_event_registrations(instance_id).await?,
        };
        let (event, mut deliveries) = self.prepare(
            instance_id,
            event_type,
            subject,
            data,
            &registrations,
            every,
        )?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let lease = to_millis(now + self.lease());
        for d in &mut deliveries {
            d.lease_until = Some(lease);
        }
        self.store.record_event(&event, &deliveries, None).await?;
        let mut out = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let Some(registration) = registrations
                .iter()
                .find(|r| r.id == delivery.registration_id)
                .cloned()
            else {
                continue;
            };
            let due = DueDelivery {
                delivery,
                event: event.clone(),
                registration,
            };
            let attempt = self.attempt(&due, now).await;
            self.store
                .record_delivery_attempt(&due.delivery.id, &attempt)
                .await?;
            let mut d = due.delivery;
            d.state = attempt.state;
            d.attempts += 1;
            d.last_attempt_at = Some(attempt.attempted_at);
            d.next_attempt_at = attempt.next_attempt_at;
            d.last_status = attempt.status;
            d.last_error = attempt.error;
            d.lease_until = None;
            out.push(d);
        }
        Ok(out)
    }

    /// Records `secret.expiring` / `certificate.expiring` notices: for each secret expiring
    /// within the largest notice window, the tightest threshold it has crossed, once (a mark
    /// per secret, expiration date and threshold; a renewed certificate is notified afresh).
    async fn expiring_notices(&self, now: OffsetDateTime) -> ServiceResult<usize> {
        let Some(widest) = self.settings.expiry_notice_days.iter().copied().max() else {
            return Ok(0);
        };
        let now_ms = to_millis(now);
        let expiring = self
            .store
            .expiring_secrets(
                now_ms,
                now_ms.saturating_add(widest.saturating_mul(DAY_MS)),
                EXPIRING_PER_PASS,
            )
            .await?;
        let mut made = 0;
        for s in expiring {
            let left = s.expiration_date - now_ms;
            let Some(days) = self
                .settings
                .expiry_notice_days
                .iter()
                .copied()
                .filter(|d| left <= d.saturating_mul(DAY_MS))
                .min()
            else {
                continue;
            };
            let event_type = if matches!(s.secret_type.as_str(), "imported_cert" | "private_cert") {
                EventType::CertificateExpiring
            } else {
                EventType::SecretExpiring
            };
            let mark = format!("expiring:{}:{}:{days}", s.secret_id, s.expiration_date);
            let data = json!({
                "secret_id": s.secret_id,
                "secret_type": s.secret_type,
                "expiration_date": rfc3339(s.expiration_date),
                "days_before": days,
            });
            match self
                .emit_once(&s.instance_id, event_type, &s.secret_id, data, &mark)
                .await
            {
                Ok(true) => made += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(instance_id = %s.instance_id, secret_id = %s.secret_id, error = %e, "recording an expiring notice failed");
                }
            }
        }
        Ok(made)
    }
}
