//! `issue` under templates: name policy, lifetimes, keys, subjects.

use std::time::Duration;

use arca_pki::{KeyType, LeafRequest, PkiError, Template};
use time::Duration as TimeDuration;

use crate::common::*;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn default_template_allows_localhost_and_refuses_other_names() {
    let (_, _, ca) = root_and_intermediate();
    let template = ec_template();
    arca_pki::issue(&ca, &template, &LeafRequest::new("localhost"), now()).unwrap();

    let err = arca_pki::issue(&ca, &template, &LeafRequest::new("example.com"), now()).unwrap_err();
    match err {
        PkiError::NotAllowed(message) => {
            assert!(message.contains("\"example.com\""), "{message}");
            assert!(message.contains("template"), "{message}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
    // A disallowed SAN is refused even with an allowed common name.
    let req = LeafRequest {
        alt_names: vec!["www.example.com".into()],
        ..LeafRequest::new("localhost")
    };
    assert!(matches!(
        arca_pki::issue(&ca, &template, &req, now()),
        Err(PkiError::NotAllowed(_))
    ));
    // The IBM default (RSA 2048) template issues localhost too.
    let leaf = arca_pki::issue(
        &ca,
        &Template::default(),
        &LeafRequest::new("localhost"),
        now(),
    )
    .unwrap();
    assert_eq!(leaf.info.key_algorithm, "RSA2048");
}

#[test]
fn allowed_domains_and_san_kinds() {
    let (_, _, ca) = root_and_intermediate();
    let template = Template {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: true,
        allow_bare_domains: true,
        ..ec_template()
    };
    let req = LeafRequest {
        alt_names: vec!["*.api.example.com".into(), "example.com".into()],
        ip_sans: vec!["2001:db8::1".into()],
        ..LeafRequest::new("www.example.com")
    };
    let leaf = arca_pki::issue(&ca, &template, &req, now()).unwrap();
    assert_eq!(
        leaf.info.alt_names,
        vec![
            "*.api.example.com",
            "example.com",
            "www.example.com",
            "2001:db8::1"
        ]
    );

    let no_ips = Template {
        allow_ip_sans: false,
        ..template.clone()
    };
    let err = arca_pki::issue(&ca, &no_ips, &req, now()).unwrap_err();
    assert!(
        matches!(err, PkiError::NotAllowed(ref m) if m.contains("IP")),
        "{err}"
    );

    let uri_req = LeafRequest {
        uri_sans: vec!["spiffe://example.com/web".into()],
        ..LeafRequest::new("www.example.com")
    };
    assert!(matches!(
        arca_pki::issue(&ca, &template, &uri_req, now()),
        Err(PkiError::NotAllowed(_))
    ));
    let with_uris = Template {
        allowed_uri_sans: vec!["spiffe://example.com/*".into()],
        ..template
    };
    arca_pki::issue(&ca, &with_uris, &uri_req, now()).unwrap();

    // exclude_cn_from_sans keeps the CN out of the SANs.
    let req = LeafRequest {
        exclude_cn_from_sans: true,
        alt_names: vec!["example.com".into()],
        ..LeafRequest::new("www.example.com")
    };
    let leaf = arca_pki::issue(&ca, &with_uris, &req, now()).unwrap();
    assert_eq!(leaf.info.alt_names, vec!["example.com"]);
    assert_eq!(leaf.info.common_name.as_deref(), Some("www.example.com"));
}

#[test]
fn ttl_is_clamped_to_template_and_ca() {
    let (_, inter, ca) = root_and_intermediate();
    let capped = Template {
        max_ttl: Some(HOUR),
        ..ec_template()
    };
    let req = LeafRequest {
        ttl: Some(10 * HOUR),
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&ca, &capped, &req, now()).unwrap();
    assert_eq!(leaf.not_after, now() + TimeDuration::hours(1));

    // Template ttl applies when the request has none.
    let with_ttl = Template {
        ttl: Some(Duration::from_secs(300)),
        ..capped.clone()
    };
    let leaf = arca_pki::issue(&ca, &with_ttl, &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.not_after, now() + TimeDuration::minutes(5));
    // Then max_ttl.
    let leaf = arca_pki::issue(&ca, &capped, &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.not_after, now() + TimeDuration::hours(1));

    // The CA's expiry caps everything.
    let req = LeafRequest {
        ttl: Some(100 * YEAR),
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&ca, &ec_template(), &req, now()).unwrap();
    assert_eq!(leaf.not_after, inter.not_after);
    let leaf = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.not_after, inter.not_after);

    // not_before is backdated by the template's not_before_duration.
    let skew = Template {
        not_before_duration: Duration::from_secs(120),
        ..ec_template()
    };
    let later = now() + TimeDuration::hours(1);
    let leaf = arca_pki::issue(&ca, &skew, &LeafRequest::new("localhost"), later).unwrap();
    assert_eq!(leaf.not_before, later - TimeDuration::minutes(2));
    // ...but never to before the CA itself was valid.
    let leaf = arca_pki::issue(&ca, &skew, &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.not_before, inter.not_before);

    // A bad template is refused as such.
    let bad = Template {
        ttl: Some(2 * HOUR),
        ..capped
    };
    assert!(matches!(bad.validate(), Err(PkiError::InvalidParams(_))));
}

#[test]
fn key_rules() {
    let (_, _, ca) = root_and_intermediate();
    let template = ec_template();
    let req = LeafRequest {
        key_type: Some(KeyType::Rsa),
        ..LeafRequest::new("localhost")
    };
    let err = arca_pki::issue(&ca, &template, &req, now()).unwrap_err();
    assert!(matches!(err, PkiError::NotAllowed(_)), "{err}");
    // Bigger is fine, smaller is not.
    let req = LeafRequest {
        key_bits: Some(384),
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&ca, &template, &req, now()).unwrap();
    assert_eq!(leaf.info.key_algorithm, "ECDSA384");
    let big = Template {
        key_bits: 384,
        ..ec_template()
    };
    let err = arca_pki::issue(&ca, &big, &LeafRequest::new("localhost"), now()).map(|_| ());
    assert!(err.is_ok());
    let req = LeafRequest {
        key_bits: Some(256),
        ..LeafRequest::new("localhost")
    };
    assert!(matches!(
        arca_pki::issue(&ca, &big, &req, now()),
        Err(PkiError::NotAllowed(_))
    ));
}

#[test]
fn subject_usages_and_flags_from_the_template() {
    let (_, _, ca) = root_and_intermediate();
    let template = Template {
        organization: vec!["Example".into()],
        ou: vec!["Web".into()],
        country: vec!["DE".into()],
        server_flag: true,
        client_flag: false,
        code_signing_flag: true,
        key_usage: vec!["DigitalSignature".into()],
        basic_constraints_valid_for_non_ca: true,
        ..ec_template()
    };
    let leaf = arca_pki::issue(&ca, &template, &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.info.subject, "CN=localhost,OU=Web,O=Example,C=DE");
    let leaf_der = der(&leaf.certificate_pem);
    let cert = parse(&leaf_der);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth && eku.code_signing);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_encipherment());
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(!bc.ca);

    // require_cn
    let err = arca_pki::issue(&ca, &template, &LeafRequest::new(""), now()).unwrap_err();
    assert!(matches!(err, PkiError::InvalidParams(_)));
    let optional = Template {
        require_cn: false,
        ..template
    };
    let req = LeafRequest {
        alt_names: vec!["localhost".into()],
        ..LeafRequest::new("")
    };
    let leaf = arca_pki::issue(&ca, &optional, &req, now()).unwrap();
    assert_eq!(leaf.info.common_name, None);
    assert_eq!(leaf.info.alt_names, vec!["localhost"]);
}
