//! The embedded default: SQLite in WAL mode with `synchronous = FULL`, so a commit is on disk before
//! the call returns.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::{
    AccountRecord, AliasRecord, ApiKeyRecord, ImportTokenRecord, InitialState,
    InstancePolicyRecord, InstanceRecord, KeyQuery, KeyRecord, KeyRingRecord, KeyVersionRecord,
    KmipAdapterRecord, KmipCertificateRecord, PrincipalKind, PrincipalRecord, RegistrationRecord,
    RoleGrantRecord, ServiceAuthorizationRecord, Store, StoreError, StoreResult,
};

mod audit;
mod backup;
mod events;
mod instance_updates;
mod reclamations;
mod secrets;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite store. Writes go through a single connection (SQLite allows one writer; queueing them here
/// avoids `SQLITE_BUSY` on lock upgrades); reads use a small pool and see WAL snapshots.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and runs the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted content is overwritten with zeros, not left in free pages: a purged key's
            // wrapped material must not survive in the file (crypto-shredding).
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&writer).await.map_err(StoreError::Migration)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(Self { writer, reader })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn db(err: sqlx::Error) -> StoreError {
    StoreError::database(err)
}

fn principal_from_row(row: &SqliteRow, offset: usize) -> StoreResult<PrincipalRecord> {
    let kind: String = row.try_get(offset + 2).map_err(db)?;
    Ok(PrincipalRecord {
        id: row.try_get(offset).map_err(db)?,
        account_id: row.try_get(offset + 1).map_err(db)?,
        kind: PrincipalKind::parse(&kind).ok_or(StoreError::Corrupt("principal kind"))?,
        name: row.try_get(offset + 3).map_err(db)?,
        is_admin: row.try_get(offset + 4).map_err(db)?,
        created_at: row.try_get(offset + 5).map_err(db)?,
    })
}

fn instance_from_row(row: &SqliteRow) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        id: row.try_get(0).map_err(db)?,
        account_id: row.try_get(1).map_err(db)?,
        service: row.try_get(2).map_err(db)?,
        name: row.try_get(3).map_err(db)?,
        state: row.try_get(4).map_err(db)?,
        wrapped_key: row.try_get(5).map_err(db)?,
        created_at: row.try_get(6).map_err(db)?,
    })
}

// A macro, not a const: sqlx takes `'static` SQL, which `concat!` keeps.
macro_rules! instance_columns {
    () => {
        "id, account_id, service, name, state, wrapped_key, created_at"
    };
}

macro_rules! key_columns {
    () => {
        "id, instance_id, name, description, extractable, imported, state, state_before_delete, \
         key_ring_id, tags, expiration_date, created_by, creation_date, last_update_date, \
         last_rotate_date, deletion_date, deleted_by, rotation_enabled, rotation_interval, \
         dual_auth_delete, current_version_id, revision, deletion_auth_by, deletion_auth_date"
    };
}

/// The WHERE clause of key listings: fixed SQL with nullable parameters, so the text stays static.
macro_rules! key_filter {
    () => {
        " FROM kp_keys WHERE instance_id = ? \
          AND (? IS NULL OR state IN (SELECT value FROM json_each(?))) \
          AND (? IS NULL OR extractable = ?) \
          AND (? IS NULL OR key_ring_id = ?)"
    };
}

fn alias_from_row(r: &SqliteRow) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        instance_id: r.try_get(0).map_err(db)?,
        alias: r.try_get(1).map_err(db)?,
        key_id: r.try_get(2).map_err(db)?,
        created_by: r.try_get(3).map_err(db)?,
        creation_date: r.try_get(4).map_err(db)?,
    })
}

