//! The store test suite: every `Store` implementation must pass all of it. Each backend's test file
//! instantiates it with `store_suite!` (rustls' one-suite-per-provider habit).

pub(crate) mod audit;
pub(crate) mod backup;
mod events;
mod secrets;
pub(crate) use audit::{
    audit_append_and_list, audit_checkpoints, audit_concurrent_appends_form_one_chain,
};
pub(crate) use backup::backup_round_trip;
pub(crate) use events::lifecycle_events;
pub(crate) use secrets::{
    notification_registrations, secret_groups, secret_locks, secrets_and_versions, secrets_configs,
    secrets_roots,
};

use arca_store::{
    AccountRecord, AliasRecord, ApiKeyRecord, ImportTokenRecord, InitialState,
    InstancePolicyRecord, InstanceRecord, KeyQuery, KeyRecord, KeyRingRecord, KeyVersionRecord,
    KmipAdapterRecord, KmipCertificateRecord, PrincipalKind, PrincipalRecord, RegistrationRecord,
    RoleGrantRecord, ServiceAuthorizationRecord, Store, StoreError,
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

pub(crate) fn instance(id: &str, account: &str, created_at: i64) -> InstanceRecord {
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

pub(crate) fn key(
    id: &str,
    instance: &str,
    extractable: bool,
    created: i64,
) -> (KeyRecord, KeyVersionRecord) {
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
        deletion_auth_by: None,
        deletion_auth_date: None,
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

pub(crate) async fn key_rings(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let ring = |id: &str| KeyRingRecord {
        instance_id: "i1".into(),
        id: id.into(),
        created_by: "user-a".into(),
        creation_date: 5,
    };
    store.create_key_ring(&ring("r2")).await.unwrap();
    store.create_key_ring(&ring("r1")).await.unwrap();
    assert!(matches!(
        store.create_key_ring(&ring("r1")).await,
        Err(StoreError::Conflict(_))
    ));
    let ids: Vec<String> = store
        .list_key_rings("i1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["r1", "r2"]);
    // A ring with a live key cannot go, even with force.
    let (mut k, v) = key("k1", "i1", false, 10);
    k.key_ring_id = "r1".into();
    store.create_key(&k, &v).await.unwrap();
    assert!(matches!(
        store.delete_key_ring("i1", "r1", true).await,
        Err(StoreError::Conflict(_))
    ));
    // Destroyed keys: refused without force; with force they move to `default`.
    let mut gone = k.clone();
    gone.state = 5;
    gone.revision = 2;
    store.update_key(&gone).await.unwrap();
    assert!(matches!(
        store.delete_key_ring("i1", "r1", false).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.delete_key_ring("i1", "r1", true).await.unwrap());
    assert_eq!(
        store
            .get_key("i1", "k1")
            .await
            .unwrap()
            .unwrap()
            .key_ring_id,
        "default"
    );
    assert!(!store.delete_key_ring("i1", "r1", false).await.unwrap());
    assert!(store.delete_key_ring("i1", "r2", false).await.unwrap());
    assert!(store.list_key_rings("i1").await.unwrap().is_empty());
}

pub(crate) async fn instance_policies(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let policy = |kind: &str, enabled: bool, at: i64| InstancePolicyRecord {
        instance_id: "i1".into(),
        policy_type: kind.into(),
        enabled,
        attributes: enabled.then(|| "{\"x\":1}".to_string()),
        created_by: format!("by-{at}"),
        creation_date: at,
        updated_by: format!("by-{at}"),
        last_updated: at,
    };
    store
        .put_instance_policies(&[policy("metrics", true, 1), policy("rotation", true, 1)])
        .await
        .unwrap();
    store
        .put_instance_policies(&[policy("metrics", false, 2)])
        .await
        .unwrap();
    let got = store.instance_policies("i1").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].policy_type, "metrics");
    assert!(!got[0].enabled);
    assert_eq!(got[0].attributes, None);
    // An update keeps the creation record.
    assert_eq!(
        (got[0].created_by.as_str(), got[0].creation_date),
        ("by-1", 1)
    );
    assert_eq!(
        (got[0].updated_by.as_str(), got[0].last_updated),
        ("by-2", 2)
    );
    assert!(store.instance_policies("other").await.unwrap().is_empty());
}

pub(crate) async fn import_tokens(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let token = |id: &str, remaining: i64| ImportTokenRecord {
        instance_id: "i1".into(),
        id: id.into(),
        wrapped_private_key: vec![1; 40],
        public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
        wrapped_nonce: vec![2; 40],
        creation_date: 1,
        expiration_date: 100,
        max_retrievals: remaining,
        remaining_retrievals: remaining,
        created_by: "user-a".into(),
    };
    assert!(store.import_token("i1").await.unwrap().is_none());
    store.put_import_token(&token("t1", 2)).await.unwrap();
    // A new token replaces the old one.
    store.put_import_token(&token("t2", 2)).await.unwrap();
    assert_eq!(store.import_token("i1").await.unwrap().unwrap().id, "t2");
    assert!(
        store
            .take_import_token_retrieval("i1", "t1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .take_import_token_retrieval("i1", "t2")
            .await
            .unwrap()
            .unwrap()
            .remaining_retrievals,
        1
    );
    assert_eq!(
        store
            .take_import_token_retrieval("i1", "t2")
            .await
            .unwrap()
            .unwrap()
            .remaining_retrievals,
        0
    );
    assert!(
        store
            .take_import_token_retrieval("i1", "t2")
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn aliases(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 2))
        .await
        .unwrap();
    let (k1, v1) = key("k1", "i1", false, 10);
    store.create_key(&k1, &v1).await.unwrap();
    let (k2, v2) = key("k2", "i2", false, 10);
    store.create_key(&k2, &v2).await.unwrap();
    let alias = |instance: &str, name: &str, key: &str| AliasRecord {
        instance_id: instance.into(),
        alias: name.into(),
        key_id: key.into(),
        created_by: "u".into(),
        creation_date: 1,
    };
    store
        .create_alias(&alias("i1", "one", "k1"), 2)
        .await
        .unwrap();
    // Unique per instance, not across instances.
    assert!(matches!(
        store.create_alias(&alias("i1", "one", "k1"), 5).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_alias(&alias("i2", "one", "k2"), 5)
        .await
        .unwrap();
    store
        .create_alias(&alias("i1", "two", "k1"), 2)
        .await
        .unwrap();
    // The per-key cap.
    assert!(matches!(
        store.create_alias(&alias("i1", "three", "k1"), 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.resolve_alias("i1", "one").await.unwrap().as_deref(),
        Some("k1")
    );
    assert_eq!(
        store.resolve_alias("i2", "one").await.unwrap().as_deref(),
        Some("k2")
    );
    assert_eq!(store.resolve_alias("i1", "nope").await.unwrap(), None);
    let names: Vec<String> = store
        .key_aliases("k1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alias)
        .collect();
    assert_eq!(names, ["one", "two"]);
    assert!(!store.delete_alias("i1", "k2", "one").await.unwrap());
    assert!(store.delete_alias("i1", "k1", "one").await.unwrap());
    assert_eq!(store.resolve_alias("i1", "one").await.unwrap(), None);
}

pub(crate) async fn kmip(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let adapter = |id: &str, name: &str| KmipAdapterRecord {
        id: id.into(),
        instance_id: "i1".into(),
        name: name.into(),
        description: None,
        profile: "native_1.0".into(),
        crk_id: "k1".into(),
        created_at: 1,
        created_by: "u".into(),
        updated_at: 1,
        updated_by: "u".into(),
    };
    store
        .create_kmip_adapter(&adapter("a1", "one"))
        .await
        .unwrap();
    assert!(matches!(
        store.create_kmip_adapter(&adapter("a2", "one")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_kmip_adapter(&adapter("a2", "two"))
        .await
        .unwrap();
    assert_eq!(store.list_kmip_adapters("i1").await.unwrap().len(), 2);
    let cert = |id: &str, name: &str| KmipCertificateRecord {
        id: id.into(),
        adapter_id: "a1".into(),
        name: name.into(),
        certificate: "-----BEGIN CERTIFICATE-----".into(),
        created_at: 1,
        created_by: "u".into(),
    };
    store
        .create_kmip_certificate(&cert("c1", "x"), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.create_kmip_certificate(&cert("c2", "x"), 2).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_kmip_certificate(&cert("c2", "y"), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.create_kmip_certificate(&cert("c3", "z"), 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_kmip_certificates("a1").await.unwrap().len(), 2);
    assert!(store.delete_kmip_certificate("a1", "c2").await.unwrap());
    assert!(!store.delete_kmip_certificate("a1", "c2").await.unwrap());
    // Deleting an adapter takes its certificates along.
    assert!(store.delete_kmip_adapter("i1", "a1").await.unwrap());
    assert!(store.list_kmip_certificates("a1").await.unwrap().is_empty());
    assert!(!store.delete_kmip_adapter("i1", "a1").await.unwrap());
    assert_eq!(store.list_kmip_adapters("i1").await.unwrap().len(), 1);
}

pub(crate) async fn iam(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let user = PrincipalRecord {
        id: "svc-1".into(),
        account_id: "acct-a".into(),
        kind: PrincipalKind::ServiceId,
        name: "app".into(),
        is_admin: false,
        created_at: 5,
    };
    store.create_principal(&user).await.unwrap();
    assert!(matches!(
        store.create_principal(&user).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_principal("svc-1").await.unwrap().unwrap(), user);
    assert_eq!(store.list_principals("acct-a").await.unwrap().len(), 2);
    let key = ApiKeyRecord {
        id: "k-svc".into(),
        principal_id: "svc-1".into(),
        name: "ci".into(),
        digest: b"svc-digest".to_vec(),
        created_at: 6,
    };
    store.create_api_key(&key).await.unwrap();
    assert_eq!(
        store.list_api_keys("svc-1").await.unwrap(),
        vec![key.clone()]
    );
    assert_eq!(
        store
            .find_api_key(b"svc-digest")
            .await
            .unwrap()
            .unwrap()
            .1
            .id,
        "svc-1"
    );
    assert_eq!(store.delete_api_key("k-svc").await.unwrap(), Some(key));
    assert!(store.find_api_key(b"svc-digest").await.unwrap().is_none());
    assert_eq!(store.delete_api_key("k-svc").await.unwrap(), None);
    let grant = RoleGrantRecord {
        id: "g1".into(),
        account_id: "acct-a".into(),
        principal_id: "svc-1".into(),
        instance_id: "i1".into(),
        role: "Reader".into(),
        created_by: "user-a".into(),
        created_at: 7,
    };
    store.create_grant(&grant).await.unwrap();
    let twice = RoleGrantRecord {
        id: "g2".into(),
        ..grant.clone()
    };
    assert!(matches!(
        store.create_grant(&twice).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.list_grants("acct-a").await.unwrap(),
        vec![grant.clone()]
    );
    assert_eq!(store.delete_grant("acct-other", "g1").await.unwrap(), None);
    assert_eq!(
        store.delete_grant("acct-a", "g1").await.unwrap(),
        Some(grant)
    );
    assert!(store.list_grants("acct-a").await.unwrap().is_empty());
}

pub(crate) async fn purge_and_due_keys(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 2))
        .await
        .unwrap();
    let day = 24 * 3600 * 1000_i64;
    // k1: a root key with a rotation policy of 3 months, created at day 1, rotated once.
    let (mut k1, v1) = key("k1", "i1", false, day);
    store.create_key(&k1, &v1).await.unwrap();
    k1.revision = 2;
    k1.current_version_id = "k1-v2".into();
    k1.last_rotate_date = Some(10 * day);
    let v2 = KeyVersionRecord {
        id: "k1-v2".into(),
        seq: 2,
        creation_date: 10 * day,
        ..v1.clone()
    };
    store.rotate_key(&k1, &v2).await.unwrap();
    // k2: expires at day 5. k3: imported root key with a due policy (never rotated by jobs).
    let (mut k2, v) = key("k2", "i1", false, 2 * day);
    k2.expiration_date = Some(5 * day);
    k2.rotation_enabled = None;
    store.create_key(&k2, &v).await.unwrap();
    let (mut k3, v) = key("k3", "i2", false, 3 * day);
    k3.imported = true;
    store.create_key(&k3, &v).await.unwrap();
    let ids = |keys: Vec<KeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    let purge_after = 90 * day;
    assert!(
        ids(store.keys_due(4 * day, purge_after, 100).await.unwrap()).is_empty(),
        "nothing due yet"
    );
    assert_eq!(
        ids(store.keys_due(5 * day, purge_after, 100).await.unwrap()),
        ["k2"]
    );
    // Rotation: last rotation (day 10) + 3 × 30 days.
    assert_eq!(
        ids(store.keys_due(99 * day, purge_after, 100).await.unwrap()),
        ["k2"]
    );
    assert_eq!(
        ids(store.keys_due(100 * day, purge_after, 100).await.unwrap()),
        ["k1", "k2"]
    );
    assert_eq!(
        ids(store.keys_due(100 * day, purge_after, 1).await.unwrap()),
        ["k1"]
    );

    // Purge: only a deleted key; shreds and removes the key, its versions, aliases and adapters.
    assert!(matches!(
        store.purge_key("i1", "k1").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.purge_key("i2", "k1").await.unwrap(), None);
    assert_eq!(store.purge_key("i1", "nope").await.unwrap(), None);
    store
        .create_alias(
            &AliasRecord {
                instance_id: "i1".into(),
                alias: "to-purge".into(),
                key_id: "k1".into(),
                created_by: "u".into(),
                creation_date: 1,
            },
            5,
        )
        .await
        .unwrap();
    store
        .create_kmip_adapter(&KmipAdapterRecord {
            id: "a1".into(),
            instance_id: "i1".into(),
            name: "bound".into(),
            description: None,
            profile: "native_1.0".into(),
            crk_id: "k1".into(),
            created_at: 1,
            created_by: "u".into(),
            updated_at: 1,
            updated_by: "u".into(),
        })
        .await
        .unwrap();
    k1.revision = 3;
    k1.state = 5;
    k1.deletion_date = Some(20 * day);
    store.update_key(&k1).await.unwrap();
    assert_eq!(
        ids(store.keys_due(109 * day, purge_after, 100).await.unwrap()),
        ["k2"],
        "a deleted key is due for purge only after the retention"
    );
    assert_eq!(
        ids(store.keys_due(110 * day, purge_after, 100).await.unwrap()),
        ["k1", "k2"]
    );
    let shredded = store.purge_key("i1", "k1").await.unwrap().unwrap();
    assert_eq!(shredded, ["k1-v1", "k1-v2"]);
    assert!(store.get_key("i1", "k1").await.unwrap().is_none());
    assert!(store.list_key_versions("k1").await.unwrap().is_empty());
    assert!(store.get_key_version("k1-v1").await.unwrap().is_none());
    assert!(
        store
            .resolve_alias("i1", "to-purge")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_kmip_adapters("i1").await.unwrap().is_empty());
    assert_eq!(store.purge_key("i1", "k1").await.unwrap(), None);
    // The other keys are untouched.
    assert!(store.get_key("i1", "k2").await.unwrap().is_some());
    assert!(store.get_key("i2", "k3").await.unwrap().is_some());

    // The dual-authorization columns round-trip.
    k2.revision = 2;
    k2.dual_auth_delete = true;
    k2.deletion_auth_by = Some("user-b".into());
    k2.deletion_auth_date = Some(7);
    store.update_key(&k2).await.unwrap();
    assert_eq!(store.get_key("i1", "k2").await.unwrap().unwrap(), k2);
}

pub(crate) async fn registrations(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    let (k1, v1) = key("k1", "i1", false, 10);
    store.create_key(&k1, &v1).await.unwrap();
    let (k2, v2) = key("k2", "i1", false, 11);
    store.create_key(&k2, &v2).await.unwrap();
    let reg = |key: &str, crn: &str, prevent: bool| RegistrationRecord {
        key_id: key.into(),
        resource_crn: crn.into(),
        instance_id: "i1".into(),
        prevent_key_deletion: prevent,
        description: None,
        key_version_id: format!("{key}-v1"),
        created_by: "svc".into(),
        creation_date: 1,
        updated_by: "svc".into(),
        last_updated: 1,
    };
    store
        .put_registration(&reg("k1", "crn:a", false))
        .await
        .unwrap();
    store
        .put_registration(&reg("k1", "crn:b", false))
        .await
        .unwrap();
    store
        .put_registration(&reg("k2", "crn:a", true))
        .await
        .unwrap();
    // Re-registering replaces.
    store
        .put_registration(&reg("k1", "crn:a", true))
        .await
        .unwrap();
    let k1_regs = store.list_registrations("i1", Some("k1")).await.unwrap();
    assert_eq!(k1_regs.len(), 2);
    assert!(k1_regs[0].prevent_key_deletion);
    assert_eq!(store.list_registrations("i1", None).await.unwrap().len(), 3);
    assert!(
        store
            .list_registrations("other", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_registration("k1", "crn:b").await.unwrap());
    assert!(!store.delete_registration("k1", "crn:b").await.unwrap());
    assert_eq!(store.delete_key_registrations("k1").await.unwrap(), 1);
    assert_eq!(store.list_registrations("i1", None).await.unwrap().len(), 1);
}

pub(crate) async fn service_authorizations(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("kms-1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&InstanceRecord {
            service: "secrets-manager".into(),
            ..instance("sm-1", "acct-a", 2)
        })
        .await
        .unwrap();
    let all_keys = ServiceAuthorizationRecord {
        id: "sa-1".into(),
        account_id: "acct-a".into(),
        source_service: "secrets-manager".into(),
        source_instance_id: "sm-1".into(),
        target_instance_id: "kms-1".into(),
        target_key_id: None,
        role: "Reader".into(),
        created_by: "user-a".into(),
        created_at: 10,
    };
    let one_key = ServiceAuthorizationRecord {
        id: "sa-2".into(),
        target_key_id: Some("k1".into()),
        created_at: 11,
        ..all_keys.clone()
    };
    store.create_service_authorization(&all_keys).await.unwrap();
    store.create_service_authorization(&one_key).await.unwrap();
    // The same role on the same scope twice is a conflict, for all keys (NULL) as for one key.
    for twice in [&all_keys, &one_key] {
        let again = ServiceAuthorizationRecord {
            id: format!("{}-again", twice.id),
            ..twice.clone()
        };
        assert!(matches!(
            store.create_service_authorization(&again).await,
            Err(StoreError::Conflict(_))
        ));
    }
    // Another role, or another key, is another authorization.
    let writer = ServiceAuthorizationRecord {
        id: "sa-3".into(),
        role: "Writer".into(),
        created_at: 12,
        ..all_keys.clone()
    };
    store.create_service_authorization(&writer).await.unwrap();
    let other_key = ServiceAuthorizationRecord {
        id: "sa-4".into(),
        target_key_id: Some("k2".into()),
        created_at: 13,
        ..one_key.clone()
    };
    store
        .create_service_authorization(&other_key)
        .await
        .unwrap();
    // Unknown instances are refused by the foreign keys.
    let dangling = ServiceAuthorizationRecord {
        id: "sa-5".into(),
        source_instance_id: "missing".into(),
        ..all_keys.clone()
    };
    assert!(store.create_service_authorization(&dangling).await.is_err());

    assert_eq!(
        store.list_service_authorizations("acct-a").await.unwrap(),
        vec![
            all_keys.clone(),
            one_key.clone(),
            writer.clone(),
            other_key.clone()
        ]
    );
    assert!(
        store
            .list_service_authorizations("acct-b")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .find_service_authorizations("sm-1", "kms-1")
            .await
            .unwrap()
            .len(),
        4
    );
    // Direction matters: the target is not authorized on the source.
    assert!(
        store
            .find_service_authorizations("kms-1", "sm-1")
            .await
            .unwrap()
            .is_empty()
    );
    // Deleting needs the owning account and returns what was deleted.
    assert_eq!(
        store
            .delete_service_authorization("acct-b", "sa-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_service_authorization("acct-a", "sa-2")
            .await
            .unwrap(),
        Some(one_key.clone())
    );
    assert_eq!(
        store
            .delete_service_authorization("acct-a", "sa-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_service_authorizations("sm-1", "kms-1")
            .await
            .unwrap(),
        vec![all_keys, writer, other_key]
    );
    // A deleted authorization's scope can be authorized again.
    store.create_service_authorization(&one_key).await.unwrap();
}

/// A service-instance principal exists only in memory: no store accepts one as a principal.
pub(crate) async fn service_instance_principals_are_never_stored(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    let p = PrincipalRecord {
        id: "secrets-manager/sm-1".into(),
        account_id: "acct-a".into(),
        kind: PrincipalKind::ServiceInstance,
        name: "sm".into(),
        is_admin: false,
        created_at: 5,
    };
    assert!(store.create_principal(&p).await.is_err());
    assert!(store.get_principal(&p.id).await.unwrap().is_none());
    assert_eq!(PrincipalKind::parse("service_instance"), None);
}

/// Generates one `#[tokio::test]` per suite case; `$make` is an async expression giving a fresh
/// store (and whatever guard keeps it alive). With `optional`, `$make` gives an `Option` of the
/// same, and `None` ends the case early (a backend that is not there; the factory says why, and
/// decides whether its absence fails the run instead).
macro_rules! store_suite {
    (optional $make:expr) => {
        store_suite!(@all optional, $make);
    };
    ($make:expr) => {
        store_suite!(@all required, $make);
    };
    (@all $mode:ident, $make:expr) => {
        store_suite!(@case $mode, $make, initialize_once);
        store_suite!(@case $mode, $make, api_key_lookup);
        store_suite!(@case $mode, $make, instances);
        store_suite!(@case $mode, $make, keys);
        store_suite!(@case $mode, $make, signing_key);
        store_suite!(@case $mode, $make, key_rings);
        store_suite!(@case $mode, $make, instance_policies);
        store_suite!(@case $mode, $make, import_tokens);
        store_suite!(@case $mode, $make, aliases);
        store_suite!(@case $mode, $make, kmip);
        store_suite!(@case $mode, $make, iam);
        store_suite!(@case $mode, $make, registrations);
        store_suite!(@case $mode, $make, purge_and_due_keys);
        store_suite!(@case $mode, $make, secret_groups);
        store_suite!(@case $mode, $make, secrets_and_versions);
        store_suite!(@case $mode, $make, secret_locks);
        store_suite!(@case $mode, $make, secrets_configs);
        store_suite!(@case $mode, $make, notification_registrations);
        store_suite!(@case $mode, $make, secrets_roots);
        store_suite!(@case $mode, $make, reclamations);
        store_suite!(@case $mode, $make, lifecycle_events);
        store_suite!(@case $mode, $make, instance_updates);
        store_suite!(@case $mode, $make, service_authorizations);
        store_suite!(@case $mode, $make, service_instance_principals_are_never_stored);
        store_suite!(@case $mode, $make, audit_append_and_list);
        store_suite!(@case $mode, $make, audit_concurrent_appends_form_one_chain);
        store_suite!(@case $mode, $make, audit_checkpoints);
        store_suite!(@pair $mode, $make, backup_round_trip);
    };
    (@pair required, $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            let (other, _other_guard) = $make.await;
            suite::$name(&store, &other).await;
        }
    };
    (@pair optional, $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some((store, _guard)) = $make.await else {
                return;
            };
            let Some((other, _other_guard)) = $make.await else {
                return;
            };
            suite::$name(&store, &other).await;
        }
    };
    (@case required, $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $make.await;
            suite::$name(&store).await;
        }
    };
    (@case optional, $make:expr, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some((store, _guard)) = $make.await else {
                return;
            };
            suite::$name(&store).await;
        }
    };
}

pub(crate) async fn reclamations(store: &dyn Store) {
    use arca_store::reclamations::ReclamationRecord;
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 2))
        .await
        .unwrap();
    let (k, v) = key("k1", "i1", false, 5);
    store.create_key(&k, &v).await.unwrap();
    let (k2, v2) = key("k2", "i2", false, 5);
    store.create_key(&k2, &v2).await.unwrap();
    let r = ReclamationRecord {
        instance_id: "i1".into(),
        account_id: "acct-a".into(),
        deleted_by: "user-a".into(),
        deleted_at: 10,
        reclaim_at: 100,
    };
    // Only an active instance of the account starts a reclamation.
    let mut foreign = r.clone();
    foreign.account_id = "acct-b".into();
    assert!(!store.start_reclamation(&foreign).await.unwrap());
    assert!(store.start_reclamation(&r).await.unwrap());
    assert!(
        !store.start_reclamation(&r).await.unwrap(),
        "already reclaiming"
    );
    assert_eq!(
        store.get_instance("i1").await.unwrap().unwrap().state,
        "reclaiming"
    );
    assert_eq!(
        store.list_reclamations("acct-a").await.unwrap(),
        vec![r.clone()]
    );
    assert!(store.reclamations_due(99).await.unwrap().is_empty());
    assert_eq!(store.reclamations_due(100).await.unwrap(), vec![r.clone()]);
    // Restore: whole again.
    assert!(store.restore_instance("i1").await.unwrap());
    assert!(!store.restore_instance("i1").await.unwrap());
    assert_eq!(
        store.get_instance("i1").await.unwrap().unwrap().state,
        "active"
    );
    assert!(store.get_reclamation("i1").await.unwrap().is_none());
    assert!(store.get_key("i1", "k1").await.unwrap().is_some());
    // An active instance is never purged.
    assert!(!store.purge_instance("i1", "crn:i1").await.unwrap());
    assert!(store.start_reclamation(&r).await.unwrap());
    assert!(store.purge_instance("i1", "crn:i1").await.unwrap());
    assert!(store.get_instance("i1").await.unwrap().is_none());
    assert!(store.get_key("i1", "k1").await.unwrap().is_none());
    assert!(store.list_key_versions("k1").await.unwrap().is_empty());
    assert!(store.get_reclamation("i1").await.unwrap().is_none());
    // The other instance is untouched.
    assert!(store.get_key("i2", "k2").await.unwrap().is_some());
    assert_eq!(store.list_instances("acct-a").await.unwrap().len(), 1);
}

pub(crate) async fn instance_updates(store: &dyn Store) {
    use arca_store::reclamations::ReclamationRecord;
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    assert_eq!(store.instance_updated_at("i1").await.unwrap(), None);
    assert!(store.rename_instance("i1", "renamed", 50).await.unwrap());
    let got = store.get_instance("i1").await.unwrap().unwrap();
    assert_eq!(got.name, "renamed");
    assert_eq!(got.created_at, 1);
    assert_eq!(store.instance_updated_at("i1").await.unwrap(), Some(50));
    assert!(!store.rename_instance("nope", "x", 60).await.unwrap());
    assert_eq!(store.instance_updated_at("nope").await.unwrap(), None);
    // A deleted instance stays as it was.
    let r = ReclamationRecord {
        instance_id: "i1".into(),
        account_id: "acct-a".into(),
        deleted_by: "user-a".into(),
        deleted_at: 70,
        reclaim_at: 1_000,
    };
    assert!(store.start_reclamation(&r).await.unwrap());
    assert!(!store.rename_instance("i1", "later", 80).await.unwrap());
    assert_eq!(
        store.get_instance("i1").await.unwrap().unwrap().name,
        "renamed"
    );
    assert_eq!(store.instance_updated_at("i1").await.unwrap(), Some(50));
    // Purging removes the column with the row.
    let crn = "crn:v1:arca:public:kms:local:a/acct-a:i1::";
    assert!(store.purge_instance("i1", crn).await.unwrap());
    assert_eq!(store.instance_updated_at("i1").await.unwrap(), None);
}
