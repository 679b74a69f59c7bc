//! Shared fixtures and checks.

use std::time::Duration;

use arca_pki::{CaParams, CaSigner, IssuedCa, KeyType, Template};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;

pub(crate) const DAY: Duration = Duration::from_secs(86_400);
pub(crate) const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// The fixed "current time" of the tests.
pub(crate) fn now() -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC)
}

/// CA parameters with a fast key type.
pub(crate) fn ec_ca(cn: &str, bits: u32) -> CaParams {
    let mut p = CaParams::new(cn, 10 * YEAR);
    p.key_type = KeyType::Ec;
    p.key_bits = bits;
    p
}

/// A template like IBM's defaults but with EC keys (RSA generation is slow).
pub(crate) fn ec_template() -> Template {
    Template {
        key_type: KeyType::Ec,
        key_bits: 256,
        ..Template::default()
    }
}

pub(crate) fn signer(ca: &IssuedCa) -> CaSigner {
    CaSigner::from_pem(&ca.certificate_pem, &ca.private_key_pem).unwrap()
}

/// Root (P-384) and an intermediate (P-256) signed by it, with signers.
pub(crate) fn root_and_intermediate() -> (IssuedCa, IssuedCa, CaSigner) {
    let root = arca_pki::generate_root(&ec_ca("Example Root", 384), now()).unwrap();
    let root_signer = signer(&root);
    let mut inter_params = ec_ca("Example Intermediate", 256);
    inter_params.organization = vec!["Example".into()];
    inter_params.country = vec!["US".into()];
    let inter = arca_pki::generate_intermediate(&inter_params, &root_signer, now()).unwrap();
    let inter_signer = signer(&inter)
        .with_chain(std::slice::from_ref(&root.certificate_pem))
        .unwrap();
    (root, inter, inter_signer)
}

/// The DER of a single-certificate PEM.
pub(crate) fn der(pem_text: &str) -> Vec<u8> {
    let (pem, _) = Pem::read(std::io::Cursor::new(pem_text.as_bytes())).unwrap();
    pem.contents
}

pub(crate) fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

/// Asserts that `child` is signed by `parent`'s key and names it as issuer.
pub(crate) fn assert_signed_by(child_pem: &str, parent_pem: &str) {
    let (child_der, parent_der) = (der(child_pem), der(parent_pem));
    let (child, parent) = (parse(&child_der), parse(&parent_der));
    child
        .verify_signature(Some(parent.public_key()))
        .expect("signature verifies with the parent's key");
    assert_eq!(child.issuer().as_raw(), parent.subject().as_raw());
}
