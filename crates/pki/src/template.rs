//! Certificate templates (`private_cert_configuration_template`): the policy
//! that decides which names a private certificate may carry and how it is
//! built.
//!
//! The name rules follow the Vault PKI role semantics that IBM's private CA
//! is built on, so configurations behave the same here as there.

use std::time::Duration;

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};

use crate::error::PkiError;
use crate::keys::{KeyType, algorithm_for};

/// Policy for issuing private certificates.
///
/// [`Template::default`] gives the Secrets Manager defaults, under which
/// `localhost` is allowed and nothing else (a template created with only a
/// CA name, like `template-1` in the SDK's manual test, issues `localhost`).
///
/// Fields of the API's template that are deliberately absent:
/// `allowed_secret_groups` (checked by the secrets service, not here),
/// `allowed_domains_template` (needs identity templating), `other_sans` /
/// `allowed_other_sans` and `policy_identifiers` (not supported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Domains names may be under (see the `allow_*` flags). Entries may
    /// contain `*` globs when `allow_glob_domains` is set.
    pub allowed_domains: Vec<String>,
    /// Allow a name equal to an allowed domain. Default `false`.
    pub allow_bare_domains: bool,
    /// Allow names below an allowed domain (any depth), including wildcards
    /// whose base is the domain. Default `false`.
    pub allow_subdomains: bool,
    /// Treat allowed domains containing `*` as globs. Default `false`.
    pub allow_glob_domains: bool,
    /// Allow wildcard names (`*.example.com`). Default `true`.
    pub allow_wildcard_certificates: bool,
    /// Allow any name (host names are still checked when
    /// `enforce_hostnames` is set). Default `false`.
    pub allow_any_name: bool,
    /// Allow `localhost` and `localdomain` (and their subdomains with
    /// `allow_subdomains`). Default `true`.
    pub allow_localhost: bool,
    /// Require DNS names (and the host part of e-mail addresses) to be valid
    /// host names. Default `true`.
    pub enforce_hostnames: bool,
    /// Allow IP address SANs. Default `true`.
    pub allow_ip_sans: bool,
    /// URI SANs allowed, as globs; empty means URI SANs are refused.
    pub allowed_uri_sans: Vec<String>,
    /// Longest validity; longer requests are shortened. `None`: only the CA's
    /// own expiry limits it.
    pub max_ttl: Option<Duration>,
    /// Validity when the request gives none. `None`: `max_ttl`, or up to the
    /// CA's expiry.
    pub ttl: Option<Duration>,
    /// Key type for generated keys; CSR keys must be of this type.
    /// Default RSA.
    pub key_type: KeyType,
    /// Key size for generated keys; CSR keys must be at least this big.
    /// Default 2048.
    pub key_bits: u32,
    /// Key usages by Go / Vault name (`DigitalSignature`, `KeyAgreement`,
    /// `KeyEncipherment`, `ContentCommitment`, `DataEncipherment`,
    /// `CertSign`, `CRLSign`, `EncipherOnly`, `DecipherOnly`; case does not
    /// matter). Default `DigitalSignature`, `KeyAgreement`,
    /// `KeyEncipherment`.
    pub key_usage: Vec<String>,
    /// Extended key usages by name (`ServerAuth`, `ClientAuth`,
    /// `CodeSigning`, `EmailProtection`, `TimeStamping`, `OCSPSigning`,
    /// `Any`, `IPSECEndSystem`, `IPSECTunnel`, `IPSECUser`,
    /// `MicrosoftServerGatedCrypto`, `NetscapeServerGatedCrypto`,
    /// `MicrosoftCommercialCodeSigning`, `MicrosoftKernelCodeSigning`),
    /// added to those the flags below imply.
    pub ext_key_usage: Vec<String>,
    /// Extra extended key usages as dotted OIDs.
    pub ext_key_usage_oids: Vec<String>,
    /// Add the TLS server EKU. Default `true`.
    pub server_flag: bool,
    /// Add the TLS client EKU. Default `true`.
    pub client_flag: bool,
    /// Add the code-signing EKU. Default `false`.
    pub code_signing_flag: bool,
    /// Add the e-mail protection EKU. Default `false`.
    pub email_protection_flag: bool,
    /// With a CSR, take the common name from it. Default `true`.
    pub use_csr_common_name: bool,
    /// With a CSR, take the SANs from it. Default `true`.
    pub use_csr_sans: bool,
    /// Refuse requests without a common name. Default `true`.
    pub require_cn: bool,
    /// Mark end-entity certificates `CA:FALSE` explicitly. Default `false`.
    pub basic_constraints_valid_for_non_ca: bool,
    /// How far `not_before` is backdated, for clock skew. Default 30 s.
    pub not_before_duration: Duration,
    /// Subject organizational unit (at most one value).
    pub ou: Vec<String>,
    /// Subject organization (at most one value).
    pub organization: Vec<String>,
    /// Subject country (at most one value).
    pub country: Vec<String>,
    /// Subject locality (at most one value).
    pub locality: Vec<String>,
    /// Subject state or province (at most one value).
    pub province: Vec<String>,
    /// Subject street address (at most one value).
    pub street_address: Vec<String>,
    /// Subject postal code (at most one value).
    pub postal_code: Vec<String>,
    /// Subject `serialNumber` attribute (RFC 4519), not the certificate
    /// serial.
    pub serial_number: Option<String>,
}

