//! Servers on PostgreSQL (`[store] kind = "postgres"`): two nodes on one database serve the same
//! data, and it survives a restart. The database is `arca_test_<random>` on the local server
//! (`ARCA_TEST_POSTGRES_URL` overrides it), dropped at the end; unreachable, the test prints
//! `SKIPPED` and passes unless `ARCA_REQUIRE_POSTGRES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hash::{BuildHasher, Hasher};

use arca_client::kp::NewKey;
use arca_proto::instance::ServiceKind;
use arca_server::StoreConfig;
use common::{Env, init_and_unseal, within};
use sqlx::{Connection, PgConnection};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database for this test on the server, dropped on drop.
struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    async fn create() -> Option<Self> {
        let server =
            std::env::var("ARCA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_string());
        let mut admin = match PgConnection::connect(&server).await {
            Ok(conn) => conn,
            Err(err) if std::env::var("ARCA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
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
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        Some(Self { server, name })
    }

    /// The server URL with this database instead of the server's.
    fn url(&self) -> String {
        let (base, query) = match self.server.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (self.server.as_str(), String::new()),
        };
        let authority = base.find("://").map_or(0, |i| i + 3);
        let base = match base[authority..].find('/') {
            Some(slash) => &base[..authority + slash],
            None => base,
        };
        format!("{base}/{}{query}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Polls `check` until it holds, failing after 10 s (a liveness bound for a change to reach
/// another node, which takes milliseconds).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn node(db: &TestDatabase) -> Env {
    let mut env = Env::shamir();
    env.config.store = StoreConfig::Postgres {
        url: db.url().into(),
        max_connections: 4,
    };
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_and_a_restart() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let (env_a, env_b) = (node(&db), node(&db));
    let a = env_a.start().await;
    let init = init_and_unseal(&a.client(None), 3, 2).await;
    let admin_a = a.client(Some(&init.api_key));
    let instance = within(
        "create",
        admin_a.create_instance("shared", ServiceKind::Kms),
    )
    .await
    .unwrap();
    let kp_a = admin_a.kp(&instance.id);
    let key = within("key", kp_a.create_key(&NewKey::root("shared-key")))
        .await
        .unwrap();
    let wrapped = within("wrap", kp_a.wrap(&key.id, Some(b"data key"), &[]))
        .await
        .unwrap();

    // Node B: the same database, so already initialized; it unseals with the same shares and
    // serves what node A wrote.
    let b = env_b.start().await;
    let status = within("status", b.client(None).seal_status())
        .await
        .unwrap();
    assert!(status.initialized && status.sealed, "{status:?}");
    for share in init.shares.iter().take(2) {
        within("unseal b", b.client(None).unseal(Some(share)))
            .await
            .unwrap();
    }
    let admin_b = b.client(Some(&init.api_key));
    let listed = within("list", admin_b.list_instances()).await.unwrap();
    assert_eq!(listed, vec![instance.clone()]);
    let unwrapped = within(
        "unwrap on b",
        admin_b
            .kp(&instance.id)
            .unwrap(&key.id, &wrapped.ciphertext, &[]),
    )
    .await
    .unwrap();
    assert_eq!(
        unwrapped.plaintext.as_deref().map(Vec::as_slice),
        Some(&b"data key"[..])
    );
    assert_eq!(b.running.assembled().store.backend(), "postgres");

    // Caches stay coherent: node B has the key cached (it just unwrapped with it); disabling
    // it through node A makes node B refuse it, and enabling it through B opens it on A. The
    // bounds are liveness bounds, not measurements (bench/ha measures the delay).
    let kp_b = admin_b.kp(&instance.id);
    within("disable on a", kp_a.disable(&key.id)).await.unwrap();
    eventually("node b refuses the disabled key", || async {
        kp_b.wrap(&key.id, Some(b"x"), &[]).await.is_err()
    })
    .await;
    within("enable on b", kp_b.enable(&key.id)).await.unwrap();
    eventually("node a accepts the enabled key", || async {
        kp_a.wrap(&key.id, Some(b"x"), &[]).await.is_ok()
    })
    .await;
    // A secrets instance deleted through one node is refused by the other, which had it
    // cached; restored through that node, it serves again on the first.
    let sm = within(
        "sm instance",
        admin_a.create_instance("secrets", ServiceKind::SecretsManager),
    )
    .await
    .unwrap();
    let secret = within(
        "secret",
        admin_a.sm(&sm.id).create_secret(&serde_json::json!({
            "secret_type": "arbitrary", "name": "shared", "payload": "p"
        })),
    )
    .await
    .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();
    let (sm_a, sm_b) = (admin_a.sm(&sm.id), admin_b.sm(&sm.id));
    within("read on b", sm_b.get_secret(&secret_id))
        .await
        .unwrap();
    within("delete on a", admin_a.delete_instance(&sm.id))
        .await
        .unwrap();
    eventually("node b refuses the deleted instance", || async {
        sm_b.get_secret(&secret_id).await.is_err()
    })
    .await;
    within("restore on b", admin_b.restore_instance(&sm.id))
        .await
        .unwrap();
    eventually("node a serves the restored instance", || async {
        sm_a.get_secret(&secret_id).await.is_ok()
    })
    .await;
    b.shutdown().await;
    a.shutdown().await;

    // Restarted, node A finds everything (and is sealed, as after any restart).
    let a = env_a.start().await;
    for share in init.shares.iter().skip(1) {
        within("unseal a", a.client(None).unseal(Some(share)))
            .await
            .unwrap();
    }
    let admin_a = a.client(Some(&init.api_key));
    assert_eq!(
        within("get", admin_a.get_instance(&instance.id))
            .await
            .unwrap(),
        instance
    );
    a.shutdown().await;
}

/// PostgreSQL refuses the NUL character in text, where SQLite stores it: ids and names with one
/// are bad input (4xx), never a 500, on every route that takes text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_bad_input_not_server_errors() {
    use axum::http::Method;
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let env = node(&db);
    let server = env.start().await;
    let init = init_and_unseal(&server.client(None), 1, 1).await;
    let admin = server.client(Some(&init.api_key));
    let sm = within(
        "create",
        admin.create_instance("nul", ServiceKind::SecretsManager),
    )
    .await
    .unwrap();
    let base = format!("/sm/{}/api/v2", sm.id);
    let cases: Vec<(Method, String, Option<&str>)> = vec![
        (Method::GET, format!("{base}/secrets/%00"), None),
        (Method::GET, format!("{base}/secret_groups/a%00b"), None),
        (Method::GET, "/v1/instances/%00".to_owned(), None),
        (
            Method::POST,
            format!("{base}/secrets"),
            Some(
                r#"{"secret_type":"arbitrary","name":"n","payload":"x","description":"a\u0000b"}"#,
            ),
        ),
        (
            Method::POST,
            format!("{base}/secret_groups"),
            Some(r#"{"name":"g","description":"a\u0000b"}"#),
        ),
        (
            Method::POST,
            "/v1/instances".to_owned(),
            Some(r#"{"name":"a\u0000b","service":"kms"}"#),
        ),
    ];
    for (method, path, body) in cases {
        let resp = common::raw(
            &admin,
            method.clone(),
            &path,
            body.map(|_| "application/json"),
            body.unwrap_or_default(),
        )
        .await;
        assert!(
            (400..500).contains(&resp.status),
            "{method} {path}: {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    // Nothing half-written: the secrets instance is still empty and the server serves.
    let listed = admin.sm(&sm.id).list_secrets(&[]).await.unwrap();
    assert_eq!(listed["total_count"], 0, "{listed}");
    server.shutdown().await;
}
