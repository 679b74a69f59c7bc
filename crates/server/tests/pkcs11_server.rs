//! A server whose master key is sealed by a SoftHSM2 token: no shares, unsealed at every start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_proto::instance::ServiceKind;
use arca_proto::sys::InitRequest;
use arca_server::config::KeystoreConfig;
use axum::http::Method;
use common::{Env, assert_api_error, assert_error, raw_json, within};

/// A fresh SoftHSM2 token, or `None` (test skipped) when SoftHSM2 is absent and not required.
fn token() -> Option<arca_keystore::Pkcs11Config> {
    match arca_keystore::softhsm::test_token("arca-master-seal") {
        Ok(Some(config)) => Some(config),
        Ok(None) => {
            assert!(
                !arca_keystore::softhsm::required(),
                "ARCA_REQUIRE_PKCS11=1 but SoftHSM2 is not installed"
            );
            eprintln!("SoftHSM2 not installed: PKCS#11 server test skipped");
            None
        }
        Err(e) => panic!("cannot create a SoftHSM2 token: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_server_unseals_itself_at_every_start() {
    let Some(token) = token() else {
        return;
    };
    let env = Env::new(KeystoreConfig::Pkcs11(token), 1024 * 1024);

    let server = env.start().await;
    let anonymous = server.client(None);
    let status = within("status", anonymous.seal_status()).await.unwrap();
    assert_eq!(status.keystore, "pkcs11");
    assert!(!status.initialized && status.sealed, "{status:?}");
    let err = within("list", anonymous.list_instances())
        .await
        .unwrap_err();
    assert_api_error("list before init", &err, 503, "not_initialized");

    // Share parameters do not apply to an HSM: no shares come back either way.
    let init = within(
        "init",
        anonymous.init(&InitRequest {
            shares: Some(5),
            threshold: Some(3),
            account_name: Some("hsm".into()),
        }),
    )
    .await
    .expect("init");
    assert!(init.shares.is_empty(), "an HSM server returned shares");
    assert_eq!(init.threshold, 0);
    let status = within("status", anonymous.seal_status()).await.unwrap();
    assert!(status.initialized && !status.sealed, "{status:?}");
    assert_eq!((status.shares, status.threshold), (0, 0));
    let (ready, _) = within("ready", anonymous.ready()).await.unwrap();
    assert!(ready, "not ready right after init");

    let admin = server.client(Some(&init.api_key));
    let created = within("create", admin.create_instance("in-hsm", ServiceKind::Kms))
        .await
        .expect("create after init");
    let err = within("init again", anonymous.init(&InitRequest::default()))
        .await
        .unwrap_err();
    assert_api_error("init again", &err, 409, "already_initialized");
    let err = within(
        "unseal with a share",
        anonymous.unseal(Some("arca-share-v1:AQI=")),
    )
    .await
    .unwrap_err();
    assert_api_error("unseal with a share", &err, 400, "unsupported");
    server.shutdown().await;

    // Restart: unsealed with no operator action.
    let server = env.start().await;
    let anonymous = server.client(None);
    let admin = server.client(Some(&init.api_key));
    let health = within("health", anonymous.health()).await.unwrap();
    assert!(health.initialized && !health.sealed, "{health:?}");
    assert_eq!(health.keystore, "pkcs11");
    let (ready, health) = within("ready", anonymous.ready()).await.unwrap();
    assert!(ready, "{health:?}");
    let got = within("get", admin.get_instance(&created.id))
        .await
        .expect("the instance survived the restart");
    assert_eq!(got, created);
    let list = within("list", admin.list_instances()).await.unwrap();
    assert_eq!(list, vec![created.clone()]);
    within("create", admin.create_instance("second", ServiceKind::Kms))
        .await
        .expect("create after restart");

    // Shares do not apply: 400 unsupported, and the server stays unsealed.
    for share in ["arca-share-v1:AQI=", "garbage"] {
        let err = within("unseal", anonymous.unseal(Some(share)))
            .await
            .unwrap_err();
        assert_api_error("unseal with a share", &err, 400, "unsupported");
    }
    let resp = raw_json(
        &anonymous,
        Method::POST,
        "/v1/sys/unseal",
        r#"{"share":"arca-share-v1:AQI="}"#,
    )
    .await;
    assert_eq!(assert_error("raw unseal", &resp, 400), "unsupported");
    let status = within("status", anonymous.seal_status()).await.unwrap();
    assert!(!status.sealed);

    // Sealed by request, an empty unseal retries the HSM.
    let sealed = within("seal", admin.seal()).await.unwrap();
    assert!(sealed.sealed);
    let err = within("list", admin.list_instances()).await.unwrap_err();
    assert_api_error("list after seal", &err, 503, "sealed");
    let status = within("unseal", anonymous.unseal(None)).await.unwrap();
    assert!(!status.sealed, "{status:?}");
    within("get", admin.get_instance(&created.id))
        .await
        .unwrap();
    server.shutdown().await;
}

/// A backup of an HSM-sealed server opens with the same HSM key: restored into a new database,
/// a server there unseals itself from the token and unwraps what was wrapped before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_backup_restores_with_the_same_hsm_key() {
    use arca_keystore::{Keystore as _, UnsealInput};
    use arca_services::backup;
    let Some(token) = token() else {
        return;
    };
    let env = Env::new(KeystoreConfig::Pkcs11(token.clone()), 1024 * 1024);
    let server = env.start().await;
    let init = within("init", server.client(None).init(&InitRequest::default()))
        .await
        .unwrap();
    let admin = server.client(Some(&init.api_key));
    let kms = admin
        .create_instance("hsm-backed", ServiceKind::Kms)
        .await
        .unwrap();
    let kp = admin.kp(&kms.id);
    let key = kp
        .create_key(&arca_client::kp::NewKey::root("hsm-key"))
        .await
        .unwrap();
    let wrapped = kp.wrap(&key.id, Some(&[7u8; 32]), &[]).await.unwrap();
    let mut download = within("backup", admin.backup()).await.unwrap();
    let mut file = Vec::new();
    while let Some(chunk) = within("chunk", download.chunk()).await.unwrap() {
        file.extend_from_slice(&chunk);
    }
    server.shutdown().await;

    let reader = backup::open(&file[..]).await.unwrap();
    let keystore = arca_keystore::Pkcs11Keystore::new(token.clone());
    keystore
        .load(backup::seal_record_of(reader.header()).unwrap())
        .unwrap();
    keystore.unseal(UnsealInput::Auto).unwrap();
    let target = Env::new(KeystoreConfig::Pkcs11(token), 1024 * 1024);
    std::fs::create_dir_all(target.data_dir()).unwrap();
    let store = arca_store::SqliteStore::open(&target.data_dir().join("arca.db"))
        .await
        .unwrap();
    backup::restore(reader, &keystore, &store, &|_| {})
        .await
        .unwrap();
    store.close().await;

    let restored = target.start().await;
    let status = within("status", restored.client(None).seal_status())
        .await
        .unwrap();
    assert!(status.initialized && !status.sealed, "{status:?}");
    let out = restored
        .client(Some(&init.api_key))
        .kp(&kms.id)
        .unwrap(&key.id, &wrapped.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_slice(), &[7u8; 32]);
    restored.shutdown().await;
}