impl Default for Template {
    fn default() -> Self {
        Self {
            allowed_domains: Vec::new(),
            allow_bare_domains: false,
            allow_subdomains: false,
            allow_glob_domains: false,
            allow_wildcard_certificates: true,
            allow_any_name: false,
            allow_localhost: true,
            enforce_hostnames: true,
            allow_ip_sans: true,
            allowed_uri_sans: Vec::new(),
            max_ttl: None,
            ttl: None,
            key_type: KeyType::Rsa,
            key_bits: 2048,
            key_usage: vec![
                "DigitalSignature".into(),
                "KeyAgreement".into(),
                "KeyEncipherment".into(),
            ],
            ext_key_usage: Vec::new(),
            ext_key_usage_oids: Vec::new(),
            server_flag: true,
            client_flag: true,
            code_signing_flag: false,
            email_protection_flag: false,
            use_csr_common_name: true,
            use_csr_sans: true,
            require_cn: true,
            basic_constraints_valid_for_non_ca: false,
            not_before_duration: Duration::from_secs(30),
            ou: Vec::new(),
            organization: Vec::new(),
            country: Vec::new(),
            locality: Vec::new(),
            province: Vec::new(),
            street_address: Vec::new(),
            postal_code: Vec::new(),
            serial_number: None,
        }
    }
}

impl Template {
    /// Checks the template's own values (key spec, usage names, OIDs,
    /// subject lists), so a bad template is refused when it is configured
    /// rather than when a certificate is requested.
    ///
    /// # Errors
    /// [`PkiError::InvalidParams`] or [`PkiError::UnsupportedKey`].
    pub fn validate(&self) -> Result<(), PkiError> {
        algorithm_for(self.key_type, self.key_bits)?;
        self.key_usages()?;
        self.extended_key_usages()?;
        if let (Some(ttl), Some(max)) = (self.ttl, self.max_ttl)
            && ttl > max
        {
            return Err(PkiError::InvalidParams(
                "ttl must not be longer than max_ttl".into(),
            ));
        }
        crate::build::Subject {
            common_name: None,
            ou: &self.ou,
            organization: &self.organization,
            country: &self.country,
            locality: &self.locality,
            province: &self.province,
            street_address: &self.street_address,
            postal_code: &self.postal_code,
            serial_number: self.serial_number.as_deref(),
        }
        .to_dn()?;
        Ok(())
    }

