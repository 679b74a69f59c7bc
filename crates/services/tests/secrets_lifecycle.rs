//! The secrets lifecycle at the service level with a manual clock: expiry destroys the data and
//! keeps the metadata (not for locked secrets, always for certificates), automatic rotation by
//! policy makes a new version and moves `next_rotation_date`, and going back from a customer root
//! key to the provider-managed one re-encrypts every data key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arca_keystore::{InitParams, ShamirKeystore};
use arca_services::secrets::{LockMode, NewLock, SecretPrototype, VersionPrototype};
use arca_services::{
    Arca, Clock as _, ManualClock, Principal, ServiceError, ServiceKind, Settings, SystemClock,
};
use arca_store::{SqliteStore, Store};
use serde_json::json;
use time::Duration;
use time::format_description::well_known::Rfc3339;

struct World {
    _dir: tempfile::TempDir,
    arca: Arca,
    clock: Arc<ManualClock>,
    admin: Principal,
    sm: String,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("arca.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let arca = Arca::new(
        store as Arc<dyn Store>,
        Arc::new(ShamirKeystore::new()),
        clock.clone(),
        Settings::default(),
    );
    let out = arca
        .system
        .initialize(
            InitParams {
                shares: 1,
                threshold: 1,
            },
            "secrets",
            |_| Ok(()),
        )
        .await
        .unwrap();
    if arca.system.status().sealed {
        arca.system
            .unseal(Some(out.shares[0].clone()))
            .await
            .unwrap();
    }
    let admin = arca.auth.authenticate_api_key(&out.api_key).await.unwrap();
    let sm = arca
        .instances
        .create(&admin, "sm", ServiceKind::SecretsManager)
        .await
        .unwrap()
        .id;
    World {
        _dir: dir,
        arca,
        clock,
        admin,
        sm,
    }
}

