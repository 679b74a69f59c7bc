//! The store test suite: every `Store` implementation must pass all of it. Each backend's test file
//! instantiates it with `store_suite!` (rustls' one-suite-per-provider habit).

use arca_store::{
    AccountRecord, ApiKeyRecord, InitialState, InstanceRecord, KeyQuery, KeyRecord,
    KeyVersionRecord, PrincipalKind, PrincipalRecord, Store, StoreError,
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

fn key(id: &str, instance: &str, extractable: bool, created: i64) -> (KeyRecord, KeyVersionRecord) {
    let version = KeyVersionRecord {
        id: format!("{id}-v1"),
        key_id: id.into(),
        seq: 1,
        creation_date: created,
        wrapped_material: Some(vec![9; 60]),
    };
    let key = KeyRecord {
        id: id.into(),
        instance_id: instance.into(),
        name: format!("key {id}"),
        description: None,
        extractable,
        imported: false,
        state: 1,
        state_before_delete: None,
        key_ring_id: "default".into(),
        tags: vec!["a".into(), "b".into()],
        expiration_date: None,
        created_by: "user-a".into(),
        creation_date: created,
        last_update_date: created,
        last_rotate_date: None,
        deletion_date: None,
        deleted_by: None,
        rotation_enabled: Some(true),
        rotation_interval: Some(3),
        dual_auth_delete: false,
        current_version_id: version.id.clone(),
        revision: 1,
    };
    (key, version)
}

pub(crate) async fn keys(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 2))
        .await
        .unwrap();
    let (root, v1) = key("k1", "i1", false, 10);
    store.create_key(&root, &v1).await.unwrap();
    let (std_key, sv1) = key("k2", "i1", true, 20);
    store.create_key(&std_key, &sv1).await.unwrap();
    let (other, ov1) = key("k3", "i2", false, 30);
    store.create_key(&other, &ov1).await.unwrap();
    // Same id again: conflict, nothing written.
    let (dup, mut dv) = key("k1", "i1", false, 40);
    dv.id = "fresh-version".into();
    assert!(matches!(
        store.create_key(&dup, &dv).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .get_key_version("fresh-version")
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(store.get_key("i1", "k1").await.unwrap().unwrap(), root);
    // Scoped by instance.
    assert!(store.get_key("i2", "k1").await.unwrap().is_none());

    let (all, total) = store.list_keys("i1", &KeyQuery::default()).await.unwrap();
    assert_eq!((all.len(), total), (2, 2));
    assert_eq!(all[0].id, "k1");
    let roots = KeyQuery {
        extractable: Some(false),
        ..Default::default()
    };
    let (only, total) = store.list_keys("i1", &roots).await.unwrap();
    assert_eq!((only.len(), total, only[0].id.as_str()), (1, 1, "k1"));
    let page = KeyQuery {
        limit: Some(1),
        offset: 1,
        ..Default::default()
    };
    let (paged, total) = store.list_keys("i1", &page).await.unwrap();
    assert_eq!((paged.len(), total, paged[0].id.as_str()), (1, 2, "k2"));
    let destroyed = KeyQuery {
        states: Some(vec![5]),
        ..Default::default()
    };
    assert_eq!(store.list_keys("i1", &destroyed).await.unwrap().1, 0);
    let some = KeyQuery {
        states: Some(vec![0, 1, 2]),
        ..Default::default()
    };
    assert_eq!(store.list_keys("i1", &some).await.unwrap().1, 2);
    let ring = KeyQuery {
        key_ring_id: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(store.list_keys("i1", &ring).await.unwrap().1, 0);

    // Optimistic update: revision must follow the stored one.
    let mut changed = root.clone();
    changed.state = 2;
    changed.revision = 2;
    store.update_key(&changed).await.unwrap();
    let stale = KeyRecord {
        state: 1,
        ..changed.clone()
    };
    assert!(matches!(
        store.update_key(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_key("i1", "k1").await.unwrap().unwrap().state, 2);

    // Rotation: a new version and the key, atomically.
    let mut rotated = changed.clone();
    rotated.revision = 3;
    rotated.current_version_id = "k1-v2".into();
    let v2 = KeyVersionRecord {
        id: "k1-v2".into(),
        key_id: "k1".into(),
        seq: 2,
        creation_date: 10,
        wrapped_material: Some(vec![8; 60]),
    };
    store.rotate_key(&rotated, &v2).await.unwrap();
    let versions = store.list_key_versions("k1").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["k1-v2", "k1-v1"]
    );
    assert_eq!(store.get_key_version("k1-v1").await.unwrap().unwrap(), v1);
    // A stale rotation writes no version.
    let v3 = KeyVersionRecord {
        id: "k1-v3".into(),
        seq: 3,
        ..v2.clone()
    };
    assert!(store.rotate_key(&rotated, &v3).await.is_err());
    assert!(store.get_key_version("k1-v3").await.unwrap().is_none());
}

pub(crate) async fn signing_key(store: &dyn Store) {
    assert!(store.signing_key().await.unwrap().is_none());
    store.put_signing_key("s1", b"wrapped", 5).await.unwrap();
    assert!(matches!(
        store.put_signing_key("s2", b"other", 6).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.signing_key().await.unwrap(),
        Some(("s1".to_string(), b"wrapped".to_vec()))
    );
}

/// Generates one `#[tokio::test]` per suite case; `$make` is an async expression giving a fresh
/// store (and whatever guard keeps it alive).
macro_rules! store_suite {
    ($make:expr) => {
        store_suite!(@case $make, initialize_once);
        store_suite!(@case $make, api_key_lookup);
        store_suite!(@case $make, instances);
        store_suite!(@case $make, keys);
        store_suite!(@case $make, signing_key);
    };
    (@case $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            suite::$name(&store).await;
        }
    };
}
