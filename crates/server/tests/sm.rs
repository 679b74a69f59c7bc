//! The Secrets Manager v2 API through the client (`arca_client::sm`) against an in-process dev
//! server: groups, secrets of every stored type, versions and their data, locks and the 412s they
//! cause, listing filters and paging, configurations, notifications, tenant isolation, and no
//! secret data in clear in the database files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::sm::SmClient;
use axum::http::Method;
use common::{message_of, start_dev, status_of, within};
use serde_json::{Value, json};

async fn arbitrary(sm: &SmClient, name: &str, payload: &str) -> Value {
    within(
        "create arbitrary",
        sm.create_secret(&json!({
            "secret_type": "arbitrary",
            "name": name,
            "payload": payload,
            "labels": ["dev", "us-south"],
            "custom_metadata": {"k": "v"},
            "version_custom_metadata": {"vk": "vv"},
        })),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_of_every_stored_type_round_trip() {
    let (dir, server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);
    assert!(
        info.secrets_manager_url
            .ends_with(&format!("/sm/{}", info.secrets_manager_instance_id)),
        "{}",
        info.secrets_manager_url
    );

    let a = arbitrary(&sm, "arb-1", "the arbitrary payload").await;
    assert_eq!(a["payload"], "the arbitrary payload");
    assert_eq!(a["secret_type"], "arbitrary");
    assert_eq!(a["secret_group_id"], "default");
    assert_eq!(a["state"], 1);
    assert_eq!(a["state_description"], "active");
    assert_eq!(a["versions_total"], 1);
    assert_eq!(a["downloaded"], false);
    assert!(
        a["crn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":secret:{}", a["id"].as_str().unwrap()))
    );
    let id = a["id"].as_str().unwrap().to_owned();
    let got = sm.get_secret(&id).await.unwrap();
    assert_eq!(got["payload"], "the arbitrary payload");
    assert_eq!(got["downloaded"], true);
    let meta = sm.secret_metadata(&id).await.unwrap();
    assert!(meta.get("payload").is_none(), "metadata carries no data");
    assert_eq!(meta["labels"], json!(["dev", "us-south"]));

    let kv = sm
        .create_secret(&json!({
            "secret_type": "kv", "name": "kv-1",
            "data": {"user": "x", "nested": {"n": 1}},
        }))
        .await
        .unwrap();
    assert_eq!(kv["data"]["nested"]["n"], 1);
    let kv_id = kv["id"].as_str().unwrap();
    assert_eq!(sm.get_secret(kv_id).await.unwrap()["data"]["user"], "x");

    let up = sm
        .create_secret(&json!({
            "secret_type": "username_password", "name": "up-1", "username": "alice",
            "password_generation_policy": {"length": 20, "include_symbols": false},
        }))
        .await
        .unwrap();
    let password = up["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(up["username"], "alice");
    assert_eq!(up["rotation"]["auto_rotate"], false);
    let up_id = up["id"].as_str().unwrap().to_owned();
    // A new version without a password generates one, keeps the username.
    let v2 = sm.create_version(&up_id, &json!({})).await.unwrap();
    assert_eq!(v2["username"], "alice");
    assert_ne!(v2["password"], password);
    assert_eq!(v2["alias"], "current");
    let prev = sm.get_version(&up_id, "previous").await.unwrap();
    assert_eq!(prev["password"], password.as_str());
    assert_eq!(
        status_of(
            "username changes",
            sm.create_version(&up_id, &json!({"username": "bob"})).await
        ),
        400
    );

    // By group name, type and name.
    let by_name = sm
        .get_secret_by_name("default", "kv", "kv-1")
        .await
        .unwrap();
    assert_eq!(by_name["id"], kv["id"]);
    assert_eq!(
        status_of(
            "wrong type",
            sm.get_secret_by_name("default", "arbitrary", "kv-1").await
        ),
        404
    );

    // Unsupported and unknown types, bad bodies.
    let err = sm
        .create_secret(&json!({"secret_type": "iam_credentials", "name": "iam-1"}))
        .await;
    let msg = message_of(err);
    assert!(msg.contains("400") && msg.contains("arbitrary"), "{msg}");
    assert_eq!(
        status_of(
            "payload missing",
            sm.create_secret(&json!({"secret_type": "arbitrary", "name": "nope"}))
                .await
        ),
        400
    );
    assert_eq!(
        status_of(
            "bad name",
            sm.create_secret(&json!({"secret_type": "arbitrary", "name": "-x", "payload": "p"}))
                .await
        ),
        400
    );
    assert_eq!(
        status_of(
            "duplicate",
            sm.create_secret(&json!({"secret_type": "arbitrary", "name": "arb-1", "payload": "p"}))
                .await
        ),
        409
    );
    let raw = within(
        "malformed",
        admin.raw(
            Method::POST,
            &format!("/sm/{}/api/v2/secrets", info.secrets_manager_instance_id),
            Some("application/json"),
            b"{not json".to_vec(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 400);
    let body: Value = serde_json::from_slice(&raw.body).unwrap();
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    assert_eq!(
        raw.headers["content-type"].to_str().unwrap(),
        "application/json"
    );

    // No secret data in clear in the database files.
    server.shutdown().await;
    assert!(dir.path().join("dev").join("arca.db").exists());
    for file in ["arca.db", "arca.db-wal"] {
        let path = dir.path().join("dev").join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            for needle in [
                "the arbitrary payload".as_bytes(),
                password.as_bytes(),
                b"nested",
            ] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "secret data in clear in {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_locks_and_deletion() {
    let (_dir, _server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);
    let s = arbitrary(&sm, "locked-1", "v1 data").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let v1 = sm.list_versions(&id).await.unwrap()["versions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Lock the current version; a new version is still allowed (the lock moves to previous).
    let locked = sm
        .create_locks(
            &id,
            None,
            &json!([{"name": "lock-a", "description": "d", "attributes": {"x": 1}}]),
            Some("remove_previous"),
        )
        .await
        .unwrap();
    assert_eq!(locked["versions"][0]["version_id"], v1.as_str());
    assert_eq!(locked["versions"][0]["locks"], json!(["lock-a"]));
    assert_eq!(sm.secret_metadata(&id).await.unwrap()["locks_total"], 1);
    assert_eq!(status_of("delete locked", sm.delete_secret(&id).await), 412);
    let v2 = sm
        .create_version(&id, &json!({"payload": "v2 data"}))
        .await
        .unwrap();
    assert_eq!(v2["payload"], "v2 data");
    // v1 is previous and locked: rotating again would destroy its data, refused.
    let err = sm.create_version(&id, &json!({"payload": "v3 data"})).await;
    assert_eq!(status_of("rotate over a locked previous", err), 412);
    assert_eq!(
        sm.get_version(&id, &v1).await.unwrap()["payload"],
        "v1 data"
    );
    let versions = sm.list_versions(&id).await.unwrap();
    assert_eq!(versions["total_count"], 2);
    assert_eq!(versions["versions"][0]["alias"], "current");
    assert_eq!(versions["versions"][1]["alias"], "previous");
    let locks = sm.list_locks(&id).await.unwrap();
    assert_eq!(locks["locks"][0]["secret_version_alias"], "previous");
    let all = sm.list_instance_locks().await.unwrap();
    assert_eq!(all["total_count"], 1);

    // Unlock; a third version destroys v1's data (metadata kept).
    sm.delete_locks(&id, None, Some("lock-a")).await.unwrap();
    sm.create_version(&id, &json!({"payload": "v3 data"}))
        .await
        .unwrap();
    let versions = sm.list_versions(&id).await.unwrap();
    assert_eq!(versions["total_count"], 3);
    assert_eq!(versions["versions"][2]["payload_available"], false);
    assert_eq!(
        status_of("destroyed data", sm.get_version(&id, &v1).await),
        409
    );
    assert_eq!(
        sm.get_version(&id, "previous").await.unwrap()["payload"],
        "v2 data"
    );
    assert_eq!(sm.secret_metadata(&id).await.unwrap()["versions_total"], 3);

    // Version locks by alias; delete works once every lock is gone.
    sm.create_locks(&id, Some("previous"), &json!([{"name": "lock-b"}]), None)
        .await
        .unwrap();
    assert_eq!(status_of("delete locked", sm.delete_secret(&id).await), 412);
    sm.delete_locks(&id, Some("previous"), None).await.unwrap();
    sm.delete_secret(&id).await.unwrap();
    assert_eq!(status_of("gone", sm.get_secret(&id).await), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_groups_configurations_and_isolation() {
    let (_dir, _server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);
    let group = sm.create_group("team-a", Some("A")).await.unwrap();
    let gid = group["id"].as_str().unwrap().to_owned();
    assert_eq!(
        status_of("dup group", sm.create_group("team-a", None).await),
        409
    );
    let groups = sm.list_groups().await.unwrap();
    assert_eq!(groups["secret_groups"][0]["id"], "default");
    assert_eq!(groups["total_count"], 2);
    for i in 0..5 {
        sm.create_secret(&json!({
            "secret_type": if i % 2 == 0 { "arbitrary" } else { "kv" },
            "name": format!("list-{i}"),
            "secret_group_id": if i < 2 { gid.as_str() } else { "default" },
            "labels": if i == 4 { json!(["xx", "yy"]) } else { json!(["xx"]) },
            "payload": "p",
            "data": {"a": 1},
        }))
        .await
        .unwrap();
    }
    assert_eq!(
        status_of("group with secrets", sm.delete_group(&gid).await),
        409
    );
    let all = sm.all_secrets(&[("limit", "2")]).await.unwrap();
    assert_eq!(all.len(), 5);
    let page = sm
        .list_secrets(&[("limit", "2"), ("offset", "4")])
        .await
        .unwrap();
    assert!(
        page.get("next").is_none(),
        "no next on the last page: {page}"
    );
    assert_eq!(page["total_count"], 5);
    let filtered = sm
        .list_secrets(&[(
            "groups",
            &format!("{gid},cac40995-c37a-4dcb-9506-472869077634"),
        )])
        .await
        .unwrap();
    assert_eq!(filtered["total_count"], 2);
    let typed = sm.list_secrets(&[("secret_types", "kv")]).await.unwrap();
    assert_eq!(typed["total_count"], 2);
    let labeled = sm
        .list_secrets(&[("match_all_labels", "xx,yy")])
        .await
        .unwrap();
    assert_eq!(labeled["total_count"], 1);
    let sorted = sm
        .list_secrets(&[("sort", "-name"), ("search", "list")])
        .await
        .unwrap();
    assert_eq!(sorted["secrets"][0]["name"], "list-4");
    assert_eq!(
        status_of("bad sort", sm.list_secrets(&[("sort", "color")]).await),
        400
    );

    // Configurations: credentials sealed, shown on get, left out of listings.
    let c = sm
        .create_config(&json!({
            "config_type": "public_cert_configuration_dns_cloud_internet_services",
            "name": "cis-1",
            "cloud_internet_services_apikey": "the-cis-api-key",
            "cloud_internet_services_crn": "crn:v1:bluemix:public:internet-svcs:global:a/1:2::",
        }))
        .await
        .unwrap();
    assert_eq!(c["secret_type"], "public_cert");
    let listed = sm.list_configs().await.unwrap();
    assert_eq!(listed["total_count"], 1);
    assert!(
        listed["configurations"][0]
            .get("cloud_internet_services_apikey")
            .is_none()
    );
    assert_eq!(
        sm.get_config("cis-1").await.unwrap()["cloud_internet_services_apikey"],
        "the-cis-api-key"
    );
    let msg = message_of(
        sm.create_config(&json!({
            "config_type": "public_cert_configuration_dns_cloud_internet_services",
            "name": "cis-1",
            "cloud_internet_services_crn": "crn:x",
        }))
        .await,
    );
    assert!(msg.contains("already exists"), "{msg}");
    sm.delete_config("cis-1").await.unwrap();

    // Another instance's secrets are not found there.
    let other = admin
        .create_instance("sm-2", arca_proto::instance::ServiceKind::SecretsManager)
        .await
        .unwrap();
    let sm2 = admin.sm(&other.id);
    let s = arbitrary(&sm, "mine", "p").await;
    let sid = s["id"].as_str().unwrap();
    assert_eq!(status_of("other instance", sm2.get_secret(sid).await), 404);
    assert_eq!(
        status_of(
            "kms instance",
            admin.sm(&info.kms_instance_id).list_groups().await
        ),
        404
    );
    // Without credentials: 401.
    let anon = admin
        .with_api_key(None)
        .sm(&info.secrets_manager_instance_id);
    assert_eq!(status_of("anonymous", anon.list_groups().await), 401);
}