fn proto(v: serde_json::Value) -> SecretPrototype {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn expiry_destroys_data_and_keeps_metadata() {
    let w = world().await;
    let s = &w.arca.secrets;
    let in_a_day = (w.clock.now() + Duration::days(1))
        .format(&Rfc3339)
        .unwrap();
    let doomed = s
        .create_secret(
            &w.admin,
            &w.sm,
            proto(
                json!({"secret_type": "arbitrary", "name": "doomed", "payload": "gone soon",
                          "expiration_date": in_a_day, "labels": ["keep-me"]}),
            ),
        )
        .await
        .unwrap();
    let locked = s
        .create_secret(
            &w.admin,
            &w.sm,
            proto(
                json!({"secret_type": "arbitrary", "name": "locked", "payload": "kept",
                          "expiration_date": in_a_day}),
            ),
        )
        .await
        .unwrap();
    let lid = locked.secret.record.id.clone();
    s.create_locks(
        &w.admin,
        &w.sm,
        &lid,
        None,
        vec![NewLock {
            name: "hold".into(),
            description: None,
            attributes: None,
        }],
        LockMode::Add,
    )
    .await
    .unwrap();

    // Not yet due.
    assert_eq!(s.run_due_work_now().await.unwrap().expired, 0);
    w.clock.advance(Duration::days(1) + Duration::seconds(1));
    let done = s.run_due_work_now().await.unwrap();
    assert_eq!(done.expired, 1, "{done:?}");

    let id = doomed.secret.record.id.clone();
    let meta = s.get_secret_metadata(&w.admin, &w.sm, &id).await.unwrap();
    assert_eq!(meta.record.state, 5);
    assert_eq!(meta.meta.labels, vec!["keep-me".to_owned()]);
    let err = s.get_secret(&w.admin, &w.sm, &id).await.unwrap_err();
    assert!(matches!(err, ServiceError::InvalidState(_)), "{err:?}");
    let versions = s.list_versions(&w.admin, &w.sm, &id).await.unwrap();
    assert!(versions.iter().all(|v| !v.payload_available));
    // The locked one keeps its data.
    let kept = s.get_secret(&w.admin, &w.sm, &lid).await.unwrap();
    assert_eq!(kept.data.0["payload"], "kept");
    // A second pass has nothing more to expire.
    assert_eq!(s.run_due_work_now().await.unwrap().expired, 0);
}

#[tokio::test]
async fn rotation_by_policy() {
    let w = world().await;
    let s = &w.arca.secrets;
    let created = s
        .create_secret(
            &w.admin,
            &w.sm,
            proto(
                json!({"secret_type": "username_password", "name": "db", "username": "app",
                          "rotation": {"auto_rotate": true, "interval": 1, "unit": "day"}}),
            ),
        )
        .await
        .unwrap();
    let id = created.secret.record.id.clone();
    let first = created.data.0["password"].clone();
    let due = created.secret.record.next_rotation_date.unwrap();
    w.clock.advance(Duration::hours(23));
    assert_eq!(s.run_due_work_now().await.unwrap().rotated, 0);
    w.clock.advance(Duration::hours(2));
    assert_eq!(s.run_due_work_now().await.unwrap().rotated, 1);
    let now = s.get_secret(&w.admin, &w.sm, &id).await.unwrap();
    assert_ne!(now.data.0["password"], first);
    assert_eq!(now.data.0["username"], "app");
    assert!(now.version.record.auto_rotated);
    assert!(now.secret.record.next_rotation_date.unwrap() > due);
    assert_eq!(now.secret.record.versions_total, 2);
    // Manual rotation still works and keeps the username.
    let manual = s
        .create_version(&w.admin, &w.sm, &id, VersionPrototype::default())
        .await
        .unwrap();
    assert_eq!(manual.data.0["username"], "app");
}

#[tokio::test]
async fn back_to_the_provider_managed_root() {
    let w = world().await;
    let s = &w.arca.secrets;
    let kms = w
        .arca
        .instances
        .create(&w.admin, "kms", ServiceKind::Kms)
        .await
        .unwrap();
    let key = w
        .arca
        .keys
        .create(
            &w.admin,
            &kms.id,
            arca_services::keys::NewKey {
                name: "root".into(),
                description: None,
                extractable: false,
                payload: None,
                expiration: None,
                tags: Vec::new(),
                key_ring_id: None,
                rotation: None,
                dual_auth_delete: None,
                secure_import: None,
            },
        )
        .await
        .unwrap();
    w.arca
        .iam
        .create_authorization(&w.admin, &w.sm, &kms.id, Some(&key.record.id), "Reader")
        .await
        .unwrap();
    let secret = s
        .create_secret(
            &w.admin,
            &w.sm,
            proto(json!({"secret_type": "kv", "name": "cfg", "data": {"k": "v"}})),
        )
        .await
        .unwrap();
    s.set_root_key(&w.admin, &w.sm, Some(&key.crn))
        .await
        .unwrap();
    let status = s.reencrypt(&w.admin, &w.sm).await.unwrap();
    assert_eq!(status.pending, 0);
    let status = s.set_root_key(&w.admin, &w.sm, None).await.unwrap();
    assert_eq!((status.total, status.pending), (1, 1));
    // The background pass does the moving too.
    let work = s.run_due_work_now().await.unwrap();
    assert_eq!(work.data_keys, 1, "{work:?}");
    let status = s.root_key_status(&w.admin, &w.sm).await.unwrap();
    assert_eq!(status.root_key_crn, None);
    assert_eq!(status.pending, 0);
    // The customer key is not needed any more.
    w.arca
        .keys
        .disable(&w.admin, &kms.id, &key.record.id)
        .await
        .unwrap();
    let got = s
        .get_secret(&w.admin, &w.sm, &secret.secret.record.id)
        .await
        .unwrap();
    assert_eq!(got.data.0["data"]["k"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_new_versions_of_one_secret_all_succeed() {
    let w = Arc::new(world().await);
    let created = w
        .arca
        .secrets
        .create_secret(
            &w.admin,
            &w.sm,
            proto(json!({"secret_type": "arbitrary", "name": "busy", "payload": "v0"})),
        )
        .await
        .unwrap();
    let id = created.secret.record.id.clone();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (w, id) = (w.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let proto: VersionPrototype =
                serde_json::from_value(json!({"payload": format!("v{}", i + 1)})).unwrap();
            w.arca
                .secrets
                .create_version(&w.admin, &w.sm, &id, proto)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let meta = w
        .arca
        .secrets
        .get_secret_metadata(&w.admin, &w.sm, &id)
        .await
        .unwrap();
    assert_eq!(meta.record.versions_total, 17);
}
