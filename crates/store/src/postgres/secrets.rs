//! [`SecretStore`] on PostgreSQL: the SQLite implementation's statements, with the row locks the
//! parent module describes where SQLite's single writer made a read-check-write atomic.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::{PostgresStore, db, no_limit_if_negative};
use crate::secrets::{
    NotificationRegistrationRecord, SecretChange, SecretDeletion, SecretGroupRecord,
    SecretLockRecord, SecretRecord, SecretStore, SecretVersionRecord, SecretsConfigRecord,
    SecretsRootRecord,
};
use crate::{StoreError, StoreResult};

macro_rules! group_columns {
    () => {
        "instance_id, id, name, description, created_by, created_at, updated_at"
    };
}

macro_rules! secret_columns {
    () => {
        "instance_id, id, secret_type, name, group_id, state, created_by, created_at, updated_at, \
         expiration_date, next_rotation_date, retrieved_at, downloaded, versions_total, \
         locks_total, revision, metadata"
    };
}

macro_rules! version_columns {
    () => {
        "instance_id, secret_id, id, serial, created_by, created_at, expiration_date, downloaded, \
         auto_rotated, metadata, payload, wrapped_dek, root_key"
    };
}

macro_rules! lock_columns {
    () => {
        "instance_id, secret_id, version_id, name, description, attributes, created_by, \
         created_at, updated_at"
    };
}

macro_rules! config_columns {
    () => {
        "instance_id, name, config_type, secret_type, created_by, created_at, updated_at, \
         revision, metadata, sealed, wrapped_dek, root_key"
    };
}

fn group_from_row(r: &PgRow) -> StoreResult<SecretGroupRecord> {
    Ok(SecretGroupRecord {
        instance_id: r.try_get(0).map_err(db)?,
        id: r.try_get(1).map_err(db)?,
        name: r.try_get(2).map_err(db)?,
        description: r.try_get(3).map_err(db)?,
        created_by: r.try_get(4).map_err(db)?,
        created_at: r.try_get(5).map_err(db)?,
        updated_at: r.try_get(6).map_err(db)?,
    })
}

fn secret_from_row(r: &PgRow) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        instance_id: r.try_get(0).map_err(db)?,
        id: r.try_get(1).map_err(db)?,
        secret_type: r.try_get(2).map_err(db)?,
        name: r.try_get(3).map_err(db)?,
        group_id: r.try_get(4).map_err(db)?,
        state: r.try_get(5).map_err(db)?,
        created_by: r.try_get(6).map_err(db)?,
        created_at: r.try_get(7).map_err(db)?,
        updated_at: r.try_get(8).map_err(db)?,
        expiration_date: r.try_get(9).map_err(db)?,
        next_rotation_date: r.try_get(10).map_err(db)?,
        retrieved_at: r.try_get(11).map_err(db)?,
        downloaded: r.try_get(12).map_err(db)?,
        versions_total: r.try_get(13).map_err(db)?,
        locks_total: r.try_get(14).map_err(db)?,
        revision: r.try_get(15).map_err(db)?,
        metadata: r.try_get(16).map_err(db)?,
    })
}

fn version_from_row(r: &PgRow) -> StoreResult<SecretVersionRecord> {
    Ok(SecretVersionRecord {
        instance_id: r.try_get(0).map_err(db)?,
        secret_id: r.try_get(1).map_err(db)?,
        id: r.try_get(2).map_err(db)?,
        serial: r.try_get(3).map_err(db)?,
        created_by: r.try_get(4).map_err(db)?,
        created_at: r.try_get(5).map_err(db)?,
        expiration_date: r.try_get(6).map_err(db)?,
        downloaded: r.try_get(7).map_err(db)?,
        auto_rotated: r.try_get(8).map_err(db)?,
        metadata: r.try_get(9).map_err(db)?,
        payload: r.try_get(10).map_err(db)?,
        wrapped_dek: r.try_get(11).map_err(db)?,
        root_key: r.try_get(12).map_err(db)?,
    })
}

