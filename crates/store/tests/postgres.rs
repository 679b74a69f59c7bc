//! The store suite against PostgreSQL, each case in a database of its own (`arca_test_<random>`,
//! created on the server and dropped when the case ends), plus PostgreSQL-specific checks:
//! reconnecting, concurrent writers on several pool connections, the TLS policy.
//!
//! The server is `postgres://postgres@127.0.0.1:5432/postgres` (trust auth), or
//! `ARCA_TEST_POSTGRES_URL`. When it is unreachable every case prints `SKIPPED: postgres
//! unreachable` and passes, unless `ARCA_REQUIRE_POSTGRES=1` (as `scripts/test` sets), which makes
//! it fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod suite;

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use arca_store::secrets::{
    SecretChange, SecretDeletion, SecretLockRecord, SecretRecord, SecretStore, SecretVersionRecord,
};
use arca_store::{
    AliasRecord, BackupStore as _, ImportTokenRecord, InstanceRecord, KeyQuery, KeyRecord,
    KeyRingRecord, KeyVersionRecord, PostgresOptions, PostgresStore, SqliteStore, Store,
    StoreError,
};
use sqlx::{Connection, PgConnection};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn server_url() -> String {
    std::env::var("ARCA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_string())
}

fn required() -> bool {
    std::env::var("ARCA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// `url` with its database (the path) replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin_connection(server: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(server)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// A database of its own for one test, dropped (with any connection left to it) on drop.
#[derive(Debug)]
struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    /// `None` (after printing `SKIPPED: ...`) when the server is unreachable and not required.
    async fn create() -> Option<Self> {
        Self::create_with("").await
    }

    /// [`TestDatabase::create`] with more `CREATE DATABASE` options.
    async fn create_with(options: &str) -> Option<Self> {
        let server = server_url();
        let mut admin = match admin_connection(&server).await {
            Ok(conn) => conn,
            Err(err) if required() => {
                panic!("postgres unreachable at {server} and ARCA_REQUIRE_POSTGRES=1: {err}")
            }
            Err(err) => {
                eprintln!("SKIPPED: postgres unreachable ({err})");
                return None;
            }
        };
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let name = format!("arca_test_{random:016x}");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\" {options}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
        Some(Self { server, name })
    }

    fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = admin_connection(&server).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string())?;
                admin.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

fn options(max_connections: u32) -> PostgresOptions {
    PostgresOptions {
        max_connections,
        acquire_timeout: Duration::from_secs(30),
    }
}

async fn connect(db: &TestDatabase, max_connections: u32) -> PostgresStore {
    PostgresStore::connect(&db.url(), &options(max_connections))
        .await
        .unwrap()
}

async fn fresh() -> Option<(PostgresStore, TestDatabase)> {
    let db = TestDatabase::create().await?;
    let store = connect(&db, 4).await;
    Some((store, db))
}

store_suite!(optional fresh());

#[tokio::test]
async fn backend_name() {
    let Some((store, _db)) = fresh().await else {
        return;
    };
    assert_eq!(store.backend(), "postgres");
}

#[tokio::test]
async fn data_survives_reconnect() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&db, 2).await;
    store.initialize(&suite::initial_state("a")).await.unwrap();
    // No close(): an acknowledged write is committed without a clean shutdown.
    drop(store);
    // A new pool (as another node, or this one restarted): migrations find nothing to do.
    let again = connect(&db, 2).await;
    assert_eq!(again.seal_record().await.unwrap(), Some(b"sealed".to_vec()));
    assert!(again.find_api_key(b"digest-a").await.unwrap().is_some());
    again.close().await;
}

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // Two nodes on an empty database at once: sqlx's advisory lock lets one migrate.
    let (url, two) = (db.url(), options(2));
    let (a, b) = tokio::join!(
        PostgresStore::connect(&url, &two),
        PostgresStore::connect(&url, &two),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    a.initialize(&suite::initial_state("a")).await.unwrap();
    assert!(b.find_api_key(b"digest-a").await.unwrap().is_some());
}

