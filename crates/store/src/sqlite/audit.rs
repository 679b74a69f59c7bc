//! [`AuditStore`] on SQLite. Appends go through the single writer connection, which already
//! orders them; the head row is read and advanced in the same transaction.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::{SqliteStore, db};
use crate::StoreResult;
use crate::audit::{
    AuditCheckpoint, AuditHead, AuditQuery, AuditRecord, AuditStore, NewAuditEvent, chain_batch,
};

/// Rows per `INSERT` of audit records: 14 parameters each, far below SQLite's limit (32,766),
/// and few distinct statement texts for sqlx's statement cache.
const ROWS_PER_INSERT: usize = 32;

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
        let (seq, hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        let current = AuditHead { seq, hash };
        if events.is_empty() {
            return Ok(current);
        }
        let accounts: BTreeSet<&str> = events.iter().map(|e| e.account_id.as_str()).collect();
        let mut heads = HashMap::new();
        for account in accounts {
            if let Some(h) = sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT hash FROM audit_account_heads WHERE account_id = ?",
            )
            .bind(account)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            {
                heads.insert(account.to_owned(), h);
            }
        }
        let (records, last) = chain_batch(current.clone(), events, heads);
        // Many rows per statement: each statement is a round trip to SQLite's worker thread, and
        // this runs for every API call.
        for chunk in records.chunks(ROWS_PER_INSERT) {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            // Built from a fixed text and a row count only.
            let sql = format!(
                concat!("INSERT INTO audit_events (", columns!(), ") VALUES {}"),
                values
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for record in chunk {
                let e = &record.event;
                q = q
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
                    .bind(&record.hash);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        for (account, (seq, hash)) in &last {
            sqlx::query(
                "INSERT INTO audit_account_heads (account_id, seq, hash) VALUES (?, ?, ?) \
                 ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )
            .bind(account)
            .bind(seq)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let head = records.last().map_or(current, |r| AuditHead {
            seq: r.seq,
            hash: r.hash.clone(),
        });
        sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
            .bind(head.seq)
            .bind(&head.hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(head)
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

    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, mac, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(c.seq)
        .bind(&c.hash)
        .bind(&c.mac)
        .bind(c.created_at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_audit_checkpoints(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditCheckpoint>> {
        let rows: Vec<(i64, Vec<u8>, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT seq, hash, mac, created_at FROM audit_checkpoints WHERE seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(after_seq)
        .bind(limit.max(0))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(seq, hash, mac, created_at)| AuditCheckpoint {
                seq,
                hash,
                mac,
                created_at,
            })
            .collect())
    }
}
