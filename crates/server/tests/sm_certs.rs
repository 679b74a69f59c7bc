//! Certificate secrets through the client against an in-process dev server: imported
//! certificates (checked, read back byte for byte), the private CA flow of IBM's manual SDK test
//! (root → intermediate signed by the root → template → private certificates → revocations →
//! CRL), the other CA actions (sign_csr, set_signed, revoke_ca_certificate, rotate_intermediate),
//! rotation of private certificates, the 400s and 409s, and no private key in clear in the
//! database files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_client::ClientError;
use arca_client::sm::SmClient;
use arca_pki::{CaParams, CaSigner, KeyType, LeafRequest, Template};
use axum::http::Method;
use common::{message_of, start_dev, status_of, within};
use serde_json::{Value, json};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;

const ROOT: &str = "private_cert_configuration_root_ca";
const INTERMEDIATE: &str = "private_cert_configuration_intermediate_ca";
const TEMPLATE: &str = "private_cert_configuration_template";
const SIGN_INTERMEDIATE: &str = "private_cert_configuration_action_sign_intermediate";
const SIGN_CSR: &str = "private_cert_configuration_action_sign_csr";
const SET_SIGNED: &str = "private_cert_configuration_action_set_signed";
const REVOKE_CA: &str = "private_cert_configuration_action_revoke_ca_certificate";
const ROTATE_CRL: &str = "private_cert_configuration_action_rotate_crl";
const ROTATE_INTERMEDIATE: &str = "private_cert_configuration_action_rotate_intermediate";
const REVOKE: &str = "private_cert_action_revoke_certificate";

/// The dev server runs on the system clock, so certificates made here for import must too.
#[allow(clippy::disallowed_methods)]
fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The PEM blocks of `text`.
fn pems(text: &str) -> Vec<Pem> {
    Pem::iter_from_buffer(text.as_bytes())
        .map(|p| p.expect("PEM block"))
        .collect()
}

fn der(text: &str) -> Vec<u8> {
    pems(text).remove(0).contents
}

fn cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = x509_parser::parse_x509_certificate(der).expect("certificate");
    assert!(rest.is_empty());
    c
}

/// The revoked serial numbers (`aa:bb` form) of a PEM CRL, after checking its signature with
/// `issuer_pem`'s key.
fn crl_serials(crl_pem: &str, issuer_pem: &str) -> Vec<String> {
    let crl_der = der(crl_pem);
    let (_, crl) = x509_parser::parse_x509_crl(&crl_der).expect("CRL");
    let issuer_der = der(issuer_pem);
    let issuer = cert(&issuer_der);
    crl.verify_signature(issuer.public_key())
        .expect("the CRL is signed by its CA");
    crl.iter_revoked_certificates()
        .map(|r| arca_pki::format_serial(r.raw_serial()))
        .collect()
}

async fn sign_action(sm: &SmClient, name: &str, body: Value) -> Value {
    within("configuration action", sm.config_action(name, &body))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn patch_config(sm: &SmClient, name: &str, body: &Value) -> Result<Value, ClientError> {
    sm.call(Method::PATCH, &["configurations", name], &[], Some(body))
        .await
}

/// The database files of a dev server's data directory (`arca.db`, its WAL, ...).
fn database_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("arca.db"))
            {
                out.push(path);
            }
        }
    }
    out
}

fn assert_absent(files: &[PathBuf], needles: &[&[u8]]) {
    for path in files {
        let bytes = std::fs::read(path).unwrap();
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == *needle),
                "{:?} in clear in {}",
                String::from_utf8_lossy(needle),
                path.display()
            );
        }
    }
}

