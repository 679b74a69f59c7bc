//! The Key Protect resources beside keys, through the typed client (`arca_client::kp`) against
//! an in-process dev server: key rings and moving keys, aliases, key and instance policies,
//! import tokens and secure import through the client's helper, registrations, and KMIP
//! adapters with their client certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::ClientError;
use arca_client::kp::{
    InstancePolicyInput, KeyCreateImportAccess, KpClient, NewKey, NewKmipAdapter, RotationPolicy,
    SecureImport,
};
use common::{start_dev, status_of, within};

async fn root(kp: &KpClient, name: &str) -> String {
    within("create root", kp.create_key(&NewKey::root(name)))
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rings_and_moving_keys() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);

    let rings = kp.list_key_rings().await.unwrap();
    assert!(rings.iter().any(|r| r.id == "default"), "{rings:?}");
    let ring = kp.create_key_ring("ring-a").await.unwrap();
    assert_eq!(ring.id, "ring-a");
    assert_eq!(status_of("twice", kp.create_key_ring("ring-a").await), 409);
    let rings = kp.list_key_rings().await.unwrap();
    assert!(rings.iter().any(|r| r.id == "ring-a"), "{rings:?}");

    let id = root(&kp, "ringed").await;
    assert_eq!(
        kp.get_key_metadata(&id).await.unwrap().key_ring_id,
        "default"
    );
    let moved = kp.move_key(&id, "ring-a").await.unwrap();
    assert_eq!(moved.id, id);
    assert_eq!(moved.key_ring_id, "ring-a");
    assert_eq!(
        kp.get_key_metadata(&id).await.unwrap().key_ring_id,
        "ring-a"
    );
    assert_eq!(
        status_of("no such ring", kp.move_key(&id, "nope").await),
        404
    );
    // A ring holding a live key is not deleted, even with force.
    let code = status_of("busy ring", kp.delete_key_ring("ring-a", false).await);
    assert!((400..500).contains(&code), "{code}");
    let code = status_of("busy ring", kp.delete_key_ring("ring-a", true).await);
    assert!((400..500).contains(&code), "{code}");
    kp.move_key(&id, "default").await.unwrap();
    kp.delete_key_ring("ring-a", false).await.unwrap();
    kp.create_key_ring("ring-b").await.unwrap();
    kp.delete_key_ring("ring-b", true).await.unwrap();
    let rings = kp.list_key_rings().await.unwrap();
    assert!(
        !rings.iter().any(|r| r.id == "ring-a" || r.id == "ring-b"),
        "{rings:?}"
    );
    assert_eq!(
        status_of("default", kp.delete_key_ring("default", false).await) / 100,
        4
    );

    within("shutdown", server.shutdown()).await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_key_policies() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    let id = root(&kp, "aliased").await;

    let alias = kp.create_alias(&id, "my-alias").await.unwrap();
    assert_eq!(alias.key_id, id);
    assert_eq!(alias.alias, "my-alias");
    assert!(
        kp.get_key_metadata(&id)
            .await
            .unwrap()
            .aliases
            .contains(&"my-alias".to_owned())
    );
    let other = root(&kp, "other").await;
    assert_eq!(
        status_of("taken", kp.create_alias(&other, "my-alias").await) / 100,
        4
    );
    kp.delete_alias(&id, "my-alias").await.unwrap();
    assert!(kp.get_key_metadata(&id).await.unwrap().aliases.is_empty());
    assert_eq!(
        status_of("gone", kp.delete_alias(&id, "my-alias").await),
        404
    );

    // Policies: both shown; rotation set, then off; dual-auth delete on.
    let p = kp.get_key_policies(&id).await.unwrap();
    assert_eq!(p.id, id);
    assert!(!p.rotation.unwrap().enabled);
    assert!(!p.dual_auth_delete.unwrap().enabled);
    let set = kp
        .set_key_policies(
            &id,
            Some(RotationPolicy {
                enabled: true,
                interval_month: Some(3),
            }),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        set.rotation,
        Some(RotationPolicy {
            enabled: true,
            interval_month: Some(3)
        })
    );
    let p = kp.get_key_policies(&id).await.unwrap();
    assert_eq!(p.rotation.unwrap().interval_month, Some(3));
    let set = kp.set_key_policies(&id, None, Some(true)).await.unwrap();
    assert!(set.dual_auth_delete.unwrap().enabled);
    let both = kp
        .set_key_policies(
            &id,
            Some(RotationPolicy {
                enabled: false,
                interval_month: None,
            }),
            Some(true),
        )
        .await
        .unwrap();
    assert!(!both.rotation.unwrap().enabled);
    assert!(both.dual_auth_delete.unwrap().enabled);
    let p = kp.get_key_policies(&id).await.unwrap();
    assert!(!p.rotation.unwrap().enabled);
    assert!(p.dual_auth_delete.unwrap().enabled);
    assert!(matches!(
        kp.set_key_policies(&id, None, None).await,
        Err(ClientError::Config(_))
    ));
    assert_eq!(
        status_of(
            "bad interval",
            kp.set_key_policies(
                &id,
                Some(RotationPolicy {
                    enabled: true,
                    interval_month: Some(13)
                }),
                None
            )
            .await
        ),
        400
    );

    within("shutdown", server.shutdown()).await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_policies_one_and_several() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);

    kp.set_instance_policies(&[InstancePolicyInput::allowed_network("public-and-private")])
        .await
        .unwrap();
    let got = kp
        .get_instance_policies(Some("allowedNetwork"))
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].policy_type, "allowedNetwork");
    assert!(got[0].policy_data.enabled);
    assert_eq!(
        got[0].policy_data.attributes.as_ref().unwrap()["allowed_network"],
        "public-and-private"
    );

    let access = KeyCreateImportAccess {
        create_standard_key: false,
        ..KeyCreateImportAccess::default()
    };
    kp.set_instance_policies(&[
        InstancePolicyInput::enabled("dualAuthDelete", None),
        InstancePolicyInput::rotation(6),
        InstancePolicyInput::key_create_import_access(&access),
        InstancePolicyInput::enabled("metrics", None),
        InstancePolicyInput::allowed_ip(&["127.0.0.0/8".to_owned(), "::1/128".to_owned()]),
    ])
    .await
    .unwrap();
    let all = kp.get_instance_policies(None).await.unwrap();
    let find = |t: &str| {
        all.iter()
            .find(|p| p.policy_type == t)
            .unwrap_or_else(|| panic!("{t} missing in {all:?}"))
    };
    for t in [
        "allowedNetwork",
        "dualAuthDelete",
        "rotation",
        "keyCreateImportAccess",
        "metrics",
        "allowedIP",
    ] {
        assert!(find(t).policy_data.enabled, "{t}: {all:?}");
    }
    assert_eq!(
        find("rotation").policy_data.attributes.as_ref().unwrap()["interval_month"],
        6
    );
    assert_eq!(
        find("keyCreateImportAccess")
            .policy_data
            .attributes
            .as_ref()
            .unwrap()["create_standard_key"],
        false
    );
    // The policy is enforced: no new standard keys.
    assert_eq!(
        status_of(
            "standard refused",
            kp.create_key(&NewKey::standard("std")).await
        ) / 100,
        4
    );

    // Off again, together.
    kp.set_instance_policies(&[
        InstancePolicyInput::disabled("allowedIP"),
        InstancePolicyInput::disabled("keyCreateImportAccess"),
        InstancePolicyInput::disabled("rotation"),
        InstancePolicyInput::disabled("metrics"),
    ])
    .await
    .unwrap();
    let all = kp.get_instance_policies(None).await.unwrap();
    for p in &all {
        if ["allowedIP", "keyCreateImportAccess", "rotation", "metrics"]
            .contains(&p.policy_type.as_str())
        {
            assert!(!p.policy_data.enabled, "{p:?}");
        }
    }
    kp.create_key(&NewKey::standard("std")).await.unwrap();
    assert!(matches!(
        kp.set_instance_policies(&[]).await,
        Err(ClientError::Config(_))
    ));
    assert_eq!(
        status_of(
            "unknown type",
            kp.set_instance_policies(&[InstancePolicyInput::enabled("nope", None)])
                .await
        ),
        400
    );

    within("shutdown", server.shutdown()).await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_tokens_and_secure_import_through_the_helper() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);

    assert_eq!(status_of("no token", kp.get_import_token().await), 404);
    let token = kp.create_import_token(Some(900), Some(4)).await.unwrap();
    assert_eq!(token.expiration, 900);
    assert_eq!(token.max_allowed_retrievals, 4);
    assert_eq!(token.remaining_retrievals, 4);
    let got = kp.get_import_token().await.unwrap();
    assert!(
        got.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
        "{}",
        got.public_key_pem
    );
    assert!(!got.nonce.is_empty());
    assert_eq!(got.token.remaining_retrievals, 3);
    assert!(!got.public_key_der().unwrap().is_empty());

    // Tokens may be required for root-key imports: plaintext imports are then refused.
    kp.set_instance_policies(&[InstancePolicyInput::key_create_import_access(
        &KeyCreateImportAccess {
            enforce_token: true,
            ..KeyCreateImportAccess::default()
        },
    )])
    .await
    .unwrap();
    let material = [0x5au8; 32];
    assert_eq!(
        status_of(
            "plaintext import",
            kp.create_key(&NewKey::root("plain").import(&material))
                .await
        ) / 100,
        4
    );

    // The helper's payload and proof are accepted.
    let key = kp
        .create_key_secure(&NewKey::root("secure").description("byok"), &got, &material)
        .await
        .unwrap();
    assert!(key.imported);
    assert!(!key.extractable);
    assert_eq!(key.description.as_deref(), Some("byok"));
    let wrapped = kp.wrap(&key.id, Some(b"dek"), &[]).await.unwrap();
    assert_eq!(
        kp.unwrap(&key.id, &wrapped.ciphertext, &[])
            .await
            .unwrap()
            .data_key(),
        b"dek"
    );

    // A proof over the wrong nonce is refused.
    let mut forged = got.clone();
    forged.nonce = b"another nonce".to_vec();
    assert_eq!(
        status_of(
            "wrong nonce",
            kp.create_key_secure(&NewKey::root("forged"), &forged, &material)
                .await
        ),
        400
    );
    // Bad material sizes never leave the client.
    assert!(matches!(
        SecureImport::new(&got, &[1u8; 20]),
        Err(ClientError::Config(_))
    ));
    let built = SecureImport::new(&got, &[2u8; 16]).unwrap();
    assert_eq!(built.iv.len(), 12);
    assert_eq!(built.encrypted_nonce.len(), got.nonce.len() + 16);
    assert_eq!(built.algorithm, "RSAES_OAEP_SHA_256");

    // Secure rotation to new material (a fresh retrieval); old ciphertexts still unwrap.
    let again = kp.get_import_token().await.unwrap();
    kp.rotate_secure(&key.id, &again, &[0x33u8; 24])
        .await
        .unwrap();
    let rotated = kp.get_key_metadata(&key.id).await.unwrap();
    assert_ne!(rotated.key_version.id, key.key_version.id);
    let unwrapped = kp.unwrap(&key.id, &wrapped.ciphertext, &[]).await.unwrap();
    assert_eq!(unwrapped.data_key(), b"dek");
    assert_eq!(
        unwrapped.rewrapped_key_version.map(|v| v.id),
        Some(rotated.key_version.id)
    );

    within("shutdown", server.shutdown()).await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_and_kmip_adapters_with_certificates() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    let crk = root(&kp, "kmip-root").await;

    let all = kp.list_registrations(None).await.unwrap();
    assert_eq!(
        all.total_count,
        Some(i64::try_from(all.registrations.len()).unwrap())
    );
    let one = kp.list_registrations(Some(&crk)).await.unwrap();
    assert!(one.registrations.iter().all(|r| r.key_id == crk), "{one:?}");
    assert_eq!(
        status_of(
            "no such key",
            kp.list_registrations(Some("00000000-0000-4000-8000-000000000000"))
                .await
        ),
        404
    );

    // Adapters.
    assert!(kp.list_kmip_adapters(None).await.unwrap().is_empty());
    let adapter = kp
        .create_kmip_adapter(&NewKmipAdapter {
            name: Some("adapter-1".into()),
            description: Some("test adapter".into()),
            crk_id: crk.clone(),
            allow_expiring_key: false,
        })
        .await
        .unwrap();
    assert_eq!(adapter.name, "adapter-1");
    assert_eq!(adapter.profile, "native_1.0");
    assert_eq!(adapter.profile_data.as_ref().unwrap().crk_id, crk);
    let generated = kp
        .create_kmip_adapter(&NewKmipAdapter {
            crk_id: crk.clone(),
            ..NewKmipAdapter::default()
        })
        .await
        .unwrap();
    assert!(
        generated.name.starts_with("kmip_adapter_"),
        "{}",
        generated.name
    );
    assert_eq!(kp.get_kmip_adapter(&adapter.id).await.unwrap(), adapter);
    assert_eq!(
        kp.get_kmip_adapter("adapter-1").await.unwrap().id,
        adapter.id
    );
    assert_eq!(kp.list_kmip_adapters(None).await.unwrap().len(), 2);
    assert_eq!(kp.list_kmip_adapters(Some(&crk)).await.unwrap().len(), 2);
    let other = root(&kp, "other-root").await;
    assert!(
        kp.list_kmip_adapters(Some(&other))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        status_of(
            "missing root key",
            kp.create_kmip_adapter(&NewKmipAdapter {
                crk_id: "00000000-0000-4000-8000-000000000000".into(),
                ..NewKmipAdapter::default()
            })
            .await
        ) / 100,
        4
    );

    // Certificates: any X.509 PEM will do (the dev CA's).
    let pem = std::fs::read_to_string(&info.ca_cert).unwrap();
    let cert = kp
        .add_kmip_certificate(&adapter.id, &pem, Some("cert-1"))
        .await
        .unwrap();
    assert_eq!(cert.name, "cert-1");
    assert_eq!(cert.certificate.as_deref().map(str::trim), Some(pem.trim()));
    let listed = kp.list_kmip_certificates("adapter-1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, cert.id);
    assert!(listed[0].certificate.is_none(), "lists omit the PEM");
    let shown = kp
        .get_kmip_certificate(&adapter.id, "cert-1")
        .await
        .unwrap();
    assert_eq!(shown.id, cert.id);
    assert!(shown.certificate.is_some());
    assert_eq!(
        status_of(
            "not a certificate",
            kp.add_kmip_certificate(&adapter.id, "not a pem", None)
                .await
        ),
        400
    );
    kp.delete_kmip_certificate(&adapter.id, &cert.id)
        .await
        .unwrap();
    assert!(
        kp.list_kmip_certificates(&adapter.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        status_of("gone", kp.get_kmip_certificate(&adapter.id, &cert.id).await),
        404
    );

    kp.delete_kmip_adapter(&adapter.id).await.unwrap();
    kp.delete_kmip_adapter(&generated.name).await.unwrap();
    assert_eq!(
        status_of("gone", kp.get_kmip_adapter(&adapter.id).await),
        404
    );
    assert!(kp.list_kmip_adapters(None).await.unwrap().is_empty());

    within("shutdown", server.shutdown()).await;
    drop(dir);
}
