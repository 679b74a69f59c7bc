//! The secrets-service part of the store suite.

use arca_store::secrets::{
    NotificationRegistrationRecord, SecretChange, SecretDeletion, SecretGroupRecord,
    SecretLockRecord, SecretRecord, SecretVersionRecord, SecretsConfigRecord, SecretsRootRecord,
};
use arca_store::{InstanceRecord, Store, StoreError};

pub(crate) async fn sm_instance(store: &dyn Store, id: &str) {
    store
        .create_instance(&InstanceRecord {
            id: id.into(),
            account_id: "acct-a".into(),
            service: "secrets-manager".into(),
            name: format!("sm-{id}"),
            state: "active".into(),
            wrapped_key: vec![7; 48],
            created_at: 1_000,
        })
        .await
        .unwrap();
}

fn group(instance: &str, id: &str, name: &str) -> SecretGroupRecord {
    SecretGroupRecord {
        instance_id: instance.into(),
        id: id.into(),
        name: name.into(),
        description: String::new(),
        created_by: "u".into(),
        created_at: 10,
        updated_at: 10,
    }
}

pub(crate) fn secret(instance: &str, id: &str, name: &str, group: &str) -> SecretRecord {
    SecretRecord {
        instance_id: instance.into(),
        id: id.into(),
        secret_type: "arbitrary".into(),
        name: name.into(),
        group_id: group.into(),
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
    }
}

pub(crate) fn version(instance: &str, secret: &str, id: &str, serial: i64) -> SecretVersionRecord {
    SecretVersionRecord {
        instance_id: instance.into(),
        secret_id: secret.into(),
        id: id.into(),
        serial,
        created_by: "u".into(),
        created_at: 10 + serial,
        expiration_date: None,
        downloaded: false,
        auto_rotated: false,
        metadata: "{}".into(),
        payload: Some(vec![1, 2, 3]),
        wrapped_dek: Some(vec![4, 5, 6]),
        root_key: "instance".into(),
    }
}

fn lock(instance: &str, secret: &str, version: &str, name: &str) -> SecretLockRecord {
    SecretLockRecord {
        instance_id: instance.into(),
        secret_id: secret.into(),
        version_id: version.into(),
        name: name.into(),
        description: String::new(),
        attributes: "{}".into(),
        created_by: "u".into(),
        created_at: 20,
        updated_at: 20,
    }
}

