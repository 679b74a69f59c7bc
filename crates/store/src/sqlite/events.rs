//! [`EventStore`] on SQLite. One writer connection serializes claims, so a claim's select and
//! lease happen as one step.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, db};
use crate::events::{
    DeliveryAttempt, DeliveryQuery, DeliveryRecord, DeliveryState, DueDelivery, EventRecord,
    EventRegistrationRecord, EventStore, ExpiringSecret,
};
use crate::{StoreError, StoreResult};

macro_rules! registration_columns {
    () => {
        "r.id, r.instance_id, r.url, r.event_types, r.wrapped_secret, r.created_by, r.created_at"
    };
}
macro_rules! delivery_columns {
    () => {
        "d.id, d.event_id, d.registration_id, d.instance_id, d.event_type, d.state, d.attempts, \
         d.next_attempt_at, d.lease_until, d.last_attempt_at, d.last_status, d.last_error, \
         d.created_at"
    };
}
macro_rules! event_columns {
    () => {
        "e.id, e.instance_id, e.event_type, e.subject, e.body, e.created_at"
    };
}

fn registration_from_row(r: &SqliteRow, o: usize) -> StoreResult<EventRegistrationRecord> {
    let types: String = r.try_get(o + 3).map_err(db)?;
    Ok(EventRegistrationRecord {
        id: r.try_get(o).map_err(db)?,
        instance_id: r.try_get(o + 1).map_err(db)?,
        url: r.try_get(o + 2).map_err(db)?,
        event_types: serde_json::from_str(&types)
            .map_err(|_| StoreError::Corrupt("event registration types"))?,
        wrapped_secret: r.try_get(o + 4).map_err(db)?,
        created_by: r.try_get(o + 5).map_err(db)?,
        created_at: r.try_get(o + 6).map_err(db)?,
    })
}

fn delivery_from_row(r: &SqliteRow, o: usize) -> StoreResult<DeliveryRecord> {
    let state: String = r.try_get(o + 5).map_err(db)?;
    Ok(DeliveryRecord {
        id: r.try_get(o).map_err(db)?,
        event_id: r.try_get(o + 1).map_err(db)?,
        registration_id: r.try_get(o + 2).map_err(db)?,
        instance_id: r.try_get(o + 3).map_err(db)?,
        event_type: r.try_get(o + 4).map_err(db)?,
        state: DeliveryState::parse(&state).ok_or(StoreError::Corrupt("delivery state"))?,
        attempts: r.try_get(o + 6).map_err(db)?,
        next_attempt_at: r.try_get(o + 7).map_err(db)?,
        lease_until: r.try_get(o + 8).map_err(db)?,
        last_attempt_at: r.try_get(o + 9).map_err(db)?,
        last_status: r.try_get(o + 10).map_err(db)?,
        last_error: r.try_get(o + 11).map_err(db)?,
        created_at: r.try_get(o + 12).map_err(db)?,
    })
}

fn event_from_row(r: &SqliteRow, o: usize) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: r.try_get(o).map_err(db)?,
        instance_id: r.try_get(o + 1).map_err(db)?,
        event_type: r.try_get(o + 2).map_err(db)?,
        subject: r.try_get(o + 3).map_err(db)?,
        body: r.try_get(o + 4).map_err(db)?,
        created_at: r.try_get(o + 5).map_err(db)?,
    })
}

