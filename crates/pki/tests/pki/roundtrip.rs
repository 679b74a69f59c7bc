//! Root → intermediate → leaf, through every construction path.

use std::time::Duration;

use arca_pki::{
    CaParams, CaSigner, KeyType, LeafRequest, PkiError, PrivateKeyFormat, SignOverrides, Template,
};
use time::Duration as TimeDuration;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};

use crate::common::*;

#[test]
fn root_intermediate_leaf_chain_verifies_and_inspects() {
    let (root, inter, signer) = root_and_intermediate();

    // The root is self-signed, the intermediate signed by the root.
    assert_signed_by(&root.certificate_pem, &root.certificate_pem);
    assert_signed_by(&inter.certificate_pem, &root.certificate_pem);
    assert_eq!(root.issuing_ca_pem, root.certificate_pem);
    assert_eq!(root.ca_chain, vec![root.certificate_pem.clone()]);
    assert_eq!(inter.issuing_ca_pem, root.certificate_pem);
    assert_eq!(inter.ca_chain, vec![root.certificate_pem.clone()]);

    let root_der = der(&root.certificate_pem);
    let root_cert = parse(&root_der);
    assert!(root_cert.is_ca());
    assert_eq!(
        root_cert
            .basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint,
        None
    );
    let inter_der = der(&inter.certificate_pem);
    let inter_cert = parse(&inter_der);
    assert!(inter_cert.is_ca());
    let ku = inter_cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    assert_eq!(inter.info.issuer, "CN=Example Root");
    assert_eq!(inter.info.subject, "CN=Example Intermediate,O=Example,C=US");
    assert_eq!(inter.info.key_algorithm, "ECDSA256");
    assert_eq!(inter.info.signing_algorithm, "ECDSA-SHA384");

    // A leaf under the default-like template.
    let template = Template {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: true,
        ..ec_template()
    };
    let req = LeafRequest {
        alt_names: vec!["app.example.com".into(), "ops@mail.example.com".into()],
        ip_sans: vec!["10.0.0.1".into()],
        ttl: Some(10 * 3600 * Duration::from_secs(1)),
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&signer, &template, &req, now()).unwrap();
    assert_signed_by(&leaf.certificate_pem, &inter.certificate_pem);
    assert_eq!(leaf.issuing_ca_pem, inter.certificate_pem);
    assert_eq!(
        leaf.ca_chain,
        vec![inter.certificate_pem.clone(), root.certificate_pem.clone()]
    );

    let key = leaf.private_key_pem.as_ref().expect("a generated key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let info = arca_pki::inspect(
        &leaf.certificate_pem,
        Some(&leaf.ca_chain.concat()),
        Some(key),
    )
    .unwrap();
    assert_eq!(info.common_name.as_deref(), Some("localhost"));
    assert_eq!(
        info.alt_names,
        vec![
            "app.example.com",
            "localhost",
            "10.0.0.1",
            "ops@mail.example.com"
        ]
    );
    assert_eq!(info.issuer, "CN=Example Intermediate,O=Example,C=US");
    assert_eq!(info.issuer_display, "US Example Example Intermediate");
    assert_eq!(info.subject, "CN=localhost");
    assert_eq!(info.serial_number, leaf.serial_number);
    assert_eq!(info.serial_number.len(), 20 * 3 - 1);
    assert!(info.serial_number.split(':').all(|b| {
        b.len() == 2
            && b.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }));
    assert_eq!(info.not_before, now() - TimeDuration::seconds(30));
    assert_eq!(info.not_after, now() + TimeDuration::hours(10));
    assert_eq!(
        (leaf.not_before, leaf.not_after),
        (info.not_before, info.not_after)
    );
    assert_eq!(info.key_algorithm, "ECDSA256");
    assert_eq!(info.signing_algorithm, "ECDSA-SHA256");
    assert!(info.intermediate_included);
    assert!(info.private_key_included);
    // What `issue` reports is what `inspect` reads, bundle flags aside.
    assert_eq!(leaf.info.alt_names, info.alt_names);
    assert_eq!(leaf.info.issuer, info.issuer);
    assert!(!leaf.info.intermediate_included && !leaf.info.private_key_included);

    // An end-entity certificate: not a CA, TLS EKUs, default key usages,
    // key identifiers that link to the issuer.
    let leaf_der = der(&leaf.certificate_pem);
    let leaf_cert = parse(&leaf_der);
    assert!(!leaf_cert.is_ca());
    let eku = leaf_cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth && !eku.code_signing);
    let ku = leaf_cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment() && ku.key_agreement());
    let ski = |c: &x509_parser::certificate::X509Certificate<'_>| {
        c.iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
    };
    let aki = leaf_cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    assert!(ski(&leaf_cert).is_some());
    assert_eq!(aki, ski(&inter_cert));
}

