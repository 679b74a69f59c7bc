//! Deleting instances through the API: a deleted instance is refused on the data plane, is
//! restored whole, and once reclaimed (explicitly, or at the end of its period) is gone with
//! everything it held — its data unreadable forever, none of its bytes left in the database. A
//! key-service instance with live keys refuses deletion until they are deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::NewKey;
use common::{start_dev, status_of, within};
use serde_json::json;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_restore_reclaim() {
    let (dir, server, info, admin) = start_dev().await;
    let sm_id = info.secrets_manager_instance_id.clone();
    let sm = admin.sm(&sm_id);
    let kp = admin.kp(&info.kms_instance_id);
    let secret = sm
        .create_secret(&json!({"secret_type": "arbitrary", "name": "keep",
                               "payload": "reclamation payload"}))
        .await
        .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();
    let key = within("key", kp.create_key(&NewKey::root("live")))
        .await
        .unwrap();
    let wrapped = kp.wrap(&key.id, None, &[]).await.unwrap();

    // A key-service instance with a live key: refused, the key named.
    let err = admin
        .delete_instance(&info.kms_instance_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains(&key.id), "{err}");

    // Delete the secrets instance: disabled at once, listed, restorable.
    let r = admin.delete_instance(&sm_id).await.unwrap();
    assert_eq!(r.instance.state, "reclaiming");
    let refused = sm.get_secret(&secret_id).await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert!(refused.to_string().contains("deleted"), "{refused}");
    assert_eq!(status_of("twice", admin.delete_instance(&sm_id).await), 409);
    let list = admin.list_reclamations().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].instance.id, sm_id);
    let restored = admin.restore_instance(&sm_id).await.unwrap();
    assert_eq!(restored.state, "active");
    assert_eq!(
        sm.get_secret(&secret_id).await.unwrap()["payload"],
        "reclamation payload"
    );
    assert!(admin.list_reclamations().await.unwrap().is_empty());
    assert_eq!(
        status_of("not deleted", admin.restore_instance(&sm_id).await),
        404
    );

    // Delete and reclaim now: gone for good.
    admin.delete_instance(&sm_id).await.unwrap();
    assert_eq!(
        status_of(
            "needs a reclamation",
            admin.reclaim_instance(&info.kms_instance_id).await
        ),
        404
    );
    admin.reclaim_instance(&sm_id).await.unwrap();
    assert_eq!(status_of("gone", admin.get_instance(&sm_id).await), 404);
    assert_eq!(status_of("gone", sm.get_secret(&secret_id).await), 404);
    assert_eq!(
        status_of("no restore", admin.restore_instance(&sm_id).await),
        404
    );

    // The key-service instance, once its key is deleted, can be deleted; at the end of the
    // period the jobs reclaim it, and what its key wrapped can never be unwrapped again.
    kp.delete_key(&key.id, false).await.unwrap();
    let r = admin.delete_instance(&info.kms_instance_id).await.unwrap();
    let arca = &server.assembled().arca;
    assert_eq!(
        arca.reclamations
            .run_due_work(r_time(&r.reclaim_at) - time::Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        arca.reclamations
            .run_due_work(r_time(&r.reclaim_at))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        status_of(
            "unwrap after reclaim",
            kp.unwrap(&key.id, &wrapped.ciphertext, &[]).await
        ),
        404
    );
    assert!(admin.list_instances().await.unwrap().is_empty());

    // The audit trail is the account's record and is kept: it still names the reclaimed
    // instances, but holds none of their data.
    let audit = admin.audit_events_all().await.unwrap();
    let of_sm: Vec<_> = audit.iter().filter(|e| e.instance_id == sm_id).collect();
    assert!(
        !of_sm.is_empty(),
        "the reclaimed instance's records are kept"
    );
    assert!(
        audit.iter().any(|e| e.instance_id == info.kms_instance_id
            && e.initiator == "system"
            && e.action == "instances.reclaim"),
        "the jobs' reclamation is recorded"
    );
    let audit_text = serde_json::to_string(&audit).unwrap();
    let ciphertext = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&wrapped.ciphertext)
    };
    for needle in ["reclamation payload", ciphertext.as_str()] {
        assert!(!audit_text.contains(needle), "{needle} in the audit trail");
    }

    // Nothing of either instance is left in the database files, outside the audit trail.
    server.shutdown().await;
    let data = dir.path().join("dev");
    let copy = common::without_audit_trail(&data).await;
    let mut scanned = 0;
    for file in ["arca.db", "arca.db-wal"] {
        if let Ok(bytes) = std::fs::read(copy.path().join(file)) {
            scanned += 1;
            for needle in [
                sm_id.as_bytes(),
                info.kms_instance_id.as_bytes(),
                key.id.as_bytes(),
                b"reclamation payload",
            ] {
                assert!(
                    !contains(&bytes, needle),
                    "{} found in {file}",
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
    assert!(scanned > 0, "no database file scanned");
}

fn r_time(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}
