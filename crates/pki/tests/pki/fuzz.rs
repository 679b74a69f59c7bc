//! Property tests: the parsers of untrusted input never panic, whatever
//! they are fed. Any `Ok` or `Err` is acceptable; a panic fails the test.

use std::sync::OnceLock;

use arca_pki::{CaSigner, LeafRequest, SignOverrides};
use base64::Engine as _;
use proptest::prelude::*;

use crate::common::*;

struct Fixture {
    cert: String,
    key: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    csr: String,
    ca: CaSigner,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (_, _, ca) = root_and_intermediate();
        let leaf =
            arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
        let key = leaf.private_key_pem.unwrap().to_string();
        let csr = arca_pki::intermediate_csr(&ec_ca("localhost", 256))
            .unwrap()
            .csr_pem;
        Fixture {
            cert_der: der(&leaf.certificate_pem),
            key_der: der(&key),
            cert: leaf.certificate_pem,
            key,
            csr,
            ca,
        }
    })
}

fn armour(label: &str, bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
}

/// Flips, overwrites, truncates and extends bytes of a valid encoding.
fn mutate(original: &[u8], edits: &[(usize, u8)], truncate: Option<usize>) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for &(at, value) in edits {
        let len = bytes.len();
        if len > 0 {
            bytes[at % len] ^= value;
        }
    }
    if let Some(cut) = truncate {
        bytes.truncate(cut % (original.len() + 1));
    }
    bytes
}

const LABELS: &[&str] = &[
    "CERTIFICATE",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "CERTIFICATE REQUEST",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn inspect_never_panics_on_arbitrary_text(
        cert in ".{0,400}",
        inter in proptest::option::of(".{0,200}"),
        key in proptest::option::of(".{0,200}"),
    ) {
        let _ = arca_pki::inspect(&cert, inter.as_deref(), key.as_deref());
    }

    #[test]
    fn inspect_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = arca_pki::inspect(&text, Some(&text), Some(&text));
    }

    #[test]
    fn inspect_never_panics_on_armoured_garbage(
        label in proptest::sample::select(LABELS),
        bytes in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let text = armour(label, &bytes);
        let _ = arca_pki::inspect(&text, None, None);
        let _ = arca_pki::inspect(&fixture().cert, Some(&text), Some(&text));
        let _ = arca_pki::convert_private_key(&text, arca_pki::PrivateKeyFormat::Der);
        let _ = CaSigner::from_pem(&text, &text);
    }

    #[test]
    fn inspect_never_panics_on_mutated_certificates_and_keys(
        edits in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..8),
        truncate in proptest::option::of(any::<usize>()),
    ) {
        let f = fixture();
        let cert = armour("CERTIFICATE", &mutate(&f.cert_der, &edits, truncate));
        let key = armour("PRIVATE KEY", &mutate(&f.key_der, &edits, truncate));
        let _ = arca_pki::inspect(&cert, None, Some(&f.key));
        let _ = arca_pki::inspect(&f.cert, None, Some(&key));
        let _ = arca_pki::inspect(&cert, Some(&cert), Some(&key));
        let _ = CaSigner::from_pem(&cert, &key);
    }

    #[test]
    fn csr_signing_never_panics_on_mutated_requests(
        edits in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
        truncate in proptest::option::of(any::<usize>()),
    ) {
        let f = fixture();
        let csr_der = der(&f.csr);
        let csr = armour("CERTIFICATE REQUEST", &mutate(&csr_der, &edits, truncate));
        let _ = arca_pki::sign_csr(&f.ca, &csr, &SignOverrides::default(), false, now());
    }

    #[test]
    fn building_from_arbitrary_parameters_never_panics(
        cn in "\\PC{0,70}",
        org in "\\PC{0,12}",
        country in "\\PC{0,3}",
        serial in proptest::option::of("\\PC{0,8}"),
        alt in proptest::collection::vec("\\PC{0,20}", 0..3),
        uri in proptest::collection::vec("\\PC{0,20}", 0..2),
        domains in proptest::collection::vec("\\PC{0,12}", 0..2),
        path in proptest::option::of(-2i64..300),
    ) {
        let mut p = ec_ca(&cn, 256);
        p.organization = vec![org.clone()];
        p.country = vec![country.clone()];
        p.serial_number = serial.clone();
        p.alt_names = alt.clone();
        p.uri_sans = uri.clone();
        p.permitted_dns_domains = domains;
        p.max_path_length = path;
        let _ = arca_pki::generate_root(&p, now());
        let _ = arca_pki::intermediate_csr(&p);

        let f = fixture();
        let template = arca_pki::Template {
            allow_any_name: true,
            enforce_hostnames: false,
            allowed_uri_sans: vec!["*".into()],
            organization: vec![org],
            country: vec![country],
            serial_number: serial,
            ..ec_template()
        };
        let req = LeafRequest {
            alt_names: alt,
            uri_sans: uri,
            ..LeafRequest::new(cn)
        };
        let _ = arca_pki::issue(&f.ca, &template, &req, now());
    }

    #[test]
    fn small_parsers_never_panic(text in "\\PC{0,24}") {
        let _ = arca_pki::parse_ttl(&text);
        let _ = arca_pki::parse_serial(&text);
        let _ = arca_pki::KeyType::parse(&text);
        let _ = ec_template().check_name(&text);
    }
}