#[test]
fn rsa_root_and_leaf_with_pkcs1_keys() {
    let mut params = CaParams::new("RSA Root", 5 * YEAR);
    params.private_key_format = PrivateKeyFormat::Der;
    let root = arca_pki::generate_root(&params, now()).unwrap();
    assert!(
        root.private_key_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
    assert_eq!(root.info.key_algorithm, "RSA2048");
    assert_eq!(root.info.signing_algorithm, "SHA256-RSA");
    // The PKCS#1 key loads as a signer.
    let ca = signer(&root);

    let template = Template::default();
    let req = LeafRequest {
        private_key_format: PrivateKeyFormat::Der,
        ..LeafRequest::new("localhost")
    };
    let leaf = arca_pki::issue(&ca, &template, &req, now()).unwrap();
    let key = leaf.private_key_pem.as_ref().unwrap();
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    let info = arca_pki::inspect(&leaf.certificate_pem, None, Some(key)).unwrap();
    assert_eq!(info.key_algorithm, "RSA2048");
    assert_eq!(info.signing_algorithm, "SHA256-RSA");
    assert!(!info.intermediate_included);
    assert_signed_by(&leaf.certificate_pem, &root.certificate_pem);

    // And converts both ways.
    let pkcs8 = arca_pki::convert_private_key(key, PrivateKeyFormat::Pkcs8).unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    arca_pki::inspect(&leaf.certificate_pem, None, Some(&pkcs8)).unwrap();
    let back = arca_pki::convert_private_key(&pkcs8, PrivateKeyFormat::Der).unwrap();
    assert_eq!(*back, **key);
}

#[test]
fn path_length_constraints_are_honoured() {
    let mut p = ec_ca("Root", 256);
    p.max_path_length = Some(0);
    let root0 = arca_pki::generate_root(&p, now()).unwrap();
    let err =
        arca_pki::generate_intermediate(&ec_ca("Sub", 256), &signer(&root0), now()).unwrap_err();
    assert!(matches!(err, PkiError::NotAllowed(_)), "{err}");

    p.max_path_length = Some(1);
    let root1 = arca_pki::generate_root(&p, now()).unwrap();
    let root1_signer = signer(&root1);
    assert_eq!(root1_signer.path_len_constraint(), Some(1));
    let mut sub = ec_ca("Sub", 256);
    sub.max_path_length = Some(5);
    let inter = arca_pki::generate_intermediate(&sub, &root1_signer, now()).unwrap();
    let inter_signer = signer(&inter);
    assert_eq!(inter_signer.path_len_constraint(), Some(0));
    let err =
        arca_pki::generate_intermediate(&ec_ca("Sub2", 256), &inter_signer, now()).unwrap_err();
    assert!(matches!(err, PkiError::NotAllowed(_)));
    // A leaf is still fine.
    arca_pki::issue(
        &inter_signer,
        &ec_template(),
        &LeafRequest::new("localhost"),
        now(),
    )
    .unwrap();

    // IBM's -1 means unconstrained.
    let mut p = ec_ca("Root", 256);
    p.max_path_length = Some(-1);
    let root = arca_pki::generate_root(&p, now()).unwrap();
    assert_eq!(signer(&root).path_len_constraint(), None);
}

#[test]
fn intermediate_validity_is_clamped_to_the_issuer() {
    let mut p = ec_ca("Short Root", 256);
    p.ttl = 2 * DAY;
    let root = arca_pki::generate_root(&p, now()).unwrap();
    assert_eq!(root.not_after, now() + TimeDuration::days(2));
    let inter =
        arca_pki::generate_intermediate(&ec_ca("Long Sub", 256), &signer(&root), now()).unwrap();
    assert_eq!(inter.not_after, root.not_after);
    assert_eq!(inter.not_before, now() - TimeDuration::seconds(30));

    // An expired CA refuses to sign.
    let later = now() + TimeDuration::days(3);
    let err =
        arca_pki::generate_intermediate(&ec_ca("Sub", 256), &signer(&root), later).unwrap_err();
    assert!(matches!(err, PkiError::NotACa(_)), "{err}");
}

#[test]
fn external_signing_via_csr_and_set_signed() {
    let root = arca_pki::generate_root(&ec_ca("Root", 256), now()).unwrap();
    let root_signer = signer(&root);

    let bundle = arca_pki::intermediate_csr(&ec_ca("External Sub", 256)).unwrap();
    assert!(
        bundle
            .csr_pem
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
    );
    let overrides = SignOverrides {
        ttl: Some(YEAR),
        max_path_length: Some(3),
        permitted_dns_domains: vec!["example.com".into()],
        ..SignOverrides::default()
    };
    let signed =
        arca_pki::sign_csr(&root_signer, &bundle.csr_pem, &overrides, true, now()).unwrap();
    assert!(signed.private_key_pem.is_none());
    assert_eq!(signed.info.common_name.as_deref(), Some("External Sub"));
    assert_eq!(signed.not_after, now() + TimeDuration::days(365));
    assert_signed_by(&signed.certificate_pem, &root.certificate_pem);

    // set_signed: the certificate must match the kept key.
    let inter = arca_pki::accept_signed_intermediate(
        &signed.certificate_pem,
        &bundle.private_key_pem,
        std::slice::from_ref(&root.certificate_pem),
    )
    .unwrap();
    assert_eq!(inter.path_len_constraint(), Some(3));
    let other = arca_pki::intermediate_csr(&ec_ca("Other", 256)).unwrap();
    let err = CaSigner::from_pem(&signed.certificate_pem, &other.private_key_pem).unwrap_err();
    assert_eq!(err, PkiError::KeyMismatch);

    // The externally signed CA issues; name constraints are enforced.
    let template = Template {
        allow_any_name: true,
        ..ec_template()
    };
    let leaf =
        arca_pki::issue(&inter, &template, &LeafRequest::new("a.example.com"), now()).unwrap();
    assert_signed_by(&leaf.certificate_pem, &signed.certificate_pem);
    assert_eq!(leaf.ca_chain.len(), 2);
    let err = arca_pki::issue(&inter, &template, &LeafRequest::new("evil.org"), now()).unwrap_err();
    assert!(
        matches!(err, PkiError::NotAllowed(ref m) if m.contains("permitted")),
        "{err}"
    );

    // A leaf certificate is not a CA.
    let err = CaSigner::from_pem(
        &leaf.certificate_pem,
        leaf.private_key_pem.as_ref().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, PkiError::NotACa(_)));
}

