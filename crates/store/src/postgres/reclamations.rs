//! [`ReclamationStore`] on PostgreSQL: the SQLite implementation's statements, with the
//! instance row locked first so a reclamation, a restore and a purge of one instance never
//! interleave.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, db};
use crate::StoreResult;
use crate::reclamations::{ReclamationRecord, ReclamationStore};

fn reclamation_from_row(r: &PgRow) -> StoreResult<ReclamationRecord> {
    Ok(ReclamationRecord {
        instance_id: r.try_get(0).map_err(db)?,
        account_id: r.try_get(1).map_err(db)?,
        deleted_by: r.try_get(2).map_err(db)?,
        deleted_at: r.try_get(3).map_err(db)?,
        reclaim_at: r.try_get(4).map_err(db)?,
    })
}

// A macro, not a const: sqlx takes `'static` SQL, which `concat!` keeps.
macro_rules! columns {
    () => {
        "instance_id, account_id, deleted_by, deleted_at, reclaim_at"
    };
}

/// What removing an instance deletes, children first; `$1` is the instance id. Wrapped material
/// and sealed data are cleared before their rows are deleted. (PostgreSQL keeps dead tuples
/// until VACUUM: see the operations notes of the PostgreSQL store.)
const PURGE: [&str; 29] = [
    "UPDATE kp_key_versions SET wrapped_material = NULL \
     WHERE key_id IN (SELECT id FROM kp_keys WHERE instance_id = $1)",
    "UPDATE sm_secret_versions SET payload = NULL, wrapped_dek = NULL WHERE instance_id = $1",
    "UPDATE sm_configurations SET sealed = NULL, wrapped_dek = NULL WHERE instance_id = $1",
    "UPDATE kp_import_tokens SET wrapped_private_key = '\\x'::bytea, wrapped_nonce = '\\x'::bytea \
     WHERE instance_id = $1",
    "DELETE FROM kp_registrations WHERE instance_id = $1",
    "DELETE FROM kp_aliases WHERE instance_id = $1",
    "DELETE FROM kp_kmip_certificates \
     WHERE adapter_id IN (SELECT id FROM kp_kmip_adapters WHERE instance_id = $1)",
    "DELETE FROM kp_kmip_adapters WHERE instance_id = $1",
    "DELETE FROM kp_key_versions WHERE key_id IN (SELECT id FROM kp_keys WHERE instance_id = $1)",
    "DELETE FROM kp_keys WHERE instance_id = $1",
    "DELETE FROM kp_key_rings WHERE instance_id = $1",
    "DELETE FROM kp_instance_policies WHERE instance_id = $1",
    "DELETE FROM kp_import_tokens WHERE instance_id = $1",
    "DELETE FROM sm_secret_locks WHERE instance_id = $1",
    "DELETE FROM sm_secret_versions WHERE instance_id = $1",
    "DELETE FROM sm_secrets WHERE instance_id = $1",
    "DELETE FROM sm_secret_groups WHERE instance_id = $1",
    "DELETE FROM sm_configurations WHERE instance_id = $1",
    "DELETE FROM sm_notification_registrations WHERE instance_id = $1",
    "DELETE FROM sm_instance_roots WHERE instance_id = $1",
    "DELETE FROM event_deliveries WHERE instance_id = $1",
    "DELETE FROM events WHERE instance_id = $1",
    "DELETE FROM event_registrations WHERE instance_id = $1",
    "DELETE FROM event_marks WHERE instance_id = $1",
    "DELETE FROM role_grants WHERE instance_id = $1",
    "DELETE FROM service_authorizations WHERE source_instance_id = $1 OR target_instance_id = $1",
    "UPDATE instances SET wrapped_key = '\\x'::bytea WHERE id = $1",
    "DELETE FROM instance_reclamations WHERE instance_id = $1",
    "DELETE FROM instances WHERE id = $1",
];

#[async_trait]
impl ReclamationStore for PostgresStore {
    async fn start_reclamation(&self, r: &ReclamationRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE instances SET state = 'reclaiming' WHERE id = $1 AND account_id = $2 \
             AND state = 'active'",
        )
        .bind(&r.instance_id)
        .bind(&r.account_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(concat!(
            "INSERT INTO instance_reclamations (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&r.instance_id)
        .bind(&r.account_id)
        .bind(&r.deleted_by)
        .bind(r.deleted_at)
        .bind(r.reclaim_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn restore_instance(&self, instance_id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE instances SET state = 'active' WHERE id = $1 AND state = 'reclaiming'",
        )
        .bind(instance_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM instance_reclamations WHERE instance_id = $1")
            .bind(instance_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn list_reclamations(&self, account_id: &str) -> StoreResult<Vec<ReclamationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM instance_reclamations WHERE account_id = $1 ORDER BY deleted_at, instance_id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(reclamation_from_row)
        .collect()
    }

    async fn get_reclamation(&self, instance_id: &str) -> StoreResult<Option<ReclamationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM instance_reclamations WHERE instance_id = $1"
        ))
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(reclamation_from_row)
        .transpose()
    }

    async fn reclamations_due(&self, now: i64) -> StoreResult<Vec<ReclamationRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM instance_reclamations WHERE reclaim_at <= $1 ORDER BY reclaim_at, instance_id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(reclamation_from_row)
        .collect()
    }

    async fn purge_instance(&self, instance_id: &str, instance_crn: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The instance row locked first: a concurrent restore waits, then finds nothing.
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM instances WHERE id = $1 FOR UPDATE")
                .bind(instance_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if state.as_deref() != Some("reclaiming") {
            return Ok(false);
        }
        sqlx::query("DELETE FROM kp_registrations WHERE resource_crn = $1")
            .bind(instance_crn)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for sql in PURGE {
            sqlx::query(sql)
                .bind(instance_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}
