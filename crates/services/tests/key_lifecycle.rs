//! The key lifecycle at the service level, over a real SQLite store and an unsealed Shamir
//! keystore, with a manual clock: dual-authorization delete between two users of one account,
//! purge, and the clock-driven jobs (deactivation, rotation by policy, scheduled purges).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arca_keystore::{InitParams, ShamirKeystore};
use arca_services::keys::{DueWork, KeyState, NewKey};
use arca_services::{
    Arca, Clock as _, ManualClock, Principal, ServiceError, ServiceKind, Settings, SystemClock,
};
use arca_store::{AuditStore as _, SqliteStore, Store};
use time::Duration;
use zeroize::Zeroizing;

struct World {
    _dir: tempfile::TempDir,
    arca: Arca,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    alice: Principal,
    bob: Principal,
    instance: String,
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
        store.clone() as Arc<dyn Store>,
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
            "lifecycle",
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
    let alice = arca.auth.authenticate_api_key(&out.api_key).await.unwrap();
    // A second administrator of the same account (IAM users come with the IAM endpoints).
    let bob = Principal {
        id: "user-bob".into(),
        ..alice.clone()
    };
    let instance = arca
        .instances
        .create(&alice, "kms", ServiceKind::Kms)
        .await
        .unwrap()
        .id;
    World {
        _dir: dir,
        arca,
        store,
        clock,
        alice,
        bob,
        instance,
    }
}

fn root(name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        description: None,
        extractable: false,
        payload: None,
        expiration: None,
        tags: Vec::new(),
        key_ring_id: None,
        rotation: None,
        dual_auth_delete: None,
        secure_import: None,
    }
}

#[track_caller]
fn assert_state_error<T: std::fmt::Debug>(what: &str, r: Result<T, ServiceError>, needle: &str) {
    match r {
        Err(ServiceError::InvalidState(m)) => assert!(m.contains(needle), "{what}: {m}"),
        other => panic!("{what}: expected an invalid-state error, got {other:?}"),
    }
}

#[tokio::test]
async fn dual_authorization_delete_needs_two_users() {
    let w = world().await;
    let keys = &w.arca.keys;
    let (a, b, i) = (&w.alice, &w.bob, w.instance.as_str());
    let key = keys
        .create(
            a,
            i,
            NewKey {
                dual_auth_delete: Some(true),
                ..root("dual")
            },
        )
        .await
        .unwrap();
    let id = key.record.id.clone();
    assert!(key.record.dual_auth_delete && !key.key_set_for_deletion);

    // Nobody deletes it without a first authorization.
    assert_state_error(
        "no authorization",
        keys.delete(a, i, &id, false).await,
        "authorizations",
    );
    assert_state_error(
        "no authorization",
        keys.delete(b, i, &id, false).await,
        "authorizations",
    );

    // Alice sets it for deletion: she cannot complete it, Bob can't after an unset.
    keys.set_key_for_deletion(a, i, &id).await.unwrap();
    let got = keys.get(a, i, &id, false).await.unwrap();
    assert!(got.key_set_for_deletion);
    let expires = got.deletion_auth_expiration.unwrap();
    assert_eq!(
        arca_services::clock::to_millis(expires),
        arca_services::clock::to_millis(w.clock.now() + Duration::days(7))
    );
    assert_state_error(
        "same user",
        keys.delete(a, i, &id, false).await,
        "another user",
    );
    keys.unset_key_for_deletion(b, i, &id).await.unwrap();
    assert!(
        !keys
            .get(a, i, &id, false)
            .await
            .unwrap()
            .key_set_for_deletion
    );
    assert_state_error(
        "after unset",
        keys.delete(b, i, &id, false).await,
        "authorizations",
    );

    // The authorization expires after 7 days.
    keys.set_key_for_deletion(a, i, &id).await.unwrap();
    w.clock.advance(Duration::days(7));
    assert!(
        !keys
            .get(a, i, &id, false)
            .await
            .unwrap()
            .key_set_for_deletion
    );
    assert_state_error(
        "expired",
        keys.delete(b, i, &id, false).await,
        "authorizations",
    );

    // Within it, another user deletes.
    keys.set_key_for_deletion(a, i, &id).await.unwrap();
    w.clock.advance(Duration::days(6));
    let deleted = keys.delete(b, i, &id, false).await.unwrap();
    assert_eq!(deleted.state, KeyState::Destroyed);
    assert_eq!(deleted.record.deleted_by.as_deref(), Some("user-bob"));
    assert!(!deleted.key_set_for_deletion && deleted.record.deletion_auth_by.is_none());
    // Restored, it needs two authorizations again.
    keys.restore(a, i, &id).await.unwrap();
    assert_state_error(
        "after restore",
        keys.delete(b, i, &id, false).await,
        "authorizations",
    );

    // The policy cannot be turned off; it can be turned on later on a plain key.
    assert_state_error(
        "turn off",
        keys.set_policies(a, i, &id, None, Some(false)).await,
        "cannot be disabled",
    );
    keys.set_policies(a, i, &id, None, Some(true))
        .await
        .unwrap();
    let plain = keys.create(a, i, root("plain")).await.unwrap().record.id;
    assert_state_error(
        "set on a plain key",
        keys.set_key_for_deletion(a, i, &plain).await,
        "dual authorization",
    );
    keys.set_policies(a, i, &plain, None, Some(false))
        .await
        .unwrap();
    keys.set_policies(a, i, &plain, None, Some(true))
        .await
        .unwrap();
    assert_state_error(
        "now dual",
        keys.delete(a, i, &plain, false).await,
        "authorizations",
    );
    keys.set_key_for_deletion(b, i, &plain).await.unwrap();
    keys.delete(a, i, &plain, false).await.unwrap();
}

