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
    AccountRecord, ApiKeyRecord, InitialState, InstanceRecord, PrincipalKind, PrincipalRecord,
    Store, StoreError, StoreResult,
};

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
    StoreError::Database(err)
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
}