/// A negative limit means none and a negative offset the start, as on SQLite (PostgreSQL alone
/// would refuse both).
#[tokio::test]
async fn negative_limit_and_offset_read_as_on_sqlite() {
    let Some((store, _db)) = fresh().await else {
        return;
    };
    kms_instance(&store).await;
    for id in ["x", "y"] {
        let (k, v) = key(id);
        store.create_key(&k, &v).await.unwrap();
    }
    let query = KeyQuery {
        limit: Some(-1),
        offset: -5,
        ..Default::default()
    };
    let (keys, total) = store.list_keys("k1", &query).await.unwrap();
    assert_eq!((keys.len(), total), (2, 2));
    assert_eq!(store.keys_due(i64::MAX / 4, 0, -1).await.unwrap().len(), 0);
    assert!(
        store
            .versions_not_under_root("k1", "instance", -1, -1)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Lists sort text byte by byte, as SQLite does, even in a database whose locale sorts otherwise
/// (here ICU's en-US, where `a` < `B` < `c`).
#[tokio::test]
async fn text_sorts_bytewise_whatever_the_database_locale() {
    let Some(db) =
        TestDatabase::create_with("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
            .await
    else {
        return;
    };
    let store = connect(&db, 2).await;
    kms_instance(&store).await;
    for ring in ["c", "a", "B", "_z"] {
        store
            .create_key_ring(&KeyRingRecord {
                instance_id: "k1".into(),
                id: ring.into(),
                created_by: "u".into(),
                creation_date: 1,
            })
            .await
            .unwrap();
    }
    let rings: Vec<String> = store
        .list_key_rings("k1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(rings, ["B", "_z", "a", "c"]);
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    let locale_order: Vec<String> =
        sqlx::query_scalar("SELECT unnest(ARRAY['c', 'a', 'B', '_z']) AS x ORDER BY x")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert_ne!(locale_order, rings, "the database's own order differs");
}

async fn sm_instance(store: &PostgresStore) {
    store.initialize(&suite::initial_state("a")).await.unwrap();
    store
        .create_instance(&InstanceRecord {
            id: "i1".into(),
            account_id: "acct-a".into(),
            service: "secrets-manager".into(),
            name: "sm".into(),
            state: "active".into(),
            wrapped_key: vec![7; 48],
            created_at: 1,
        })
        .await
        .unwrap();
}

fn secret() -> (SecretRecord, SecretVersionRecord) {
    let secret = SecretRecord {
        instance_id: "i1".into(),
        id: "s1".into(),
        secret_type: "arbitrary".into(),
        name: "name".into(),
        group_id: "default".into(),
        state: 1,
        created_by: "u".into(),
        created_at: 10,
        updated_at: 10,
        expiration_date: None,
        next_rotation_date: None,
        retrieved_at: None,
        downloaded: false,
        versions_total: 1,
        locks_total: 0,
        revision: 1,
        metadata: "{}".into(),
    };
    let version = SecretVersionRecord {
        instance_id: "i1".into(),
        secret_id: "s1".into(),
        id: "v1".into(),
        serial: 1,
        created_by: "u".into(),
        created_at: 10,
        expiration_date: None,
        downloaded: false,
        auto_rotated: false,
        metadata: "{}".into(),
        payload: Some(vec![1, 2, 3]),
        wrapped_dek: Some(vec![4, 5, 6]),
        root_key: "instance".into(),
    };
    (secret, version)
}

/// Waits until `n` connections to the test database are blocked on a lock.
async fn wait_for_lock_waiters(db: &TestDatabase, n: i64) {
    let mut admin = admin_connection(&server_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db.name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} of {n} writers blocked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_secret_one_wins_one_is_stale() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&db, 4).await;
    sm_instance(&store).await;
    let (s, v) = secret();
    store.create_secret(&s, &v).await.unwrap();

    // Hold the secret's row from a third connection so that both writers are provably in flight
    // (each on its own pool connection, blocked on the row) before either can proceed.
    let mut holder = PgConnection::connect(&db.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM sm_secrets WHERE id = 's1' FOR UPDATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let writer = |name: &str| {
        let store = store.clone();
        let mut next = s.clone();
        next.revision = 2;
        next.name = name.into();
        tokio::spawn(async move { store.update_secret(&next, SecretChange::default()).await })
    };
    let (a, b) = (writer("first"), writer("second"));
    wait_for_lock_waiters(&db, 2).await;
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    let results = [a.await.unwrap(), b.await.unwrap()];

    let won: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    let lost = &results[1 - won[0]];
    assert!(matches!(lost, Err(StoreError::Stale(_))), "{lost:?}");
    let stored = store.get_secret("i1", "s1").await.unwrap().unwrap();
    assert_eq!(stored.revision, 2);
    assert_eq!(stored.name, ["first", "second"][won[0]]);

    // Without the holder, racing freely: still exactly one winner per revision.
    for revision in 3..13 {
        let mut a = stored.clone();
        a.revision = revision;
        a.name = format!("a{revision}");
        let mut b = a.clone();
        b.name = format!("b{revision}");
        let (ra, rb) = tokio::join!(
            store.update_secret(&a, SecretChange::default()),
            store.update_secret(&b, SecretChange::default()),
        );
        assert!(ra.is_ok() != rb.is_ok(), "{ra:?} {rb:?}");
        let err = ra.err().or(rb.err()).unwrap();
        assert!(matches!(err, StoreError::Stale(_)), "{err:?}");
    }
    assert_eq!(
        store
            .get_secret("i1", "s1")
            .await
            .unwrap()
            .unwrap()
            .revision,
        12
    );
}

/// A delete racing a lock: either the lock comes first and the delete is refused (`Locked`), or
/// the delete comes first and the locking update finds the secret gone (`Stale`); never a
/// deleted secret with a lock, nor a database error.
#[tokio::test]
async fn delete_secret_racing_a_new_lock() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&db, 4).await;
    sm_instance(&store).await;
    let (s, v) = secret();
    for round in 0..4 {
        store.create_secret(&s, &v).await.unwrap();
        let mut holder = PgConnection::connect(&db.url()).await.unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("SELECT 1 FROM sm_secrets WHERE id = 's1' FOR UPDATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let spawn_locker = || {
            let store = store.clone();
            let mut next = s.clone();
            next.revision = 2;
            next.locks_total = 1;
            tokio::spawn(async move {
                let lock = SecretLockRecord {
                    instance_id: "i1".into(),
                    secret_id: "s1".into(),
                    version_id: "v1".into(),
                    name: "hold".into(),
                    description: String::new(),
                    attributes: "{}".into(),
                    created_by: "u".into(),
                    created_at: 20,
                    updated_at: 20,
                };
                let change = SecretChange {
                    put_locks: std::slice::from_ref(&lock),
                    ..Default::default()
                };
                store.update_secret(&next, change).await
            })
        };
        let spawn_deleter = || {
            let store = store.clone();
            tokio::spawn(async move { store.delete_secret("i1", "s1").await })
        };
        // Both queue on the row; PostgreSQL grants it in queue order, so alternate who is first.
        let (locker, deleter) = if round % 2 == 0 {
            let locker = spawn_locker();
            wait_for_lock_waiters(&db, 1).await;
            (locker, spawn_deleter())
        } else {
            let deleter = spawn_deleter();
            wait_for_lock_waiters(&db, 1).await;
            (spawn_locker(), deleter)
        };
        wait_for_lock_waiters(&db, 2).await;
        sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
        let (locked, deleted) = (locker.await.unwrap(), deleter.await.unwrap());
        let deleted = deleted.unwrap();
        assert_eq!(
            deleted,
            [SecretDeletion::Locked, SecretDeletion::Deleted][round % 2],
            "the first in the queue wins"
        );
        match deleted {
            SecretDeletion::Locked => {
                locked.unwrap();
                assert_eq!(
                    store
                        .list_secret_locks("i1", Some("s1"))
                        .await
                        .unwrap()
                        .len(),
                    1
                );
                // Unlock and delete, for the next round.
                let mut unlocked = store.get_secret("i1", "s1").await.unwrap().unwrap();
                unlocked.revision += 1;
                unlocked.locks_total = 0;
                let remove = [("v1".to_owned(), "hold".to_owned())];
                let change = SecretChange {
                    remove_locks: &remove,
                    ..Default::default()
                };
                store.update_secret(&unlocked, change).await.unwrap();
                assert_eq!(
                    store.delete_secret("i1", "s1").await.unwrap(),
                    SecretDeletion::Deleted
                );
            }
            SecretDeletion::Deleted => {
                assert!(matches!(locked, Err(StoreError::Stale(_))), "{locked:?}");
                assert!(
                    store
                        .list_secret_locks("i1", None)
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
            SecretDeletion::NotFound => panic!("the secret existed"),
        }
        assert!(store.get_secret("i1", "s1").await.unwrap().is_none());
    }
}

fn key(id: &str) -> (KeyRecord, KeyVersionRecord) {
    let version = KeyVersionRecord {
        id: format!("{id}-v1"),
        key_id: id.into(),
        seq: 1,
        creation_date: 1,
        wrapped_material: Some(vec![9; 60]),
    };
    let key = KeyRecord {
        id: id.into(),
        instance_id: "k1".into(),
        name: id.into(),
        description: None,
        extractable: false,
        imported: false,
        state: 1,
        state_before_delete: None,
        key_ring_id: "default".into(),
        tags: vec![],
        expiration_date: None,
        created_by: "u".into(),
        creation_date: 1,
        last_update_date: 1,
        last_rotate_date: None,
        deletion_date: None,
        deleted_by: None,
        rotation_enabled: None,
        rotation_interval: None,
        dual_auth_delete: false,
        deletion_auth_by: None,
        deletion_auth_date: None,
        current_version_id: version.id.clone(),
        revision: 1,
    };
    (key, version)
}

async fn kms_instance(store: &PostgresStore) {
    store.initialize(&suite::initial_state("a")).await.unwrap();
    store
        .create_instance(&InstanceRecord {
            id: "k1".into(),
            account_id: "acct-a".into(),
            service: "kms".into(),
            name: "kms".into(),
            state: "active".into(),
            wrapped_key: vec![7; 48],
            created_at: 1,
        })
        .await
        .unwrap();
}

/// Check-then-write methods stay atomic with many writers on many connections: the alias cap,
/// the import token's retrievals, the one signing key.
#[tokio::test]
async fn concurrent_check_then_write_is_atomic() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&db, 8).await;
    kms_instance(&store).await;
    let (k, v) = key("key");
    store.create_key(&k, &v).await.unwrap();

    let alias = |n: usize| AliasRecord {
        instance_id: "k1".into(),
        alias: format!("alias-{n}"),
        key_id: "key".into(),
        created_by: "u".into(),
        creation_date: 1,
    };
    let aliases: Vec<AliasRecord> = (0..8).map(alias).collect();
    let created = futures_join_all(aliases.iter().map(|a| store.create_alias(a, 5))).await;
    assert_eq!(created.iter().filter(|r| r.is_ok()).count(), 5);
    assert!(
        created
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict(_)))
    );
    assert_eq!(store.key_aliases("key").await.unwrap().len(), 5);

    store
        .put_import_token(&ImportTokenRecord {
            instance_id: "k1".into(),
            id: "t1".into(),
            wrapped_private_key: vec![1; 40],
            public_key_pem: "pem".into(),
            wrapped_nonce: vec![2; 40],
            creation_date: 1,
            expiration_date: 100,
            max_retrievals: 3,
            remaining_retrievals: 3,
            created_by: "u".into(),
        })
        .await
        .unwrap();
    let taken =
        futures_join_all((0..8).map(|_| store.take_import_token_retrieval("k1", "t1"))).await;
    let mut left: Vec<i64> = taken
        .into_iter()
        .filter_map(|r| r.unwrap().map(|t| t.remaining_retrievals))
        .collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2]);

    let ids: Vec<String> = (0..8).map(|i| format!("sk-{i}")).collect();
    let put = futures_join_all(
        ids.iter()
            .map(|id| store.put_signing_key(id, b"wrapped", 1)),
    )
    .await;
    assert_eq!(put.iter().filter(|r| r.is_ok()).count(), 1, "{put:?}");
    let winner = store.signing_key().await.unwrap().unwrap().0;
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM signing_keys")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert_eq!(stored, [winner]);
}