fn key_from_row(row: &SqliteRow) -> StoreResult<KeyRecord> {
    let tags: String = row.try_get(9).map_err(db)?;
    Ok(KeyRecord {
        id: row.try_get(0).map_err(db)?,
        instance_id: row.try_get(1).map_err(db)?,
        name: row.try_get(2).map_err(db)?,
        description: row.try_get(3).map_err(db)?,
        extractable: row.try_get(4).map_err(db)?,
        imported: row.try_get(5).map_err(db)?,
        state: row.try_get(6).map_err(db)?,
        state_before_delete: row.try_get(7).map_err(db)?,
        key_ring_id: row.try_get(8).map_err(db)?,
        tags: serde_json::from_str(&tags).map_err(|_| StoreError::Corrupt("key tags"))?,
        expiration_date: row.try_get(10).map_err(db)?,
        created_by: row.try_get(11).map_err(db)?,
        creation_date: row.try_get(12).map_err(db)?,
        last_update_date: row.try_get(13).map_err(db)?,
        last_rotate_date: row.try_get(14).map_err(db)?,
        deletion_date: row.try_get(15).map_err(db)?,
        deleted_by: row.try_get(16).map_err(db)?,
        rotation_enabled: row.try_get(17).map_err(db)?,
        rotation_interval: row.try_get(18).map_err(db)?,
        dual_auth_delete: row.try_get(19).map_err(db)?,
        current_version_id: row.try_get(20).map_err(db)?,
        revision: row.try_get(21).map_err(db)?,
        deletion_auth_by: row.try_get(22).map_err(db)?,
        deletion_auth_date: row.try_get(23).map_err(db)?,
    })
}

fn version_from_row(row: &SqliteRow) -> StoreResult<KeyVersionRecord> {
    Ok(KeyVersionRecord {
        id: row.try_get(0).map_err(db)?,
        key_id: row.try_get(1).map_err(db)?,
        seq: row.try_get(2).map_err(db)?,
        creation_date: row.try_get(3).map_err(db)?,
        wrapped_material: row.try_get(4).map_err(db)?,
    })
}

fn tags_json(key: &KeyRecord) -> String {
    serde_json::to_string(&key.tags).unwrap_or_else(|_| "[]".into())
}

async fn insert_version(
    conn: &mut sqlx::SqliteConnection,
    v: &KeyVersionRecord,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO kp_key_versions (id, key_id, seq, creation_date, wrapped_material) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&v.id)
    .bind(&v.key_id)
    .bind(v.seq)
    .bind(v.creation_date)
    .bind(&v.wrapped_material)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_db(e, "key version exists"))?;
    Ok(())
}

/// Writes every mutable column of `key` if the stored revision is `key.revision - 1`.
async fn update_key_row(conn: &mut sqlx::SqliteConnection, k: &KeyRecord) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE kp_keys SET name = ?, description = ?, extractable = ?, imported = ?, state = ?, \
         state_before_delete = ?, key_ring_id = ?, tags = ?, expiration_date = ?, \
         last_update_date = ?, last_rotate_date = ?, deletion_date = ?, deleted_by = ?, \
         rotation_enabled = ?, rotation_interval = ?, dual_auth_delete = ?, \
         current_version_id = ?, revision = ?, deletion_auth_by = ?, deletion_auth_date = ? \
         WHERE id = ? AND instance_id = ? AND revision = ?",
    )
    .bind(&k.name)
    .bind(&k.description)
    .bind(k.extractable)
    .bind(k.imported)
    .bind(k.state)
    .bind(k.state_before_delete)
    .bind(&k.key_ring_id)
    .bind(tags_json(k))
    .bind(k.expiration_date)
    .bind(k.last_update_date)
    .bind(k.last_rotate_date)
    .bind(k.deletion_date)
    .bind(&k.deleted_by)
    .bind(k.rotation_enabled)
    .bind(k.rotation_interval)
    .bind(k.dual_auth_delete)
    .bind(&k.current_version_id)
    .bind(k.revision)
    .bind(&k.deletion_auth_by)
    .bind(k.deletion_auth_date)
    .bind(&k.id)
    .bind(&k.instance_id)
    .bind(k.revision - 1)
    .execute(conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("the key changed concurrently"))
    }
}

fn grant_from_row(r: &SqliteRow) -> StoreResult<RoleGrantRecord> {
    Ok(RoleGrantRecord {
        id: r.try_get(0).map_err(db)?,
        account_id: r.try_get(1).map_err(db)?,
        principal_id: r.try_get(2).map_err(db)?,
        instance_id: r.try_get(3).map_err(db)?,
        role: r.try_get(4).map_err(db)?,
        created_by: r.try_get(5).map_err(db)?,
        created_at: r.try_get(6).map_err(db)?,
    })
}

macro_rules! authorization_columns {
    () => {
        "id, account_id, source_service, source_instance_id, target_instance_id, target_key_id, \
         role, created_by, created_at"
    };
}

