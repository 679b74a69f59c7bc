//! `inspect`: validation of imported certificate bundles.

use arca_pki::{LeafRequest, MAX_PEM_LEN, PkiError, PrivateKeyFormat};

use crate::common::*;

fn leaf_and_key() -> (String, String, String) {
    let (_, inter, ca) = root_and_intermediate();
    let leaf = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    let key = leaf.private_key_pem.unwrap().to_string();
    (leaf.certificate_pem, key, inter.certificate_pem)
}

#[test]
fn a_certificate_alone_is_enough() {
    let (cert, _, _) = leaf_and_key();
    let info = arca_pki::inspect(&cert, None, None).unwrap();
    assert!(!info.intermediate_included && !info.private_key_included);
    assert_eq!(info.common_name.as_deref(), Some("localhost"));
}

#[test]
fn key_mismatch_is_detected() {
    let (cert, _, _) = leaf_and_key();
    let (_, other_key, _) = leaf_and_key();
    assert_eq!(
        arca_pki::inspect(&cert, None, Some(&other_key)).unwrap_err(),
        PkiError::KeyMismatch
    );
    // Same for a different key type.
    let rsa_root = arca_pki::generate_root(&arca_pki::CaParams::new("r", YEAR), now()).unwrap();
    assert_eq!(
        arca_pki::inspect(&cert, None, Some(&rsa_root.private_key_pem)).unwrap_err(),
        PkiError::KeyMismatch
    );
    // SEC1 form of the right key matches.
    let (cert, key, _) = leaf_and_key();
    let sec1 = arca_pki::convert_private_key(&key, PrivateKeyFormat::Der).unwrap();
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert!(
        arca_pki::inspect(&cert, None, Some(&sec1))
            .unwrap()
            .private_key_included
    );
}

fn field_of(err: &PkiError) -> &'static str {
    match err {
        PkiError::MalformedPem { field, .. }
        | PkiError::InvalidCertificate { field, .. }
        | PkiError::InvalidSize { field, .. } => field,
        PkiError::InvalidPrivateKey(_) | PkiError::EncryptedPrivateKey => "private_key",
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn malformed_pem_is_rejected_with_the_field_named() {
    let (cert, key, inter) = leaf_and_key();
    let garbage = "this is definitely not a certificate, just some words";

    let err = arca_pki::inspect(garbage, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::MalformedPem {
                field: "certificate",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no PEM block"), "{err}");

    // Two certificates where one is expected.
    let two = format!("{cert}{inter}");
    let err = arca_pki::inspect(&two, None, None).unwrap_err();
    assert!(err.to_string().contains("exactly one"), "{err}");

    // A key where a certificate is expected, and vice versa.
    let err = arca_pki::inspect(&key, None, None).unwrap_err();
    assert_eq!(field_of(&err), "certificate");
    let err = arca_pki::inspect(&cert, None, Some(&cert)).unwrap_err();
    assert_eq!(field_of(&err), "private_key");

    // Broken base64 and a missing END line.
    let broken = cert.replacen('M', "*", 1);
    let err = arca_pki::inspect(&broken, None, None).unwrap_err();
    assert!(matches!(err, PkiError::MalformedPem { .. }), "{err}");
    let unterminated = cert.replace("-----END CERTIFICATE-----", "");
    let err = arca_pki::inspect(&unterminated, None, None).unwrap_err();
    assert!(matches!(err, PkiError::MalformedPem { .. }), "{err}");

    // Valid armour around bytes that are not a certificate.
    let fake = "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n";
    let err = arca_pki::inspect(fake, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::InvalidCertificate {
                field: "certificate",
                ..
            }
        ),
        "{err}"
    );

    // Trailing bytes after the DER are refused.
    let mut der_bytes = der(&cert);
    der_bytes.extend_from_slice(&[0, 0]);
    let padded = pem_wrap("CERTIFICATE", &der_bytes);
    let err = arca_pki::inspect(&padded, None, None).unwrap_err();
    assert!(matches!(err, PkiError::InvalidCertificate { .. }), "{err}");

    // The intermediate is checked too.
    let err = arca_pki::inspect(&cert, Some(fake), None).unwrap_err();
    assert_eq!(field_of(&err), "intermediate");
    let err = arca_pki::inspect(&cert, Some(&format!("{inter}{key}")), None).unwrap_err();
    assert_eq!(field_of(&err), "intermediate");

    // A corrupt key.
    let bad_key = "-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
    let err = arca_pki::inspect(&cert, None, Some(bad_key)).unwrap_err();
    assert!(matches!(err, PkiError::InvalidPrivateKey(_)), "{err}");
    // An encrypted key.
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        arca_pki::inspect(&cert, None, Some(encrypted)).unwrap_err(),
        PkiError::EncryptedPrivateKey
    );
    // No error message repeats key material.
    let body = key.lines().nth(1).unwrap();
    let corrupted = key.replacen(body, &format!("*{}", &body[1..]), 1);
    let err = arca_pki::inspect(&cert, None, Some(&corrupted)).unwrap_err();
    assert!(!err.to_string().contains(&body[..20]), "{err}");
}

#[test]
fn sizes_outside_the_api_window_are_rejected() {
    let (cert, key, _) = leaf_and_key();
    let err = arca_pki::inspect("-----BEGIN CERTIFICATE-----", None, None).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::InvalidSize {
                field: "certificate",
                min: 50,
                ..
            }
        ),
        "{err}"
    );
    let huge = format!("{cert}{}", " ".repeat(MAX_PEM_LEN));
    let err = arca_pki::inspect(&huge, None, None).unwrap_err();
    assert!(matches!(
        err,
        PkiError::InvalidSize {
            field: "certificate",
            ..
        }
    ));
    let err = arca_pki::inspect(&cert, Some("short"), None).unwrap_err();
    assert!(matches!(
        err,
        PkiError::InvalidSize {
            field: "intermediate",
            ..
        }
    ));
    let err = arca_pki::inspect(&cert, None, Some(&key[..40])).unwrap_err();
    assert!(matches!(
        err,
        PkiError::InvalidSize {
            field: "private_key",
            ..
        }
    ));
}

#[test]
fn text_around_blocks_and_crlf_line_endings_are_fine() {
    let (cert, key, inter) = leaf_and_key();
    let decorated = format!("subject=CN=localhost\nissuer=whatever\n{cert}\n\n");
    arca_pki::inspect(&decorated, None, None).unwrap();
    let crlf = cert.replace('\n', "\r\n");
    let key_crlf = key.replace('\n', "\r\n");
    let info = arca_pki::inspect(&crlf, Some(&inter), Some(&key_crlf)).unwrap();
    assert!(info.private_key_included && info.intermediate_included);
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
