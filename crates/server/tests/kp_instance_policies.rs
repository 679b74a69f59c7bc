//! Instance policies applied to keys created after them: keyCreateImportAccess, dualAuthDelete,
//! rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::KpClient;
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{start_dev, within};
use serde_json::{Value, json};

const KEY_MEDIA: &str = "application/vnd.ibm.kms.key+json";
const POLICY_MEDIA: &str = "application/vnd.ibm.kms.policy+json";

async fn call(kp: &KpClient, method: Method, path: &str, body: Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let resp = within(path, kp.raw(method, path, Some("application/json"), bytes))
        .await
        .unwrap();
    (
        resp.status,
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
    )
}

async fn set_policy(kp: &KpClient, kind: &str, data: Value) {
    let body = json!({
        "metadata": {"collectionType": POLICY_MEDIA, "collectionTotal": 1},
        "resources": [{"policy_type": kind, "policy_data": data}],
    });
    let (status, answer) = call(
        kp,
        Method::PUT,
        &format!("instance/policies?policy={kind}"),
        body,
    )
    .await;
    assert_eq!(status, 204, "{answer}");
}

async fn create(
    kp: &KpClient,
    name: &str,
    extractable: bool,
    payload: Option<&[u8]>,
) -> (u16, Value) {
    let mut item = json!({"type": KEY_MEDIA, "name": name, "extractable": extractable});
    if let Some(p) = payload {
        item["payload"] = json!(STANDARD.encode(p));
    }
    let body = json!({"metadata": {"collectionType": KEY_MEDIA, "collectionTotal": 1}, "resources": [item]});
    call(kp, Method::POST, "keys", body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_policies_govern_new_keys() {
    let (_dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);

    // Before any policy: everything allowed, no dual auth, no rotation policy.
    let (status, before) = create(&kp, "before", false, None).await;
    assert_eq!(status, 201, "{before}");
    assert_eq!(before["resources"][0]["dualAuthDelete"]["enabled"], false);

    set_policy(
        &kp,
        "keyCreateImportAccess",
        json!({"enabled": true, "attributes": {"create_root_key": false, "import_standard_key": false}}),
    )
    .await;
    assert_eq!(create(&kp, "generated-root", false, None).await.0, 403);
    assert_eq!(
        create(&kp, "imported-std", true, Some(b"material")).await.0,
        403
    );
    assert_eq!(create(&kp, "generated-std", true, None).await.0, 201);
    assert_eq!(
        create(&kp, "imported-root", false, Some(&[1u8; 32]))
            .await
            .0,
        201
    );

    // enforce_token: imports only through an import token.
    set_policy(
        &kp,
        "keyCreateImportAccess",
        json!({"enabled": true, "attributes": {"enforce_token": true}}),
    )
    .await;
    let (status, body) = create(&kp, "clear-import", false, Some(&[2u8; 32])).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("import token"), "{body}");
    assert_eq!(create(&kp, "generated-again", false, None).await.0, 201);

    // Dual authorization and rotation by default for keys created from now on.
    set_policy(&kp, "keyCreateImportAccess", json!({"enabled": false})).await;
    set_policy(&kp, "dualAuthDelete", json!({"enabled": true})).await;
    set_policy(
        &kp,
        "rotation",
        json!({"enabled": true, "attributes": {"interval_month": 3}}),
    )
    .await;
    let (status, after) = create(&kp, "after", false, None).await;
    assert_eq!(status, 201, "{after}");
    let key = &after["resources"][0];
    assert_eq!(key["dualAuthDelete"]["enabled"], true, "{key}");
    assert_eq!(key["rotation"]["enabled"], true, "{key}");
    assert_eq!(key["rotation"]["interval_month"], 3, "{key}");
    // Keys made before keep what they had.
    let id = before["resources"][0]["id"].as_str().unwrap();
    let (_, old) = call(
        &kp,
        Method::GET,
        &format!("keys/{id}/metadata"),
        Value::Null,
    )
    .await;
    assert_eq!(old["resources"][0]["dualAuthDelete"]["enabled"], false);
    // A dual-auth key cannot be deleted by one user alone.
    let new_id = key["id"].as_str().unwrap();
    let (status, _) = call(&kp, Method::DELETE, &format!("keys/{new_id}"), Value::Null).await;
    assert_eq!(status, 409);
    server.shutdown().await;
}