fn types_json(types: &[String]) -> StoreResult<String> {
    serde_json::to_string(types).map_err(|_| StoreError::Corrupt("event registration types"))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn create_event_registration(&self, r: &EventRegistrationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO event_registrations (id, instance_id, url, event_types, wrapped_secret, \
             created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id)
        .bind(&r.instance_id)
        .bind(&r.url)
        .bind(types_json(&r.event_types)?)
        .bind(&r.wrapped_secret)
        .bind(&r.created_by)
        .bind(r.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "event registration exists"))?;
        Ok(())
    }

    async fn get_event_registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<EventRegistrationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            registration_columns!(),
            " FROM event_registrations r WHERE r.instance_id = ? AND r.id = ?"
        ))
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .map(|r| registration_from_row(&r, 0))
        .transpose()
    }

    async fn list_event_registrations(
        &self,
        instance_id: &str,
    ) -> StoreResult<Vec<EventRegistrationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            registration_columns!(),
            " FROM event_registrations r WHERE r.instance_id = ? ORDER BY r.created_at, r.id"
        ))
        .bind(instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(|r| registration_from_row(r, 0))
        .collect()
    }

    async fn delete_event_registration(&self, instance_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM event_deliveries WHERE instance_id = ? AND registration_id = ?")
            .bind(instance_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let done = sqlx::query("DELETE FROM event_registrations WHERE instance_id = ? AND id = ?")
            .bind(instance_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_event(
        &self,
        event: &EventRecord,
        deliveries: &[DeliveryRecord],
        mark: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        if let Some(mark) = mark {
            let done = sqlx::query(
                "INSERT INTO event_marks (instance_id, mark, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&event.instance_id)
            .bind(mark)
            .bind(event.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
        }
        if !deliveries.is_empty() {
            sqlx::query(
                "INSERT INTO events (id, instance_id, event_type, subject, body, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&event.id)
            .bind(&event.instance_id)
            .bind(&event.event_type)
            .bind(&event.subject)
            .bind(&event.body)
            .bind(event.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "event exists"))?;
            for d in deliveries {
                sqlx::query(
                    "INSERT INTO event_deliveries (id, event_id, registration_id, instance_id, \
                     event_type, state, attempts, next_attempt_at, lease_until, last_attempt_at, \
                     last_status, last_error, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&d.id)
                .bind(&d.event_id)
                .bind(&d.registration_id)
                .bind(&d.instance_id)
                .bind(&d.event_type)
                .bind(d.state.as_str())
                .bind(d.attempts)
                .bind(d.next_attempt_at)
                .bind(d.lease_until)
                .bind(d.last_attempt_at)
                .bind(d.last_status)
                .bind(&d.last_error)
                .bind(d.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_db(e, "delivery exists"))?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE event_deliveries SET lease_until = ? WHERE id IN (\
               SELECT id FROM event_deliveries WHERE state = 'pending' AND next_attempt_at <= ? \
               AND (lease_until IS NULL OR lease_until <= ?) \
               ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id",
        )
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                ", ",
                event_columns!(),
                ", ",
                registration_columns!(),
                " FROM event_deliveries d JOIN events e ON e.id = d.event_id \
                 JOIN event_registrations r ON r.id = d.registration_id WHERE d.id = ?"
            ))
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = row {
                out.push(DueDelivery {
                    delivery: delivery_from_row(&row, 0)?,
                    event: event_from_row(&row, 13)?,
                    registration: registration_from_row(&row, 19)?,
                });
            }
        }
        tx.commit().await.map_err(db)?;
        out.sort_by(|a, b| {
            (a.delivery.next_attempt_at, &a.delivery.id)
                .cmp(&(b.delivery.next_attempt_at, &b.delivery.id))
        });
        Ok(out)
    }

    async fn record_delivery_attempt(
        &self,
        delivery_id: &str,
        a: &DeliveryAttempt,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE event_deliveries SET state = ?, attempts = attempts + 1, \
             last_attempt_at = ?, next_attempt_at = ?, last_status = ?, last_error = ?, \
             lease_until = NULL WHERE id = ?",
        )
        .bind(a.state.as_str())
        .bind(a.attempted_at)
        .bind(a.next_attempt_at)
        .bind(a.status)
        .bind(&a.error)
        .bind(delivery_id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_event_delivery(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM event_deliveries d WHERE d.instance_id = ? AND d.id = ?"
        ))
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .map(|r| delivery_from_row(&r, 0))
        .transpose()
    }

    async fn list_event_deliveries(
        &self,
        instance_id: &str,
        q: &DeliveryQuery,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM event_deliveries d WHERE d.instance_id = ? \
             AND (? IS NULL OR d.registration_id = ?) AND (? IS NULL OR d.state = ?) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT ?"
        ))
        .bind(instance_id)
        .bind(&q.registration_id)
        .bind(&q.registration_id)
        .bind(q.state.map(DeliveryState::as_str))
        .bind(q.state.map(DeliveryState::as_str))
        .bind(q.limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(|r| delivery_from_row(r, 0))
        .collect()
    }

    async fn expiring_secrets(
        &self,
        after: i64,
        until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExpiringSecret>> {
        let rows = sqlx::query(
            "SELECT instance_id, id, secret_type, expiration_date FROM sm_secrets \
             WHERE expiration_date > ? AND expiration_date <= ? AND state <> 5 \
             ORDER BY expiration_date, instance_id, id LIMIT ?",
        )
        .bind(after)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ExpiringSecret {
                    instance_id: r.try_get(0).map_err(db)?,
                    secret_id: r.try_get(1).map_err(db)?,
                    secret_type: r.try_get(2).map_err(db)?,
                    expiration_date: r.try_get(3).map_err(db)?,
                })
            })
            .collect()
    }
}