#[tokio::test]
async fn jobs_deactivate_rotate_and_purge_on_the_clock() {
    let w = world().await;
    let keys = &w.arca.keys;
    let (a, i) = (&w.alice, w.instance.as_str());
    let start = w.clock.now();
    let rotating = keys
        .create(
            a,
            i,
            NewKey {
                rotation: Some((true, Some(2))),
                ..root("rotating")
            },
        )
        .await
        .unwrap()
        .record;
    let imported = keys
        .create(
            a,
            i,
            NewKey {
                rotation: Some((true, Some(1))),
                payload: Some(Zeroizing::new(vec![7; 32])),
                ..root("imported")
            },
        )
        .await
        .unwrap()
        .record;
    let expiring = keys
        .create(
            a,
            i,
            NewKey {
                expiration: Some(start + Duration::days(3)),
                ..root("expiring")
            },
        )
        .await
        .unwrap()
        .record;
    let doomed = keys.create(a, i, root("doomed")).await.unwrap().record;
    let dek = b"a data key of thirty-two bytes!!".to_vec();
    let old = keys
        .wrap(a, i, &rotating.id, Some(Zeroizing::new(dek.clone())), &[])
        .await
        .unwrap();
    let doomed_c = keys
        .wrap(a, i, &doomed.id, Some(Zeroizing::new(dek.clone())), &[])
        .await
        .unwrap();
    keys.delete(a, i, &doomed.id, false).await.unwrap();

    assert_eq!(
        keys.run_due_work(w.clock.now()).await.unwrap(),
        DueWork::default()
    );

    // Day 3: the expiring key is stored as deactivated.
    w.clock.advance(Duration::days(3));
    let done = keys.run_due_work(w.clock.now()).await.unwrap();
    assert_eq!(
        done,
        DueWork {
            deactivated: 1,
            ..DueWork::default()
        }
    );
    assert_eq!(
        w.store
            .get_key(i, &expiring.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        3
    );

    // 2 × 30 days: the generated key rotates; the imported one (due too) is left alone.
    w.clock.advance(Duration::days(57));
    let done = keys.run_due_work(w.clock.now()).await.unwrap();
    assert_eq!(
        done,
        DueWork {
            rotated: 1,
            ..DueWork::default()
        }
    );
    let versions = keys.versions(a, i, &rotating.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(keys.versions(a, i, &imported.id).await.unwrap().len(), 1);
    let out = keys
        .unwrap(a, i, &rotating.id, &old.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(out.plaintext.as_slice(), dek.as_slice());
    assert_eq!(out.rewrapped.unwrap().1, versions[0].0);
    // Not again until the next interval.
    assert_eq!(
        keys.run_due_work(w.clock.now()).await.unwrap(),
        DueWork::default()
    );

    // 90 days after deletion: the deleted key is purged, its material gone.
    let purged_versions = w.store.list_key_versions(&doomed.id).await.unwrap();
    assert!(purged_versions[0].wrapped_material.is_some());
    w.clock.advance(Duration::days(30));
    let done = keys.run_due_work(w.clock.now()).await.unwrap();
    assert_eq!(done.purged, 1, "{done:?}");
    assert!(w.store.get_key(i, &doomed.id).await.unwrap().is_none());
    assert!(
        w.store
            .get_key_version(&purged_versions[0].id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        keys.get(a, i, &doomed.id, false).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        keys.unwrap(a, i, &doomed.id, &doomed_c.ciphertext, &[])
            .await,
        Err(ServiceError::NotFound(_))
    ));

    // Each change the jobs made is an audit record of the instance's account, by `system`,
    // committed before the pass returned.
    let records = w
        .store
        .list_audit_events(&arca_store::audit::AuditQuery {
            initiator: Some("system".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let seen: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r.event.action.as_str(),
                r.event.target.as_str(),
                r.event.outcome.as_str(),
            )
        })
        .collect();
    let (exp, rot, pur) = (
        format!("keys/{}", expiring.id),
        format!("keys/{}", rotating.id),
        format!("keys/{}", doomed.id),
    );
    assert_eq!(
        seen,
        [
            ("kms.keys.expire", exp.as_str(), "success"),
            ("kms.keys.rotate", rot.as_str(), "success"),
            ("kms.keys.purge", pur.as_str(), "success"),
        ]
    );
    for r in &records {
        assert_eq!(r.event.account_id, a.account_id);
        assert_eq!(r.event.instance_id, i);
    }
}

#[tokio::test]
async fn purge_waits_then_forgets_everything() {
    let w = world().await;
    let keys = &w.arca.keys;
    let (a, i) = (&w.alice, w.instance.as_str());
    let id = keys.create(a, i, root("purged")).await.unwrap().record.id;
    keys.create_alias(a, i, &id, "soon-gone").await.unwrap();
    let c = keys.wrap(a, i, "soon-gone", None, &[]).await.unwrap();
    assert_state_error("active", keys.purge(a, i, &id).await, "only a deleted key");
    keys.delete(a, i, &id, false).await.unwrap();
    assert_state_error("too early", keys.purge(a, i, &id).await, "4 hours");
    w.clock.advance(Duration::hours(4));
    let purged = keys.purge(a, i, "soon-gone").await.unwrap();
    assert_eq!(purged.record.id, id);
    assert_eq!(purged.state, KeyState::Destroyed);
    assert!(purged.payload.is_none());
    for r in [id.as_str(), "soon-gone"] {
        assert!(matches!(
            keys.get(a, i, r, false).await,
            Err(ServiceError::NotFound(_))
        ));
    }
    assert!(matches!(
        keys.unwrap(a, i, &id, &c.ciphertext, &[]).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        keys.purge(a, i, &id).await,
        Err(ServiceError::NotFound(_))
    ));
    // The alias is free again.
    let other = keys.create(a, i, root("other")).await.unwrap().record.id;
    keys.create_alias(a, i, &other, "soon-gone").await.unwrap();
}
