//! CRLs: they parse, verify and list the revoked serials.

use std::time::Duration;

use arca_pki::{LeafRequest, PkiError};
use time::Duration as TimeDuration;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;

use crate::common::*;

#[test]
fn crl_lists_revoked_serials_and_verifies() {
    let (_, inter, ca) = root_and_intermediate();
    let a = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    let b = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    let revoked_at = now() + TimeDuration::minutes(5);
    let crl_pem = arca_pki::build_crl(
        &ca,
        &[
            (a.serial_number.clone(), revoked_at),
            (b.serial_number.replace(':', ""), revoked_at),
        ],
        7,
        now() + TimeDuration::hours(1),
        Duration::from_secs(3 * 86_400),
    )
    .unwrap();
    assert!(crl_pem.starts_with("-----BEGIN X509 CRL-----\n"));

    let (pem, _) = Pem::read(std::io::Cursor::new(crl_pem.as_bytes())).unwrap();
    assert_eq!(pem.label, "X509 CRL");
    let (rest, crl) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    assert!(rest.is_empty());

    let inter_der = der(&inter.certificate_pem);
    let inter_cert = parse(&inter_der);
    crl.verify_signature(inter_cert.public_key()).unwrap();
    assert_eq!(crl.issuer().as_raw(), inter_cert.subject().as_raw());
    assert_eq!(crl.crl_number().unwrap().to_string(), "7");
    assert_eq!(
        crl.last_update().to_datetime(),
        now() + TimeDuration::hours(1)
    );
    assert_eq!(
        crl.next_update().unwrap().to_datetime(),
        now() + TimeDuration::hours(1) + TimeDuration::days(3)
    );

    let listed: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| arca_pki::format_serial(r.raw_serial()))
        .collect();
    assert_eq!(
        listed,
        vec![a.serial_number.clone(), b.serial_number.clone()]
    );
    for r in crl.iter_revoked_certificates() {
        assert_eq!(r.revocation_date.to_datetime(), revoked_at);
    }

    // The CRL's authority key id is the CA's subject key id.
    let ski = inter_cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
    let aki = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    assert!(ski.is_some());
    assert_eq!(aki, ski);
}

#[test]
fn empty_crl_and_bad_inputs() {
    let (_, _, ca) = root_and_intermediate();
    let none: &[(&str, time::OffsetDateTime)] = &[];
    let crl = arca_pki::build_crl(&ca, none, 0, now(), Duration::from_secs(60)).unwrap();
    let (pem, _) = Pem::read(std::io::Cursor::new(crl.as_bytes())).unwrap();
    let (_, parsed) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    assert_eq!(parsed.iter_revoked_certificates().count(), 0);
    assert_eq!(parsed.crl_number().unwrap().to_string(), "0");

    let big = arca_pki::build_crl(&ca, none, u64::MAX, now(), Duration::from_secs(60)).unwrap();
    let (pem, _) = Pem::read(std::io::Cursor::new(big.as_bytes())).unwrap();
    let (_, parsed) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    assert_eq!(
        parsed.crl_number().unwrap().to_string(),
        u64::MAX.to_string()
    );

    let err = arca_pki::build_crl(&ca, &[("zz:top", now())], 1, now(), Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(err, PkiError::InvalidParams(_)));
    let err = arca_pki::build_crl(&ca, none, 1, now(), Duration::ZERO).unwrap_err();
    assert!(matches!(err, PkiError::InvalidParams(_)));
}
