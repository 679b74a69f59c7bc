//! Interoperability with OpenSSL: we read what it writes, and it accepts
//! what we write. Each test does nothing when no `openssl` binary exists.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use arca_pki::{LeafRequest, SignOverrides, Template};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::*;

fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs openssl in `dir`, returning (success, stdout + stderr).
fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, text) = run(dir, args);
    assert!(success, "openssl {args:?} failed:\n{text}");
    text
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The value after `key=` in openssl's `-noout -<field>` output.
fn field(output: &str, key: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {output}"))
        .trim()
        .to_owned()
}

#[test]
fn openssl_rsa_certificate_and_both_key_forms() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-sha256",
            "-subj",
            "/C=US/ST=Texas/L=Austin/O=Example Corp./OU=Example Org/CN=example.com",
            "-addext",
            "subjectAltName=DNS:example.com,DNS:www.example.com,IP:192.0.2.1,email:admin@example.com",
        ],
    );
    ok(
        d,
        &["pkey", "-in", "key.pem", "-traditional", "-out", "key1.pem"],
    );
    let (cert, pkcs8, pkcs1) = (read(d, "cert.pem"), read(d, "key.pem"), read(d, "key1.pem"));
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));

    let info = arca_pki::inspect(&cert, None, Some(&pkcs8)).unwrap();
    let same = arca_pki::inspect(&cert, None, Some(&pkcs1)).unwrap();
    assert_eq!(info, same);

    let meta = ok(
        d,
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-serial",
            "-issuer",
            "-nameopt",
            "RFC2253",
            "-startdate",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    assert_eq!(
        info.serial_number.replace(':', "").to_ascii_uppercase(),
        field(&meta, "serial")
    );
    assert_eq!(info.issuer, field(&meta, "issuer"));
    assert_eq!(
        info.issuer_display,
        "US Texas Austin Example Corp. Example Org example.com"
    );
    let iso = |s: String| OffsetDateTime::parse(&s.replace(' ', "T"), &Rfc3339).unwrap();
    assert_eq!(info.not_before, iso(field(&meta, "notBefore")));
    assert_eq!(info.not_after, iso(field(&meta, "notAfter")));
    assert_eq!(info.common_name.as_deref(), Some("example.com"));
    assert_eq!(
        info.alt_names,
        vec![
            "example.com",
            "www.example.com",
            "192.0.2.1",
            "admin@example.com"
        ]
    );
    assert_eq!(info.key_algorithm, "RSA2048");
    assert_eq!(info.signing_algorithm, "SHA256-RSA");
    assert!(info.private_key_included);

    // Another openssl key does not match.
    ok(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "other.pem",
        ],
    );
    assert_eq!(
        arca_pki::inspect(&cert, None, Some(&read(d, "other.pem"))).unwrap_err(),
        arca_pki::PkiError::KeyMismatch
    );
}

#[test]
fn openssl_ec_and_ed25519_certificates() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    ok(
        d,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ec.pem",
            "-sha384",
            "-days",
            "10",
            "-subj",
            "/CN=ec.example.com",
            "-out",
            "ec-cert.pem",
        ],
    );
    let ec_key = read(d, "ec.pem");
    assert!(ec_key.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let info = arca_pki::inspect(&read(d, "ec-cert.pem"), None, Some(&ec_key)).unwrap();
    assert_eq!(info.key_algorithm, "ECDSA384");
    assert_eq!(info.signing_algorithm, "ECDSA-SHA384");
    assert_eq!(info.issuer, "CN=ec.example.com");

    ok(d, &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]);
    ok(
        d,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ed.pem",
            "-days",
            "1",
            "-subj",
            "/CN=ed",
            "-out",
            "ed-cert.pem",
        ],
    );
    let info = arca_pki::inspect(&read(d, "ed-cert.pem"), None, Some(&read(d, "ed.pem"))).unwrap();
    assert_eq!(info.key_algorithm, "ED25519");
    assert_eq!(info.signing_algorithm, "Ed25519");
}

#[test]
fn openssl_verifies_our_chain_crl_and_csr() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root, inter, ca) = root_and_intermediate();
    let template = Template {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: true,
        ..ec_template()
    };
    let req = LeafRequest {
        alt_names: vec!["www.example.com".into()],
        ip_sans: vec!["192.0.2.9".into()],
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&ca, &template, &req, now()).unwrap();
    write(d, "root.pem", &root.certificate_pem);
    write(d, "inter.pem", &inter.certificate_pem);
    write(d, "leaf.pem", &leaf.certificate_pem);
    let at = (now().unix_timestamp() + 3600).to_string();

    let out = ok(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-purpose",
            "sslserver",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");

    // Revoke it: the CRL verifies and the leaf is now refused.
    let crl = arca_pki::build_crl(
        &ca,
        &[(leaf.serial_number.as_str(), now())],
        1,
        now(),
        Duration::from_secs(86_400),
    )
    .unwrap();
    write(d, "crl.pem", &crl);
    let out = ok(
        d,
        &["crl", "-in", "crl.pem", "-CAfile", "inter.pem", "-noout"],
    );
    assert!(out.contains("verify OK"), "{out}");
    let (success, out) = run(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-crl_check",
            "-CRLfile",
            "crl.pem",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ],
    );
    assert!(!success && out.contains("revoked"), "{out}");

    // openssl accepts our CSR, and we sign openssl's.
    let bundle = arca_pki::intermediate_csr(&ec_ca("Sub CA", 256)).unwrap();
    write(d, "ours.csr", &bundle.csr_pem);
    let out = ok(d, &["req", "-in", "ours.csr", "-verify", "-noout"]);
    assert!(out.contains("verify OK"), "{out}");

    ok(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "svc.key",
            "-out",
            "svc.csr",
            "-subj",
            "/CN=svc.example.com",
            "-addext",
            "subjectAltName=DNS:svc.example.com",
        ],
    );
    let theirs = read(d, "svc.csr");
    let signed = arca_pki::sign_csr(
        &ca,
        &theirs,
        &SignOverrides {
            use_csr_values: true,
            ttl: Some(DAY),
            ..SignOverrides::default()
        },
        false,
        now(),
    )
    .unwrap();
    write(d, "svc.pem", &signed.certificate_pem);
    let out = ok(
        d,
        &[
            "verify",
            "-attime",
            &at,
            "-purpose",
            "sslclient",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "svc.pem",
        ],
    );
    assert!(out.contains("svc.pem: OK"), "{out}");
    let via_template = arca_pki::issue(
        &ca,
        &template,
        &LeafRequest {
            csr: Some(theirs),
            ..LeafRequest::new("ignored")
        },
        now(),
    )
    .unwrap();
    assert_eq!(via_template.info.alt_names, vec!["svc.example.com"]);
    let info = arca_pki::inspect(
        &via_template.certificate_pem,
        None,
        Some(&read(d, "svc.key")),
    );
    assert!(info.unwrap().private_key_included);
}
