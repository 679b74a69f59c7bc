//! Customer-managed root keys for a secrets instance, end to end through the API: the instance
//! moves onto a key-service root key (authorized with Reader, registered on the key), survives
//! the key's rotation, is refused while the key is disabled, moves to another key (the old one no
//! longer needed), and loses its data for good when the key in use is destroyed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::NewKey;
use axum::http::Method;
use common::{start_dev, status_of, within};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_root_key_lifecycle() {
    let (dir, server, info, admin) = start_dev().await;
    let sm_id = info.secrets_manager_instance_id.clone();
    let sm = admin.sm(&sm_id);
    let kp = admin.kp(&info.kms_instance_id);
    let k1 = within("k1", kp.create_key(&NewKey::root("sm-root-1")))
        .await
        .unwrap();
    let k2 = within("k2", kp.create_key(&NewKey::root("sm-root-2")))
        .await
        .unwrap();

    // Data made under the provider-managed root.
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = sm
            .create_secret(&json!({
                "secret_type": "arbitrary", "name": format!("byok-{i}"),
                "payload": format!("byok payload {i}"),
            }))
            .await
            .unwrap();
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let status = admin.root_key_status(&sm_id).await.unwrap();
    assert!(status.provider_managed);
    assert_eq!(status.data_keys_pending, 0);

    // Not authorized yet: refused, nothing changes.
    assert_eq!(
        status_of(
            "unauthorized",
            admin.set_root_key(&sm_id, Some(&k1.crn)).await
        ),
        403
    );
    admin
        .create_authorization(&sm_id, &info.kms_instance_id, Some(&k1.id), "Reader")
        .await
        .unwrap();
    let status = admin.set_root_key(&sm_id, Some(&k1.crn)).await.unwrap();
    assert_eq!(status.root_key_crn.as_deref(), Some(k1.crn.as_str()));
    assert_eq!(status.data_keys_total, 3);
    assert_eq!(status.data_keys_pending, 3, "moved in the background");
    // Still readable while moving.
    assert_eq!(
        sm.get_secret(&ids[0]).await.unwrap()["payload"],
        "byok payload 0"
    );
    let status = admin.reencrypt(&sm_id).await.unwrap();
    assert_eq!(status.data_keys_pending, 0);
    let regs = kp
        .list_registrations(Some(&k1.id))
        .await
        .unwrap()
        .registrations;
    assert!(
        regs.iter().any(|r| r.resource_crn.contains(&sm_id)),
        "the secrets instance registers on its root key: {regs:?}"
    );
    let new = sm
        .create_secret(&json!({"secret_type": "kv", "name": "byok-kv", "data": {"a": "b"}}))
        .await
        .unwrap();
    ids.push(new["id"].as_str().unwrap().to_owned());

    // Rotation of the root key: the jobs rewrap the data keys; everything still reads.
    kp.rotate(&k1.id, None).await.unwrap();
    let work = server
        .assembled()
        .arca
        .secrets
        .run_due_work_now()
        .await
        .unwrap();
    assert_eq!(work.data_keys, 4, "{work:?}");
    for (i, id) in ids.iter().enumerate().take(3) {
        assert_eq!(
            sm.get_secret(id).await.unwrap()["payload"],
            format!("byok payload {i}")
        );
    }

    // Disabled root key: reads and writes refused with a clear error; enabled: fine again.
    kp.disable(&k1.id).await.unwrap();
    let err = sm.get_secret(&ids[0]).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.to_string().contains("root key is not active"), "{err}");
    assert_eq!(
        status_of(
            "create while disabled",
            sm.create_secret(&json!({"secret_type": "arbitrary", "name": "no", "payload": "p"}))
                .await
        ),
        409
    );
    kp.enable(&k1.id).await.unwrap();
    assert_eq!(sm.get_secret(&ids[3]).await.unwrap()["data"]["a"], "b");

    // Change the CRN: everything moves to k2; k1 is no longer needed (and deregistered).
    admin
        .create_authorization(&sm_id, &info.kms_instance_id, Some(&k2.id), "Reader")
        .await
        .unwrap();
    let status = admin.set_root_key(&sm_id, Some(&k2.crn)).await.unwrap();
    assert_eq!(status.data_keys_pending, 4);
    assert_eq!(admin.reencrypt(&sm_id).await.unwrap().data_keys_pending, 0);
    assert!(
        kp.list_registrations(Some(&k1.id))
            .await
            .unwrap()
            .registrations
            .is_empty(),
        "deregistered from the former root key"
    );
    kp.disable(&k1.id).await.unwrap();
    assert_eq!(
        sm.get_secret(&ids[1]).await.unwrap()["payload"],
        "byok payload 1"
    );

    // The key in use cannot be deleted unforced while the instance is registered on it.
    let refused = kp
        .raw(Method::DELETE, &format!("keys/{}", k2.id), None, Vec::new())
        .await
        .unwrap();
    assert_eq!(refused.status, 409);
    // Destroyed: the data is unreadable for good.
    let forced = kp
        .raw(
            Method::DELETE,
            &format!("keys/{}?force=true", k2.id),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(forced.status == 200 || forced.status == 204, "{forced:?}");
    for id in &ids {
        let err = sm.get_secret(id).await.unwrap_err();
        assert_eq!(err.status(), Some(409), "{err}");
    }

    // No secret data in clear in the database files.
    server.shutdown().await;
    let db = std::fs::read(dir.path().join("dev").join("arca.db")).expect("the database file");
    assert!(db.len() > 4096);
    for file in ["arca.db", "arca.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("dev").join(file)) {
            for i in 0..3 {
                let needle = format!("byok payload {i}");
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "payload in clear in {file}"
                );
            }
        }
    }
}