/// Every future at once on this task (so each holds its own pool connection), results in order.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, fut) in pending.iter_mut().enumerate() {
            if results[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => results[i] = Some(out),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn tls_modes_that_do_not_verify_are_refused() {
    // Refused before any connection is made: no server needed.
    for url in [
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=require",
        "postgres://arca@db.example.invalid:5432/arca",
        "postgres://arca@db.example.invalid:5432/arca?sslmode=prefer",
        "postgres://arca@10.1.2.3/arca?sslmode=allow",
    ] {
        let err = PostgresStore::connect(url, &options(1)).await.unwrap_err();
        let StoreError::Open { path, source } = &err else {
            panic!("{url}: {err:?}");
        };
        assert!(!path.contains("password"), "{path}");
        assert!(
            source.to_string().contains("verify-full"),
            "{url}: {source}"
        );
    }
    // The password never reaches the error.
    let err = PostgresStore::connect(
        "postgres://arca:hunter2@db.example.invalid/arca?sslmode=require",
        &options(1),
    )
    .await
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn verify_full_refuses_a_server_it_cannot_verify() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // Trusting only the public roots, the local server (a self-signed certificate, or no TLS at
    // all) cannot be verified: no connection.
    if server_url().contains('?') {
        eprintln!(
            "note: ARCA_TEST_POSTGRES_URL sets its own parameters; verify-full check not run"
        );
        return;
    }
    let url = format!("{}?sslmode=verify-full", db.url());
    let started = Instant::now();
    let err = PostgresStore::connect(&url, &options(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(25), "not retried");
}

/// With the server's certificate as the root (Debian's `ssl-cert-snakeoil`, issued to
/// `localhost`, when the local server uses it), `verify-full` connects, over TLS.
#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_over_tls() {
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let mut admin = admin_connection(&server_url()).await.unwrap();
    let (ssl, cert): (String, String) =
        sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if ssl != "on" || cert != SNAKEOIL || server_url() != DEFAULT_SERVER {
        eprintln!("note: the local server does not use {SNAKEOIL}; TLS success path not run");
        return;
    }
    let url = format!(
        "postgres://postgres@localhost:5432/{}?sslmode=verify-full&sslrootcert={SNAKEOIL}",
        db.name
    );
    let store = PostgresStore::connect(&url, &options(1)).await.unwrap();
    store.initialize(&suite::initial_state("a")).await.unwrap();
    // And by the host's address the name does not match: refused.
    let by_ip = url.replace("@localhost:", "@127.0.0.1:");
    assert!(PostgresStore::connect(&by_ip, &options(1)).await.is_err());
    // The sessions of this database are encrypted.
    let mut check = PgConnection::connect(&url).await.unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut check)
            .await
            .unwrap();
    assert!(encrypted);
    let seen: HashSet<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.datname = $1",
    )
    .bind(&db.name)
    .fetch_all(&mut check)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(seen, HashSet::from([true]));
}