/// A second line of a PEM block (base64 of the key itself).
fn key_line(pem: &str) -> String {
    pem.lines().nth(1).expect("PEM body").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_certificates_round_trip() {
    let (_dir, _server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);
    let now = wall_now();
    let mut params = CaParams::new("Import Test CA", Duration::from_secs(30 * 86_400));
    params.key_type = KeyType::Ec;
    params.key_bits = 256;
    params.organization = vec!["Example".into()];
    let root = arca_pki::generate_root(&params, now).unwrap();
    let ca = CaSigner::from_pem(&root.certificate_pem, &root.private_key_pem).unwrap();
    let template = Template {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: true,
        key_type: KeyType::Ec,
        key_bits: 256,
        ..Template::default()
    };
    let mut req = LeafRequest::new("www.example.com");
    req.alt_names = vec!["api.example.com".into()];
    let leaf = arca_pki::issue(&ca, &template, &req, now).unwrap();
    let key = leaf.private_key_pem.as_ref().unwrap().to_string();

    let created = within(
        "import",
        sm.create_secret(&json!({
            "secret_type": "imported_cert",
            "name": "imported-1",
            "certificate": leaf.certificate_pem,
            "intermediate": root.certificate_pem,
            "private_key": key,
        })),
    )
    .await
    .unwrap();
    assert_eq!(created["secret_type"], "imported_cert");
    assert_eq!(created["common_name"], "www.example.com");
    let alt: Vec<&str> = created["alt_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(
        alt.contains(&"api.example.com") && alt.contains(&"www.example.com"),
        "{alt:?}"
    );
    assert_eq!(created["issuer"], "Example Import Test CA");
    assert_eq!(created["serial_number"], leaf.serial_number.as_str());
    assert_eq!(created["key_algorithm"], "ECDSA256");
    assert_eq!(created["signing_algorithm"], "ECDSA-SHA256");
    assert_eq!(created["intermediate_included"], true);
    assert_eq!(created["private_key_included"], true);
    let not_after = leaf
        .not_after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(created["validity"]["not_after"], not_after.as_str());
    assert_eq!(created["expiration_date"], not_after.as_str());
    let id = s(&created["id"]).to_owned();

    // Read back byte for byte; metadata carries no data.
    let got = sm.get_secret(&id).await.unwrap();
    assert_eq!(got["certificate"], leaf.certificate_pem.as_str());
    assert_eq!(got["intermediate"], root.certificate_pem.as_str());
    assert_eq!(got["private_key"], key.as_str());
    let meta = sm.secret_metadata(&id).await.unwrap();
    assert!(meta.get("private_key").is_none() && meta.get("certificate").is_none());
    assert_eq!(meta["serial_number"], leaf.serial_number.as_str());

    // A new version: a new certificate, without key or chain.
    let leaf2 = arca_pki::issue(&ca, &template, &req, now).unwrap();
    let v2 = sm
        .create_version(&id, &json!({"certificate": leaf2.certificate_pem}))
        .await
        .unwrap();
    assert_eq!(v2["serial_number"], leaf2.serial_number.as_str());
    assert!(v2["validity"]["not_after"].is_string(), "{v2}");
    assert!(v2.get("private_key").is_none());
    let meta = sm.secret_metadata(&id).await.unwrap();
    assert_eq!(meta["serial_number"], leaf2.serial_number.as_str());
    assert_eq!(meta["private_key_included"], false);
    assert_eq!(meta["versions_total"], 2);
    let prev = sm.get_version(&id, "previous").await.unwrap();
    assert_eq!(prev["private_key"], key.as_str());
    assert_eq!(prev["serial_number"], leaf.serial_number.as_str());

    // Refusals: a key of another certificate, garbage, an expired certificate, managed_csr.
    let other = arca_pki::issue(&ca, &template, &req, now).unwrap();
    let other_key = other.private_key_pem.as_ref().unwrap().to_string();
    let err = sm
        .create_secret(&json!({
            "secret_type": "imported_cert", "name": "mismatch",
            "certificate": leaf.certificate_pem, "private_key": other_key,
        }))
        .await;
    let msg = message_of(err);
    assert!(
        msg.contains("400") && msg.contains("does not match"),
        "{msg}"
    );
    assert!(
        !msg.contains(&key_line(&other_key)),
        "the key is not echoed"
    );
    for (what, body) in [
        (
            "garbage",
            json!({"secret_type": "imported_cert", "name": "garbage",
                   "certificate": "this is not a certificate, just some text long enough"}),
        ),
        (
            "garbage key",
            json!({"secret_type": "imported_cert", "name": "garbage-key",
                   "certificate": leaf.certificate_pem,
                   "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}),
        ),
        (
            "no certificate",
            json!({"secret_type": "imported_cert", "name": "nothing"}),
        ),
        (
            "managed_csr",
            json!({"secret_type": "imported_cert", "name": "managed",
                   "managed_csr": {"common_name": "example.com"}}),
        ),
    ] {
        assert_eq!(
            status_of(what, sm.create_secret(&body).await),
            400,
            "{what}"
        );
    }
    let mut old = CaParams::new("Old CA", Duration::from_secs(86_400));
    old.key_type = KeyType::Ec;
    old.key_bits = 256;
    let expired = arca_pki::generate_root(&old, now - time::Duration::days(10)).unwrap();
    let msg = message_of(
        sm.create_secret(&json!({
            "secret_type": "imported_cert", "name": "expired",
            "certificate": expired.certificate_pem,
        }))
        .await,
    );
    assert!(msg.contains("400") && msg.contains("expired"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_flow_of_the_sdk_manual_test() {
    let (dir, server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);

    // root-CA, inter-CA signed by it, template-1 (IBM's manual test setup).
    let root = within(
        "root CA",
        sm.create_config(&json!({
            "config_type": ROOT, "name": "root-CA",
            "max_ttl": "43830h", "common_name": "localhost",
        })),
    )
    .await
    .unwrap();
    assert_eq!(root["status"], "configured");
    assert_eq!(root["max_ttl_seconds"], 43_830 * 3600);
    assert_eq!(root["key_type"], "rsa");
    assert_eq!(root["key_bits"], 2048);
    assert_eq!(root["secret_type"], "private_cert");
    assert!(root["expiration_date"].is_string());
    let root_pem = s(&root["data"]["certificate"]).to_owned();
    assert_eq!(root["data"]["issuing_ca"], root_pem.as_str());
    assert!(root["data"]["expiration"].is_i64());
    assert!(
        !root.to_string().contains("PRIVATE KEY"),
        "no CA key in responses"
    );
    let msg = message_of(
        sm.create_config(&json!({
            "config_type": ROOT, "name": "root-CA", "max_ttl": "1h", "common_name": "x",
        }))
        .await,
    );
    assert!(msg.contains("already exists"), "{msg}");

    let inter = sm
        .create_config(&json!({
            "config_type": INTERMEDIATE, "name": "inter-CA", "max_ttl": "43830h",
            "common_name": "localhost", "issuer": "root-CA", "signing_method": "internal",
        }))
        .await
        .unwrap();
    assert_eq!(inter["status"], "signing_required");
    assert!(s(&inter["data"]["csr"]).contains("CERTIFICATE REQUEST"));
    assert!(!inter.to_string().contains("PRIVATE KEY"));
    let signed = sign_action(
        &sm,
        "root-CA",
        json!({"action_type": SIGN_INTERMEDIATE, "intermediate_certificate_authority": "inter-CA"}),
    )
    .await;
    assert_eq!(signed["action_type"], SIGN_INTERMEDIATE);
    assert_eq!(signed["intermediate_certificate_authority"], "inter-CA");
    let inter = sm.get_config("inter-CA").await.unwrap();
    assert_eq!(inter["status"], "configured");
    assert_eq!(inter["issuer"], "root-CA");
    assert_eq!(inter["signing_method"], "internal");
    assert_eq!(inter["data"]["issuing_ca"], root_pem.as_str());
    assert!(!inter.to_string().contains("PRIVATE KEY"));
    let inter_pem = s(&inter["data"]["certificate"]).to_owned();

    let template = sm
        .create_config(&json!({
            "config_type": TEMPLATE, "name": "template-1", "certificate_authority": "inter-CA",
        }))
        .await
        .unwrap();
    assert_eq!(template["certificate_authority"], "inter-CA");
    assert_eq!(template["allow_localhost"], true);
    assert_eq!(template["max_ttl_seconds"], Value::Null);

    let listed = sm.list_configs().await.unwrap();
    assert_eq!(listed["total_count"], 3);
    for c in listed["configurations"].as_array().unwrap() {
        assert!(c.get("data").is_none(), "{c}");
        assert!(c.get("max_ttl_seconds").is_none(), "{c}");
        if c["name"] == "inter-CA" {
            assert_eq!(c["status"], "configured");
            assert_eq!(c["issuer"], "root-CA");
        }
        if c["name"] == "template-1" {
            assert_eq!(c["certificate_authority"], "inter-CA");
        }
    }

    // Two private certificates for localhost, 10 hours.
    let mut certs = Vec::new();
    for name in ["private-cert-secret1", "private-cert-secret2"] {
        let c = within(
            "private cert",
            sm.create_secret(&json!({
                "secret_type": "private_cert", "name": name,
                "certificate_template": "template-1", "common_name": "localhost", "ttl": "10h",
            })),
        )
        .await
        .unwrap();
        certs.push(c);
    }
    let c1 = &certs[0];
    assert_eq!(c1["common_name"], "localhost");
    assert_eq!(c1["certificate_template"], "template-1");
    assert_eq!(c1["certificate_authority"], "inter-CA");
    assert_eq!(c1["issuer"], "localhost");
    assert_eq!(c1["key_algorithm"], "RSA2048");
    assert_eq!(c1["rotation"]["auto_rotate"], false);
    assert!(
        s(&c1["private_key"]).contains("RSA PRIVATE KEY"),
        "der = PKCS#1"
    );
    assert_eq!(c1["issuing_ca"], inter_pem.as_str());
    assert_eq!(c1["ca_chain"], json!([inter_pem, root_pem]));
    assert_ne!(c1["serial_number"], certs[1]["serial_number"]);

    // The leaf chains to the intermediate, the intermediate to the root.
    let leaf_der = der(s(&c1["certificate"]));
    let leaf = cert(&leaf_der);
    let inter_der = der(&inter_pem);
    let inter_cert = cert(&inter_der);
    let root_der = der(&root_pem);
    let root_cert = cert(&root_der);
    leaf.verify_signature(Some(inter_cert.public_key()))
        .expect("leaf signed by the intermediate");
    inter_cert
        .verify_signature(Some(root_cert.public_key()))
        .expect("intermediate signed by the root");
    root_cert.verify_signature(None).expect("self-signed root");
    let lifetime = leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp();
    assert!((36_000..=36_000 + 60).contains(&lifetime), "{lifetime}");
    assert_eq!(
        arca_pki::format_serial(leaf.raw_serial()),
        s(&c1["serial_number"])
    );

    // A name the template does not allow.
    let msg = message_of(
        sm.create_secret(&json!({
            "secret_type": "private_cert", "name": "not-allowed",
            "certificate_template": "template-1", "common_name": "example.com",
        }))
        .await,
    );
    assert!(msg.contains("400") && msg.contains("not allowed"), "{msg}");
    assert_eq!(
        status_of(
            "unknown template",
            sm.create_secret(&json!({
                "secret_type": "private_cert", "name": "no-template",
                "certificate_template": "nope", "common_name": "localhost",
            }))
            .await
        ),
        400
    );

    // Revocations: secret level, then version level; twice is a conflict.
    let id1 = s(&c1["id"]).to_owned();
    let id2 = s(&certs[1]["id"]).to_owned();
    let r1 = sm.secret_action(&id1, None, REVOKE).await.unwrap();
    assert_eq!(r1["action_type"], REVOKE);
    assert!(r1["revocation_time_seconds"].as_i64().unwrap() > 0);
    assert_eq!(
        status_of("revoke twice", sm.secret_action(&id1, None, REVOKE).await),
        409
    );
    sm.secret_action(&id2, Some("current"), REVOKE)
        .await
        .unwrap();
    let meta1 = sm.secret_metadata(&id1).await.unwrap();
    assert_eq!(
        meta1["revocation_time_seconds"],
        r1["revocation_time_seconds"]
    );
    assert!(meta1["revocation_time_rfc3339"].is_string());
    let arb = sm
        .create_secret(&json!({"secret_type": "arbitrary", "name": "arb", "payload": "p"}))
        .await
        .unwrap();
    assert_eq!(
        status_of(
            "revoke an arbitrary secret",
            sm.secret_action(s(&arb["id"]), None, REVOKE).await
        ),
        400
    );

    // rotate_crl (the SDK's test rotates the root's); the intermediate's CRL lists both.
    let rotated = sign_action(&sm, "root-CA", json!({"action_type": ROTATE_CRL})).await;
    assert_eq!(rotated["success"], true);
    sign_action(&sm, "inter-CA", json!({"action_type": ROTATE_CRL})).await;
    let inter = sm.get_config("inter-CA").await.unwrap();
    let revoked = crl_serials(s(&inter["data"]["crl"]), &inter_pem);
    for c in &certs {
        assert!(
            revoked.iter().any(|r| r == s(&c["serial_number"])),
            "{revoked:?} lacks {}",
            c["serial_number"]
        );
    }
    let root_now = sm.get_config("root-CA").await.unwrap();
    assert!(crl_serials(s(&root_now["data"]["crl"]), &root_pem).is_empty());

    // Wrong actions for the type; unknown fields.
    for (name, body) in [
        ("template-1", json!({"action_type": ROTATE_CRL})),
        (
            "root-CA",
            json!({"action_type": SET_SIGNED, "certificate": root_pem}),
        ),
        ("root-CA", json!({"action_type": REVOKE_CA})),
        ("root-CA", json!({"action_type": "no_such_action"})),
        (
            "root-CA",
            json!({"action_type": SIGN_INTERMEDIATE, "intermediate_certificate_authority": "template-1"}),
        ),
        (
            "inter-CA",
            json!({"action_type": SET_SIGNED, "certificate": inter_pem}),
        ),
    ] {
        assert_eq!(
            status_of(
                &format!("{name} {body}"),
                sm.config_action(name, &body).await
            ),
            400,
            "{name} {body}"
        );
    }

    // Rotation issues a new certificate (new serial); the previous one stays readable.
    let rotated = sm.create_version(&id1, &json!({})).await.unwrap();
    assert_ne!(rotated["serial_number"], c1["serial_number"]);
    assert!(s(&rotated["certificate"]).contains("BEGIN CERTIFICATE"));
    assert_eq!(rotated["alias"], "current");
    let prev = sm.get_version(&id1, "previous").await.unwrap();
    assert_eq!(prev["certificate"], c1["certificate"]);
    assert_eq!(prev["serial_number"], c1["serial_number"]);
    let meta1 = sm.secret_metadata(&id1).await.unwrap();
    assert_eq!(meta1["serial_number"], rotated["serial_number"]);
    assert!(meta1.get("revocation_time_seconds").is_none(), "{meta1}");
    assert_eq!(meta1["versions_total"], 2);
    assert_eq!(
        status_of(
            "rotation with new names",
            sm.create_version(&id1, &json!({"common_name": "other"}))
                .await
        ),
        400
    );
    // The previous (revoked) version can't be revoked again; the new one can.
    assert_eq!(
        status_of(
            "previous already revoked",
            sm.secret_action(&id1, Some("previous"), REVOKE).await
        ),
        409
    );
    sm.secret_action(&id1, Some("current"), REVOKE)
        .await
        .unwrap();

    // CAs and templates in use are kept.
    for name in ["inter-CA", "root-CA", "template-1"] {
        assert_eq!(status_of(name, sm.delete_config(name).await), 409, "{name}");
    }

    // Keep the leaf key and a CA-state marker to scan for after shutdown.
    let leaf_key = s(&rotated["private_key"]).to_owned();

    // The SDK's teardown order: secrets, then template-1, inter-CA, root-CA.
    sm.delete_secret(&id1).await.unwrap();
    sm.delete_secret(&id2).await.unwrap();
    assert_eq!(
        status_of(
            "root still issuer of inter-CA",
            sm.delete_config("root-CA").await
        ),
        409
    );
    sm.delete_config("template-1").await.unwrap();
    sm.delete_config("inter-CA").await.unwrap();
    sm.delete_config("root-CA").await.unwrap();

    // A CA that still exists at shutdown: its key must be sealed too.
    sm.create_config(&json!({
        "config_type": ROOT, "name": "kept-CA", "max_ttl": "10h", "common_name": "kept",
        "key_type": "ec",
    }))
    .await
    .unwrap();

    server.shutdown().await;
    let files = database_files(dir.path());
    assert!(
        !files.is_empty(),
        "no database files under {}",
        dir.path().display()
    );
    // Positive control: configuration names are stored in clear, so the scan reads the data.
    assert!(
        files.iter().any(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes.windows(7).any(|w| w == b"kept-CA")
        }),
        "the scan does not see the stored configurations"
    );
    assert_absent(
        &files,
        &[
            b"PRIVATE KEY",
            key_line(&leaf_key).as_bytes(),
            b"BEGIN CERTIFICATE REQUEST",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_intermediates_revocation_rotation_and_patches() {
    let (_dir, _server, info, admin) = start_dev().await;
    let sm = admin.sm(&info.secrets_manager_instance_id);
    let root = sm
        .create_config(&json!({
            "config_type": ROOT, "name": "root-ec", "max_ttl": "8760h", "ttl": "8000h",
            "common_name": "Example Root", "key_type": "ec", "organization": ["Example"],
            "crl_expiry": "24h",
        }))
        .await
        .unwrap();
    assert_eq!(root["key_bits"], 256);
    assert_eq!(root["ttl_seconds"], 8000 * 3600);
    assert_eq!(root["crl_expiry_seconds"], 86_400);
    let root_pem = s(&root["data"]["certificate"]).to_owned();
    for (what, body) in [
        (
            "ttl over max_ttl",
            json!({"config_type": ROOT, "name": "r2", "max_ttl": "1h", "ttl": "2h", "common_name": "x"}),
        ),
        (
            "no max_ttl",
            json!({"config_type": ROOT, "name": "r3", "common_name": "x"}),
        ),
        (
            "crypto_key",
            json!({"config_type": ROOT, "name": "r4", "max_ttl": "1h", "common_name": "x",
                   "crypto_key": {"label": "hpcs"}}),
        ),
        (
            "issuer missing",
            json!({"config_type": INTERMEDIATE, "name": "i1", "max_ttl": "1h", "common_name": "x",
                   "signing_method": "internal"}),
        ),
        (
            "unknown issuer",
            json!({"config_type": INTERMEDIATE, "name": "i2", "max_ttl": "1h", "common_name": "x",
                   "signing_method": "internal", "issuer": "nope"}),
        ),
        (
            "template without CA",
            json!({"config_type": TEMPLATE, "name": "t1", "certificate_authority": "nope"}),
        ),
        (
            "bad key usage",
            json!({"config_type": TEMPLATE, "name": "t2", "certificate_authority": "root-ec",
                   "key_usage": ["Sing"]}),
        ),
    ] {
        assert_eq!(
            status_of(what, sm.create_config(&body).await),
            400,
            "{what}"
        );
    }

    // External intermediate: CSR → sign_csr on the root → set_signed with the chain.
    let ext = sm
        .create_config(&json!({
            "config_type": INTERMEDIATE, "name": "ext-CA", "max_ttl": "1000h",
            "common_name": "ext.example.com", "signing_method": "external", "key_type": "ec",
        }))
        .await
        .unwrap();
    assert_eq!(ext["status"], "signed_certificate_required");
    let csr = s(&ext["data"]["csr"]).to_owned();
    let signed = sign_action(
        &sm,
        "root-ec",
        json!({"action_type": SIGN_CSR, "csr": csr, "ttl": "100h"}),
    )
    .await;
    let ext_pem = s(&signed["data"]["certificate"]).to_owned();
    assert_eq!(signed["data"]["issuing_ca"], root_pem.as_str());
    assert_eq!(signed["data"]["ca_chain"], json!([root_pem]));
    assert!(signed["data"]["expiration"].is_i64());
    let ext_der = der(&ext_pem);
    let root_der = der(&root_pem);
    cert(&ext_der)
        .verify_signature(Some(cert(&root_der).public_key()))
        .expect("signed by the root");
    assert_eq!(
        status_of(
            "sign_intermediate on an external one",
            sm.config_action(
                "root-ec",
                &json!({"action_type": SIGN_INTERMEDIATE, "intermediate_certificate_authority": "ext-CA"})
            )
            .await
        ),
        400
    );
    let set = sign_action(
        &sm,
        "ext-CA",
        json!({"action_type": SET_SIGNED, "certificate": format!("{ext_pem}{root_pem}")}),
    )
    .await;
    assert_eq!(set["action_type"], SET_SIGNED);
    let ext = sm.get_config("ext-CA").await.unwrap();
    assert_eq!(ext["status"], "configured");
    assert_eq!(ext["data"]["issuing_ca"], root_pem.as_str());

    // A template under it with a domain policy; a certificate from a CSR.
    sm.create_config(&json!({
        "config_type": TEMPLATE, "name": "web", "certificate_authority": "ext-CA",
        "allowed_domains": ["example.com"], "allow_subdomains": true, "key_type": "ec",
        "max_ttl": "48h", "ttl": "24h",
    }))
    .await
    .unwrap();
    let web = sm
        .create_secret(&json!({
            "secret_type": "private_cert", "name": "web-1", "certificate_template": "web",
            "common_name": "a.example.com", "alt_names": ["b.example.com"],
            "private_key_format": "pkcs8", "format": "pem_bundle",
        }))
        .await
        .unwrap();
    assert!(s(&web["private_key"]).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        pems(s(&web["certificate"])).len(),
        3,
        "key, certificate, issuing CA"
    );
    assert_eq!(web["ca_chain"], json!([ext_pem, root_pem]));
    let mut p = CaParams::new("csr.example.com", Duration::from_secs(3600));
    p.key_type = KeyType::Ec;
    p.key_bits = 256;
    let bundle = arca_pki::intermediate_csr(&p).unwrap();
    let from_csr = sm
        .create_secret(&json!({
            "secret_type": "private_cert", "name": "csr-1", "certificate_template": "web",
            "common_name": "csr.example.com", "csr": bundle.csr_pem,
        }))
        .await
        .unwrap();
    assert!(from_csr.get("private_key").is_none());
    assert_eq!(from_csr["common_name"], "csr.example.com");
    assert_eq!(
        status_of(
            "outside the template",
            sm.create_secret(&json!({
                "secret_type": "private_cert", "name": "bad-1", "certificate_template": "web",
                "common_name": "example.org",
            }))
            .await
        ),
        400
    );

    // Internal intermediate: revoke_ca_certificate lists it in the root's CRL.
    sm.create_config(&json!({
        "config_type": INTERMEDIATE, "name": "int-CA", "max_ttl": "1000h",
        "common_name": "Internal", "signing_method": "internal", "issuer": "root-ec",
        "key_type": "ec",
    }))
    .await
    .unwrap();
    sign_action(
        &sm,
        "root-ec",
        json!({"action_type": SIGN_INTERMEDIATE, "intermediate_certificate_authority": "int-CA", "ttl": "200h"}),
    )
    .await;
    let int_ca = sm.get_config("int-CA").await.unwrap();
    let int_pem = s(&int_ca["data"]["certificate"]).to_owned();
    let int_der = der(&int_pem);
    let int_serial = arca_pki::format_serial(cert(&int_der).raw_serial());

    // rotate_intermediate: a new key and certificate, signed by the issuer.
    let rotated = sign_action(&sm, "int-CA", json!({"action_type": ROTATE_INTERMEDIATE})).await;
    assert_eq!(rotated["name"], "int-CA");
    assert_eq!(rotated["config"]["status"], "configured");
    let new_pem = s(&rotated["config"]["data"]["certificate"]).to_owned();
    assert_ne!(new_pem, int_pem);
    assert!(!rotated.to_string().contains("PRIVATE KEY"));
    let new_der = der(&new_pem);
    let new_serial = arca_pki::format_serial(cert(&new_der).raw_serial());

    let revoked = sign_action(&sm, "int-CA", json!({"action_type": REVOKE_CA})).await;
    assert!(revoked["revocation_time_seconds"].as_i64().unwrap() > 0);
    assert_eq!(sm.get_config("int-CA").await.unwrap()["status"], "revoked");
    assert_eq!(
        status_of(
            "revoke twice",
            sm.config_action("int-CA", &json!({"action_type": REVOKE_CA}))
                .await
        ),
        409
    );
    let root_now = sm.get_config("root-ec").await.unwrap();
    let listed = crl_serials(s(&root_now["data"]["crl"]), &root_pem);
    assert!(listed.contains(&new_serial), "{listed:?}");
    assert!(
        !listed.contains(&int_serial),
        "the old certificate was not revoked"
    );
    // A revoked CA issues nothing.
    sm.create_config(&json!({
        "config_type": TEMPLATE, "name": "on-revoked", "certificate_authority": "int-CA",
        "key_type": "ec",
    }))
    .await
    .unwrap();
    assert_eq!(
        status_of(
            "issue from a revoked CA",
            sm.create_secret(&json!({
                "secret_type": "private_cert", "name": "rev-1",
                "certificate_template": "on-revoked", "common_name": "localhost",
            }))
            .await
        ),
        409
    );

    // Patches: the CRL fields and max_ttl on CAs; policy fields on templates.
    let patched = patch_config(
        &sm,
        "root-ec",
        &json!({"max_ttl": "9000h", "crl_disable": true}),
    )
    .await
    .unwrap();
    assert_eq!(patched["max_ttl_seconds"], 9000 * 3600);
    assert_eq!(patched["crl_disable"], true);
    assert!(crl_serials(s(&patched["data"]["crl"]), &root_pem).is_empty());
    assert_eq!(
        status_of(
            "common_name is fixed",
            patch_config(&sm, "root-ec", &json!({"common_name": "other"})).await
        ),
        400
    );
    let t = patch_config(&sm, "web", &json!({"allow_any_name": true, "ttl": "12h"}))
        .await
        .unwrap();
    assert_eq!(t["allow_any_name"], true);
    assert_eq!(t["ttl_seconds"], 12 * 3600);
    assert_eq!(
        status_of(
            "template CA is fixed",
            patch_config(&sm, "web", &json!({"certificate_authority": "root-ec"})).await
        ),
        400
    );
    let any = sm
        .create_secret(&json!({
            "secret_type": "private_cert", "name": "any-1", "certificate_template": "web",
            "common_name": "example.org",
        }))
        .await
        .unwrap();
    let any_der = der(s(&any["certificate"]));
    let any_cert = cert(&any_der);
    let lifetime =
        any_cert.validity().not_after.timestamp() - any_cert.validity().not_before.timestamp();
    assert!(
        (12 * 3600..=12 * 3600 + 60).contains(&lifetime),
        "{lifetime}"
    );
}