fn authorization_from_row(r: &SqliteRow) -> StoreResult<ServiceAuthorizationRecord> {
    Ok(ServiceAuthorizationRecord {
        id: r.try_get(0).map_err(db)?,
        account_id: r.try_get(1).map_err(db)?,
        source_service: r.try_get(2).map_err(db)?,
        source_instance_id: r.try_get(3).map_err(db)?,
        target_instance_id: r.try_get(4).map_err(db)?,
        target_key_id: r.try_get(5).map_err(db)?,
        role: r.try_get(6).map_err(db)?,
        created_by: r.try_get(7).map_err(db)?,
        created_at: r.try_get(8).map_err(db)?,
    })
}

fn import_token_from_row(r: &SqliteRow) -> StoreResult<ImportTokenRecord> {
    Ok(ImportTokenRecord {
        instance_id: r.try_get(0).map_err(db)?,
        id: r.try_get(1).map_err(db)?,
        wrapped_private_key: r.try_get(2).map_err(db)?,
        public_key_pem: r.try_get(3).map_err(db)?,
        wrapped_nonce: r.try_get(4).map_err(db)?,
        creation_date: r.try_get(5).map_err(db)?,
        expiration_date: r.try_get(6).map_err(db)?,
        max_retrievals: r.try_get(7).map_err(db)?,
        remaining_retrievals: r.try_get(8).map_err(db)?,
        created_by: r.try_get(9).map_err(db)?,
    })
}

