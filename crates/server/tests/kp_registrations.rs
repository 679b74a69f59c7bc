//! Registrations: consuming services record the resources a key protects; deletion honours them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::{KpClient, NewKey};
use axum::http::Method;
use common::{start_dev, within};
use serde_json::{Value, json};

const CRN_A: &str = "crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst-1:secret:aaa";
const CRN_B: &str = "crn:v1:bluemix:public:cloud-object-storage:global:a/acct:inst-2:bucket:bbb";

/// Percent-encodes a CRN as one path segment (`/` and `:` included).
fn seg(crn: &str) -> String {
    crn.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_recorded_listed_and_block_deletion() {
    let (_dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    let k1 = kp.create_key(&NewKey::root("protects-a")).await.unwrap().id;
    let k2 = kp.create_key(&NewKey::root("protects-b")).await.unwrap().id;

    let (status, body) = call(
        &kp,
        Method::POST,
        &format!("keys/{k1}/registrations/{}", seg(CRN_A)),
        json!({"description": "secret A"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["resources"][0]["resourceCrn"], CRN_A);
    assert_eq!(body["resources"][0]["preventKeyDeletion"], false);
    let (status, _) = call(
        &kp,
        Method::POST,
        &format!("keys/{k2}/registrations/{}", seg(CRN_B)),
        json!({"preventKeyDeletion": true}),
    )
    .await;
    assert_eq!(status, 201);
    // Bad CRN; unknown key.
    assert_eq!(
        call(
            &kp,
            Method::POST,
            &format!("keys/{k1}/registrations/not-a-crn"),
            Value::Null
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(
            &kp,
            Method::POST,
            &format!(
                "keys/5d649fa5-42f2-4697-acea-d99bdb13c9ab/registrations/{}",
                seg(CRN_A)
            ),
            Value::Null
        )
        .await
        .0,
        404
    );

    // Listings, with totals and filters.
    let (status, per_key) = call(
        &kp,
        Method::GET,
        &format!("keys/{k1}/registrations?totalCount=true"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(per_key["metadata"]["totalCount"], 1);
    assert_eq!(per_key["resources"][0]["keyId"], k1.as_str());
    let (_, all) = call(&kp, Method::GET, "keys/registrations", Value::Null).await;
    assert_eq!(all["resources"].as_array().unwrap().len(), 2);
    let (_, prevented) = call(
        &kp,
        Method::GET,
        "keys/registrations?preventKeyDeletion=true",
        Value::Null,
    )
    .await;
    assert_eq!(prevented["resources"].as_array().unwrap().len(), 1);
    let query = seg("crn:v1:bluemix:public:secrets-manager:us-south:a/acct:inst-1:*");
    let (_, matched) = call(
        &kp,
        Method::GET,
        &format!("keys/registrations?urlEncodedResourceCRNQuery={query}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        matched["resources"].as_array().unwrap().len(),
        1,
        "{matched}"
    );
    let broad = seg("crn:v1:*:public:secrets-manager:us-south:a/acct:inst-1:*");
    assert_eq!(
        call(
            &kp,
            Method::GET,
            &format!("keys/registrations?urlEncodedResourceCRNQuery={broad}"),
            Value::Null
        )
        .await
        .0,
        400
    );

    // Deletion: refused while registered, forced removes them; never with preventKeyDeletion.
    let (status, body) = call(&kp, Method::DELETE, &format!("keys/{k1}"), Value::Null).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("protecting"), "{body}");
    assert_eq!(
        call(
            &kp,
            Method::DELETE,
            &format!("keys/{k1}?force=true"),
            Value::Null
        )
        .await
        .0,
        204
    );
    let (_, after) = call(&kp, Method::GET, "keys/registrations", Value::Null).await;
    assert_eq!(after["resources"].as_array().unwrap().len(), 1);
    assert_eq!(
        call(
            &kp,
            Method::DELETE,
            &format!("keys/{k2}?force=true"),
            Value::Null
        )
        .await
        .0,
        409
    );
    // A deleted key takes no registrations; deregistering makes k2 deletable.
    assert_eq!(
        call(
            &kp,
            Method::POST,
            &format!("keys/{k1}/registrations/{}", seg(CRN_A)),
            Value::Null
        )
        .await
        .0,
        409
    );
    assert_eq!(
        call(
            &kp,
            Method::DELETE,
            &format!("keys/{k2}/registrations/{}", seg(CRN_B)),
            Value::Null
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &kp,
            Method::DELETE,
            &format!("keys/{k2}/registrations/{}", seg(CRN_B)),
            Value::Null
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&kp, Method::DELETE, &format!("keys/{k2}"), Value::Null)
            .await
            .0,
        204
    );
    server.shutdown().await;
}
