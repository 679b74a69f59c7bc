//! PostgreSQL, for clusters of stateless nodes on one database (and its replicas). What operators
//! need to know (URL, TLS, durability, shredding) is on [`PostgresStore`]; how concurrent writers
//! are kept apart is here.
//!
//! # Concurrency
//!
//! Many nodes (and a pool per node) write at once, where SQLite had a single writer. Every method
//! is one transaction at READ COMMITTED (set on each connection, whatever the server's default),
//! and where the SQLite implementation read, checked and then wrote, the PostgreSQL one takes a
//! row lock on the parent row first (`SELECT ... FOR UPDATE` / `FOR NO KEY UPDATE`), so concurrent
//! callers queue on that row and see each other's committed result, exactly as one writer would
//! have ordered them. Single-statement writes (`UPDATE ... WHERE revision = $n`, `DELETE ...
//! RETURNING`, `UPDATE ... RETURNING`) are atomic on their own: a concurrent writer of the same
//! row waits, and PostgreSQL re-checks the `WHERE` clause against the row it committed, so of two
//! updates naming the same revision exactly one succeeds. Each method's comment says which lock
//! it takes.
//!
//! Locks rather than SERIALIZABLE with retries: a lock makes the loser wait and then get the same
//! answer SQLite gives (`Stale`, `Conflict`, not found), with no transaction body to re-run and
//! no false-positive serialization failures under load; and SERIALIZABLE protects only against
//! other SERIALIZABLE transactions, so it would have to be used for every write to be sound.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, PgSslMode};

use crate::{
    AccountRecord, AliasRecord, ApiKeyRecord, ImportTokenRecord, InitialState,
    InstancePolicyRecord, InstanceRecord, KeyQuery, KeyRecord, KeyRingRecord, KeyVersionRecord,
    KmipAdapterRecord, KmipCertificateRecord, PrincipalKind, PrincipalRecord, RegistrationRecord,
    RoleGrantRecord, ServiceAuthorizationRecord, Store, StoreError, StoreResult,
};

mod audit;
mod backup;
mod cluster;
mod events;
mod instance_updates;
mod reclamations;
mod secrets;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Run on every new connection: READ COMMITTED whatever the server's default (the locking above
/// is designed for it), and durable commits if the server default turned them off.
const SESSION_SETUP: &str = "SELECT set_config('default_transaction_isolation', 'read committed', \
     false), CASE WHEN current_setting('synchronous_commit') = 'off' \
     THEN set_config('synchronous_commit', 'on', false) END";

