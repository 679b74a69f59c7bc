//! Instances through the Resource Controller API (`/v2/resource_instances`, `/v1/reclamations`)
//! with the real client: create by plan, list with filters and pages, get by GUID or CRN,
//! rename and set a secrets instance's root key, delete -> data plane refused -> restore ->
//! every key unwraps and every secret reads as before; delete -> reclaim -> nothing left.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::NewKey;
use arca_proto::resource_controller::{CreateResourceInstance, UpdateResourceInstance};
use common::{start_dev, status_of, within};
use serde_json::{Map, Value, json};

fn create(name: &str, plan: &str, parameters: Option<Value>) -> CreateResourceInstance {
    CreateResourceInstance {
        name: name.into(),
        target: Some("local".into()),
        resource_group: Some("default".into()),
        resource_plan_id: plan.into(),
        parameters: parameters.map(|p| match p {
            Value::Object(m) => m,
            _ => panic!("parameters must be an object"),
        }),
        ..Default::default()
    }
}

fn params(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_instances_and_reclamations() {
    let (dir, server, info, admin) = start_dev().await;

    // Create by plan id and by catalog name.
    let kms = admin
        .rc_create_instance(&create("rc-kms", "arca-kms-standard", None))
        .await
        .unwrap();
    assert_eq!(kms.id, kms.crn);
    assert!(kms.crn.contains(&kms.guid), "{kms:?}");
    assert_eq!(kms.resource_id, "kms");
    assert_eq!(kms.resource_plan_id, "arca-kms-standard");
    assert_eq!(kms.state, "active");
    assert_eq!(kms.account_id, info.account_id);
    assert_eq!(kms.last_operation.kind, "create");
    let sm = admin
        .rc_create_instance(&create("rc-sm", "secrets-manager", None))
        .await
        .unwrap();
    assert_eq!(sm.resource_plan_id, "arca-secrets-manager-standard");
    assert_eq!(sm.sub_type, "secrets-manager");
    assert!(sm.parameters.is_empty());

    // Bad input: clear 400s, nothing created.
    let before = admin.rc_list_instances(&[]).await.unwrap().len();
    for (what, req) in [
        ("unknown plan", create("x", "gold", None)),
        (
            "unknown parameter",
            create("x", "kms", Some(json!({"colour": "blue"}))),
        ),
        (
            "root key at creation",
            create(
                "x",
                "secrets-manager",
                Some(json!({"root_key_crn": "crn:v1:x"})),
            ),
        ),
        ("empty name", create(" ", "kms", None)),
    ] {
        assert_eq!(status_of(what, admin.rc_create_instance(&req).await), 400);
    }
    assert_eq!(admin.rc_list_instances(&[]).await.unwrap().len(), before);

    // List: the dev server's two instances and these two; filters; pages of one.
    let all = admin.rc_list_instances(&[]).await.unwrap();
    assert_eq!(all.len(), 4);
    let only_kms = admin
        .rc_list_instances(&[("resource_id", "kms")])
        .await
        .unwrap();
    assert_eq!(only_kms.len(), 2);
    assert!(only_kms.iter().all(|i| i.resource_id == "kms"));
    let named = admin.rc_list_instances(&[("name", "rc-sm")]).await.unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].guid, sm.guid);
    let page = admin
        .rc_list_instances_page(&[("limit", "1")])
        .await
        .unwrap();
    assert_eq!(page.rows_count, 1);
    assert!(page.next_url.as_deref().unwrap().contains("start=1"));
    let paged = admin.rc_list_instances(&[("limit", "1")]).await.unwrap();
    assert_eq!(
        paged.iter().map(|i| &i.guid).collect::<Vec<_>>(),
        all.iter().map(|i| &i.guid).collect::<Vec<_>>()
    );
    assert_eq!(
        status_of("limit 0", admin.rc_list_instances(&[("limit", "0")]).await),
        400
    );

    // Get by GUID and by CRN (URL-encoded by the client); a CRN of another account is unknown.
    assert_eq!(
        admin.rc_get_instance(&kms.guid).await.unwrap().name,
        "rc-kms"
    );
    assert_eq!(
        admin.rc_get_instance(&kms.crn).await.unwrap().guid,
        kms.guid
    );
    let foreign = kms.crn.replace(&info.account_id, "someone-else");
    assert_eq!(
        status_of("foreign CRN", admin.rc_get_instance(&foreign).await),
        404
    );

    // A key and a secret under it.
    let kp = admin.kp(&kms.guid);
    let root = within("key", kp.create_key(&NewKey::root("rc-root")))
        .await
        .unwrap();
    let wrapped = kp.wrap(&root.id, None, &[]).await.unwrap();
    let dek = wrapped.plaintext.clone().unwrap();
    let crn_param = params(json!({"root_key_crn": root.crn}));
    let not_yet = UpdateResourceInstance {
        parameters: crn_param.clone(),
        ..Default::default()
    };
    assert_eq!(
        status_of(
            "root key before authorization",
            admin.rc_update_instance(&sm.guid, &not_yet).await
        ),
        403
    );
    admin
        .create_authorization(&sm.guid, &kms.guid, Some(&root.id), "Reader")
        .await
        .unwrap();
    let updated = admin
        .rc_update_instance(
            &sm.crn,
            &UpdateResourceInstance {
                name: Some("rc-sm-renamed".into()),
                parameters: crn_param,
                resource_plan_id: Some("arca-secrets-manager-standard".into()),
                allow_cleanup: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "rc-sm-renamed");
    assert_eq!(updated.parameters["root_key_crn"], root.crn.as_str());
    assert_eq!(updated.last_operation.kind, "update");
    assert_eq!(
        admin.root_key_status(&sm.guid).await.unwrap().root_key_crn,
        Some(root.crn.clone())
    );
    // A member of the account without a role on the secrets instance lists it (without its
    // root key) but cannot change it.
    let user = admin.create_principal("user", "rc-member").await.unwrap();
    let member_key = admin.create_api_key(&user.id, "rc").await.unwrap();
    let member = admin.with_api_key(Some(member_key.api_key.clone()));
    let seen = member.rc_get_instance(&sm.guid).await.unwrap();
    assert_eq!(seen.name, "rc-sm-renamed");
    assert!(seen.parameters.is_empty(), "{seen:?}");
    assert_eq!(member.rc_list_instances(&[]).await.unwrap().len(), 4);
    let rename = UpdateResourceInstance {
        name: Some("taken-over".into()),
        ..Default::default()
    };
    assert_eq!(
        status_of(
            "member rename",
            member.rc_update_instance(&sm.guid, &rename).await
        ),
        403
    );
    let other_plan = UpdateResourceInstance {
        resource_plan_id: Some("arca-kms-standard".into()),
        ..Default::default()
    };
    assert_eq!(
        status_of(
            "plan change",
            admin.rc_update_instance(&sm.guid, &other_plan).await
        ),
        400
    );
    let kms_root = UpdateResourceInstance {
        parameters: params(json!({"root_key_crn": root.crn})),
        ..Default::default()
    };
    assert_eq!(
        status_of(
            "root key on kms",
            admin.rc_update_instance(&kms.guid, &kms_root).await
        ),
        400
    );
    let secrets = admin.sm(&sm.guid);
    let secret = secrets
        .create_secret(&json!({"secret_type": "arbitrary", "name": "rc-secret",
                               "payload": "rc payload"}))
        .await
        .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();

    // Delete the secrets instance (by CRN): refused on the data plane, listed, restored whole.
    admin.rc_delete_instance(&sm.crn).await.unwrap();
    let deleted = admin.rc_get_instance(&sm.guid).await.unwrap();
    assert_eq!(deleted.state, "pending_reclamation");
    assert!(deleted.deleted_at.is_some() && deleted.scheduled_reclaim_at.is_some());
    assert_eq!(deleted.last_operation.kind, "delete");
    assert_eq!(
        status_of("refused", secrets.get_secret(&secret_id).await),
        409
    );
    assert_eq!(
        status_of(
            "rename deleted",
            admin.rc_update_instance(&sm.guid, &other_plan).await
        ),
        409
    );
    assert!(
        admin
            .rc_list_instances(&[])
            .await
            .unwrap()
            .iter()
            .all(|i| i.guid != sm.guid)
    );
    let pending = admin
        .rc_list_instances(&[("state", "pending_reclamation")])
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].guid, sm.guid);
    let recl = admin.rc_reclamations(None).await.unwrap();
    assert_eq!(recl.len(), 1);
    assert_eq!(recl[0].id, sm.guid);
    assert_eq!(recl[0].entity_crn, sm.crn);
    assert_eq!(recl[0].state, "SCHEDULED");
    assert_eq!(
        admin.rc_reclamations(Some(&kms.guid)).await.unwrap().len(),
        0
    );
    assert_eq!(admin.rc_reclamations(Some(&sm.crn)).await.unwrap().len(), 1);
    // Arca's own list sees the same.
    assert_eq!(
        admin.list_reclamations().await.unwrap()[0].instance.id,
        sm.guid
    );
    assert_eq!(
        status_of(
            "unknown action",
            admin.rc_reclamation_action(&sm.guid, "discard").await
        ),
        400
    );
    assert_eq!(
        status_of(
            "not deleted",
            admin.rc_reclamation_action(&kms.guid, "restore").await
        ),
        404
    );
    let restored = admin
        .rc_reclamation_action(&sm.guid, "restore")
        .await
        .unwrap();
    assert_eq!(restored.state, "RESTORING");
    assert_eq!(
        secrets.get_secret(&secret_id).await.unwrap()["payload"],
        "rc payload"
    );
    assert_eq!(
        admin.rc_get_instance(&sm.guid).await.unwrap().state,
        "active"
    );
    assert!(admin.rc_reclamations(None).await.unwrap().is_empty());

    // The key instance: its key deleted, the instance deleted and restored, the key restored:
    // the old ciphertext unwraps to the same key.
    let kms2 = admin
        .rc_create_instance(&create("rc-kms-2", "kms", None))
        .await
        .unwrap();
    let kp2 = admin.kp(&kms2.guid);
    let key2 = within("key", kp2.create_key(&NewKey::root("rc-root-2")))
        .await
        .unwrap();
    let wrapped2 = kp2.wrap(&key2.id, None, &[]).await.unwrap();
    assert_eq!(
        status_of("live keys", admin.rc_delete_instance(&kms2.guid).await),
        409
    );
    kp2.delete_key(&key2.id, false).await.unwrap();
    admin.rc_delete_instance(&kms2.guid).await.unwrap();
    assert_eq!(
        status_of(
            "refused",
            kp2.unwrap(&key2.id, &wrapped2.ciphertext, &[]).await
        ),
        409
    );
    admin
        .rc_reclamation_action(&kms2.guid, "restore")
        .await
        .unwrap();
    kp2.restore_key(&key2.id).await.unwrap();
    let again = kp2
        .unwrap(&key2.id, &wrapped2.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(again.plaintext, wrapped2.plaintext);
    // The secrets instance's root key still unwraps as before.
    assert_eq!(
        kp.unwrap(&root.id, &wrapped.ciphertext, &[])
            .await
            .unwrap()
            .plaintext
            .unwrap(),
        dek
    );

    // Delete and reclaim: gone for good, the old ciphertext can never be unwrapped again.
    kp2.delete_key(&key2.id, false).await.unwrap();
    admin.rc_delete_instance(&kms2.crn).await.unwrap();
    let reclaimed = admin
        .rc_reclamation_action(&kms2.guid, "reclaim")
        .await
        .unwrap();
    assert_eq!(reclaimed.state, "RECLAIMING");
    assert_eq!(
        status_of("gone", admin.rc_get_instance(&kms2.guid).await),
        404
    );
    assert_eq!(
        status_of(
            "unwrap after reclaim",
            kp2.unwrap(&key2.id, &wrapped2.ciphertext, &[]).await
        ),
        404
    );
    assert_eq!(
        status_of(
            "reclaim twice",
            admin.rc_reclamation_action(&kms2.guid, "reclaim").await
        ),
        404
    );
    assert!(
        admin
            .rc_list_instances(&[("state", "pending_reclamation")])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(admin.rc_reclamations(None).await.unwrap().is_empty());

    // The secrets instance too.
    admin.rc_delete_instance(&sm.guid).await.unwrap();
    admin
        .rc_reclamation_action(&sm.guid, "reclaim")
        .await
        .unwrap();
    assert_eq!(status_of("gone", secrets.get_secret(&secret_id).await), 404);
    assert_eq!(admin.rc_list_instances(&[]).await.unwrap().len(), 3);

    // No byte of the reclaimed instances is left in the database files, outside the audit
    // trail (the account's record, kept).
    server.shutdown().await;
    let data = dir.path().join("dev");
    let copy = common::without_audit_trail(&data).await;
    let mut scanned = 0;
    for file in ["arca.db", "arca.db-wal"] {
        if let Ok(bytes) = std::fs::read(copy.path().join(file)) {
            scanned += 1;
            for needle in [
                kms2.guid.as_bytes(),
                key2.id.as_bytes(),
                sm.guid.as_bytes(),
                b"rc payload",
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
