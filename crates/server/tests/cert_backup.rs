//! Certificate backup across instances through the real client: every certificate of one
//! secrets instance (imported, and private ones issued by its CA, in two groups) exported into a
//! passphrase-sealed bundle and imported into another instance, byte for byte; importing again
//! changes nothing, a newer certificate becomes a new version, a wrong passphrase or a changed
//! byte opens nothing, and an expired certificate is reported rather than imported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arca_client::cert_bundle::{BundleError, CertificateBundle};
use arca_client::sm::SmClient;
use arca_pki::{CaParams, CaSigner, KeyType, LeafRequest, Template};
use arca_proto::instance::ServiceKind;
use common::{start_dev, within};
use serde_json::{Value, json};
use time::OffsetDateTime;

const PASSPHRASE: &str = "correct horse battery staple";

/// The dev server runs on the system clock, so certificates made here for import must too.
#[allow(clippy::disallowed_methods)]
fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn text(v: &Value, field: &str) -> Option<String> {
    v[field].as_str().map(str::to_owned)
}

/// Every certificate secret of an instance by `group/name`: (certificate, chain, private key).
async fn certificates(sm: &SmClient) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
    let groups = sm.list_groups().await.unwrap();
    let mut out = BTreeMap::new();
    for meta in sm
        .all_secrets(&[("secret_types", "imported_cert,private_cert")])
        .await
        .unwrap()
    {
        let secret = sm.get_secret(meta["id"].as_str().unwrap()).await.unwrap();
        let group = groups["secret_groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == secret["secret_group_id"])
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .unwrap();
        let chain = text(&secret, "intermediate").or_else(|| {
            secret["ca_chain"].as_array().map(|a| {
                a.iter()
                    .map(|p| format!("{}\n", p.as_str().unwrap().trim_end()))
                    .collect()
            })
        });
        out.insert(
            format!("{group}/{}", secret["name"].as_str().unwrap()),
            (
                text(&secret, "certificate").unwrap(),
                chain,
                text(&secret, "private_key"),
            ),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_round_trip_between_instances() {
    let (_dir, _server, info, admin) = start_dev().await;
    let source = admin.sm(&info.secrets_manager_instance_id);
    let target_instance = admin
        .create_instance("backup target", ServiceKind::SecretsManager)
        .await
        .unwrap();
    let target = admin.sm(&target_instance.id);

    // Source: a private CA issuing two certificates, two imported certificates (one in a group
    // of its own, one without a private key), and a secret that is not a certificate.
    for config in [
        json!({"config_type": "private_cert_configuration_root_ca", "name": "root",
               "max_ttl": "8760h", "common_name": "Backup Root"}),
        json!({"config_type": "private_cert_configuration_template", "name": "web",
               "certificate_authority": "root", "allowed_domains": ["example.com"],
               "allow_subdomains": true}),
    ] {
        within("config", source.create_config(&config))
            .await
            .unwrap();
    }
    for name in ["web-1", "web-2"] {
        within(
            "private cert",
            source.create_secret(&json!({
                "secret_type": "private_cert", "name": name, "certificate_template": "web",
                "common_name": format!("{name}.example.com"), "ttl": "720h",
            })),
        )
        .await
        .unwrap();
    }
    let now = wall_now();
    let mut params = CaParams::new("Outside CA", Duration::from_secs(90 * 86_400));
    params.key_type = KeyType::Ec;
    params.key_bits = 256;
    let outside = arca_pki::generate_root(&params, now).unwrap();
    let signer = CaSigner::from_pem(&outside.certificate_pem, &outside.private_key_pem).unwrap();
    let template = Template {
        allowed_domains: vec!["example.org".into()],
        allow_subdomains: true,
        key_type: KeyType::Ec,
        key_bits: 256,
        ..Template::default()
    };
    let leaf =
        arca_pki::issue(&signer, &template, &LeafRequest::new("a.example.org"), now).unwrap();
    let group = source.create_group("edge", None).await.unwrap();
    source
        .create_secret(&json!({
            "secret_type": "imported_cert", "name": "edge-cert",
            "secret_group_id": group["id"], "labels": ["edge", "prod"],
            "description": "the edge certificate",
            "certificate": leaf.certificate_pem, "intermediate": outside.certificate_pem,
            "private_key": leaf.private_key_pem.as_ref().unwrap().to_string(),
        }))
        .await
        .unwrap();
    let bare =
        arca_pki::issue(&signer, &template, &LeafRequest::new("b.example.org"), now).unwrap();
    source
        .create_secret(&json!({
            "secret_type": "imported_cert", "name": "no-key",
            "certificate": bare.certificate_pem,
        }))
        .await
        .unwrap();
    source
        .create_secret(&json!({"secret_type": "arbitrary", "name": "not-a-cert", "payload": "x"}))
        .await
        .unwrap();

    // Export: every certificate, with progress reported up to the total.
    let mut seen = Vec::new();
    let bundle = within(
        "export",
        source.export_certificates(|done, total| seen.push((done, total))),
    )
    .await
    .unwrap();
    assert_eq!(bundle.certificates.len(), 4);
    assert_eq!(seen.first(), Some(&(0, 4)));
    assert_eq!(seen.last(), Some(&(4, 4)));
    let sealed = bundle.seal(PASSPHRASE).unwrap();
    for needle in ["PRIVATE KEY", "BEGIN CERTIFICATE", "edge-cert"] {
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in clear in the bundle"
        );
    }

    // A wrong passphrase or any changed byte opens nothing.
    assert!(matches!(
        CertificateBundle::open(&sealed, "wrong passphrase!"),
        Err(BundleError::Authentication)
    ));
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        CertificateBundle::open(&tampered, PASSPHRASE),
        Err(BundleError::Authentication)
    ));
    assert!(matches!(
        CertificateBundle::open(b"not a bundle", PASSPHRASE),
        Err(BundleError::Malformed(_))
    ));

    // Import into the other instance: every certificate, key and chain byte for byte.
    let opened = CertificateBundle::open(&sealed, PASSPHRASE).unwrap();
    let report = within("import", target.import_certificates(&opened, |_, _| {}))
        .await
        .unwrap();
    assert_eq!(report.created.len(), 4, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let before = certificates(&source).await;
    let after = certificates(&target).await;
    assert_eq!(before, after);
    assert_eq!(before.len(), 4);
    assert!(before["default/web-1"].2.is_some(), "private key exported");
    assert!(before["default/no-key"].2.is_none());
    let edge = target
        .get_secret_by_name("edge", "imported_cert", "edge-cert")
        .await
        .unwrap();
    assert_eq!(edge["description"], "the edge certificate");
    assert_eq!(edge["labels"], json!(["edge", "prod"]));

    // Importing the same bundle again changes nothing; a rotated source certificate becomes a
    // new version of the copy.
    let again = target
        .import_certificates(&opened, |_, _| {})
        .await
        .unwrap();
    assert_eq!(again.unchanged.len(), 4, "{again:?}");
    let web1 = source
        .get_secret_by_name("default", "private_cert", "web-1")
        .await
        .unwrap();
    source
        .create_version(web1["id"].as_str().unwrap(), &json!({}))
        .await
        .unwrap();
    let newer = source.export_certificates(|_, _| {}).await.unwrap();
    let third = target.import_certificates(&newer, |_, _| {}).await.unwrap();
    assert_eq!(
        third.new_versions,
        vec!["default/web-1".to_owned()],
        "{third:?}"
    );
    assert_eq!(third.unchanged.len(), 3);
    assert_eq!(certificates(&source).await, certificates(&target).await);
    let copy = target
        .get_secret_by_name("default", "imported_cert", "web-1")
        .await
        .unwrap();
    assert_eq!(copy["versions_total"], 2);

    // A certificate the instance refuses is reported by name, the rest still imported.
    let mut with_bad = newer.clone();
    let mut bad = with_bad.certificates[0].clone();
    bad.name = "broken".into();
    bad.certificate = "not a certificate at all".into();
    with_bad.certificates.push(bad);
    let fourth = target
        .import_certificates(&with_bad, |_, _| {})
        .await
        .unwrap();
    assert_eq!(fourth.unchanged.len(), 4);
    assert_eq!(fourth.failed.len(), 1);
    assert!(fourth.failed[0].0.ends_with("/broken"), "{fourth:?}");
    assert!(fourth.failed[0].1.contains("400"), "{fourth:?}");
}