/// Pool settings of a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The most connections the pool opens (default 10). Each is a server process: keep the sum
    /// over all nodes under the server's `max_connections`.
    pub max_connections: u32,
    /// How long a call waits for a connection, including making a new one (default 30 s).
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// PostgreSQL store: a pool of connections to one database, for any number of nodes sharing it.
/// Cheap to clone (the pool is shared).
///
/// # Connecting
///
/// [`PostgresStore::connect`] takes a libpq-style URL, e.g.
/// `postgres://arca:PASSWORD@db.example:5432/arca?sslmode=verify-full&sslrootcert=/etc/arca/db-ca.pem`
/// (`sslcert`/`sslkey` add a client certificate, for mutual TLS). TLS always verifies the server:
///
/// * `sslmode=verify-full`: the certificate must chain to `sslrootcert` (or a public root) and
///   name the host. The recommended mode for any database that is not on the node itself.
/// * `sslmode=verify-ca`: the chain is verified, the host name is not.
/// * `sslmode=disable`: no TLS, for a loopback address or a Unix socket (or a network the
///   operator vouches for, by saying so).
/// * no `sslmode` (libpq's `prefer`) or `allow`: accepted only for a loopback host or a Unix
///   socket, where it means `disable`; any other host must choose `verify-full` (or `disable`).
/// * `sslmode=require` is refused: it encrypts but accepts any certificate, so an active attacker
///   on the path reads everything.
///
/// # Durability
///
/// A commit returns once PostgreSQL has flushed it (`synchronous_commit = on`, with a synchronous
/// standby if the server has one configured). A session whose server default is
/// `synchronous_commit = off` is switched back to `on`: an acknowledged write must survive a crash.
/// `fsync = off` on the server cannot be fixed from here and must not be used.
///
/// # Shredding
///
/// Purges and deletions set the wrapped material to NULL before deleting the rows, as on SQLite.
/// PostgreSQL's MVCC keeps the old row versions in the table's pages until VACUUM reclaims them
/// and the space is reused (and in WAL segments, archives and backups until those are recycled).
/// The store runs no VACUUM; autovacuum reclaims the space in time. That is acceptable because
/// the rows hold only ciphertext: a purged key is unreadable once its wrapping key is gone
/// (crypto-shredding), whether or not its bytes linger. Operators who want the bytes gone sooner
/// run `VACUUM` on `kp_key_versions`, `sm_secret_versions` and `sm_configurations` after purges,
/// and expire WAL archives and backups on their own schedule.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (see [`PostgresStore`] for the TLS modes), checks the
    /// TLS mode, and runs the migrations (safe from several nodes at once: sqlx serializes them
    /// with an advisory lock). The database must exist.
    pub async fn connect(url: &str, options: &PostgresOptions) -> StoreResult<Self> {
        let connect = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            path: "(unparsable PostgreSQL URL)".into(),
            source,
        })?;
        let target = describe(&connect);
        let open_err = |source| StoreError::Open {
            path: target.clone(),
            source,
        };
        let connect = verified_tls(connect)
            .map_err(|why| open_err(sqlx::Error::Configuration(why.into())))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query(SESSION_SETUP).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migration)?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite reads a negative `LIMIT` as none and PostgreSQL refuses it; `LIMIT NULL` is none.
pub(crate) fn no_limit_if_negative(limit: Option<i64>) -> Option<i64> {
    limit.filter(|l| *l >= 0)
}

/// Where a connection goes, for errors: never the password.
fn describe(o: &PgConnectOptions) -> String {
    let host = match o.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", o.get_host(), o.get_port()),
    };
    format!(
        "postgres://{}@{}/{}",
        o.get_username(),
        host,
        o.get_database().unwrap_or("")
    )
}

/// Whether the server is on this machine: a Unix socket or a loopback address.
fn is_local(o: &PgConnectOptions) -> bool {
    let host = o.get_host();
    o.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Applies the TLS policy documented on [`PostgresStore`]: TLS only with certificate verification.
fn verified_tls(o: PgConnectOptions) -> Result<PgConnectOptions, &'static str> {
    match o.get_ssl_mode() {
        PgSslMode::VerifyFull | PgSslMode::VerifyCa | PgSslMode::Disable => Ok(o),
        PgSslMode::Prefer | PgSslMode::Allow if is_local(&o) => Ok(o.ssl_mode(PgSslMode::Disable)),
        PgSslMode::Require => Err(
            "sslmode=require does not verify the server's certificate: use sslmode=verify-full \
             (with sslrootcert=CA.pem)",
        ),
        _ => Err(
            "a PostgreSQL server on another host needs sslmode=verify-full (with \
             sslrootcert=CA.pem), or an explicit sslmode=disable",
        ),
    }
}

fn db(err: sqlx::Error) -> StoreError {
    StoreError::database(err)
}

