//! Backups: a snapshot of one store written into an empty one gives back the same rows, and an
//! import that cannot complete writes nothing.

use arca_store::backup::{RowSource, SnapshotInfo, SnapshotSink, Value};
use arca_store::{Store, StoreError, StoreResult};
use async_trait::async_trait;

/// A snapshot held in memory.
#[derive(Default)]
pub(crate) struct Captured {
    pub(crate) info: Option<SnapshotInfo>,
    pub(crate) rows: Vec<(usize, Vec<Value>)>,
}

#[async_trait]
impl SnapshotSink for Captured {
    async fn begin(&mut self, snapshot: &SnapshotInfo) -> StoreResult<()> {
        self.info = Some(snapshot.clone());
        Ok(())
    }
    async fn row(&mut self, table: usize, values: Vec<Value>) -> StoreResult<()> {
        self.rows.push((table, values));
        Ok(())
    }
}

pub(crate) struct Replay(pub(crate) std::vec::IntoIter<(usize, Vec<Value>)>);

#[async_trait]
impl RowSource for Replay {
    async fn next_row(&mut self) -> StoreResult<Option<(usize, Vec<Value>)>> {
        Ok(self.0.next())
    }
}

pub(crate) async fn capture(store: &dyn Store) -> Captured {
    let mut out = Captured::default();
    let info = store.export(&mut out).await.unwrap();
    assert_eq!(out.info.as_ref(), Some(&info));
    assert_eq!(info.total_rows(), out.rows.len() as u64);
    out
}

/// Rows as comparable text, `table|v1|v2...`, sorted; flags as integers, so SQLite's and
/// PostgreSQL's forms of the same data compare equal.
pub(crate) fn canonical(c: &Captured) -> Vec<String> {
    let info = c.info.as_ref().unwrap();
    let mut out: Vec<String> = c
        .rows
        .iter()
        .map(|(t, values)| {
            let mut line = info.tables[*t].name.clone();
            for v in values {
                line.push('|');
                line.push_str(&match v {
                    Value::Null => "null".to_owned(),
                    Value::Int(i) => i.to_string(),
                    Value::Bool(b) => i64::from(*b).to_string(),
                    Value::Text(s) => format!("t:{s}"),
                    Value::Bytes(b) => format!("b:{}", hex::encode(b)),
                });
            }
            line
        })
        .collect();
    out.sort();
    out
}

/// Some of every kind of data: an initialized store, a key-service instance with a key, a
/// secrets instance with a secret, audit records.
pub(crate) async fn populate(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    store
        .create_instance(&super::instance("i-kms", "acct-a", 2))
        .await
        .unwrap();
    let (k, v) = super::key("k1", "i-kms", false, 3);
    store.create_key(&k, &v).await.unwrap();
    super::secrets::sm_instance(store, "i-sm").await;
    store
        .create_secret(
            &super::secrets::secret("i-sm", "s1", "name", "default"),
            &super::secrets::version("i-sm", "s1", "v1", 1),
        )
        .await
        .unwrap();
    store
        .append_audit_events(&[
            super::audit::event("acct-a", 1),
            super::audit::event("acct-a", 2),
        ])
        .await
        .unwrap();
}

pub(crate) async fn backup_round_trip(source: &dyn Store, target: &dyn Store) {
    populate(source).await;
    let snap = capture(source).await;
    let info = snap.info.clone().unwrap();
    assert_eq!(info.backend, source.backend());
    assert!(info.schema_version >= 16);
    // Referenced tables come first.
    let pos = |n: &str| info.tables.iter().position(|t| t.name == n).unwrap();
    assert!(pos("accounts") < pos("instances"));
    assert!(pos("instances") < pos("kp_keys"));
    assert!(pos("kp_keys") < pos("kp_key_versions"));
    assert!(!info.tables.iter().any(|t| t.name.starts_with("_sqlx")));

    // Another schema is refused.
    let mut other = info.clone();
    other.schema_version += 1;
    let err = target
        .import(&other, &mut Replay(snap.rows.clone().into_iter()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SchemaMismatch { .. }), "{err:?}");
    // A snapshot cut short writes nothing (the full import below would find the store in use).
    let mut short = snap.rows.clone();
    short.pop();
    let err = target
        .import(&info, &mut Replay(short.into_iter()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backup(_)), "{err:?}");
    assert_eq!(target.seal_record().await.unwrap(), None);

    let report = target
        .import(&info, &mut Replay(snap.rows.clone().into_iter()))
        .await
        .unwrap();
    assert_eq!(report.rows, info.total_rows());
    assert_eq!(canonical(&capture(target).await), canonical(&snap));
    assert_eq!(
        target.seal_record().await.unwrap(),
        Some(b"sealed".to_vec())
    );
    assert!(target.find_api_key(b"digest-a").await.unwrap().is_some());
    assert!(target.get_key("i-kms", "k1").await.unwrap().is_some());
    assert!(target.get_secret("i-sm", "s1").await.unwrap().is_some());
    // The audit chain goes on where the source's stopped.
    assert_eq!(
        target.audit_head().await.unwrap(),
        source.audit_head().await.unwrap()
    );
    target
        .append_audit_events(&[super::audit::event("acct-a", 3)])
        .await
        .unwrap();

    // Restoring twice is refused: the store is in use now.
    let err = target
        .import(&info, &mut Replay(snap.rows.into_iter()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty), "{err:?}");
}
