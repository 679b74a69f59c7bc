//! [`ReclamationStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, db};
use crate::StoreResult;
use crate::reclamations::{ReclamationRecord, ReclamationStore};

fn reclamation_from_row(r: &SqliteRow) -> StoreResult<ReclamationRecord> {
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

/// What removing an instance deletes, children first. Every statement takes the instance id
/// once. Wrapped material and sealed data are cleared before their rows are deleted (with
/// `secure_delete`, both leave zeros behind).
const PURGE: [&str; 29] = [
    // Key material and secret data first.
    "UPDATE kp_key_versions SET wrapped_material = NULL \
     WHERE key_id IN (SELECT id FROM kp_keys WHERE instance_id = ?)",
    "UPDATE sm_secret_versions SET payload = NULL, wrapped_dek = NULL WHERE instance_id = ?",
    "UPDATE sm_configurations SET sealed = NULL, wrapped_dek = NULL WHERE instance_id = ?",
    "UPDATE kp_import_tokens SET wrapped_private_key = zeroblob(length(wrapped_private_key)), \
     wrapped_nonce = zeroblob(length(wrapped_nonce)) WHERE instance_id = ?",
    // Key service.
    "DELETE FROM kp_registrations WHERE instance_id = ?",
    "DELETE FROM kp_aliases WHERE instance_id = ?",
    "DELETE FROM kp_kmip_certificates \
     WHERE adapter_id IN (SELECT id FROM kp_kmip_adapters WHERE instance_id = ?)",
    "DELETE FROM kp_kmip_adapters WHERE instance_id = ?",
    "DELETE FROM kp_key_versions WHERE key_id IN (SELECT id FROM kp_keys WHERE instance_id = ?)",
    "DELETE FROM kp_keys WHERE instance_id = ?",
    "DELETE FROM kp_key_rings WHERE instance_id = ?",
    "DELETE FROM kp_instance_policies WHERE instance_id = ?",
    "DELETE FROM kp_import_tokens WHERE instance_id = ?",
    // Secrets service.
    "DELETE FROM sm_secret_locks WHERE instance_id = ?",
    "DELETE FROM sm_secret_versions WHERE instance_id = ?",
    "DELETE FROM sm_secrets WHERE instance_id = ?",
    "DELETE FROM sm_secret_groups WHERE instance_id = ?",
    "DELETE FROM sm_configurations WHERE instance_id = ?",
    "DELETE FROM sm_notification_registrations WHERE instance_id = ?",
    "DELETE FROM sm_instance_roots WHERE instance_id = ?",
    // Lifecycle events: the delivery log, the outbox, the registrations (their wrapped
    // secrets) and the marks of notices made.
    "DELETE FROM event_deliveries WHERE instance_id = ?",
    "DELETE FROM events WHERE instance_id = ?",
    "DELETE FROM event_registrations WHERE instance_id = ?",
    "DELETE FROM event_marks WHERE instance_id = ?",
    // Access.
    "DELETE FROM role_grants WHERE instance_id = ?",
    "DELETE FROM service_authorizations WHERE source_instance_id = ? OR target_instance_id = ?",
    // The instance itself, its wrapped instance key cleared first.
    "UPDATE instances SET wrapped_key = zeroblob(length(wrapped_key)) WHERE id = ?",
    "DELETE FROM instance_reclamations WHERE instance_id = ?",
    "DELETE FROM instances WHERE id = ?",
];

#[async_trait]
impl ReclamationStore for SqliteStore {
    async fn start_reclamation(&self, r: &ReclamationRecord) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE instances SET state = 'reclaiming' WHERE id = ? AND account_id = ? \
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
        sqlx::query(
            "INSERT INTO instance_reclamations (instance_id, account_id, deleted_by, deleted_at, \
             reclaim_at) VALUES (?, ?, ?, ?, ?)",
        )
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
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE instances SET state = 'active' WHERE id = ? AND state = 'reclaiming'",
        )
        .bind(instance_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM instance_reclamations WHERE instance_id = ?")
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
            " FROM instance_reclamations WHERE account_id = ? ORDER BY deleted_at, instance_id"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
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
            " FROM instance_reclamations WHERE instance_id = ?"
        ))
        .bind(instance_id)
        .fetch_optional(&self.reader)
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
            " FROM instance_reclamations WHERE reclaim_at <= ? ORDER BY reclaim_at, instance_id"
        ))
        .bind(now)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(reclamation_from_row)
        .collect()
    }

    async fn purge_instance(&self, instance_id: &str, instance_crn: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
            .bind(instance_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if state.as_deref() != Some("reclaiming") {
            return Ok(false);
        }
        // Registrations this instance made on other instances' keys (a secrets instance on its
        // customer root key) go with it.
        sqlx::query("DELETE FROM kp_registrations WHERE resource_crn = ?")
            .bind(instance_crn)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for sql in PURGE {
            let mut q = sqlx::query(sql).bind(instance_id);
            if sql.contains("OR target_instance_id") {
                q = q.bind(instance_id);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        // The WAL still holds the pages as they were before: copy them back into the database
        // and truncate it, so the shredded bytes leave the files. Best effort (a long reader can
        // hold the checkpoint back; the next one completes it).
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        Ok(true)
    }
}