#[test]
fn sign_csr_overrides_and_csr_values() {
    let root = arca_pki::generate_root(&ec_ca("Root", 256), now()).unwrap();
    let ca = signer(&root);
    let mut p = ec_ca("csr.example.com", 256);
    p.organization = vec!["Requester".into()];
    p.alt_names = vec!["alt.example.com".into()];
    let bundle = arca_pki::intermediate_csr(&p).unwrap();

    let verbatim = SignOverrides {
        use_csr_values: true,
        common_name: Some("ignored".into()),
        ..SignOverrides::default()
    };
    let cert = arca_pki::sign_csr(&ca, &bundle.csr_pem, &verbatim, false, now()).unwrap();
    assert_eq!(cert.info.subject, "CN=csr.example.com,O=Requester");
    assert_eq!(
        cert.info.alt_names,
        vec!["alt.example.com", "csr.example.com"]
    );
    // No TTL: valid until the CA expires.
    assert_eq!(cert.not_after, root.not_after);
    let der_leaf = der(&cert.certificate_pem);
    assert!(!parse(&der_leaf).is_ca());

    let replaced = SignOverrides {
        common_name: Some("other.example.com".into()),
        exclude_cn_from_sans: true,
        ip_sans: vec!["192.0.2.7".into()],
        ttl: Some(DAY),
        ..SignOverrides::default()
    };
    let cert = arca_pki::sign_csr(&ca, &bundle.csr_pem, &replaced, false, now()).unwrap();
    assert_eq!(cert.info.subject, "CN=other.example.com");
    assert_eq!(cert.info.alt_names, vec!["192.0.2.7"]);
    // The certified key is the CSR's.
    let info = arca_pki::inspect(&cert.certificate_pem, None, Some(&bundle.private_key_pem));
    assert!(info.unwrap().private_key_included);

    // A tampered CSR fails proof of possession or parsing.
    let mut bad = bundle.csr_pem.clone().into_bytes();
    let i = (bad.len() / 2..bad.len())
        .find(|&i| bad[i].is_ascii_alphanumeric())
        .unwrap();
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let err = arca_pki::sign_csr(
        &ca,
        std::str::from_utf8(&bad).unwrap(),
        &replaced,
        false,
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PkiError::InvalidCsr(_) | PkiError::UnsupportedKey(_)),
        "{err}"
    );
}

