//! Service-to-service authorizations at the service level, over a real SQLite store and an
//! unsealed Shamir keystore: a secrets-manager instance acting on its own behalf
//! (`Principal::for_service_instance`) uses exactly the keys, and does exactly what, an account
//! administrator authorized; deleting an authorization takes effect at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arca_keystore::{InitParams, ShamirKeystore};
use arca_services::keys::NewKey;
use arca_services::{
    Arca, Clock as _, ManualClock, Principal, ServiceError, ServiceKind, Settings, SystemClock,
};
use arca_store::{KeyQuery, PrincipalKind, SqliteStore, Store};
use zeroize::Zeroizing;

struct World {
    _dir: tempfile::TempDir,
    arca: Arca,
    admin: Principal,
    kms: String,
    secrets: String,
    /// The secrets-manager instance as a principal.
    sm: Principal,
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
        clock,
        Settings::default(),
    );
    let out = arca
        .system
        .initialize(
            InitParams {
                shares: 1,
                threshold: 1,
            },
            "s2s",
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
    let kms = arca
        .instances
        .create(&admin, "kms", ServiceKind::Kms)
        .await
        .unwrap()
        .id;
    let secrets = arca
        .instances
        .create(&admin, "secrets", ServiceKind::SecretsManager)
        .await
        .unwrap()
        .id;
    let sm =
        Principal::for_service_instance(&admin.account_id, ServiceKind::SecretsManager, &secrets);
    World {
        _dir: dir,
        arca,
        admin,
        kms,
        secrets,
        sm,
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
fn assert_forbidden<T: std::fmt::Debug>(what: &str, r: Result<T, ServiceError>) {
    match r {
        Err(ServiceError::Forbidden(_)) => {}
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(what: &str, r: Result<T, ServiceError>) {
    match r {
        Err(ServiceError::InvalidInput(_)) => {}
        other => panic!("{what}: expected 400, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(what: &str, r: Result<T, ServiceError>) {
    match r {
        Err(ServiceError::NotFound(_)) => {}
        other => panic!("{what}: expected 404, got {other:?}"),
    }
}

const SECRET_CRN: &str =
    "crn:v1:bluemix:public:secrets-manager:local:a/acct:secrets-instance:secret:s1";

#[tokio::test]
async fn a_secrets_instance_uses_exactly_what_it_was_authorized_for() {
    let w = world().await;
    let (keys, iam, regs) = (&w.arca.keys, &w.arca.iam, &w.arca.registrations);
    let (admin, sm, kms) = (&w.admin, &w.sm, w.kms.as_str());
    assert_eq!(sm.kind, PrincipalKind::ServiceInstance);
    assert!(!sm.is_admin && sm.is_service_instance());
    assert_eq!(sm.id, format!("secrets-manager/{}", w.secrets));
    let a = keys.create(admin, kms, root("key-a")).await.unwrap();
    let b = keys.create(admin, kms, root("key-b")).await.unwrap();
    keys.create_alias(admin, kms, &a.record.id, "crk")
        .await
        .unwrap();
    let dek = || Some(Zeroizing::new(b"data key".to_vec()));

    // Nothing authorized: refused, and an unknown key is refused the same way (a principal
    // without any authorization learns nothing about which keys exist).
    assert_forbidden("wrap A", keys.wrap(sm, kms, &a.record.id, dek(), &[]).await);
    assert_forbidden(
        "get unknown",
        keys.get(sm, kms, "5d649fa5-42f2-4697-acea-d99bdb13c9ab", false)
            .await,
    );

    // Key-scoped Reader on A, named by its alias: stored as A's id.
    let on_a = iam
        .create_authorization(admin, &w.secrets, kms, Some("crk"), "Reader")
        .await
        .unwrap();
    assert_eq!(on_a.target_key_id.as_deref(), Some(a.record.id.as_str()));
    assert_eq!(on_a.source_service, "secrets-manager");

    // A: wrap, unwrap, rewrap (by id and by alias), metadata and versions.
    let wrapped = keys
        .wrap(sm, kms, &a.record.id, dek(), &["ctx".into()])
        .await
        .unwrap();
    let opened = keys
        .unwrap(sm, kms, "crk", &wrapped.ciphertext, &["ctx".into()])
        .await
        .unwrap();
    assert_eq!(opened.plaintext.as_slice(), b"data key");
    keys.rewrap(sm, kms, &a.record.id, &wrapped.ciphertext, &["ctx".into()])
        .await
        .unwrap();
    assert_eq!(
        keys.get(sm, kms, "crk", false).await.unwrap().record.id,
        a.record.id
    );
    assert_eq!(keys.versions(sm, kms, &a.record.id).await.unwrap().len(), 1);
    // It registers its secret on A, lists and removes that registration.
    let reg = regs
        .register(sm, kms, &a.record.id, SECRET_CRN, false, None)
        .await
        .unwrap();
    assert_eq!(reg.created_by, sm.id);
    assert_eq!(
        regs.list(sm, kms, Some("crk"), None, None)
            .await
            .unwrap()
            .len(),
        1
    );
    regs.deregister(sm, kms, &a.record.id, SECRET_CRN)
        .await
        .unwrap();

    // B stays closed: no wrap, no metadata, no registration.
    assert_forbidden("wrap B", keys.wrap(sm, kms, &b.record.id, dek(), &[]).await);
    assert_forbidden("get B", keys.get(sm, kms, &b.record.id, false).await);
    assert_forbidden(
        "register on B",
        regs.register(sm, kms, &b.record.id, SECRET_CRN, false, None)
            .await,
    );
    // The instance stays closed: no listing, no creating, and A cannot be managed.
    assert_forbidden("list", keys.list(sm, kms, &KeyQuery::default()).await);
    assert_forbidden(
        "instance registrations",
        regs.list(sm, kms, None, None, None).await,
    );
    assert_forbidden("create", keys.create(sm, kms, root("mine")).await);
    assert_forbidden("delete A", keys.delete(sm, kms, &a.record.id, false).await);
    assert_forbidden(
        "rotate A",
        keys.rotate(sm, kms, &a.record.id, None, None).await,
    );
    assert_forbidden("disable A", keys.disable(sm, kms, &a.record.id).await);

    // Another secrets instance holds nothing.
    let other = Principal::for_service_instance(
        &admin.account_id,
        ServiceKind::SecretsManager,
        "0b6ef2a4-1f0f-4d8e-9e0e-6f4bb1a0f0aa",
    );
    assert_forbidden(
        "other instance",
        keys.wrap(&other, kms, &a.record.id, dek(), &[]).await,
    );

    // All keys, Reader: B wraps, the instance lists; creating and rotating still need Writer.
    let all = iam
        .create_authorization(admin, &w.secrets, kms, None, "Reader")
        .await
        .unwrap();
    assert_eq!(all.target_key_id, None);
    keys.wrap(sm, kms, &b.record.id, dek(), &[]).await.unwrap();
    assert_eq!(
        keys.list(sm, kms, &KeyQuery::default())
            .await
            .unwrap()
            .keys
            .len(),
        2
    );
    assert_forbidden("create (Reader)", keys.create(sm, kms, root("mine")).await);
    assert_forbidden(
        "rotate (Reader)",
        keys.rotate(sm, kms, &b.record.id, None, None).await,
    );

    // Deleting the all-keys authorization closes B at once; A keeps its own.
    iam.delete_authorization(admin, &all.id).await.unwrap();
    assert_forbidden(
        "wrap B after delete",
        keys.wrap(sm, kms, &b.record.id, dek(), &[]).await,
    );
    keys.wrap(sm, kms, &a.record.id, dek(), &[]).await.unwrap();
    iam.delete_authorization(admin, &on_a.id).await.unwrap();
    assert_forbidden(
        "unwrap A after delete",
        keys.unwrap(sm, kms, &a.record.id, &wrapped.ciphertext, &[])
            .await,
    );
    assert!(iam.authorizations(admin).await.unwrap().is_empty());

    // Writer for all keys: rotates and creates (recorded as made by the instance), still no
    // delete.
    iam.create_authorization(admin, &w.secrets, kms, None, "Writer")
        .await
        .unwrap();
    keys.rotate(sm, kms, &a.record.id, None, None)
        .await
        .unwrap();
    assert_eq!(keys.versions(sm, kms, &a.record.id).await.unwrap().len(), 2);
    let made = keys.create(sm, kms, root("made-by-sm")).await.unwrap();
    assert_eq!(made.record.created_by, sm.id);
    assert_forbidden(
        "delete (Writer)",
        keys.delete(sm, kms, &b.record.id, false).await,
    );
    // The old ciphertext of A still unwraps after the rotation.
    assert_eq!(
        keys.unwrap(sm, kms, &a.record.id, &wrapped.ciphertext, &["ctx".into()])
            .await
            .unwrap()
            .plaintext
            .as_slice(),
        b"data key"
    );
}

#[tokio::test]
async fn a_key_scoped_writer_may_not_manage_its_key() {
    let w = world().await;
    let (keys, iam) = (&w.arca.keys, &w.arca.iam);
    let (admin, sm, kms) = (&w.admin, &w.sm, w.kms.as_str());
    let a = keys.create(admin, kms, root("key-a")).await.unwrap();
    iam.create_authorization(admin, &w.secrets, kms, Some(&a.record.id), "Manager")
        .await
        .unwrap();
    // Using the key: yes. Managing it (rotate, disable, delete, policies): an authorization
    // for all keys.
    keys.wrap(sm, kms, &a.record.id, None, &[]).await.unwrap();
    assert_forbidden(
        "rotate",
        keys.rotate(sm, kms, &a.record.id, None, None).await,
    );
    assert_forbidden("disable", keys.disable(sm, kms, &a.record.id).await);
    assert_forbidden("delete", keys.delete(sm, kms, &a.record.id, false).await);
    assert_forbidden(
        "policies",
        keys.set_policies(sm, kms, &a.record.id, Some((true, Some(3))), None)
            .await,
    );
}

#[tokio::test]
async fn a_service_instance_is_never_an_administrator() {
    let w = world().await;
    let (keys, iam) = (&w.arca.keys, &w.arca.iam);
    let (admin, kms) = (&w.admin, w.kms.as_str());
    let a = keys.create(admin, kms, root("key-a")).await.unwrap();
    // Even with `is_admin` set by mistake: no IAM, no instances, no keys without authorization.
    let forged = Principal {
        is_admin: true,
        ..w.sm.clone()
    };
    assert_forbidden("iam", iam.authorizations(&forged).await);
    assert_forbidden(
        "authorize itself",
        iam.create_authorization(&forged, &w.secrets, kms, None, "Manager")
            .await,
    );
    assert_forbidden(
        "instance",
        w.arca
            .instances
            .create(&forged, "x", ServiceKind::Kms)
            .await,
    );
    assert_forbidden(
        "wrap",
        keys.wrap(&forged, kms, &a.record.id, None, &[]).await,
    );
    // A principal that claims the kind without naming its instance gets nothing either.
    let nameless = Principal {
        service_instance: None,
        ..forged
    };
    iam.create_authorization(admin, &w.secrets, kms, None, "Manager")
        .await
        .unwrap();
    assert_forbidden(
        "nameless",
        keys.wrap(&nameless, kms, &a.record.id, None, &[]).await,
    );
    keys.wrap(&w.sm, kms, &a.record.id, None, &[])
        .await
        .unwrap();
    // The authorization names the source's service: the same id as a kms instance is not it.
    let as_kms = Principal::for_service_instance(&admin.account_id, ServiceKind::Kms, &w.secrets);
    assert_forbidden(
        "wrong service",
        keys.wrap(&as_kms, kms, &a.record.id, None, &[]).await,
    );
}

#[tokio::test]
async fn authorizations_are_validated_and_admin_only() {
    let w = world().await;
    let (keys, iam) = (&w.arca.keys, &w.arca.iam);
    let (admin, kms) = (&w.admin, w.kms.as_str());
    let missing = "5d649fa5-42f2-4697-acea-d99bdb13c9ab";
    assert_not_found(
        "unknown source",
        iam.create_authorization(admin, missing, kms, None, "Reader")
            .await,
    );
    assert_not_found(
        "unknown target",
        iam.create_authorization(admin, &w.secrets, missing, None, "Reader")
            .await,
    );
    assert_invalid(
        "target not kms",
        iam.create_authorization(admin, kms, &w.secrets, None, "Reader")
            .await,
    );
    assert_invalid(
        "itself",
        iam.create_authorization(admin, kms, kms, None, "Reader")
            .await,
    );
    for role in ["Owner", "KeyPurge", ""] {
        assert_invalid(
            role,
            iam.create_authorization(admin, &w.secrets, kms, None, role)
                .await,
        );
    }
    assert_not_found(
        "unknown key",
        iam.create_authorization(admin, &w.secrets, kms, Some(missing), "Reader")
            .await,
    );
    // A key of another key-service instance is not a key of the target.
    let kms2 = w
        .arca
        .instances
        .create(admin, "kms2", ServiceKind::Kms)
        .await
        .unwrap()
        .id;
    let foreign = keys.create(admin, &kms2, root("foreign")).await.unwrap();
    assert_not_found(
        "key of another instance",
        iam.create_authorization(admin, &w.secrets, kms, Some(&foreign.record.id), "Reader")
            .await,
    );
    // A key-service instance may be a source too; roles are case-insensitive, stored canonical.
    let kms_to_kms = iam
        .create_authorization(admin, &kms2, kms, None, "writer")
        .await
        .unwrap();
    assert_eq!(kms_to_kms.source_service, "kms");
    assert_eq!(kms_to_kms.role, "Writer");
    // The same authorization twice: a conflict.
    assert!(matches!(
        iam.create_authorization(admin, &kms2, kms, None, "Writer")
            .await,
        Err(ServiceError::Conflict(_))
    ));
    // Administrators only.
    let user = iam.create_principal(admin, "user", "bob").await.unwrap();
    let bob = Principal {
        id: user.id,
        kind: PrincipalKind::User,
        is_admin: false,
        ..admin.clone()
    };
    assert_forbidden(
        "create (user)",
        iam.create_authorization(&bob, &w.secrets, kms, None, "Reader")
            .await,
    );
    assert_forbidden("list (user)", iam.authorizations(&bob).await);
    assert_forbidden(
        "delete (user)",
        iam.delete_authorization(&bob, &kms_to_kms.id).await,
    );
    assert_not_found(
        "delete unknown",
        iam.delete_authorization(admin, "authorization-missing")
            .await,
    );
    iam.delete_authorization(admin, &kms_to_kms.id)
        .await
        .unwrap();
}