fn lock_from_row(r: &PgRow) -> StoreResult<SecretLockRecord> {
    Ok(SecretLockRecord {
        instance_id: r.try_get(0).map_err(db)?,
        secret_id: r.try_get(1).map_err(db)?,
        version_id: r.try_get(2).map_err(db)?,
        name: r.try_get(3).map_err(db)?,
        description: r.try_get(4).map_err(db)?,
        attributes: r.try_get(5).map_err(db)?,
        created_by: r.try_get(6).map_err(db)?,
        created_at: r.try_get(7).map_err(db)?,
        updated_at: r.try_get(8).map_err(db)?,
    })
}

fn config_from_row(r: &PgRow) -> StoreResult<SecretsConfigRecord> {
    Ok(SecretsConfigRecord {
        instance_id: r.try_get(0).map_err(db)?,
        name: r.try_get(1).map_err(db)?,
        config_type: r.try_get(2).map_err(db)?,
        secret_type: r.try_get(3).map_err(db)?,
        created_by: r.try_get(4).map_err(db)?,
        created_at: r.try_get(5).map_err(db)?,
        updated_at: r.try_get(6).map_err(db)?,
        revision: r.try_get(7).map_err(db)?,
        metadata: r.try_get(8).map_err(db)?,
        sealed: r.try_get(9).map_err(db)?,
        wrapped_dek: r.try_get(10).map_err(db)?,
        root_key: r.try_get(11).map_err(db)?,
    })
}

fn registration_from_row(r: &PgRow) -> StoreResult<NotificationRegistrationRecord> {
    Ok(NotificationRegistrationRecord {
        instance_id: r.try_get(0).map_err(db)?,
        instance_crn: r.try_get(1).map_err(db)?,
        source_name: r.try_get(2).map_err(db)?,
        source_description: r.try_get(3).map_err(db)?,
        created_by: r.try_get(4).map_err(db)?,
        created_at: r.try_get(5).map_err(db)?,
    })
}

fn root_from_row(r: &PgRow) -> StoreResult<SecretsRootRecord> {
    Ok(SecretsRootRecord {
        instance_id: r.try_get(0).map_err(db)?,
        root_key: r.try_get(1).map_err(db)?,
        root_key_crn: r.try_get(2).map_err(db)?,
        key_version: r.try_get(3).map_err(db)?,
        retired: r.try_get(4).map_err(db)?,
        updated_at: r.try_get(5).map_err(db)?,
    })
}

async fn insert_version(
    tx: &mut Transaction<'_, Postgres>,
    v: &SecretVersionRecord,
) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO sm_secret_versions (",
        version_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&v.instance_id)
    .bind(&v.secret_id)
    .bind(&v.id)
    .bind(v.serial)
    .bind(&v.created_by)
    .bind(v.created_at)
    .bind(v.expiration_date)
    .bind(v.downloaded)
    .bind(v.auto_rotated)
    .bind(&v.metadata)
    .bind(&v.payload)
    .bind(&v.wrapped_dek)
    .bind(&v.root_key)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_db(e, "the secret version exists"))?;
    Ok(())
}

async fn overwrite_version(
    tx: &mut Transaction<'_, Postgres>,
    v: &SecretVersionRecord,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE sm_secret_versions SET expiration_date = $1, downloaded = $2, auto_rotated = $3, \
         metadata = $4, payload = $5, wrapped_dek = $6, root_key = $7 \
         WHERE instance_id = $8 AND secret_id = $9 AND id = $10",
    )
    .bind(v.expiration_date)
    .bind(v.downloaded)
    .bind(v.auto_rotated)
    .bind(&v.metadata)
    .bind(&v.payload)
    .bind(&v.wrapped_dek)
    .bind(&v.root_key)
    .bind(&v.instance_id)
    .bind(&v.secret_id)
    .bind(&v.id)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Stale("the secret version is gone"))
    }
}

