//! The allowedIP and allowedNetwork instance policies, applied to Key Protect requests by the
//! client's address (the tests connect from 127.0.0.1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::{KeyFilter, KpClient};
use axum::http::Method;
use common::{start_dev, within};
use serde_json::{Value, json};

async fn set_policy(kp: &KpClient, kind: &str, data: Value) {
    let body = json!({
        "metadata": {"collectionType": "application/vnd.ibm.kms.policy+json", "collectionTotal": 1},
        "resources": [{"policy_type": kind, "policy_data": data}],
    });
    let resp = within(
        "put policy",
        kp.raw(
            Method::PUT,
            &format!("instance/policies?policy={kind}"),
            Some("application/json"),
            body.to_string().into_bytes(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 204, "{}", String::from_utf8_lossy(&resp.body));
}

async fn list_status(kp: &KpClient) -> u16 {
    match kp.list_keys(&KeyFilter::default()).await {
        Ok(_) => 200,
        Err(e) => e.status().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_policies_filter_by_client_address() {
    let (_dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    assert_eq!(list_status(&kp).await, 200);

    // Loopback is a private network.
    set_policy(
        &kp,
        "allowedNetwork",
        json!({"enabled": true, "attributes": {"allowed_network": "private-only"}}),
    )
    .await;
    assert_eq!(list_status(&kp).await, 200);

    set_policy(
        &kp,
        "allowedIP",
        json!({"enabled": true, "attributes": {"allowed_ip": ["127.0.0.0/8"]}}),
    )
    .await;
    assert_eq!(list_status(&kp).await, 200);

    // Excluding 127.0.0.1 shuts the instance for this client...
    set_policy(
        &kp,
        "allowedIP",
        json!({"enabled": true, "attributes": {"allowed_ip": ["10.0.0.0/8", "2001:db8::/32"]}}),
    )
    .await;
    assert_eq!(list_status(&kp).await, 403);
    // ...but not other instances, and the policy itself can still be corrected.
    let other = admin
        .create_instance("open", arca_proto::instance::ServiceKind::Kms)
        .await
        .unwrap();
    assert_eq!(list_status(&admin.kp(&other.id)).await, 200);
    set_policy(&kp, "allowedIP", json!({"enabled": false})).await;
    assert_eq!(list_status(&kp).await, 200);
    server.shutdown().await;
}
