//! [`AuditStore`] on PostgreSQL. Every append locks the one head row first (`FOR UPDATE`): appends
//! from every connection of every node queue on it, so each reads the head the previous one
//! committed and the chain never forks.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, db};
use crate::StoreResult;
use crate::audit::{
    AuditCheckpoint, AuditHead, AuditQuery, AuditRecord, AuditStore, NewAuditEvent, chain_batch,
};

// A macro, not a const: sqlx takes `'static` SQL, which `concat!` keeps.
macro_rules! columns {
    () => {
        "seq, time, account_id, initiator, action, instance_id, target, outcome, reason_code, \
         correlation_id, source_address, prev_hash, account_prev_hash, hash"
    };
}

fn record_from_row(r: &PgRow) -> StoreResult<AuditRecord> {
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

/// A batch of records as one array per column, for `UNNEST`.
#[derive(Default)]
struct AuditColumns {
    seq: Vec<i64>,
    time: Vec<i64>,
    account_id: Vec<String>,
    initiator: Vec<String>,
    action: Vec<String>,
    instance_id: Vec<String>,
    target: Vec<String>,
    outcome: Vec<String>,
    reason_code: Vec<i64>,
    correlation_id: Vec<String>,
    source_address: Vec<String>,
    prev_hash: Vec<Vec<u8>>,
    account_prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
}

impl AuditColumns {
    fn push(&mut self, r: AuditRecord) {
        let e = r.event;
        self.seq.push(r.seq);
        self.time.push(e.time);
        self.account_id.push(e.account_id);
        self.initiator.push(e.initiator);
        self.action.push(e.action);
        self.instance_id.push(e.instance_id);
        self.target.push(e.target);
        self.outcome.push(e.outcome);
        self.reason_code.push(e.reason_code);
        self.correlation_id.push(e.correlation_id);
        self.source_address.push(e.source_address);
        self.prev_hash.push(r.prev_hash);
        self.account_prev_hash.push(r.account_prev_hash);
        self.hash.push(r.hash);
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit_events(&self, events: &[NewAuditEvent]) -> StoreResult<AuditHead> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let (seq, hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        let accounts: Vec<String> = events
            .iter()
            .map(|e| e.account_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let heads: HashMap<String, Vec<u8>> = sqlx::query_as(
            "SELECT account_id, hash FROM audit_account_heads WHERE account_id = ANY($1)",
        )
        .bind(&accounts)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
        let current = AuditHead { seq, hash };
        if events.is_empty() {
            return Ok(current);
        }
        let (records, last) = chain_batch(current.clone(), events, heads);
        let head = records.last().map_or(current, |r| AuditHead {
            seq: r.seq,
            hash: r.hash.clone(),
        });
        // One statement for the whole batch (arrays unnested into rows): a round trip per
        // batch, not per record, on the hot path of every API call. The records move into
        // the columns, uncopied.
        let mut cols = AuditColumns::default();
        for r in records {
            cols.push(r);
        }
        sqlx::query(concat!(
            "INSERT INTO audit_events (",
            columns!(),
            ") SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], \
             $11::text[], $12::bytea[], $13::bytea[], $14::bytea[])"
        ))
        .bind(cols.seq)
        .bind(cols.time)
        .bind(cols.account_id)
        .bind(cols.initiator)
        .bind(cols.action)
        .bind(cols.instance_id)
        .bind(cols.target)
        .bind(cols.outcome)
        .bind(cols.reason_code)
        .bind(cols.correlation_id)
        .bind(cols.source_address)
        .bind(cols.prev_hash)
        .bind(cols.account_prev_hash)
        .bind(cols.hash)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let (ids, (seqs, hashes)): (Vec<String>, (Vec<i64>, Vec<Vec<u8>>)) =
            last.into_iter().unzip();
        sqlx::query(
            "INSERT INTO audit_account_heads (account_id, seq, hash) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[]) \
             ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(ids)
        .bind(seqs)
        .bind(hashes)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
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
            " FROM audit_events WHERE seq > $1 \
              AND ($2::TEXT IS NULL OR account_id = $2) \
              AND ($3::TEXT IS NULL OR instance_id = $3) \
              AND ($4::TEXT IS NULL OR action = $4) \
              AND ($5::TEXT IS NULL OR initiator = $5) \
              ORDER BY seq LIMIT $6"
        ))
        .bind(q.after_seq)
        .bind(&q.account_id)
        .bind(&q.instance_id)
        .bind(&q.action)
        .bind(&q.initiator)
        .bind(q.limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(record_from_row)
        .collect()
    }

    async fn audit_head(&self) -> StoreResult<AuditHead> {
        let (seq, hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(AuditHead { seq, hash })
    }

    async fn put_audit_checkpoint(&self, c: &AuditCheckpoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, mac, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(c.seq)
        .bind(&c.hash)
        .bind(&c.mac)
        .bind(c.created_at)
        .execute(&self.pool)
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
            "SELECT seq, hash, mac, created_at FROM audit_checkpoints WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
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