fn principal_from_row(row: &PgRow, offset: usize) -> StoreResult<PrincipalRecord> {
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

fn instance_from_row(row: &PgRow) -> StoreResult<InstanceRecord> {
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

/// The WHERE clause of key listings: fixed SQL with nullable parameters, so the text stays static
/// (`$2` is a `BIGINT[]` of states, the `json_each` list of the SQLite version).
macro_rules! key_filter {
    () => {
        " FROM kp_keys WHERE instance_id = $1 \
          AND ($2::BIGINT[] IS NULL OR state = ANY($2)) \
          AND ($3::BOOLEAN IS NULL OR extractable = $3) \
          AND ($4::TEXT IS NULL OR key_ring_id = $4)"
    };
}

fn alias_from_row(r: &PgRow) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        instance_id: r.try_get(0).map_err(db)?,
        alias: r.try_get(1).map_err(db)?,
        key_id: r.try_get(2).map_err(db)?,
        created_by: r.try_get(3).map_err(db)?,
        creation_date: r.try_get(4).map_err(db)?,
    })
}

fn key_from_row(row: &PgRow) -> StoreResult<KeyRecord> {
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

fn version_from_row(row: &PgRow) -> StoreResult<KeyVersionRecord> {
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

async fn insert_version(conn: &mut sqlx::PgConnection, v: &KeyVersionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO kp_key_versions (id, key_id, seq, creation_date, wrapped_material) \
         VALUES ($1, $2, $3, $4, $5)",
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

/// Writes every mutable column of `key` if the stored revision is `key.revision - 1`. A concurrent
/// update of the row waits for this one and then finds the revision moved on (PostgreSQL re-checks
/// the `WHERE` clause against the committed row), so exactly one of two updates succeeds.
async fn update_key_row(conn: &mut sqlx::PgConnection, k: &KeyRecord) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE kp_keys SET name = $1, description = $2, extractable = $3, imported = $4, \
         state = $5, state_before_delete = $6, key_ring_id = $7, tags = $8, \
         expiration_date = $9, last_update_date = $10, last_rotate_date = $11, \
         deletion_date = $12, deleted_by = $13, rotation_enabled = $14, rotation_interval = $15, \
         dual_auth_delete = $16, current_version_id = $17, revision = $18, \
         deletion_auth_by = $19, deletion_auth_date = $20 \
         WHERE id = $21 AND instance_id = $22 AND revision = $23",
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

fn grant_from_row(r: &PgRow) -> StoreResult<RoleGrantRecord> {
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

fn authorization_from_row(r: &PgRow) -> StoreResult<ServiceAuthorizationRecord> {
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

fn import_token_from_row(r: &PgRow) -> StoreResult<ImportTokenRecord> {
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
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn seal_record(&self) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT record FROM seal_record WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| r.try_get(0).map_err(db)).transpose()
    }

    async fn initialize(&self, state: &InitialState) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO seal_record (id, record, created_at) VALUES (1, $1, $2)")
            .bind(&state.seal_record)
            .bind(state.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "already initialized"))?;
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&state.account.id)
            .bind(&state.account.name)
            .bind(state.account.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "account exists"))?;
        let p = &state.admin;
        sqlx::query(
            "INSERT INTO principals (id, account_id, kind, name, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
            "INSERT INTO api_keys (id, principal_id, name, digest, created_at) VALUES ($1, $2, $3, $4, $5)",
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
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
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
             FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&i.id)
        .bind(&i.account_id)
        .bind(&i.service)
        .bind(&i.name)
        .bind(&i.state)
        .bind(&i.wrapped_key)
        .bind(i.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "instance exists"))?;
        Ok(())
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(instance_from_row).transpose()
    }

    async fn list_instances(&self, account_id: &str) -> StoreResult<Vec<InstanceRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM instances WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn signing_key(&self) -> StoreResult<Option<(String, Vec<u8>)>> {
        let row =
            sqlx::query("SELECT id, wrapped_key FROM signing_keys ORDER BY created_at LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
            .transpose()
    }

    async fn put_signing_key(&self, id: &str, wrapped: &[u8], created_at: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // "None yet, then insert" must not interleave with another node's: the table lock (which
        // conflicts with itself and every write, not with reads) queues them; the second finds
        // the first's key. Taken once per cluster lifetime, so its breadth costs nothing.
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let exists = sqlx::query("SELECT 1 FROM signing_keys LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::Conflict("a signing key exists"));
        }
        sqlx::query("INSERT INTO signing_keys (id, wrapped_key, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(wrapped)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "signing key exists"))?;
        tx.commit().await.map_err(db)
    }

    async fn create_key(&self, k: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(concat!(
            "INSERT INTO kp_keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $23, $24)"
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
            " FROM kp_keys WHERE instance_id = $1 AND id = $2"
        ))
        .bind(instance_id)
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_keys(
        &self,
        instance_id: &str,
        q: &KeyQuery,
    ) -> StoreResult<(Vec<KeyRecord>, i64)> {
        // The page and the total from one snapshot.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db)?;
        // `LIMIT NULL` is no limit; a negative offset counts from the start, as on SQLite.
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            key_filter!(),
            " ORDER BY id LIMIT $5 OFFSET $6"
        ))
        .bind(instance_id)
        .bind(&q.states)
        .bind(q.extractable)
        .bind(&q.key_ring_id)
        .bind(no_limit_if_negative(q.limit))
        .bind(q.offset.max(0))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*)", key_filter!()))
            .bind(instance_id)
            .bind(&q.states)
            .bind(q.extractable)
            .bind(&q.key_ring_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let keys = rows.iter().map(key_from_row).collect::<StoreResult<_>>()?;
        Ok((keys, total))
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<()> {
        // One statement: atomic without an explicit transaction.
        let mut conn = self.pool.acquire().await.map_err(db)?;
        update_key_row(&mut conn, key).await
    }

    async fn rotate_key(&self, key: &KeyRecord, version: &KeyVersionRecord) -> StoreResult<()> {
        // The key row's update locks it first: concurrent rotations queue and the second is stale.
        let mut tx = self.pool.begin().await.map_err(db)?;
        update_key_row(&mut tx, key).await?;
        insert_version(&mut tx, version).await?;
        tx.commit().await.map_err(db)
    }

    async fn purge_key(&self, instance_id: &str, key_id: &str) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Lock the key: updates, rotations (new versions), new aliases and registrations (their
        // foreign keys take a share lock on it) wait until the purge commits, then find it gone.
        let state: Option<i64> = sqlx::query_scalar(
            "SELECT state FROM kp_keys WHERE id = $1 AND instance_id = $2 FOR UPDATE",
        )
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
            sqlx::query_scalar("SELECT id FROM kp_key_versions WHERE key_id = $1 ORDER BY seq")
                .bind(key_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        // Shred first, then delete, as on SQLite. Here the old row versions stay in the table's
        // pages until VACUUM (see `PostgresStore`): only ciphertext, unreadable once the key is
        // gone.
        sqlx::query("UPDATE kp_key_versions SET wrapped_material = NULL WHERE key_id = $1")
            .bind(key_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for sql in [
            "DELETE FROM kp_aliases WHERE key_id = $1",
            "DELETE FROM kp_registrations WHERE key_id = $1",
            "DELETE FROM kp_kmip_certificates WHERE adapter_id IN \
             (SELECT id FROM kp_kmip_adapters WHERE crk_id = $1)",
            "DELETE FROM kp_kmip_adapters WHERE crk_id = $1",
            "DELETE FROM kp_key_versions WHERE key_id = $1",
        ] {
            sqlx::query(sql)
                .bind(key_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query("DELETE FROM kp_keys WHERE id = $1 AND instance_id = $2")
            .bind(key_id)
            .bind(instance_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        // No VACUUM here (SQLite checkpoints its WAL at this point): see `PostgresStore`.
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
              (state = 1 AND expiration_date IS NOT NULL AND expiration_date <= $1) \
              OR (state = 1 AND NOT extractable AND NOT imported AND rotation_enabled \
                  AND COALESCE(last_rotate_date, creation_date) \
                      + COALESCE(rotation_interval, 1) * $2 <= $3) \
              OR (state = 5 AND deletion_date IS NOT NULL AND deletion_date + $4 <= $5) \
             ORDER BY creation_date, id LIMIT $6"
        ))
        .bind(now)
        .bind(MONTH_MS)
        .bind(now)
        .bind(purge_after_ms)
        .bind(now)
        .bind(no_limit_if_negative(Some(limit)))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn get_key_version(&self, version_id: &str) -> StoreResult<Option<KeyVersionRecord>> {
        let row = sqlx::query(
            "SELECT id, key_id, seq, creation_date, wrapped_material FROM kp_key_versions \
             WHERE id = $1",
        )
        .bind(version_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn list_key_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersionRecord>> {
        let rows = sqlx::query(
            "SELECT id, key_id, seq, creation_date, wrapped_material FROM kp_key_versions \
             WHERE key_id = $1 ORDER BY seq DESC",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(version_from_row).collect()
    }

    async fn list_key_rings(&self, instance_id: &str) -> StoreResult<Vec<KeyRingRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, id, created_by, creation_date FROM kp_key_rings \
             WHERE instance_id = $1 ORDER BY id",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
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
            "INSERT INTO kp_key_rings (instance_id, id, created_by, creation_date) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&ring.instance_id)
        .bind(&ring.id)
        .bind(&ring.created_by)
        .bind(ring.creation_date)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "key ring exists"))?;
        Ok(())
    }

    async fn delete_key_ring(&self, instance_id: &str, id: &str, force: bool) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Lock the ring (a concurrent delete of it waits, then finds it gone), then the keys in
        // it (a concurrent update of one, e.g. a restore, waits and then finds the revision moved
        // on), and move exactly the keys that were checked: a key that joins the ring meanwhile
        // is as if it had joined after the delete, which one writer could also have done.
        let exists =
            sqlx::query("SELECT 1 FROM kp_key_rings WHERE instance_id = $1 AND id = $2 FOR UPDATE")
                .bind(instance_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if exists.is_none() {
            return Ok(false);
        }
        let keys: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, state FROM kp_keys WHERE instance_id = $1 AND key_ring_id = $2 \
             ORDER BY id FOR UPDATE",
        )
        .bind(instance_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let live = keys.iter().any(|(_, state)| *state != 5);
        if live || (!keys.is_empty() && !force) {
            return Err(StoreError::Conflict("the key ring holds keys"));
        }
        let ids: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
        sqlx::query(
            "UPDATE kp_keys SET key_ring_id = 'default', revision = revision + 1 \
             WHERE instance_id = $1 AND id = ANY($2)",
        )
        .bind(instance_id)
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM kp_key_rings WHERE instance_id = $1 AND id = $2")
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
             updated_by, last_updated FROM kp_instance_policies WHERE instance_id = $1 \
             ORDER BY policy_type",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        for p in policies {
            sqlx::query(
                "INSERT INTO kp_instance_policies (instance_id, policy_type, enabled, attributes, \
                 created_by, creation_date, updated_by, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
            "INSERT INTO kp_import_tokens (",
            import_token_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (instance_id) DO UPDATE SET id = excluded.id, \
             wrapped_private_key = excluded.wrapped_private_key, \
             public_key_pem = excluded.public_key_pem, wrapped_nonce = excluded.wrapped_nonce, \
             creation_date = excluded.creation_date, expiration_date = excluded.expiration_date, \
             max_retrievals = excluded.max_retrievals, \
             remaining_retrievals = excluded.remaining_retrievals, created_by = excluded.created_by"
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
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn import_token(&self, instance_id: &str) -> StoreResult<Option<ImportTokenRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            import_token_columns!(),
            " FROM kp_import_tokens WHERE instance_id = $1"
        ))
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(import_token_from_row).transpose()
    }

    async fn take_import_token_retrieval(
        &self,
        instance_id: &str,
        id: &str,
    ) -> StoreResult<Option<ImportTokenRecord>> {
        // One statement: concurrent takers queue on the row and each re-checks what is left, so
        // `max_retrievals` takers succeed and no more.
        let row = sqlx::query(concat!(
            "UPDATE kp_import_tokens SET remaining_retrievals = remaining_retrievals - 1 \
             WHERE instance_id = $1 AND id = $2 AND remaining_retrievals > 0 RETURNING ",
            import_token_columns!()
        ))
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(import_token_from_row).transpose()
    }

    async fn create_alias(&self, a: &AliasRecord, max_per_key: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Count-then-insert must not interleave with another alias of the same key: lock the
        // key's row (FOR NO KEY UPDATE: it conflicts with itself and with key updates, which wait
        // the few statements this takes). No such key: the insert fails on the foreign key.
        sqlx::query("SELECT 1 FROM kp_keys WHERE id = $1 FOR NO KEY UPDATE")
            .bind(&a.key_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kp_aliases WHERE key_id = $1")
            .bind(&a.key_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if count >= max_per_key {
            return Err(StoreError::Conflict("the key has the most aliases allowed"));
        }
        sqlx::query(
            "INSERT INTO kp_aliases (instance_id, alias, key_id, created_by, creation_date) \
             VALUES ($1, $2, $3, $4, $5)",
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
            "DELETE FROM kp_aliases WHERE instance_id = $1 AND key_id = $2 AND alias = $3",
        )
        .bind(instance_id)
        .bind(key_id)
        .bind(alias)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn key_aliases(&self, key_id: &str) -> StoreResult<Vec<AliasRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, alias, key_id, created_by, creation_date FROM kp_aliases \
             WHERE key_id = $1 ORDER BY creation_date, alias",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn instance_aliases(&self, instance_id: &str) -> StoreResult<Vec<AliasRecord>> {
        let rows = sqlx::query(
            "SELECT instance_id, alias, key_id, created_by, creation_date FROM kp_aliases \
             WHERE instance_id = $1 ORDER BY key_id, creation_date, alias",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn resolve_alias(&self, instance_id: &str, alias: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT key_id FROM kp_aliases WHERE instance_id = $1 AND alias = $2")
            .bind(instance_id)
            .bind(alias)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn create_kmip_adapter(&self, a: &KmipAdapterRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kp_kmip_adapters (id, instance_id, name, description, profile, crk_id, \
             created_at, created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "a KMIP adapter with this name exists"))?;
        Ok(())
    }

    async fn list_kmip_adapters(&self, instance_id: &str) -> StoreResult<Vec<KmipAdapterRecord>> {
        let rows = sqlx::query(
            "SELECT id, instance_id, name, description, profile, crk_id, created_at, created_by, \
             updated_at, updated_by FROM kp_kmip_adapters WHERE instance_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Lock the adapter: a certificate being added to it (whose foreign key needs the row)
        // waits, then finds it gone.
        let found = sqlx::query(
            "SELECT 1 FROM kp_kmip_adapters WHERE instance_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(instance_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if found.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM kp_kmip_certificates WHERE adapter_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM kp_kmip_adapters WHERE id = $1")
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Count-then-insert, serialized per adapter by a lock on its row (as for aliases).
        sqlx::query("SELECT 1 FROM kp_kmip_adapters WHERE id = $1 FOR NO KEY UPDATE")
            .bind(&c.adapter_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kp_kmip_certificates WHERE adapter_id = $1")
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
             created_by) VALUES ($1, $2, $3, $4, $5, $6)",
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
             FROM kp_kmip_certificates WHERE adapter_id = $1 ORDER BY created_at, id",
        )
        .bind(adapter_id)
        .fetch_all(&self.pool)
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
        let done =
            sqlx::query("DELETE FROM kp_kmip_certificates WHERE adapter_id = $1 AND id = $2")
                .bind(adapter_id)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO principals (id, account_id, kind, name, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.id)
        .bind(&p.account_id)
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.is_admin)
        .bind(p.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "principal exists"))?;
        Ok(())
    }

    async fn get_principal(&self, id: &str) -> StoreResult<Option<PrincipalRecord>> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, name, is_admin, created_at FROM principals WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| principal_from_row(&r, 0)).transpose()
    }

    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, name, is_admin, created_at FROM principals \
             WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| principal_from_row(r, 0)).collect()
    }

    async fn create_api_key(&self, k: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, principal_id, name, digest, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.id)
        .bind(&k.principal_id)
        .bind(&k.name)
        .bind(&k.digest)
        .bind(k.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "api key exists"))?;
        Ok(())
    }

    async fn list_api_keys(&self, principal_id: &str) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, principal_id, name, digest, created_at FROM api_keys \
             WHERE principal_id = $1 ORDER BY created_at, id",
        )
        .bind(principal_id)
        .fetch_all(&self.pool)
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
        // One statement: of two concurrent deletes, only the one that deleted gets the record.
        let row = sqlx::query(
            "DELETE FROM api_keys WHERE id = $1 \
             RETURNING id, principal_id, name, digest, created_at",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ApiKeyRecord {
            id: r.try_get(0).map_err(db)?,
            principal_id: r.try_get(1).map_err(db)?,
            name: r.try_get(2).map_err(db)?,
            digest: r.try_get(3).map_err(db)?,
            created_at: r.try_get(4).map_err(db)?,
        }))
    }

    async fn create_grant(&self, g: &RoleGrantRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO role_grants (id, account_id, principal_id, instance_id, role, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.id)
        .bind(&g.account_id)
        .bind(&g.principal_id)
        .bind(&g.instance_id)
        .bind(&g.role)
        .bind(&g.created_by)
        .bind(g.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "the principal holds this role on the instance"))?;
        Ok(())
    }

    async fn list_grants(&self, account_id: &str) -> StoreResult<Vec<RoleGrantRecord>> {
        let rows = sqlx::query(
            "SELECT id, account_id, principal_id, instance_id, role, created_by, created_at \
             FROM role_grants WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<RoleGrantRecord>> {
        // One statement, as for API keys.
        let row = sqlx::query(
            "DELETE FROM role_grants WHERE account_id = $1 AND id = $2 \
             RETURNING id, account_id, principal_id, instance_id, role, created_by, created_at",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn put_registration(&self, r: &RegistrationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kp_registrations (key_id, resource_crn, instance_id, prevent_key_deletion, \
             description, key_version_id, created_by, creation_date, updated_by, last_updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
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
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_registration(&self, key_id: &str, resource_crn: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM kp_registrations WHERE key_id = $1 AND resource_crn = $2")
                .bind(key_id)
                .bind(resource_crn)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_key_registrations(&self, key_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM kp_registrations WHERE key_id = $1")
            .bind(key_id)
            .execute(&self.pool)
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
             FROM kp_registrations WHERE instance_id = $1 AND ($2::TEXT IS NULL OR key_id = $2) \
             ORDER BY key_id, resource_crn",
        )
        .bind(instance_id)
        .bind(key_id)
        .fetch_all(&self.pool)
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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
        .execute(&self.pool)
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
            " FROM service_authorizations WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
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
            " FROM service_authorizations WHERE source_instance_id = $1 AND target_instance_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(source_instance_id)
        .bind(target_instance_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(authorization_from_row).collect()
    }

    async fn delete_service_authorization(
        &self,
        account_id: &str,
        id: &str,
    ) -> StoreResult<Option<ServiceAuthorizationRecord>> {
        // One statement, as for API keys.
        let row = sqlx::query(concat!(
            "DELETE FROM service_authorizations WHERE account_id = $1 AND id = $2 RETURNING ",
            authorization_columns!()
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(authorization_from_row).transpose()
    }
}
