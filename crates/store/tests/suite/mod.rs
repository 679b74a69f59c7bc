//! The store test suite: every `Store` implementation must pass all of it. Each backend's test file
//! instantiates it with `store_suite!` (rustls' one-suite-per-provider habit).

use arca_store::{
    AccountRecord, ApiKeyRecord, InitialState, InstanceRecord, PrincipalKind, PrincipalRecord,
    Store, StoreError,
};

pub(crate) fn initial_state(tag: &str) -> InitialState {
    let account = AccountRecord {
        id: format!("acct-{tag}"),
        name: "first".into(),
        created_at: 1_000,
    };
    let admin = PrincipalRecord {
        id: format!("user-{tag}"),
        account_id: account.id.clone(),
        kind: PrincipalKind::User,
        name: "admin".into(),
        is_admin: true,
        created_at: 1_000,
    };
    let api_key = ApiKeyRecord {
        id: format!("key-{tag}"),
        principal_id: admin.id.clone(),
        name: "bootstrap".into(),
        digest: format!("digest-{tag}").into_bytes(),
        created_at: 1_000,
    };
    InitialState {
        seal_record: b"sealed".to_vec(),
        account,
        admin,
        api_key,
        created_at: 1_000,
    }
}

pub(crate) async fn initialize_once(store: &dyn Store) {
    assert_eq!(store.seal_record().await.unwrap(), None);
    let state = initial_state("a");
    store.initialize(&state).await.unwrap();
    assert_eq!(store.seal_record().await.unwrap(), Some(b"sealed".to_vec()));
    // A second initialize is refused and writes nothing (atomic).
    let mut other = initial_state("b");
    other.seal_record = b"other".to_vec();
    let err = store.initialize(&other).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.seal_record().await.unwrap(), Some(b"sealed".to_vec()));
    assert_eq!(store.get_account("acct-b").await.unwrap(), None);
    assert_eq!(
        store.get_account("acct-a").await.unwrap().unwrap().name,
        "first"
    );
}

pub(crate) async fn api_key_lookup(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    let (key, principal) = store.find_api_key(b"digest-a").await.unwrap().unwrap();
    assert_eq!(key.id, "key-a");
    assert_eq!(principal.id, "user-a");
    assert_eq!(principal.kind, PrincipalKind::User);
    assert!(principal.is_admin);
    assert!(store.find_api_key(b"digest-x").await.unwrap().is_none());
    assert!(store.find_api_key(b"").await.unwrap().is_none());
}

fn instance(id: &str, account: &str, created_at: i64) -> InstanceRecord {
    InstanceRecord {
        id: id.into(),
        account_id: account.into(),
        service: "kms".into(),
        name: format!("name-{id}"),
        state: "active".into(),
        wrapped_key: vec![7; 48],
        created_at,
    }
}

pub(crate) async fn instances(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 20))
        .await
        .unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 10))
        .await
        .unwrap();
    let dup = store
        .create_instance(&instance("i1", "acct-a", 30))
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    // Unknown account: refused by the foreign key.
    assert!(
        store
            .create_instance(&instance("i3", "acct-missing", 30))
            .await
            .is_err()
    );
    let got = store.get_instance("i1").await.unwrap().unwrap();
    assert_eq!(got, instance("i1", "acct-a", 10));
    assert!(store.get_instance("nope").await.unwrap().is_none());
    let list = store.list_instances("acct-a").await.unwrap();
    assert_eq!(
        list.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i1", "i2"]
    );
    assert!(store.list_instances("acct-b").await.unwrap().is_empty());
}

/// Generates one `#[tokio::test]` per suite case; `$make` is an async expression giving a fresh
/// store (and whatever guard keeps it alive).
macro_rules! store_suite {
    ($make:expr) => {
        store_suite!(@case $make, initialize_once);
        store_suite!(@case $make, api_key_lookup);
        store_suite!(@case $make, instances);
    };
    (@case $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            suite::$name(&store).await;
        }
    };
}