macro_rules! import_token_columns {
    () => {
        "instance_id, id, wrapped_private_key, public_key_pem, wrapped_nonce, creation_date, \
         expiration_date, max_retrievals, remaining_retrievals, created_by"
    };
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn seal_record(&self) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT record FROM seal_record WHERE id = 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| r.try_get(0).map_err(db)).transpose()
    }

    async fn initialize(&self, state: &InitialState) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO seal_record (id, record, created_at) VALUES (1, ?, ?)")
            .bind(&state.seal_record)
            .bind(state.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "already initialized"))?;
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&state.account.id)
            .bind(&state.account.name)
            .bind(state.account.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "account exists"))?;
        let p = &state.admin;
        sqlx::query(
            "INSERT INTO principals (id, account_id, kind, name, is_admin, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.account_id)
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.is_admin)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "principal exists"))?;
        let k = &state.api_key;
        sqlx::query(
            "INSERT INTO api_keys (id, principal_id, name, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(&k.principal_id)
        .bind(&k.name)
        .bind(&k.digest)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "api key exists"))?;
        tx.commit().await.map_err(db)
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok(AccountRecord {
                id: r.try_get(0).map_err(db)?,
                name: r.try_get(1).map_err(db)?,
                created_at: r.try_get(2).map_err(db)?,
            })
        })
        .transpose()
    }

    async fn find_api_key(
        &self,
        digest: &[u8],
    ) -> StoreResult<Option<(ApiKeyRecord, PrincipalRecord)>> {
        let row = sqlx::query(
            "SELECT k.id, k.principal_id, k.name, k.digest, k.created_at, \
                    p.id, p.account_id, p.kind, p.name, p.is_admin, p.created_at \
             FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let key = ApiKeyRecord {
            id: r.try_get(0).map_err(db)?,
            principal_id: r.try_get(1).map_err(db)?,
            name: r.try_get(2).map_err(db)?,
            digest: r.try_get(3).map_err(db)?,
            created_at: r.try_get(4).map_err(db)?,
        };
        Ok(Some((key, principal_from_row(&r, 5)?)))
    }

    async fn create_instance(&self, i: &InstanceRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO instances (",
            instance_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&i.id)
        .bind(&i.account_id)
        .bind(&i.service)
        .bind(&i.name)
        .bind(&i.state)
        .bind(&i.wrapped_key)
        .bind(i.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "instance exists"))?;
        Ok(())
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(instance_from_row).transpose()
    }

    async fn list_instances(&self, account_id: &str) -> StoreResult<Vec<InstanceRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn signing_key(&self) -> StoreResult<Option<(String, Vec<u8>)>> {
        let row =
            sqlx::query("SELECT id, wrapped_key FROM signing_keys ORDER BY created_at LIMIT 1")
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
            .transpose()
    }

    async fn put_signing_key(&self, id: &str, wrapped: &[u8], created_at: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists = sqlx::query("SELECT 1 FROM signing_keys LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::Conflict("a signing key exists"));
        }
        sqlx::query("INSERT INTO signing_keys (id, wrapped_key, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(wrapped)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "signing key exists"))?;
        tx.commit().await.map_err(db)
    }

    async fn create_key(&self, k: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query(concat!(
            "INSERT INTO kp_keys (",
            key_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&k.id)
        .bind(&k.instance_id)
        .bind(&k.name)
        .bind(&k.description)
        .bind(k.extractable)
        .bind(k.imported)
        .bind(k.state)
        .bind(k.state_before_delete)
        .bind(&k.key_ring_id)
        .bind(tags_json(k))
        .bind(k.expiration_date)
        .bind(&k.created_by)
        .bind(k.creation_date)
        .bind(k.last_update_date)
        .bind(k.last_rotate_date)
        .bind(k.deletion_date)
        .bind(&k.deleted_by)
        .bind(k.rotation_enabled)
        .bind(k.rotation_interval)
        .bind(k.dual_auth_delete)
        .bind(&k.current_version_id)
        .bind(k.revision)
        .bind(&k.deletion_auth_by)
        .bind(k.deletion_auth_date)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "key exists"))?;
        insert_version(&mut tx, version).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_key(&self, instance_id: &str, key_id: &str) -> StoreResult<Option<KeyRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM kp_keys WHERE instance_id = ? AND id = ?"
        ))
        .bind(instance_id)
        .bind(key_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_keys(
        &self,
        instance_id: &str,
        q: &KeyQuery,
    ) -> StoreResult<(Vec<KeyRecord>, i64)> {
        let states = q
            .states
            .as_ref()
            .map(|s| serde_json::to_string(s).unwrap_or_else(|_| "[]".into()));
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            key_filter!(),
            " ORDER BY id LIMIT ? OFFSET ?"
        ))
        .bind(instance_id)
        .bind(&states)
        .bind(&states)
        .bind(q.extractable)
        .bind(q.extractable)
        .bind(&q.key_ring_id)
        .bind(&q.key_ring_id)
        .bind(q.limit.unwrap_or(-1))
        .bind(q.offset)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*)", key_filter!()))
            .bind(instance_id)
            .bind(&states)
            .bind(&states)
            .bind(q.extractable)
            .bind(q.extractable)
            .bind(&q.key_ring_id)
            .bind(&q.key_ring_id)
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        let keys = rows.iter().map(key_from_row).collect::<StoreResult<_>>()?;
        Ok((keys, total))
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        update_key_row(&mut tx, key).await?;
        tx.commit().await.map_err(db)
    }

    async fn rotate_key(&self, key: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        update_key_row(&mut tx, key).await?;
        insert_version(&mut tx, version).await?;
        tx.commit().await.map_err(db)
    }

    async fn purge_key(&self, instance_id: &str, key_id: &str) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let state: Option<i64> =
            sqlx::query_scalar("SELECT state FROM kp_keys WHERE id = ? AND instance_id = ?")
                .bind(key_id)
                .bind(instance_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        match state {
            None => return Ok(None),
            Some(5) => {}
            Some(_) => return Err(StoreError::Conflict("only a deleted key can be purged")),
        }
        let versions: Vec<String> =
            sqlx::query_scalar("SELECT id FROM kp_key_versions WHERE key_id = ? ORDER BY seq")
                .bind(key_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        // Shred first, then delete: with `secure_delete` both leave zeros where the material was.
        sqlx::query("UPDATE kp_key_versions SET wrapped_material = NULL WHERE key_id = ?")
            .bind(key_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for sql in [
            "DELETE FROM kp_aliases WHERE key_id = ?",
            "DELETE FROM kp_registrations WHERE key_id = ?",
            "DELETE FROM kp_kmip_certificates WHERE adapter_id IN \
             (SELECT id FROM kp_kmip_adapters WHERE crk_id = ?)",
            "DELETE FROM kp_kmip_adapters WHERE crk_id = ?",
            "DELETE FROM kp_key_versions WHERE key_id = ?",
        ] {
            sqlx::query(sql)
                .bind(key_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query("DELETE FROM kp_keys WHERE id = ? AND instance_id = ?")
            .bind(key_id)
            .bind(instance_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        // Older WAL frames still hold the pages as they were before the purge: copy the WAL into
        // the database and truncate it. Best effort (a long reader can hold the checkpoint back;
        // the next purge or the close retries it).
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        Ok(Some(versions))
    }

    async fn keys_due(
        &self,
        now: i64,
        purge_after_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<KeyRecord>> {
        const MONTH_MS: i64 = 30 * 24 * 3600 * 1000;
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM kp_keys WHERE \
              (state = 1 AND expiration_date IS NOT NULL AND expiration_date <= ?) \
              OR (state = 1 AND extractable = 0 AND imported = 0 AND rotation_enabled = 1 \
                  AND COALESCE(last_rotate_date, creation_date) \
                      + COALESCE(rotation_interval, 1) * ? <= ?) \
              OR (state = 5 AND deletion_date IS NOT NULL AND deletion_date + ? <= ?) \
             ORDER BY creation_date, id LIMIT ?"
        ))
        .bind(now)
        .bind(MONTH_MS)
        .bind(now)
        .bind(purge_after_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn get_key_version(&self, version_id: &str) -> StoreResult<Option<KeyVersionRecord>> {
        let row = sqlx::query(
            "SELECT id, key_id, seq, creation_date, wrapped_material FROM kp_key_versions \
             WHERE id = ?",
        )
        .bind(version_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn list_key_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersionRecord>> {
        let rows = sqlx::query(
            "SELECT id, key_id, seq, creation_date, wrapped_material FROM kp_key_versions \
             WHERE key_id = ? ORDER BY seq DESC",
        )
        .bind(key_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(version_from_row).collect()
    }

    async fn list_key_rings(&self, instance_id: &str) -> StoreResult<Vec<KeyRingRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, id, created_by, creation_date FROM kp_key_rings \
             WHERE instance_id = ? ORDER BY id",
        )
        .bind(instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(KeyRingRecord {
                    instance_id: r.try_get(0).map_err(db)?,
                    id: r.try_get(1).map_err(db)?,
                    created_by: r.try_get(2).map_err(db)?,
                    creation_date: r.try_get(3).map_err(db)?,
                })
            })
            .collect()
    }

    async fn create_key_ring(&self, ring: &KeyRingRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kp_key_rings (instance_id, id, created_by, creation_date) VALUES (?, ?, ?, ?)",
        )
        .bind(&ring.instance_id)
        .bind(&ring.id)
        .bind(&ring.created_by)
        .bind(ring.creation_date)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "key ring exists"))?;
        Ok(())
    }

    async fn delete_key_ring(&self, instance_id: &str, id: &str, force: bool) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists = sqlx::query("SELECT 1 FROM kp_key_rings WHERE instance_id = ? AND id = ?")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Ok(false);
        }
        let (live, destroyed): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(state <> 5), 0), COALESCE(SUM(state = 5), 0) FROM kp_keys \
             WHERE instance_id = ? AND key_ring_id = ?",
        )
        .bind(instance_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if live > 0 || (destroyed > 0 && !force) {
            return Err(StoreError::Conflict("the key ring holds keys"));
        }
        sqlx::query(
            "UPDATE kp_keys SET key_ring_id = 'default', revision = revision + 1 \
             WHERE instance_id = ? AND key_ring_id = ?",
        )
        .bind(instance_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM kp_key_rings WHERE instance_id = ? AND id = ?")
            .bind(instance_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn instance_policies(&self, instance_id: &str) -> StoreResult<Vec<InstancePolicyRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, policy_type, enabled, attributes, created_by, creation_date, \
             updated_by, last_updated FROM kp_instance_policies WHERE instance_id = ? \
             ORDER BY policy_type",
        )
        .bind(instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(InstancePolicyRecord {
                    instance_id: r.try_get(0).map_err(db)?,
                    policy_type: r.try_get(1).map_err(db)?,
                    enabled: r.try_get(2).map_err(db)?,
                    attributes: r.try_get(3).map_err(db)?,
                    created_by: r.try_get(4).map_err(db)?,
                    creation_date: r.try_get(5).map_err(db)?,
                    updated_by: r.try_get(6).map_err(db)?,
                    last_updated: r.try_get(7).map_err(db)?,
                })
            })
            .collect()
    }

    async fn put_instance_policies(&self, policies: &[InstancePolicyRecord]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        for p in policies {
            sqlx::query(
                "INSERT INTO kp_instance_policies (instance_id, policy_type, enabled, attributes, \
                 created_by, creation_date, updated_by, last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (instance_id, policy_type) DO UPDATE SET enabled = excluded.enabled, \
                 attributes = excluded.attributes, updated_by = excluded.updated_by, \
                 last_updated = excluded.last_updated",
            )
            .bind(&p.instance_id)
            .bind(&p.policy_type)
            .bind(p.enabled)
            .bind(&p.attributes)
            .bind(&p.created_by)
            .bind(p.creation_date)
            .bind(&p.updated_by)
            .bind(p.last_updated)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn put_import_token(&self, t: &ImportTokenRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT OR REPLACE INTO kp_import_tokens (",
            import_token_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&t.instance_id)
        .bind(&t.id)
        .bind(&t.wrapped_private_key)
        .bind(&t.public_key_pem)
        .bind(&t.wrapped_nonce)
        .bind(t.creation_date)
        .bind(t.expiration_date)
        .bind(t.max_retrievals)
        .bind(t.remaining_retrievals)
        .bind(&t.created_by)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn import_token(&self, instance_id: &str) -> StoreResult<Option<ImportTokenRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            import_token_columns!(),
            " FROM kp_import_tokens WHERE instance_id = ?"
        ))
        .bind(instance_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(import_token_from_row).transpose()
    }

    async fn take_import_token_retrieval(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<ImportTokenRecord>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE kp_import_tokens SET remaining_retrievals = remaining_retrievals - 1 \
             WHERE instance_id = ? AND id = ? AND remaining_retrievals > 0",
        )
        .bind(instance_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            import_token_columns!(),
            " FROM kp_import_tokens WHERE instance_id = ?"
        ))
        .bind(instance_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        import_token_from_row(&row).map(Some)
    }

    async fn create_alias(&self, a: &AliasRecord, max_per_key: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kp_aliases WHERE key_id = ?")
            .bind(&a.key_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if count >= max_per_key {
            return Err(StoreError::Conflict("the key has the most aliases allowed"));
        }
        sqlx::query(
            "INSERT INTO kp_aliases (instance_id, alias, key_id, created_by, creation_date) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&a.instance_id)
        .bind(&a.alias)
        .bind(&a.key_id)
        .bind(&a.created_by)
        .bind(a.creation_date)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "the alias exists in this instance"))?;
        tx.commit().await.map_err(db)
    }

    async fn delete_alias(
        &self,
        instance_id: &str,
        key_id: &str,
        alias: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM kp_aliases WHERE instance_id = ? AND key_id = ? AND alias = ?",
        )
        .bind(instance_id)
        .bind(key_id)
        .bind(alias)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn key_aliases(&self, key_id: &str) -> StoreResult<Vec<AliasRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, alias, key_id, created_by, creation_date FROM kp_aliases \
             WHERE key_id = ? ORDER BY creation_date, alias",
        )
        .bind(key_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn instance_aliases(&self, instance_id: &str) -> StoreResult<Vec<AliasRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, alias, key_id, created_by, creation_date FROM kp_aliases \
             WHERE instance_id = ? ORDER BY key_id, creation_date, alias",
        )
        .bind(instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn resolve_alias(&self, instance_id: &str, alias: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT key_id FROM kp_aliases WHERE instance_id = ? AND alias = ?")
            .bind(instance_id)
            .bind(alias)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)
    }

    async fn create_kmip_adapter(&self, a: &KmipAdapterRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kp_kmip_adapters (id, instance_id, name, description, profile, crk_id, \
             created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&a.id)
        .bind(&a.instance_id)
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.profile)
        .bind(&a.crk_id)
        .bind(a.created_at)
        .bind(&a.created_by)
        .bind(a.updated_at)
        .bind(&a.updated_by)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "a KMIP adapter with this name exists"))?;
        Ok(())
    }

    async fn list_kmip_adapters(&self, instance_id: &str) -> StoreResult<Vec<KmipAdapterRecord>> {
        let rows = sqlx::query(
            "SELECT id, instance_id, name, description, profile, crk_id, created_at, created_by, \
             updated_at, updated_by FROM kp_kmip_adapters WHERE instance_id = ? \
             ORDER BY created_at, id",
        )
        .bind(instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(KmipAdapterRecord {
                    id: r.try_get(0).map_err(db)?,
                    instance_id: r.try_get(1).map_err(db)?,
                    name: r.try_get(2).map_err(db)?,
                    description: r.try_get(3).map_err(db)?,
                    profile: r.try_get(4).map_err(db)?,
                    crk_id: r.try_get(5).map_err(db)?,
                    created_at: r.try_get(6).map_err(db)?,
                    created_by: r.try_get(7).map_err(db)?,
                    updated_at: r.try_get(8).map_err(db)?,
                    updated_by: r.try_get(9).map_err(db)?,
                })
            })
            .collect()
    }

    async fn delete_kmip_adapter(&self, instance_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let found = sqlx::query("SELECT 1 FROM kp_kmip_adapters WHERE instance_id = ? AND id = ?")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if found.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM kp_kmip_certificates WHERE adapter_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM kp_kmip_adapters WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn create_kmip_certificate(
        &self,
        c: &KmipCertificateRecord,
        max_per_adapter: i64,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kp_kmip_certificates WHERE adapter_id = ?")
                .bind(&c.adapter_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if count >= max_per_adapter {
            return Err(StoreError::Conflict(
                "the adapter has the most certificates allowed",
            ));
        }
        sqlx::query(
            "INSERT INTO kp_kmip_certificates (id, adapter_id, name, certificate, created_at, \
             created_by) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.adapter_id)
        .bind(&c.name)
        .bind(&c.certificate)
        .bind(c.created_at)
        .bind(&c.created_by)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_db(e, "a certificate with this name exists"))?;
        tx.commit().await.map_err(db)
    }

    async fn list_kmip_certificates(
        &self,
        adapter_id: &str,
    ) -> StoreResult<Vec<KmipCertificateRecord>> {
        let rows = sqlx::query(
            "SELECT id, adapter_id, name, certificate, created_at, created_by \
             FROM kp_kmip_certificates WHERE adapter_id = ? ORDER BY created_at, id",
        )
        .bind(adapter_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(KmipCertificateRecord {
                    id: r.try_get(0).map_err(db)?,
                    adapter_id: r.try_get(1).map_err(db)?,
                    name: r.try_get(2).map_err(db)?,
                    certificate: r.try_get(3).map_err(db)?,
                    created_at: r.try_get(4).map_err(db)?,
                    created_by: r.try_get(5).map_err(db)?,
                })
            })
            .collect()
    }

    async fn delete_kmip_certificate(&self, adapter_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM kp_kmip_certificates WHERE adapter_id = ? AND id = ?")
            .bind(adapter_id)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO principals (id, account_id, kind, name, is_admin, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.account_id)
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.is_admin)
        .bind(p.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "principal exists"))?;
        Ok(())
    }

    async fn get_principal(&self, id: &str) -> StoreResult<Option<PrincipalRecord>> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, name, is_admin, created_at FROM principals WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|r| principal_from_row(&r, 0)).transpose()
    }

    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, name, is_admin, created_at FROM principals \
             WHERE account_id = ? ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(|r| principal_from_row(r, 0)).collect()
    }

    async fn create_api_key(&self, k: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, principal_id, name, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(&k.principal_id)
        .bind(&k.name)
        .bind(&k.digest)
        .bind(k.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "api key exists"))?;
        Ok(())
    }

    async fn list_api_keys(&self, principal_id: &str) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, principal_id, name, digest, created_at FROM api_keys \
             WHERE principal_id = ? ORDER BY created_at, id",
        )
        .bind(principal_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ApiKeyRecord {
                    id: r.try_get(0).map_err(db)?,
                    principal_id: r.try_get(1).map_err(db)?,
                    name: r.try_get(2).map_err(db)?,
                    digest: r.try_get(3).map_err(db)?,
                    created_at: r.try_get(4).map_err(db)?,
                })
            })
            .collect()
    }

    async fn delete_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(
            "SELECT id, principal_id, name, digest, created_at FROM api_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let record = ApiKeyRecord {
            id: r.try_get(0).map_err(db)?,
            principal_id: r.try_get(1).map_err(db)?,
            name: r.try_get(2).map_err(db)?,
            digest: r.try_get(3).map_err(db)?,
            created_at: r.try_get(4).map_err(db)?,
        };
        sqlx::query("DELETE FROM api_keys WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(record))
    }

    async fn create_grant(&self, g: &RoleGrantRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO role_grants (id, account_id, principal_id, instance_id, role, created_by, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.id)
        .bind(&g.account_id)
        .bind(&g.principal_id)
        .bind(&g.instance_id)
        .bind(&g.role)
        .bind(&g.created_by)
        .bind(g.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::from_db(e, "the principal holds this role on the instance"))?;
        Ok(())
    }

    async fn list_grants(&self, account_id: &str) -> StoreResult<Vec<RoleGrantRecord>> {
        let rows = sqlx::query(
            "SELECT id, account_id, principal_id, instance_id, role, created_by, created_at \
             FROM role_grants WHERE account_id = ? ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<RoleGrantRecord>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(
            "SELECT id, account_id, principal_id, instance_id, role, created_by, created_at \
             FROM role_grants WHERE account_id = ? AND id = ?",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let grant = grant_from_row(&r)?;
        sqlx::query("DELETE FROM role_grants WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(grant))
    }

    async fn put_registration(&self, r: &RegistrationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kp_registrations (key_id, resource_crn, instance_id, prevent_key_deletion, \
             description, key_version_id, created_by, creation_date, updated_by, last_updated) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (key_id, resource_crn) DO UPDATE SET \
             prevent_key_deletion = excluded.prevent_key_deletion, \
             description = excluded.description, key_version_id = excluded.key_version_id, \
             updated_by = excluded.updated_by, last_updated = excluded.last_updated",
        )
        .bind(&r.key_id)
        .bind(&r.resource_crn)
        .bind(&r.instance_id)
        .bind(r.prevent_key_deletion)
        .bind(&r.description)
        .bind(&r.key_version_id)
        .bind(&r.created_by)
        .bind(r.creation_date)
        .bind(&r.updated_by)
        .bind(r.last_updated)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_registration(&self, key_id: &str, resource_crn: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM kp_registrations WHERE key_id = ? AND resource_crn = ?")
                .bind(key_id)
                .bind(resource_crn)
                .execute(&self.writer)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_key_registrations(&self, key_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM kp_registrations WHERE key_id = ?")
            .bind(key_id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_registrations(
        &self,
        instance_id: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<RegistrationRecord>> {
        let rows = sqlx::query(
            "SELECT key_id, resource_crn, instance_id, prevent_key_deletion, description, \
             key_version_id, created_by, creation_date, updated_by, last_updated \
             FROM kp_registrations WHERE instance_id = ? AND (? IS NULL OR key_id = ?) \
             ORDER BY key_id, resource_crn",
        )
        .bind(instance_id)
        .bind(key_id)
        .bind(key_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(RegistrationRecord {
                    key_id: r.try_get(0).map_err(db)?,
                    resource_crn: r.try_get(1).map_err(db)?,
                    instance_id: r.try_get(2).map_err(db)?,
                    prevent_key_deletion: r.try_get(3).map_err(db)?,
                    description: r.try_get(4).map_err(db)?,
                    key_version_id: r.try_get(5).map_err(db)?,
                    created_by: r.try_get(6).map_err(db)?,
                    creation_date: r.try_get(7).map_err(db)?,
                    updated_by: r.try_get(8).map_err(db)?,
                    last_updated: r.try_get(9).map_err(db)?,
                })
            })
            .collect()
    }

    async fn create_service_authorization(
        &self,
        a: &ServiceAuthorizationRecord,
    ) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO service_authorizations (",
            authorization_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&a.id)
        .bind(&a.account_id)
        .bind(&a.source_service)
        .bind(&a.source_instance_id)
        .bind(&a.target_instance_id)
        .bind(&a.target_key_id)
        .bind(&a.role)
        .bind(&a.created_by)
        .bind(a.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| {
            StoreError::from_db(
                e,
                "the source instance holds this role on this target and key already",
            )
        })?;
        Ok(())
    }

    async fn list_service_authorizations(
        &self,
        account_id: &str,
    ) -> StoreResult<Vec<ServiceAuthorizationRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM service_authorizations WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(authorization_from_row).collect()
    }

    async fn find_service_authorizations(
        &self,
        source_instance_id: &str,
        target_instance_id: &str,
    ) -> StoreResult<Vec<ServiceAuthorizationRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM service_authorizations WHERE source_instance_id = ? AND target_instance_id = ? \
             ORDER BY created_at, id"
        ))
        .bind(source_instance_id)
        .bind(target_instance_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(authorization_from_row).collect()
    }

    async fn delete_service_authorization(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<ServiceAuthorizationRecord>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(concat!(
            "SELECT ",
            authorization_columns!(),
            " FROM service_authorizations WHERE account_id = ? AND id = ?"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let authorization = authorization_from_row(&r)?;
        sqlx::query("DELETE FROM service_authorizations WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(authorization))
    }
}

/// One node per SQLite database: it always leads and has no one to hear from.
#[async_trait]
impl crate::ClusterStore for SqliteStore {
    async fn watch_changes(&self) -> StoreResult<Option<Box<dyn crate::cluster::ChangeFeed>>> {
        Ok(None)
    }

    async fn try_lead(&self) -> StoreResult<Option<Box<dyn crate::cluster::Leadership>>> {
        Ok(Some(Box::new(crate::cluster::SoleNode)))
    }
}