#[test]
fn database_urls() {
    assert_eq!(
        with_database("postgres://u@h:1/postgres", "x"),
        "postgres://u@h:1/x"
    );
    assert_eq!(
        with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}

/// The next change event of a feed, within a bound.
async fn next_event(
    feed: &mut Box<dyn arca_store::cluster::ChangeFeed>,
) -> arca_store::cluster::FeedEvent {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("a change event within 10 s")
        .unwrap()
}

/// Every committed change of a cached row reaches a node listening on another pool (as the
/// `<table>:<id>` the caches are keyed by); a rolled-back change never does.
#[tokio::test]
async fn committed_changes_reach_the_other_nodes() {
    use arca_store::ClusterStore as _;
    use arca_store::cluster::{Change, FeedEvent};
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let writer = connect(&db, 2).await;
    let reader = connect(&db, 2).await;
    let mut feed = reader.watch_changes().await.unwrap().expect("a feed");
    kms_instance(&writer).await;
    // initialize and create_instance announced the principal, its API key and the instance.
    let mut seen = Vec::new();
    while seen.last() != Some(&FeedEvent::Changed(Change::parse("instances:k1").unwrap())) {
        seen.push(next_event(&mut feed).await);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, FeedEvent::Changed(c) if c.table == "api_keys"))
    );

    let (mut k, v) = key("key-1");
    writer.create_key(&k, &v).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        FeedEvent::Changed(Change::parse("kp_keys:key-1").unwrap())
    );
    k.state = 2;
    k.revision = 2;
    writer.update_key(&k).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        FeedEvent::Changed(Change::parse("kp_keys:key-1").unwrap())
    );

    // A rolled-back change announces nothing: the next event is the later committed one.
    let mut conn = PgConnection::connect(&db.url()).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("UPDATE kp_keys SET state = 3 WHERE id = 'key-1'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let (k2, v2) = key("key-2");
    writer.create_key(&k2, &v2).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        FeedEvent::Changed(Change::parse("kp_keys:key-2").unwrap())
    );

    // A lost connection is reported as a resync (changes may have been missed).
    let pid: i32 = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(next_event(&mut feed).await, FeedEvent::Resync);
    // ... and the feed carries on after re-connecting.
    let (k3, v3) = key("key-3");
    let mut found = false;
    for _ in 0..50 {
        if writer.create_key(&k3, &v3).await.is_ok() {
            found = true;
            break;
        }
    }
    assert!(found);
    loop {
        match next_event(&mut feed).await {
            FeedEvent::Changed(c) if c.id == "key-3" => break,
            FeedEvent::Resync | FeedEvent::Changed(_) => {}
        }
    }
    drop(feed);
    conn.close().await.ok();
    writer.close().await;
    reader.close().await;
}

