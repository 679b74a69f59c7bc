//! IAM: principals, API keys and per-instance roles with Key Protect's permissions, through
//! the real client against a dev server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::{KeyFilter, NewKey};
use arca_client::{Client, ClientError};
use arca_proto::instance::ServiceKind;
use arca_services::{Principal, ServiceError};
use common::{assert_api_error, raw_json, start_dev};

fn status(err: &ClientError) -> u16 {
    err.status()
        .unwrap_or_else(|| panic!("no status in {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_a_principal_may_do() {
    let (_dir, server, info, admin) = start_dev().await;
    let ca = std::fs::read(&info.ca_cert).unwrap();
    let instance = info.kms_instance_id.clone();
    let admin_kp = admin.kp(&instance);
    let root = admin_kp
        .create_key(&NewKey::root("shared-root"))
        .await
        .unwrap()
        .id;
    let standard = admin_kp
        .create_key(&NewKey::standard("shared-std").import(b"standard-material"))
        .await
        .unwrap()
        .id;

    // A service ID with an API key, and no role yet.
    let app = admin.create_principal("service_id", "app").await.unwrap();
    assert_eq!(app.kind, "service_id");
    assert!(!app.is_admin);
    let key = admin.create_api_key(&app.id, "ci").await.unwrap();
    assert_eq!(admin.list_api_keys(&app.id).await.unwrap().len(), 1);
    let client = Client::new(&info.url, Some(&ca), Some(key.api_key.clone())).unwrap();
    let kp = client.kp(&instance);
    assert_eq!(
        status(&kp.list_keys(&KeyFilter::default()).await.unwrap_err()),
        403
    );
    // Not an administrator: no IAM administration, no instance creation.
    assert_eq!(status(&client.list_principals().await.unwrap_err()), 403);
    assert_eq!(
        status(
            &client
                .create_instance("x", ServiceKind::Kms)
                .await
                .unwrap_err()
        ),
        403
    );

    // Reader: list, metadata, wrap and unwrap; no material, no create, no delete.
    let reader = admin
        .create_grant(&app.id, &instance, "Reader")
        .await
        .unwrap();
    assert_eq!(kp.list_keys(&KeyFilter::default()).await.unwrap().len(), 2);
    let wrapped = kp.wrap(&root, Some(b"dek"), &[]).await.unwrap();
    assert_eq!(
        kp.unwrap(&root, &wrapped.ciphertext, &[])
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .as_slice(),
        b"dek"
    );
    assert!(kp.get_key(&standard).await.unwrap().payload.is_none());
    assert_eq!(
        status(&kp.create_key(&NewKey::root("mine")).await.unwrap_err()),
        403
    );
    assert_eq!(status(&kp.delete_key(&root, false).await.unwrap_err()), 403);
    assert_eq!(status(&kp.rotate(&root, None).await.unwrap_err()), 403);
    assert_eq!(status(&kp.disable(&root).await.unwrap_err()), 403);

    // ReaderPlus: the standard key's material.
    admin
        .create_grant(&app.id, &instance, "ReaderPlus")
        .await
        .unwrap();
    assert_eq!(
        kp.get_key(&standard)
            .await
            .unwrap()
            .payload
            .unwrap()
            .as_slice(),
        b"standard-material"
    );

    // Writer: create and rotate, still no delete.
    admin
        .create_grant(&app.id, &instance, "Writer")
        .await
        .unwrap();
    let mine = kp.create_key(&NewKey::root("mine")).await.unwrap().id;
    kp.rotate(&mine, None).await.unwrap();
    assert_eq!(status(&kp.delete_key(&mine, false).await.unwrap_err()), 403);

    // Manager: delete. Revoking it takes effect at once.
    let manager = admin
        .create_grant(&app.id, &instance, "Manager")
        .await
        .unwrap();
    kp.delete_key(&mine, false).await.unwrap();
    admin.delete_grant(&manager.id).await.unwrap();
    assert_eq!(status(&kp.restore_key(&mine).await.unwrap_err()), 403);
    admin.delete_grant(&reader.id).await.unwrap();
    assert_eq!(admin.list_grants().await.unwrap().len(), 2);

    // Roles are per instance: another instance of the account stays closed.
    let other = admin
        .create_instance("other", ServiceKind::Kms)
        .await
        .unwrap();
    assert_eq!(
        status(
            &client
                .kp(&other.id)
                .list_keys(&KeyFilter::default())
                .await
                .unwrap_err()
        ),
        403
    );

    // Deleting the API key: it no longer authenticates (token endpoint nor directly).
    admin.delete_api_key(&key.key.id).await.unwrap();
    assert_eq!(status(&client.token(&key.api_key).await.unwrap_err()), 401);
    assert_eq!(status(&client.list_instances().await.unwrap_err()), 401);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_administration_refuses_bad_input() {
    let (_dir, server, info, admin) = start_dev().await;
    for (kind, name) in [("robot", "x"), ("user", ""), ("user", &"n".repeat(101))] {
        assert_eq!(
            status(&admin.create_principal(kind, name).await.unwrap_err()),
            400
        );
    }
    let user = admin.create_principal("user", "alice").await.unwrap();
    assert!(user.id.starts_with("user-"));
    let instance = info.kms_instance_id.clone();
    assert_eq!(
        status(
            &admin
                .create_grant(&user.id, &instance, "Owner")
                .await
                .unwrap_err()
        ),
        400
    );
    assert_eq!(
        status(
            &admin
                .create_grant("user-missing", &instance, "Reader")
                .await
                .unwrap_err()
        ),
        404
    );
    assert_eq!(
        status(
            &admin
                .create_grant(&user.id, "5d649fa5-42f2-4697-acea-d99bdb13c9ab", "Reader")
                .await
                .unwrap_err()
        ),
        404
    );
    admin
        .create_grant(&user.id, &instance, "reader")
        .await
        .unwrap();
    assert_eq!(
        status(
            &admin
                .create_grant(&user.id, &instance, "Reader")
                .await
                .unwrap_err()
        ),
        409
    );
    assert_eq!(
        status(&admin.create_api_key("user-missing", "k").await.unwrap_err()),
        404
    );
    assert_eq!(
        status(&admin.delete_api_key("ApiKey-missing").await.unwrap_err()),
        404
    );
    assert_eq!(
        status(&admin.delete_grant("grant-missing").await.unwrap_err()),
        404
    );
    let principals = admin.list_principals().await.unwrap();
    assert_eq!(principals.len(), 2, "the dev admin and alice");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_to_service_authorizations_through_the_api() {
    let (_dir, server, info, admin) = start_dev().await;
    let ca = std::fs::read(&info.ca_cert).unwrap();
    let kms = info.kms_instance_id.clone();
    let admin_kp = admin.kp(&kms);
    let key_a = admin_kp
        .create_key(&NewKey::root("crk-a"))
        .await
        .unwrap()
        .id;
    let key_b = admin_kp
        .create_key(&NewKey::root("crk-b"))
        .await
        .unwrap()
        .id;
    let secrets = admin
        .create_instance("secrets", ServiceKind::SecretsManager)
        .await
        .unwrap();

    // Create (201, through the client), list, and the wire shape.
    let on_a = admin
        .create_authorization(&secrets.id, &kms, Some(&key_a), "Reader")
        .await
        .unwrap();
    assert!(on_a.id.starts_with("authorization-"), "{on_a:?}");
    assert_eq!(on_a.source_service_name, "secrets-manager");
    assert_eq!(on_a.source_service_instance_id, secrets.id);
    assert_eq!(on_a.target_service_name, "kms");
    assert_eq!(on_a.target_service_instance_id, kms);
    assert_eq!(on_a.target_key_id.as_deref(), Some(key_a.as_str()));
    assert_eq!(on_a.role, "Reader");
    let all = admin
        .create_authorization(&secrets.id, &kms, None, "Writer")
        .await
        .unwrap();
    assert_eq!(all.target_key_id, None);
    assert_eq!(
        admin.list_authorizations().await.unwrap(),
        vec![on_a.clone(), all.clone()]
    );
    let listed = raw_json(
        &admin,
        axum::http::Method::GET,
        "/v1/iam/authorizations",
        "",
    )
    .await;
    assert_eq!(listed.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(
        body["authorizations"][1]["target_key_id"],
        serde_json::Value::Null
    );

    // What the secrets service will do, in-process, as its instance: wrap with A, register
    // itself on A; the registration is visible to the key's owner through the API.
    let arca = &server.assembled().arca;
    let sm = Principal::for_service_instance(
        &info.account_id,
        arca_services::ServiceKind::SecretsManager,
        &secrets.id,
    );
    arca.keys.wrap(&sm, &kms, &key_b, None, &[]).await.unwrap();
    let crn = format!(
        "crn:v1:bluemix:public:secrets-manager:local:a/{}:{}:secret:s1",
        info.account_id, secrets.id
    );
    arca.registrations
        .register(&sm, &kms, &key_a, &crn, false, None)
        .await
        .unwrap();
    let regs = admin_kp.list_registrations(Some(&key_a)).await.unwrap();
    assert_eq!(regs.registrations.len(), 1);
    assert_eq!(
        regs.registrations[0].created_by,
        format!("secrets-manager/{}", secrets.id)
    );

    // Delete (204): the all-keys authorization stops at once; A keeps its own.
    admin.delete_authorization(&all.id).await.unwrap();
    assert!(matches!(
        arca.keys.wrap(&sm, &kms, &key_b, None, &[]).await,
        Err(ServiceError::Forbidden(_))
    ));
    arca.keys.wrap(&sm, &kms, &key_a, None, &[]).await.unwrap();
    assert_eq!(
        admin.list_authorizations().await.unwrap(),
        vec![on_a.clone()]
    );
    assert_api_error(
        "delete twice",
        &admin.delete_authorization(&all.id).await.unwrap_err(),
        404,
        "not_found",
    );

    // Validation.
    let missing = "5d649fa5-42f2-4697-acea-d99bdb13c9ab";
    assert_api_error(
        "unknown source",
        &admin
            .create_authorization(missing, &kms, None, "Reader")
            .await
            .unwrap_err(),
        404,
        "not_found",
    );
    assert_api_error(
        "unknown target",
        &admin
            .create_authorization(&secrets.id, missing, None, "Reader")
            .await
            .unwrap_err(),
        404,
        "not_found",
    );
    assert_api_error(
        "unknown key",
        &admin
            .create_authorization(&secrets.id, &kms, Some(missing), "Reader")
            .await
            .unwrap_err(),
        404,
        "not_found",
    );
    assert_api_error(
        "target is not a key-service instance",
        &admin
            .create_authorization(&kms, &secrets.id, None, "Reader")
            .await
            .unwrap_err(),
        400,
        "invalid_request",
    );
    for role in ["Owner", "KeyPurge"] {
        assert_api_error(
            role,
            &admin
                .create_authorization(&secrets.id, &kms, None, role)
                .await
                .unwrap_err(),
            400,
            "invalid_request",
        );
    }
    assert_api_error(
        "twice",
        &admin
            .create_authorization(&secrets.id, &kms, Some(&key_a), "Reader")
            .await
            .unwrap_err(),
        409,
        "conflict",
    );
    let unknown_field = raw_json(
        &admin,
        axum::http::Method::POST,
        "/v1/iam/authorizations",
        format!(
            r#"{{"source_service_instance_id":"{}","target_service_instance_id":"{kms}","role":"Reader","scope":"all"}}"#,
            secrets.id
        ),
    )
    .await;
    common::assert_error("unknown field", &unknown_field, 422);

    // Administrators only: a service ID with a Manager role on the instance still may not.
    let app = admin.create_principal("service_id", "app").await.unwrap();
    admin.create_grant(&app.id, &kms, "Manager").await.unwrap();
    let key = admin.create_api_key(&app.id, "ci").await.unwrap();
    let client = Client::new(&info.url, Some(&ca), Some(key.api_key.clone())).unwrap();
    for err in [
        client
            .create_authorization(&secrets.id, &kms, None, "Reader")
            .await
            .unwrap_err(),
        client.list_authorizations().await.unwrap_err(),
        client.delete_authorization(&on_a.id).await.unwrap_err(),
    ] {
        assert_api_error("non-admin", &err, 403, "forbidden");
    }
    server.shutdown().await;
}
