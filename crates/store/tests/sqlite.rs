//! The store suite against SQLite, plus SQLite-specific checks (durability settings, reopen).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod suite;

use arca_store::{SqliteStore, Store};

async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("arca.db"))
        .await
        .unwrap();
    (store, dir)
}

store_suite!(fresh());

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arca.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.initialize(&suite::initial_state("a")).await.unwrap();
    // No close(): an acknowledged write must be on disk without a clean shutdown.
    drop(store);
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.seal_record().await.unwrap(), Some(b"sealed".to_vec()));
    assert!(again.find_api_key(b"digest-a").await.unwrap().is_some());
}

#[tokio::test]
async fn open_fails_cleanly_on_bad_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(&dir.path().join("missing-dir/sub/arca.db"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot open database"), "{err}");
}

/// SQLite serves one node: it always leads the jobs and has no other node to hear from.
#[tokio::test]
async fn the_single_node_always_leads_and_hears_no_one() {
    use arca_store::ClusterStore as _;
    let (store, _dir) = fresh().await;
    assert!(store.watch_changes().await.unwrap().is_none());
    let mut lead = store.try_lead().await.unwrap().expect("leads");
    assert!(lead.still_leading().await);
}

/// The database itself refuses to change or remove an audit record.
#[tokio::test]
async fn audit_records_are_append_only_in_the_database() {
    use arca_store::AuditStore as _;
    use sqlx::Connection;
    let (store, dir) = fresh().await;
    store
        .append_audit_events(&[suite::audit::event("a", 1)])
        .await
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("arca.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_events SET outcome = 'failure'",
        "DELETE FROM audit_events",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let records = store
        .list_audit_events(&arca_store::audit::AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event.outcome, "success");
}
