//! [`AuditStore`] on SQLite. Appends go through the single writer connection, which already
//! orders them; the head row is read and advanced in the same transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, db};
use crate::StoreResult;
use crate::audit::{AuditHead, AuditQuery, AuditRecord, AuditStore, GENESIS_HASH, NewAuditEvent};

// A macro, not a const: sqlx takes `'static` SQL, which `concat!` keeps.
macro_rules! columns {
    () => {
        "seq, time, account_id, initiator, action, instance_id, target, outcome, reason_code, \
         correlation_id, source_address, prev_hash, account_prev_hash, hash"
    };
}

fn record_from_row(r: &SqliteRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        seq: r.try_get(0).map_err(db)?,
        event: NewAuditEvent {
            time: r.try_get(1).map_err(db)?,
            account_id: r.try_get(2).map_err(db)?,
            initiator: r.try_get(3).map_err(db)?,
            action: r.try_get(4).map_err(db)?,
            instance_id: r.try_get(5).map_err(db)?,
            target: r.try_get(6).map_err(db)?,
            outcome: r.try_get(7).map_err(db)?,
            reason_code: r.try_get(8).map_err(db)?,
            correlation_id: r.try_get(9).map_err(db)?,
            source_address: r.try_get(10).map_err(db)?,
        },
        prev_hash: r.try_get(11).map_err(db)?,
        account_prev_hash: r.try_get(12).map_err(db)?,
        hash: r.try_get(13).map_err(db)?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_events(&self, events: &[NewAuditEvent]) -> StoreResult<AuditHead> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let (mut seq, mut hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        // Each account's last hash, read once per batch and carried forward within it.
        let mut account_heads: HashMap<&str, Vec<u8>> = HashMap::new();
        for event in events {
            let account_prev = match account_heads.get(event.account_id.as_str()) {
                Some(h) => h.clone(),
                None => sqlx::query_scalar::<_, Vec<u8>>(
                    "SELECT hash FROM audit_account_heads WHERE account_id = ?",
                )
                .bind(&event.account_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .unwrap_or_else(|| GENESIS_HASH.to_vec()),
            };
            seq += 1;
            let record = AuditRecord::chain(seq, event.clone(), hash, account_prev);
            let e = &record.event;
            sqlx::query(concat!(
                "INSERT INTO audit_events (",
                columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(record.seq)
            .bind(e.time)
            .bind(&e.account_id)
            .bind(&e.initiator)
            .bind(&e.action)
            .bind(&e.instance_id)
            .bind(&e.target)
            .bind(&e.outcome)
            .bind(e.reason_code)
            .bind(&e.correlation_id)
            .bind(&e.source_address)
            .bind(&record.prev_hash)
            .bind(&record.account_prev_hash)
            .bind(&record.hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            sqlx::query(
                "INSERT INTO audit_account_heads (account_id, seq, hash) VALUES (?, ?, ?) \
                 ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )
            .bind(&event.account_id)
            .bind(seq)
            .bind(&record.hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            account_heads.insert(event.account_id.as_str(), record.hash.clone());
            hash = record.hash;
        }
        sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(AuditHead { seq, hash })
    }

    async fn list_audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM audit_events WHERE seq > ? \
              AND (? IS NULL OR account_id = ?) \
              AND (? IS NULL OR instance_id = ?) \
              AND (? IS NULL OR action = ?) \
              AND (? IS NULL OR initiator = ?) \
              ORDER BY seq LIMIT ?"
        ))
        .bind(q.after_seq)
        .bind(&q.account_id)
        .bind(&q.account_id)
        .bind(&q.instance_id)
        .bind(&q.instance_id)
        .bind(&q.action)
        .bind(&q.action)
        .bind(&q.initiator)
        .bind(&q.initiator)
        .bind(q.limit.max(0))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(record_from_row)
        .collect()
    }

    async fn audit_head(&self) -> StoreResult<AuditHead> {
        let (seq, hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.reader)
                .await
                .map_err(db)?;
        Ok(AuditHead { seq, hash })
    }
}