/// One leader at a time: a second node cannot lead while the first holds the lock, and takes
/// over as soon as the first's connection ends (as when its process is killed).
#[tokio::test]
async fn one_jobs_leader_and_takeover() {
    use arca_store::ClusterStore as _;
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let a = connect(&db, 2).await;
    let b = connect(&db, 2).await;
    let mut lead_a = a.try_lead().await.unwrap().expect("the first node leads");
    assert!(b.try_lead().await.unwrap().is_none(), "only one leader");
    assert!(
        a.try_lead().await.unwrap().is_none(),
        "not twice on one node"
    );
    assert!(lead_a.still_leading().await);

    // The leader's session is killed (its node died): the lock goes with it.
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(!lead_a.still_leading().await, "the old leader notices");
    let mut lead_b = None;
    for _ in 0..100 {
        lead_b = b.try_lead().await.unwrap();
        if lead_b.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lead_b = lead_b.expect("the second node takes over");
    assert!(lead_b.still_leading().await);
    assert!(a.try_lead().await.unwrap().is_none());
    // Dropping the leadership releases it.
    drop(lead_b);
    drop(lead_a);
    let mut again = None;
    for _ in 0..100 {
        again = a.try_lead().await.unwrap();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some());
    drop(again);
    admin.close().await.ok();
    a.close().await;
    b.close().await;
}

/// Two nodes (two pools) on one database appending at once extend one chain, and the database
/// refuses to change or remove a record.
#[tokio::test]
async fn audit_two_nodes_extend_one_chain_and_records_are_append_only() {
    use arca_store::audit::{AuditQuery, AuditStore};
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let (a, b) = (connect(&db, 4).await, connect(&db, 4).await);
    let batch = |node: &str, n: i64| -> Vec<_> {
        (0..4)
            .map(|i| suite::audit::event(node, n * 10 + i))
            .collect()
    };
    let mut tasks = Vec::new();
    for n in 0..6 {
        let (a, b) = (a.clone(), b.clone());
        let (ba, bb) = (batch("a", n), batch("b", n));
        tasks.push(tokio::spawn(
            async move { a.append_audit_events(&ba).await },
        ));
        tasks.push(tokio::spawn(
            async move { b.append_audit_events(&bb).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let records = a
        .list_audit_events(&AuditQuery {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 48);
    suite::audit::assert_chain(&records);
    assert_eq!(b.audit_head().await.unwrap().hash, records[47].hash);

    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    for sql in [
        "UPDATE audit_events SET outcome = 'failure'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = sqlx::query(sql).execute(&mut admin).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// A backup of the embedded store restores into PostgreSQL and back (flags change form:
/// integers in SQLite, booleans here), with the same rows: the path from one node to a cluster.
#[tokio::test]
async fn backups_move_between_sqlite_and_postgres() {
    use suite::backup::{Replay, canonical, capture, populate};
    let Some((pg, _db)) = fresh().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("a.db")).await.unwrap();
    populate(&sqlite).await;
    let from_sqlite = capture(&sqlite).await;
    let info = from_sqlite.info.clone().unwrap();
    pg.import(&info, &mut Replay(from_sqlite.rows.clone().into_iter()))
        .await
        .unwrap();
    let from_pg = capture(&pg).await;
    assert_eq!(canonical(&from_pg), canonical(&from_sqlite));
    assert!(from_pg.info.as_ref().unwrap().tables.iter().any(|t| {
        t.columns
            .iter()
            .any(|c| c.kind == arca_store::backup::ColumnKind::Bool)
    }));

    let back = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    back.import(
        from_pg.info.as_ref().unwrap(),
        &mut Replay(from_pg.rows.clone().into_iter()),
    )
    .await
    .unwrap();
    assert_eq!(canonical(&capture(&back).await), canonical(&from_sqlite));
}

/// PostgreSQL refuses NUL in text (SQLite stores it): the store says so as its own error, which
/// the services turn into bad input, rather than as a database failure (a 500).
#[tokio::test]
async fn nul_in_text_is_unstorable_text_not_a_database_failure() {
    let Some((store, _db)) = fresh().await else {
        return;
    };
    store.initialize(&suite::initial_state("a")).await.unwrap();
    let mut bad = suite::instance("i\0d", "acct-a", 1);
    let err = store.create_instance(&bad).await.unwrap_err();
    assert!(matches!(err, StoreError::UnstorableText), "{err:?}");
    bad.id = "ok".into();
    bad.name = "a\0b".into();
    let err = store.create_instance(&bad).await.unwrap_err();
    assert!(matches!(err, StoreError::UnstorableText), "{err:?}");
    let err = store.get_instance("\0").await.unwrap_err();
    assert!(matches!(err, StoreError::UnstorableText), "{err:?}");
    // Nothing was written.
    assert!(store.get_instance("ok").await.unwrap().is_none());
}