    /// Checks one common name, DNS name or e-mail address against the name
    /// policy.
    ///
    /// # Errors
    /// [`PkiError::NotAllowed`] naming the refused name.
    pub fn check_name(&self, name: &str) -> Result<(), PkiError> {
        if self.name_allowed(name) {
            Ok(())
        } else {
            Err(PkiError::NotAllowed(format!(
                "name {name:?} is not allowed by the certificate template"
            )))
        }
    }

    /// Checks one URI SAN against `allowed_uri_sans`.
    ///
    /// # Errors
    /// [`PkiError::NotAllowed`] naming the refused URI.
    pub fn check_uri(&self, uri: &str) -> Result<(), PkiError> {
        if self
            .allowed_uri_sans
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), uri.as_bytes()))
        {
            Ok(())
        } else {
            Err(PkiError::NotAllowed(format!(
                "URI SAN {uri:?} is not allowed by the certificate template"
            )))
        }
    }

    fn name_allowed(&self, name: &str) -> bool {
        // An e-mail address is judged by its domain part.
        let (reduced_full, is_email) = match name.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.contains('@') => (domain, true),
            Some(_) => return false,
            None => (name, false),
        };
        let mut reduced = reduced_full;
        let mut wildcard = false;
        if reduced.contains('*') {
            if is_email || !self.allow_wildcard_certificates {
                return false;
            }
            match split_wildcard(reduced) {
                Some(base) => {
                    reduced = base;
                    wildcard = true;
                }
                None => return false,
            }
        }
        if self.enforce_hostnames && !is_hostname(reduced) {
            return false;
        }
        if self.allow_any_name {
            return true;
        }
        let reduced_lower = reduced.to_ascii_lowercase();
        if self.allow_localhost {
            for local in ["localhost", "localdomain"] {
                if (!wildcard && reduced_lower == local)
                    || (self.allow_subdomains
                        && (wildcard && reduced_lower == local
                            || reduced_lower.ends_with(&format!(".{local}"))))
                {
                    return true;
                }
            }
        }
        self.allowed_domains.iter().any(|domain| {
            let domain = domain.trim().to_ascii_lowercase();
            if domain.is_empty() {
                return false;
            }
            if self.allow_bare_domains && !wildcard && reduced_lower == domain {
                return true;
            }
            if self.allow_subdomains
                && ((wildcard && reduced_lower == domain)
                    || reduced_lower.ends_with(&format!(".{domain}")))
            {
                return true;
            }
            self.allow_glob_domains
                && domain.contains('*')
                && glob_match(
                    domain.as_bytes(),
                    reduced_full.to_ascii_lowercase().as_bytes(),
                )
        })
    }

    pub(crate) fn key_usages(&self) -> Result<Vec<KeyUsagePurpose>, PkiError> {
        self.key_usage
            .iter()
            .map(|name| {
                let lower = name.trim().to_ascii_lowercase();
                let lower = lower.strip_prefix("keyusage").unwrap_or(&lower);
                Ok(match lower {
                    "digitalsignature" => KeyUsagePurpose::DigitalSignature,
                    "contentcommitment" | "nonrepudiation" => KeyUsagePurpose::ContentCommitment,
                    "keyencipherment" => KeyUsagePurpose::KeyEncipherment,
                    "dataencipherment" => KeyUsagePurpose::DataEncipherment,
                    "keyagreement" => KeyUsagePurpose::KeyAgreement,
                    "certsign" | "keycertsign" => KeyUsagePurpose::KeyCertSign,
                    "crlsign" => KeyUsagePurpose::CrlSign,
                    "encipheronly" => KeyUsagePurpose::EncipherOnly,
                    "decipheronly" => KeyUsagePurpose::DecipherOnly,
                    _ => {
                        return Err(PkiError::InvalidParams(format!(
                            "key_usage: unknown key usage {name:?}"
                        )));
                    }
                })
            })
            .collect()
    }

    pub(crate) fn extended_key_usages(&self) -> Result<Vec<ExtendedKeyUsagePurpose>, PkiError> {
        let mut out = Vec::new();
        let mut add = |eku: ExtendedKeyUsagePurpose| {
            if !out.contains(&eku) {
                out.push(eku);
            }
        };
        if self.server_flag {
            add(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if self.client_flag {
            add(ExtendedKeyUsagePurpose::ClientAuth);
        }
        if self.code_signing_flag {
            add(ExtendedKeyUsagePurpose::CodeSigning);
        }
        if self.email_protection_flag {
            add(ExtendedKeyUsagePurpose::EmailProtection);
        }
        for name in &self.ext_key_usage {
            let lower = name.trim().to_ascii_lowercase();
            let lower = lower.strip_prefix("extkeyusage").unwrap_or(&lower);
            let other = |arcs: &[u64]| ExtendedKeyUsagePurpose::Other(arcs.to_vec());
            add(match lower {
                "any" => ExtendedKeyUsagePurpose::Any,
                "serverauth" => ExtendedKeyUsagePurpose::ServerAuth,
                "clientauth" => ExtendedKeyUsagePurpose::ClientAuth,
                "codesigning" => ExtendedKeyUsagePurpose::CodeSigning,
                "emailprotection" => ExtendedKeyUsagePurpose::EmailProtection,
                "timestamping" => ExtendedKeyUsagePurpose::TimeStamping,
                "ocspsigning" => ExtendedKeyUsagePurpose::OcspSigning,
                "ipsecendsystem" => other(&[1, 3, 6, 1, 5, 5, 7, 3, 5]),
                "ipsectunnel" => other(&[1, 3, 6, 1, 5, 5, 7, 3, 6]),
                "ipsecuser" => other(&[1, 3, 6, 1, 5, 5, 7, 3, 7]),
                "microsoftservergatedcrypto" => other(&[1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
                "netscapeservergatedcrypto" => other(&[2, 16, 840, 1, 113_730, 4, 1]),
                "microsoftcommercialcodesigning" => other(&[1, 3, 6, 1, 4, 1, 311, 2, 1, 22]),
                "microsoftkernelcodesigning" => other(&[1, 3, 6, 1, 4, 1, 311, 61, 1, 1]),
                _ => {
                    return Err(PkiError::InvalidParams(format!(
                        "ext_key_usage: unknown extended key usage {name:?}"
                    )));
                }
            });
        }
        for oid in &self.ext_key_usage_oids {
            add(ExtendedKeyUsagePurpose::Other(parse_oid(oid)?));
        }
        Ok(out)
    }
}

fn parse_oid(text: &str) -> Result<Vec<u64>, PkiError> {
    let arcs: Option<Vec<u64>> = text.trim().split('.').map(|a| a.parse().ok()).collect();
    match arcs {
        Some(arcs) if crate::build::is_encodable_oid(&arcs) => Ok(arcs),
        _ => Err(PkiError::InvalidParams(format!(
            "ext_key_usage_oids: {text:?} is not a dotted OID"
        ))),
    }
}

/// Validates a wildcard name per RFC 6125 §6.4.3 and returns its base (the
/// labels after the wildcard label). The wildcard must sit in the leftmost
/// label, once; `*.example.com`, `web*.example.com` qualify, `a.*.com`,
/// `*` and `**.example.com` do not.
fn split_wildcard(name: &str) -> Option<&str> {
    let (first, rest) = name.split_once('.')?;
    let partial_label_ok = first.matches('*').count() == 1
        && first
            .chars()
            .all(|c| c == '*' || c.is_ascii_alphanumeric() || c == '-');
    if !partial_label_ok || rest.contains('*') || rest.is_empty() {
        return None;
    }
    Some(rest)
}

/// Host name syntax (RFC 1123 labels, 253 characters at most, an optional
/// trailing dot), which is what `enforce_hostnames` demands.
pub(crate) fn is_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `*` matches any run of bytes (dots included), like Vault's glob
/// matching; everything else matches itself. Iterative with backtracking to
/// the last star, so it is linear-ish and cannot blow the stack.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn allowed(t: &Template, name: &str) -> bool {
        t.check_name(name).is_ok()
    }

    #[test]
    fn defaults_allow_localhost_only() {
        let t = Template::default();
        t.validate().unwrap();
        assert!(allowed(&t, "localhost"));
        assert!(allowed(&t, "LOCALHOST"));
        assert!(allowed(&t, "localdomain"));
        assert!(!allowed(&t, "example.com"));
        assert!(!allowed(&t, "sub.localhost"));
        let err = t.check_name("example.com").unwrap_err();
        assert!(matches!(err, PkiError::NotAllowed(ref m) if m.contains("example.com")));
    }

    #[test]
    fn domain_rules() {
        let mut t = Template {
            allowed_domains: vec!["example.com".into()],
            ..Template::default()
        };
        assert!(!allowed(&t, "example.com"));
        assert!(!allowed(&t, "a.example.com"));
        t.allow_bare_domains = true;
        assert!(allowed(&t, "example.com"));
        assert!(!allowed(&t, "a.example.com"));
        t.allow_subdomains = true;
        assert!(allowed(&t, "a.example.com"));
        assert!(allowed(&t, "a.b.example.com"));
        assert!(allowed(&t, "*.example.com"));
        assert!(allowed(&t, "ops@example.com"));
        assert!(allowed(&t, "ops@a.example.com"));
        assert!(!allowed(&t, "badexample.com"));
        assert!(!allowed(&t, "example.com.evil.org"));
        assert!(!allowed(&t, "a.*.example.com"));
        t.allow_wildcard_certificates = false;
        assert!(!allowed(&t, "*.example.com"));
    }

    #[test]
    fn globs_and_any_name() {
        let mut t = Template {
            allowed_domains: vec!["*.svc.example.com".into()],
            allow_glob_domains: true,
            allow_localhost: false,
            ..Template::default()
        };
        assert!(allowed(&t, "api.svc.example.com"));
        assert!(allowed(&t, "a.b.svc.example.com"));
        assert!(!allowed(&t, "svc.example.com"));
        assert!(!allowed(&t, "localhost"));
        t.allow_any_name = true;
        assert!(allowed(&t, "anything.org"));
        assert!(!allowed(&t, "not a hostname"));
        t.enforce_hostnames = false;
        assert!(allowed(&t, "not a hostname"));
    }

    #[test]
    fn glob_matcher() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*c", b"abbbc"));
        assert!(glob_match(b"*.example.com", b"x.y.example.com"));
        assert!(!glob_match(b"a*c", b"abbb"));
        assert!(glob_match(b"spiffe://cluster/*", b"spiffe://cluster/ns/x"));
        assert!(!glob_match(b"", b"a"));
    }

    #[test]
    fn uris_need_an_allow_list() {
        let mut t = Template::default();
        assert!(t.check_uri("spiffe://x/y").is_err());
        t.allowed_uri_sans = vec!["spiffe://x/*".into()];
        assert!(t.check_uri("spiffe://x/y").is_ok());
        assert!(t.check_uri("spiffe://z/y").is_err());
    }

    #[test]
    fn usages_parse() {
        let t = Template {
            key_usage: vec!["digitalsignature".into(), "KeyUsageCertSign".into()],
            ext_key_usage: vec!["TimeStamping".into(), "IPSECUser".into()],
            ext_key_usage_oids: vec!["1.2.3.4".into()],
            ..Template::default()
        };
        t.validate().unwrap();
        assert_eq!(t.key_usages().unwrap().len(), 2);
        assert_eq!(t.extended_key_usages().unwrap().len(), 5);
        let bad = Template {
            key_usage: vec!["Sing".into()],
            ..Template::default()
        };
        assert!(bad.validate().is_err());
        let bad = Template {
            ext_key_usage_oids: vec!["1.x".into()],
            ..Template::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn hostnames() {
        assert!(is_hostname("a-b.example.com"));
        assert!(is_hostname("example.com."));
        assert!(!is_hostname("-a.example.com"));
        assert!(!is_hostname("a..b"));
        assert!(!is_hostname("under_score.com"));
        assert!(!is_hostname(&"a".repeat(64)));
    }
}