#[test]
fn issue_with_csr_returns_no_key() {
    let (_, inter, ca) = root_and_intermediate();
    let bundle = arca_pki::intermediate_csr(&ec_ca("localhost", 256)).unwrap();
    let req = LeafRequest {
        csr: Some(bundle.csr_pem.clone()),
        ..LeafRequest::new("ignored-because-the-csr-has-a-cn")
    };
    let leaf = arca_pki::issue(&ca, &ec_template(), &req, now()).unwrap();
    assert!(leaf.private_key_pem.is_none());
    assert_eq!(leaf.info.common_name.as_deref(), Some("localhost"));
    assert_signed_by(&leaf.certificate_pem, &inter.certificate_pem);
    arca_pki::inspect(&leaf.certificate_pem, None, Some(&bundle.private_key_pem)).unwrap();

    // The CSR key must fit the template.
    let rsa_template = Template::default();
    let err = arca_pki::issue(&ca, &rsa_template, &req, now()).unwrap_err();
    assert!(
        matches!(err, PkiError::NotAllowed(ref m) if m.contains("key type")),
        "{err}"
    );
}

#[test]
fn urls_are_encoded_in_issued_certificates() {
    let root = arca_pki::generate_root(&ec_ca("Root", 256), now()).unwrap();
    let ca = signer(&root)
        .with_urls(
            &["https://arca.example/v2/crl/root.crl".into()],
            &["https://arca.example/v2/ca/root.pem".into()],
        )
        .unwrap();
    let leaf = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    let leaf_der = der(&leaf.certificate_pem);
    let cert = parse(&leaf_der);
    let mut crl_urls = Vec::new();
    let mut aia_urls = Vec::new();
    for ext in cert.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in &points.points {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(u) = name {
                                crl_urls.push((*u).to_owned());
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    assert_eq!(desc.access_method.to_id_string(), "1.3.6.1.5.5.7.48.2");
                    if let GeneralName::URI(u) = desc.access_location {
                        aia_urls.push(u.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(crl_urls, vec!["https://arca.example/v2/crl/root.crl"]);
    assert_eq!(aia_urls, vec!["https://arca.example/v2/ca/root.pem"]);
    assert!(signer(&root).with_urls(&["not a url".into()], &[]).is_err());
}

#[test]
fn subject_attributes_and_escaping() {
    let mut p = ec_ca("Root #1", 256);
    p.organization = vec!["Example, Inc.".into()];
    p.ou = vec!["PKI".into()];
    p.country = vec!["US".into()];
    p.province = vec!["Texas".into()];
    p.locality = vec!["Austin".into()];
    let root = arca_pki::generate_root(&p, now()).unwrap();
    assert_eq!(
        root.info.subject,
        "CN=Root #1,OU=PKI,O=Example\\, Inc.,L=Austin,ST=Texas,C=US"
    );
    assert_eq!(root.info.issuer, root.info.subject);
    assert_eq!(
        root.info.issuer_display,
        "US Texas Austin Example, Inc. PKI Root #1"
    );
    // A common name that is not a host name is not copied into the SANs.
    assert!(root.info.alt_names.is_empty());

    p.ou = vec!["A".into(), "B".into()];
    assert!(matches!(
        arca_pki::generate_root(&p, now()),
        Err(PkiError::InvalidParams(_))
    ));
    let mut p = ec_ca("", 256);
    assert!(arca_pki::generate_root(&p, now()).is_err());
    p.common_name = "x".into();
    p.ttl = Duration::ZERO;
    assert!(arca_pki::generate_root(&p, now()).is_err());
    p.ttl = YEAR;
    p.key_bits = 224;
    assert!(matches!(
        arca_pki::generate_root(&p, now()),
        Err(PkiError::UnsupportedKey(_))
    ));
}

#[test]
fn ec_p521_and_ed25519_keys() {
    let root = arca_pki::generate_root(&ec_ca("P521 Root", 521), now()).unwrap();
    assert_eq!(root.info.key_algorithm, "ECDSA521");
    assert_eq!(root.info.signing_algorithm, "ECDSA-SHA512");
    let ca = signer(&root);
    let template = Template {
        key_type: KeyType::Ed25519,
        key_bits: 256,
        ..Template::default()
    };
    let leaf = arca_pki::issue(&ca, &template, &LeafRequest::new("localhost"), now()).unwrap();
    assert_eq!(leaf.info.key_algorithm, "ED25519");
    let key = leaf.private_key_pem.as_ref().unwrap();
    arca_pki::inspect(&leaf.certificate_pem, None, Some(key)).unwrap();
}

#[test]
fn debug_output_never_shows_private_keys() {
    let (root, _, ca) = root_and_intermediate();
    let leaf = arca_pki::issue(&ca, &ec_template(), &LeafRequest::new("localhost"), now()).unwrap();
    let bundle = arca_pki::intermediate_csr(&ec_ca("x", 256)).unwrap();
    for text in [
        format!("{root:?}"),
        format!("{leaf:?}"),
        format!("{ca:?}"),
        format!("{bundle:?}"),
    ] {
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    let key_body = root.private_key_pem.lines().nth(1).unwrap().to_owned();
    assert!(!format!("{root:?}").contains(&key_body));
}
