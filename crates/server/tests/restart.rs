//! A Shamir server comes back sealed after a restart and needs the threshold of shares again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_proto::instance::ServiceKind;
use axum::http::Method;
use common::{Env, assert_api_error, assert_error, raw_json, ready_server, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shamir_server_restarts_sealed_and_unseals_with_threshold() {
    let env = Env::shamir();
    let (server, admin, init) = ready_server(&env, 5, 3).await;
    let created = within(
        "create",
        admin.create_instance("survivor", ServiceKind::Kms),
    )
    .await
    .unwrap();
    server.shutdown().await;

    let server = env.start().await;
    let anonymous = server.client(None);
    let admin = server.client(Some(&init.api_key));

    let status = within("status", anonymous.seal_status()).await.unwrap();
    assert!(status.initialized && status.sealed, "{status:?}");
    assert_eq!(
        (
            status.keystore.as_str(),
            status.shares,
            status.threshold,
            status.progress
        ),
        ("shamir", 5, 3, 0)
    );
    let health = within("health", anonymous.health()).await.unwrap();
    assert!(health.initialized && health.sealed, "{health:?}");
    let (ready, _) = within("ready", anonymous.ready()).await.unwrap();
    assert!(!ready);

    // Data endpoints: 503 sealed, with or without the (valid) key.
    for client in [&anonymous, &admin] {
        let err = within("list", client.list_instances()).await.unwrap_err();
        assert_api_error("list while sealed", &err, 503, "sealed");
        let err = within("get", client.get_instance(&created.id))
            .await
            .unwrap_err();
        assert_api_error("get while sealed", &err, 503, "sealed");
        let resp = raw_json(
            client,
            Method::POST,
            "/v1/instances",
            r#"{"name":"x","service":"kms"}"#,
        )
        .await;
        assert_eq!(assert_error("create while sealed", &resp, 503), "sealed");
    }
    // Init is refused: the store remembers.
    let err = within("init", anonymous.init(&Default::default()))
        .await
        .unwrap_err();
    assert_api_error("init after restart", &err, 409, "already_initialized");

    // Shares other than those used the first time; two are not enough.
    let s = within("share 2", anonymous.unseal(Some(&init.shares[1])))
        .await
        .unwrap();
    assert_eq!((s.sealed, s.progress), (true, 1));
    let s = within("share 4", anonymous.unseal(Some(&init.shares[3])))
        .await
        .unwrap();
    assert_eq!((s.sealed, s.progress), (true, 2));
    let status = within("status", anonymous.seal_status()).await.unwrap();
    assert_eq!((status.sealed, status.progress), (true, 2));
    let err = within("list", admin.list_instances()).await.unwrap_err();
    assert_api_error("list with 2 of 3 shares", &err, 503, "sealed");

    let s = within("share 5", anonymous.unseal(Some(&init.shares[4])))
        .await
        .unwrap();
    assert!(!s.sealed, "{s:?}");
    let (ready, _) = within("ready", anonymous.ready()).await.unwrap();
    assert!(ready);

    // The instance and the admin key survived; the instance key still unwraps (creating more works).
    let got = within("get", admin.get_instance(&created.id))
        .await
        .unwrap();
    assert_eq!(got, created);
    let list = within("list", admin.list_instances()).await.unwrap();
    assert_eq!(list, vec![created.clone()]);
    let record = server
        .running
        .assembled()
        .store
        .get_instance(&created.id)
        .await
        .unwrap()
        .expect("instance row");
    let key = server
        .running
        .assembled()
        .keystore
        .unwrap(
            &arca_services::instances::instance_key_aad(&created.id),
            &record.wrapped_key,
        )
        .expect("the instance key unwraps after the restart");
    assert_eq!(key.len(), 32);
    within("create", admin.create_instance("after", ServiceKind::Kms))
        .await
        .unwrap();
    server.shutdown().await;
}