async fn put_lock(tx: &mut Transaction<'_, Postgres>, l: &SecretLockRecord) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO sm_secret_locks (",
        lock_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (instance_id, secret_id, version_id, name) DO UPDATE SET \
         description = excluded.description, attributes = excluded.attributes, \
         updated_at = excluded.updated_at"
    ))
    .bind(&l.instance_id)
    .bind(&l.secret_id)
    .bind(&l.version_id)
    .bind(&l.name)
    .bind(&l.description)
    .bind(&l.attributes)
    .bind(&l.created_by)
    .bind(l.created_at)
    .bind(l.updated_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl SecretStore for PostgresStore {
    async fn create_secret_group(&self, g: &SecretGroupRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO sm_secret_groups (",
            group_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&g.instance_id)
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.created_by)
        .bind(g.created_at)
        .bind(g.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "a secret group with this name already exists"))?;
        Ok(())
    }

    async fn list_secret_groups(&self, instance_id: &str) -> StoreResult<Vec<SecretGroupRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            group_columns!(),
            " FROM sm_secret_groups WHERE instance_id = $1 ORDER BY created_at, id"
        ))
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(group_from_row)
        .collect()
    }

    async fn get_secret_group(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretGroupRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            group_columns!(),
            " FROM sm_secret_groups WHERE instance_id = $1 AND id = $2"
        ))
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(group_from_row)
        .transpose()
    }

    async fn update_secret_group(&self, g: &SecretGroupRecord) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sm_secret_groups SET name = $1, description = $2, updated_at = $3 \
             WHERE instance_id = $4 AND id = $5",
        )
        .bind(&g.name)
        .bind(&g.description)
        .bind(g.updated_at)
        .bind(&g.instance_id)
        .bind(&g.id)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "a secret group with this name already exists"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_secret_group(&self, instance_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Lock the group: a concurrent rename or delete of it waits. A secret created in (or
        // moved to) the group meanwhile does not read the group, so it is as if it had come
        // after the delete, which one writer could also have done (the service checks the group
        // before it writes the secret, in another transaction, on SQLite too).
        sqlx::query("SELECT 1 FROM sm_secret_groups WHERE instance_id = $1 AND id = $2 FOR UPDATE")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sm_secrets WHERE instance_id = $1 AND group_id = $2",
        )
        .bind(instance_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if used > 0 {
            return Err(StoreError::Conflict("the secret group holds secrets"));
        }
        let done = sqlx::query("DELETE FROM sm_secret_groups WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_secret(&self, s: &SecretRecord, v: &SecretVersionRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(concat!(
            "INSERT INTO sm_secrets (",
            secret_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(&s.instance_id)
        .bind(&s.id)
        .bind(&s.secret_type)
        .bind(&s.name)
        .bind(&s.group_id)
        .bind(s.state)
        .bind(&s.created_by)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.expiration_date)
        .bind(s.next_rotation_date)
        .bind(s.retrieved_at)
        .bind(s.downloaded)
        .bind(s.versions_total)
        .bind(s.locks_total)
        .bind(s.revision)
        .bind(&s.metadata)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "a secret with this name and type already exists"))?;
        insert_version(&mut tx, v).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_secret(&self, instance_id: &str, id: &str) -> StoreResult<Option<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM sm_secrets WHERE instance_id = $1 AND id = $2"
        ))
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(secret_from_row)
        .transpose()
    }

    async fn find_secret(
        &self,
        instance_id: &str,
        secret_type: &str,
        name: &str,
    ) -> StoreResult<Option<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM sm_secrets WHERE instance_id = $1 AND secret_type = $2 AND name = $3"
        ))
        .bind(instance_id)
        .bind(secret_type)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(secret_from_row)
        .transpose()
    }

    async fn list_secrets(&self, instance_id: &str) -> StoreResult<Vec<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM sm_secrets WHERE instance_id = $1 ORDER BY created_at, id"
        ))
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(secret_from_row)
        .collect()
    }

    async fn secrets_due(&self, now: i64) -> StoreResult<Vec<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM sm_secrets WHERE (expiration_date <= $1 AND state <> 5) \
              OR next_rotation_date <= $2 ORDER BY instance_id, id"
        ))
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(secret_from_row)
        .collect()
    }

    async fn update_secret(&self, s: &SecretRecord, change: SecretChange<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The secret's row first, with its revision check: it stays locked to the commit, so the
        // versions and locks below are written by one caller at a time per secret, and of two
        // callers naming the same revision the second waits, then finds it moved on (`Stale`).
        let done = sqlx::query(
            "UPDATE sm_secrets SET name = $1, group_id = $2, state = $3, updated_at = $4, \
             expiration_date = $5, next_rotation_date = $6, retrieved_at = $7, downloaded = $8, \
             versions_total = $9, locks_total = $10, revision = $11, metadata = $12 \
             WHERE instance_id = $13 AND id = $14 AND revision = $15",
        )
        .bind(&s.name)
        .bind(&s.group_id)
        .bind(s.state)
        .bind(s.updated_at)
        .bind(s.expiration_date)
        .bind(s.next_rotation_date)
        .bind(s.retrieved_at)
        .bind(s.downloaded)
        .bind(s.versions_total)
        .bind(s.locks_total)
        .bind(s.revision)
        .bind(&s.metadata)
        .bind(&s.instance_id)
        .bind(&s.id)
        .bind(s.revision - 1)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "a secret with this name and type already exists"))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale("the secret changed concurrently"));
        }
        if let Some(v) = change.new_version {
            insert_version(&mut tx, v).await?;
        }
        for v in change.versions {
            overwrite_version(&mut tx, v).await?;
        }
        for (version_id, name) in change.remove_locks {
            sqlx::query(
                "DELETE FROM sm_secret_locks \
                 WHERE instance_id = $1 AND secret_id = $2 AND version_id = $3 AND name = $4",
            )
            .bind(&s.instance_id)
            .bind(&s.id)
            .bind(version_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for l in change.put_locks {
            put_lock(&mut tx, l).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_secret(&self, instance_id: &str, id: &str) -> StoreResult<SecretDeletion> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Lock the secret: every writer of its locks (`update_secret`) updates this row first, so
        // none can add a lock between the check below and the delete. One that got there first
        // has committed by the time this lock is granted, and its locks are counted.
        let exists =
            sqlx::query("SELECT 1 FROM sm_secrets WHERE instance_id = $1 AND id = $2 FOR UPDATE")
                .bind(instance_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if exists.is_none() {
            return Ok(SecretDeletion::NotFound);
        }
        let locks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sm_secret_locks WHERE instance_id = $1 AND secret_id = $2",
        )
        .bind(instance_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if locks > 0 {
            return Ok(SecretDeletion::Locked);
        }
        // Shred the data first, then drop the rows, as on SQLite (the old row versions stay in
        // the pages until VACUUM: see `PostgresStore`).
        sqlx::query(
            "UPDATE sm_secret_versions SET payload = NULL, wrapped_dek = NULL \
             WHERE instance_id = $1 AND secret_id = $2",
        )
        .bind(instance_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for sql in [
            "DELETE FROM sm_secret_versions WHERE instance_id = $1 AND secret_id = $2",
            "DELETE FROM sm_secrets WHERE instance_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(instance_id)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(SecretDeletion::Deleted)
    }

    async fn current_secret_version(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM sm_secret_versions WHERE instance_id = $1 AND secret_id = $2 \
              ORDER BY serial DESC LIMIT 1"
        ))
        .bind(instance_id)
        .bind(secret_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(version_from_row)
        .transpose()
    }

    async fn live_secret_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Vec<SecretVersionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM sm_secret_versions WHERE instance_id = $1 AND secret_id = $2 \
              AND (payload IS NOT NULL OR serial = (SELECT MAX(serial) FROM sm_secret_versions \
              WHERE instance_id = $1 AND secret_id = $2)) ORDER BY serial DESC"
        ))
        .bind(instance_id)
        .bind(secret_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(version_from_row)
        .collect()
    }

    async fn list_secret_versions(
        &self,
        instance_id: &str,
        secret_id: &str,
    ) -> StoreResult<Vec<SecretVersionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM sm_secret_versions WHERE instance_id = $1 AND secret_id = $2 ORDER BY serial DESC"
        ))
        .bind(instance_id)
        .bind(secret_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(version_from_row)
        .collect()
    }

    async fn versions_not_under_root(
        &self,
        instance_id: &str,
        root_key: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<SecretVersionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM sm_secret_versions WHERE instance_id = $1 AND root_key <> $2 \
              AND wrapped_dek IS NOT NULL ORDER BY secret_id, serial LIMIT $3 OFFSET $4"
        ))
        .bind(instance_id)
        .bind(root_key)
        .bind(no_limit_if_negative(Some(limit)))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(version_from_row)
        .collect()
    }

    async fn rewrap_secret_version(
        &self,
        v: &SecretVersionRecord,
        old_root: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sm_secret_versions SET wrapped_dek = $1, root_key = $2 \
             WHERE instance_id = $3 AND secret_id = $4 AND id = $5 AND root_key = $6 \
             AND wrapped_dek IS NOT NULL",
        )
        .bind(&v.wrapped_dek)
        .bind(&v.root_key)
        .bind(&v.instance_id)
        .bind(&v.secret_id)
        .bind(&v.id)
        .bind(old_root)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn secret_version_counts(
        &self,
        instance_id: &str,
        root_key: &str,
    ) -> StoreResult<(i64, i64)> {
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE root_key <> $1) \
             FROM sm_secret_versions WHERE instance_id = $2 AND wrapped_dek IS NOT NULL",
        )
        .bind(root_key)
        .bind(instance_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn get_secrets_root(&self, instance_id: &str) -> StoreResult<Option<SecretsRootRecord>> {
        sqlx::query(
            "SELECT instance_id, root_key, root_key_crn, key_version, retired, updated_at \
             FROM sm_instance_roots WHERE instance_id = $1",
        )
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(root_from_row)
        .transpose()
    }

    async fn put_secrets_root(
        &self,
        instance_id: &str,
        root: Option<&SecretsRootRecord>,
    ) -> StoreResult<()> {
        match root {
            None => {
                sqlx::query("DELETE FROM sm_instance_roots WHERE instance_id = $1")
                    .bind(instance_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
            }
            Some(r) => {
                sqlx::query(
                    "INSERT INTO sm_instance_roots (instance_id, root_key, root_key_crn, \
                     key_version, retired, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (instance_id) DO UPDATE SET root_key = excluded.root_key, \
                     root_key_crn = excluded.root_key_crn, key_version = excluded.key_version, \
                     retired = excluded.retired, updated_at = excluded.updated_at",
                )
                .bind(instance_id)
                .bind(&r.root_key)
                .bind(&r.root_key_crn)
                .bind(&r.key_version)
                .bind(&r.retired)
                .bind(r.updated_at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            }
        }
        Ok(())
    }

    async fn list_secrets_roots(&self) -> StoreResult<Vec<SecretsRootRecord>> {
        sqlx::query(
            "SELECT instance_id, root_key, root_key_crn, key_version, retired, updated_at \
             FROM sm_instance_roots ORDER BY instance_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(root_from_row)
        .collect()
    }

    async fn rewrap_secrets_config(
        &self,
        c: &SecretsConfigRecord,
        old_root: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sm_configurations SET wrapped_dek = $1, root_key = $2 \
             WHERE instance_id = $3 AND name = $4 AND root_key = $5 AND wrapped_dek IS NOT NULL",
        )
        .bind(&c.wrapped_dek)
        .bind(&c.root_key)
        .bind(&c.instance_id)
        .bind(&c.name)
        .bind(old_root)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_secret_locks(
        &self,
        instance_id: &str,
        secret_id: Option<&str>,
    ) -> StoreResult<Vec<SecretLockRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            lock_columns!(),
            " FROM sm_secret_locks WHERE instance_id = $1 AND ($2::TEXT IS NULL OR secret_id = $2) \
              ORDER BY secret_id, created_at, name"
        ))
        .bind(instance_id)
        .bind(secret_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(lock_from_row)
        .collect()
    }

    async fn create_secrets_config(&self, c: &SecretsConfigRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO sm_configurations (",
            config_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&c.instance_id)
        .bind(&c.name)
        .bind(&c.config_type)
        .bind(&c.secret_type)
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.revision)
        .bind(&c.metadata)
        .bind(&c.sealed)
        .bind(&c.wrapped_dek)
        .bind(&c.root_key)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "a configuration with this name already exists"))?;
        Ok(())
    }

    async fn get_secrets_config(
        &self,
        instance_id: &str,
        name: &str,
    ) -> StoreResult<Option<SecretsConfigRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            config_columns!(),
            " FROM sm_configurations WHERE instance_id = $1 AND name = $2"
        ))
        .bind(instance_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(config_from_row)
        .transpose()
    }

    async fn list_secrets_configs(
        &self,
        instance_id: &str,
    ) -> StoreResult<Vec<SecretsConfigRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            config_columns!(),
            " FROM sm_configurations WHERE instance_id = $1 ORDER BY created_at, name"
        ))
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(config_from_row)
        .collect()
    }

    async fn update_secrets_config(&self, c: &SecretsConfigRecord) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE sm_configurations SET updated_at = $1, revision = $2, metadata = $3, sealed = $4, \
             wrapped_dek = $5, root_key = $6 WHERE instance_id = $7 AND name = $8 AND revision = $9",
        )
        .bind(c.updated_at)
        .bind(c.revision)
        .bind(&c.metadata)
        .bind(&c.sealed)
        .bind(&c.wrapped_dek)
        .bind(&c.root_key)
        .bind(&c.instance_id)
        .bind(&c.name)
        .bind(c.revision - 1)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Stale("the configuration changed concurrently"))
        }
    }

    async fn delete_secrets_config(&self, instance_id: &str, name: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "UPDATE sm_configurations SET sealed = NULL, wrapped_dek = NULL \
             WHERE instance_id = $1 AND name = $2",
        )
        .bind(instance_id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let done =
            sqlx::query("DELETE FROM sm_configurations WHERE instance_id = $1 AND name = $2")
                .bind(instance_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_notification_registration(
        &self,
        r: &NotificationRegistrationRecord,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sm_notification_registrations (instance_id, instance_crn, source_name, \
             source_description, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.instance_id)
        .bind(&r.instance_crn)
        .bind(&r.source_name)
        .bind(&r.source_description)
        .bind(&r.created_by)
        .bind(r.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::from_db(
                e,
                "a notifications registration already exists for this instance",
            )
        })?;
        Ok(())
    }

    async fn get_notification_registration(
        &self,
        instance_id: &str,
    ) -> StoreResult<Option<NotificationRegistrationRecord>> {
        sqlx::query(
            "SELECT instance_id, instance_crn, source_name, source_description, created_by, \
             created_at FROM sm_notification_registrations WHERE instance_id = $1",
        )
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(registration_from_row)
        .transpose()
    }

    async fn delete_notification_registration(&self, instance_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sm_notification_registrations WHERE instance_id = $1")
            .bind(instance_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