pub(crate) async fn secret_groups(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    store
        .create_secret_group(&group("i1", "g1", "one"))
        .await
        .unwrap();
    let err = store
        .create_secret_group(&group("i1", "g2", "one"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    store
        .create_secret_group(&group("i1", "g2", "two"))
        .await
        .unwrap();
    assert_eq!(store.list_secret_groups("i1").await.unwrap().len(), 2);
    assert!(store.list_secret_groups("other").await.unwrap().is_empty());
    let mut g = store.get_secret_group("i1", "g1").await.unwrap().unwrap();
    assert_eq!(g.name, "one");
    assert!(
        store
            .get_secret_group("other", "g1")
            .await
            .unwrap()
            .is_none()
    );
    g.name = "two".into();
    assert!(matches!(
        store.update_secret_group(&g).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    g.name = "uno".into();
    g.description = "first".into();
    assert!(store.update_secret_group(&g).await.unwrap());
    assert_eq!(
        store.get_secret_group("i1", "g1").await.unwrap().unwrap(),
        g
    );
    // A group with secrets cannot be deleted.
    store
        .create_secret(
            &secret("i1", "s1", "n", "g1"),
            &version("i1", "s1", "v1", 1),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.delete_secret_group("i1", "g1").await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert!(store.delete_secret_group("i1", "g2").await.unwrap());
    assert!(!store.delete_secret_group("i1", "g2").await.unwrap());
}

pub(crate) async fn secrets_and_versions(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    sm_instance(store, "i2").await;
    let s = secret("i1", "s1", "name", "default");
    store
        .create_secret(&s, &version("i1", "s1", "v1", 1))
        .await
        .unwrap();
    // Names are unique per type in an instance; the failed create writes nothing.
    let err = store
        .create_secret(
            &secret("i1", "s2", "name", "default"),
            &version("i1", "s2", "v9", 1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(store.get_secret("i1", "s2").await.unwrap().is_none());
    let mut kv = secret("i1", "s2", "name", "default");
    kv.secret_type = "kv".into();
    store
        .create_secret(&kv, &version("i1", "s2", "v2", 1))
        .await
        .unwrap();
    store
        .create_secret(
            &secret("i2", "s3", "name", "default"),
            &version("i2", "s3", "v3", 1),
        )
        .await
        .unwrap();
    assert_eq!(store.get_secret("i1", "s1").await.unwrap().unwrap(), s);
    assert!(store.get_secret("i2", "s1").await.unwrap().is_none());
    assert_eq!(
        store
            .find_secret("i1", "kv", "name")
            .await
            .unwrap()
            .unwrap()
            .id,
        "s2"
    );
    assert!(
        store
            .find_secret("i1", "kv", "other")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_secrets("i1").await.unwrap().len(), 2);

    // A new version, with the old data destroyed, in one transaction.
    let mut next = s.clone();
    next.revision = 2;
    next.versions_total = 2;
    let v2 = version("i1", "s1", "v1b", 2);
    let mut v1 = version("i1", "s1", "v1", 1);
    v1.payload = None;
    v1.wrapped_dek = None;
    store
        .update_secret(
            &next,
            SecretChange {
                new_version: Some(&v2),
                versions: std::slice::from_ref(&v1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let versions = store.list_secret_versions("i1", "s1").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0], v2, "newest first");
    assert_eq!(
        store.current_secret_version("i1", "s1").await.unwrap(),
        Some(v2.clone()),
        "the current version is the newest"
    );
    assert_eq!(
        store.current_secret_version("i1", "nope").await.unwrap(),
        None
    );
    assert_eq!(versions[1].payload, None);
    // A stale revision is refused and nothing changes.
    let mut stale = s.clone();
    stale.revision = 2;
    stale.name = "renamed".into();
    let err = store
        .update_secret(&stale, SecretChange::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale(_)), "{err:?}");
    assert_eq!(
        store.get_secret("i1", "s1").await.unwrap().unwrap().name,
        "name"
    );

    // Root-key bookkeeping.
    assert_eq!(
        store
            .versions_not_under_root("i1", "instance", 0, 10)
            .await
            .unwrap()
            .len(),
        0
    );
    let moved = store
        .versions_not_under_root("i1", "kms:k", 0, 10)
        .await
        .unwrap();
    assert_eq!(moved.len(), 2, "only versions with data");
    let mut rewrapped = moved[0].clone();
    rewrapped.wrapped_dek = Some(vec![9]);
    rewrapped.root_key = "kms:k".into();
    assert!(
        store
            .rewrap_secret_version(&rewrapped, "instance")
            .await
            .unwrap()
    );
    assert!(
        !store
            .rewrap_secret_version(&rewrapped, "instance")
            .await
            .unwrap()
    );

    // Due secrets.
    let mut due = store.get_secret("i1", "s2").await.unwrap().unwrap();
    due.expiration_date = Some(50);
    due.revision += 1;
    store
        .update_secret(&due, SecretChange::default())
        .await
        .unwrap();
    assert!(store.secrets_due(49).await.unwrap().is_empty());
    assert_eq!(store.secrets_due(50).await.unwrap()[0].id, "s2");

    assert_eq!(
        store.delete_secret("i1", "s1").await.unwrap(),
        SecretDeletion::Deleted
    );
    assert_eq!(
        store.delete_secret("i1", "s1").await.unwrap(),
        SecretDeletion::NotFound
    );
    assert!(
        store
            .list_secret_versions("i1", "s1")
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn secret_locks(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    let s = secret("i1", "s1", "name", "default");
    store
        .create_secret(&s, &version("i1", "s1", "v1", 1))
        .await
        .unwrap();
    let mut next = s.clone();
    next.revision = 2;
    next.locks_total = 2;
    let locks = [lock("i1", "s1", "v1", "a"), lock("i1", "s1", "v1", "b")];
    store
        .update_secret(
            &next,
            SecretChange {
                put_locks: &locks,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .list_secret_locks("i1", Some("s1"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.list_secret_locks("i1", None).await.unwrap().len(), 2);
    assert!(
        store
            .list_secret_locks("i1", Some("x"))
            .await
            .unwrap()
            .is_empty()
    );
    // Putting a lock again replaces it.
    let mut again = lock("i1", "s1", "v1", "a");
    again.description = "changed".into();
    next.revision = 3;
    store
        .update_secret(
            &next,
            SecretChange {
                put_locks: std::slice::from_ref(&again),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let listed = store.list_secret_locks("i1", Some("s1")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|l| l.description == "changed"));
    // A locked secret is not deleted.
    assert_eq!(
        store.delete_secret("i1", "s1").await.unwrap(),
        SecretDeletion::Locked
    );
    next.revision = 4;
    next.locks_total = 0;
    let remove = [
        ("v1".to_owned(), "a".to_owned()),
        ("v1".to_owned(), "b".to_owned()),
    ];
    store
        .update_secret(
            &next,
            SecretChange {
                remove_locks: &remove,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .list_secret_locks("i1", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.delete_secret("i1", "s1").await.unwrap(),
        SecretDeletion::Deleted
    );
}

pub(crate) async fn secrets_configs(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    let mut c = SecretsConfigRecord {
        instance_id: "i1".into(),
        name: "root".into(),
        config_type: "private_cert_configuration_root_ca".into(),
        secret_type: "private_cert".into(),
        created_by: "u".into(),
        created_at: 10,
        updated_at: 10,
        revision: 1,
        metadata: "{}".into(),
        sealed: Some(vec![1]),
        wrapped_dek: Some(vec![2]),
        root_key: "instance".into(),
    };
    store.create_secrets_config(&c).await.unwrap();
    assert!(matches!(
        store.create_secrets_config(&c).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert_eq!(
        store
            .get_secrets_config("i1", "root")
            .await
            .unwrap()
            .unwrap(),
        c
    );
    assert!(
        store
            .get_secrets_config("i2", "root")
            .await
            .unwrap()
            .is_none()
    );
    c.revision = 2;
    c.metadata = r#"{"a":1}"#.into();
    store.update_secrets_config(&c).await.unwrap();
    assert!(matches!(
        store.update_secrets_config(&c).await.unwrap_err(),
        StoreError::Stale(_)
    ));
    assert_eq!(store.list_secrets_configs("i1").await.unwrap(), vec![c]);
    assert!(store.delete_secrets_config("i1", "root").await.unwrap());
    assert!(!store.delete_secrets_config("i1", "root").await.unwrap());
}

pub(crate) async fn notification_registrations(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    let r = NotificationRegistrationRecord {
        instance_id: "i1".into(),
        instance_crn: "crn:v1:x".into(),
        source_name: "src".into(),
        source_description: String::new(),
        created_by: "u".into(),
        created_at: 10,
    };
    store.create_notification_registration(&r).await.unwrap();
    assert!(matches!(
        store
            .create_notification_registration(&r)
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert_eq!(
        store.get_notification_registration("i1").await.unwrap(),
        Some(r)
    );
    assert!(store.delete_notification_registration("i1").await.unwrap());
    assert!(!store.delete_notification_registration("i1").await.unwrap());
    assert!(
        store
            .get_notification_registration("i1")
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn secrets_roots(store: &dyn Store) {
    store.initialize(&super::initial_state("a")).await.unwrap();
    sm_instance(store, "i1").await;
    assert!(store.get_secrets_root("i1").await.unwrap().is_none());
    let mut r = SecretsRootRecord {
        instance_id: "i1".into(),
        root_key: "kms:k1:key1".into(),
        root_key_crn: "crn:v1:x".into(),
        key_version: "v1".into(),
        retired: "[]".into(),
        updated_at: 5,
    };
    store.put_secrets_root("i1", Some(&r)).await.unwrap();
    r.key_version = "v2".into();
    store.put_secrets_root("i1", Some(&r)).await.unwrap();
    assert_eq!(store.get_secrets_root("i1").await.unwrap(), Some(r.clone()));
    assert_eq!(store.list_secrets_roots().await.unwrap(), vec![r]);
    store
        .create_secret(
            &secret("i1", "s1", "n", "default"),
            &version("i1", "s1", "v1", 1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.secret_version_counts("i1", "instance").await.unwrap(),
        (1, 0)
    );
    assert_eq!(
        store
            .secret_version_counts("i1", "kms:k1:key1")
            .await
            .unwrap(),
        (1, 1)
    );
    store.put_secrets_root("i1", None).await.unwrap();
    assert!(store.get_secrets_root("i1").await.unwrap().is_none());
}
