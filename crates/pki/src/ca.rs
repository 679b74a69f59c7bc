//! The private CA: root and intermediate certificate authorities, the CA
//! signer used for every signature, and CSR signing
//! (`private_cert_configuration_root_ca` / `_intermediate_ca` and their
//! `sign_intermediate`, `sign_csr` and `set_signed` actions).

use std::fmt;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, GeneralSubtree, IsCa, Issuer,
    KeyUsagePurpose, NameConstraints,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use zeroize::Zeroizing;

use crate::build::{self, Sans, Subject, Window};
use crate::csr;
use crate::error::PkiError;
use crate::inspect::{CertificateInfo, describe, parse_certificate};
use crate::issue::IssuedCert;
use crate::keys::{KeyType, PrivateKeyFormat, SigningKeyPair, SubjectKey};
use crate::pem;
use crate::serial::random_serial;

/// How far CA certificates are backdated, for clock skew (Vault's value).
const CA_BACKDATE: Duration = Duration::from_secs(30);

/// Parameters of a root or intermediate CA certificate, mirroring the
/// Secrets Manager CA configuration fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaParams {
    /// Subject common name (required, at most 64 characters).
    pub common_name: String,
    /// DNS names and e-mail addresses (entries with `@`) for the SAN.
    pub alt_names: Vec<String>,
    /// IP address SANs.
    pub ip_sans: Vec<String>,
    /// URI SANs.
    pub uri_sans: Vec<String>,
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
    /// Subject `serialNumber` attribute (not the certificate serial).
    pub serial_number: Option<String>,
    /// Key algorithm. Default RSA.
    pub key_type: KeyType,
    /// Key size: RSA 2048/3072/4096, EC 256/384/521. Default 2048.
    pub key_bits: u32,
    /// Certificate lifetime. For an intermediate it is cut at the issuer's
    /// expiry.
    pub ttl: Duration,
    /// Path length constraint; `None` or negative (IBM's `-1`) means
    /// unconstrained, subject to the issuer's own constraint.
    pub max_path_length: Option<i64>,
    /// DNS domains the CA may issue for (a name-constraints extension).
    pub permitted_dns_domains: Vec<String>,
    /// Keep the common name out of the SANs. Default `false`.
    pub exclude_cn_from_sans: bool,
    /// Encoding of the returned private key.
    pub private_key_format: PrivateKeyFormat,
}

impl Default for CaParams {
    fn default() -> Self {
        Self {
            common_name: String::new(),
            alt_names: Vec::new(),
            ip_sans: Vec::new(),
            uri_sans: Vec::new(),
            ou: Vec::new(),
            organization: Vec::new(),
            country: Vec::new(),
            locality: Vec::new(),
            province: Vec::new(),
            street_address: Vec::new(),
            postal_code: Vec::new(),
            serial_number: None,
            key_type: KeyType::Rsa,
            key_bits: 2048,
            ttl: Duration::ZERO,
            max_path_length: None,
            permitted_dns_domains: Vec::new(),
            exclude_cn_from_sans: false,
            private_key_format: PrivateKeyFormat::Pkcs8,
        }
    }
}

impl CaParams {
    /// Parameters with the API defaults and the two required fields.
    pub fn new(common_name: impl Into<String>, ttl: Duration) -> Self {
        Self {
            common_name: common_name.into(),
            ttl,
            ..Self::default()
        }
    }

    fn subject(&self) -> Result<DistinguishedName, PkiError> {
        if self.common_name.trim().is_empty() {
            return Err(PkiError::InvalidParams("common_name is required".into()));
        }
        Subject {
            common_name: Some(&self.common_name),
            ou: &self.ou,
            organization: &self.organization,
            country: &self.country,
            locality: &self.locality,
            province: &self.province,
            street_address: &self.street_address,
            postal_code: &self.postal_code,
            serial_number: self.serial_number.as_deref(),
        }
        .to_dn()
    }

    fn sans(&self) -> Result<Sans, PkiError> {
        let mut sans = Sans::from_api(&self.alt_names, &self.ip_sans, &self.uri_sans)?;
        if !self.exclude_cn_from_sans {
            sans.add_common_name(&self.common_name);
        }
        Ok(sans)
    }
}

/// A freshly created CA certificate with its private key.
pub struct IssuedCa {
    /// The CA certificate (PEM).
    pub certificate_pem: String,
    /// The CA's private key, in the requested [`PrivateKeyFormat`].
    pub private_key_pem: Zeroizing<String>,
    /// The certificate that signed it (the root itself for a root).
    pub issuing_ca_pem: String,
    /// The issuers above it, issuing CA first, up to and including the root
    /// (for a root: the root itself).
    pub ca_chain: Vec<String>,
    /// Serial number (`38:eb:01` form).
    pub serial_number: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The certificate's metadata.
    pub info: CertificateInfo,
}

impl fmt::Debug for IssuedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCa")
            .field("serial_number", &self.serial_number)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("info", &self.info)
            .field("private_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A CSR and the private key it was made with (an intermediate CA awaiting
/// an external signature).
pub struct CsrBundle {
    /// The certificate signing request (PEM).
    pub csr_pem: String,
    /// Its private key, in the requested [`PrivateKeyFormat`]. Keep it
    /// until the signed certificate comes back (`set_signed`).
    pub private_key_pem: Zeroizing<String>,
}

impl fmt::Debug for CsrBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrBundle")
            .field("csr_pem", &self.csr_pem)
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

/// A CA certificate and its private key, ready to sign.
///
/// Construct it from stored PEM with [`CaSigner::from_pem`]; that call is
/// also how an externally signed intermediate (`set_signed`) is accepted,
/// since it checks that the certificate is a CA and matches the key.
pub struct CaSigner {
    issuer: Issuer<'static, SigningKeyPair>,
    certificate_pem: String,
    parents: Vec<String>,
    info: CertificateInfo,
    window: Window,
    path_len: Option<u32>,
    permitted_dns: Vec<String>,
    key_id: Option<Vec<u8>>,
    crl_distribution_points: Vec<String>,
    issuing_certificates_urls: Vec<String>,
}

impl fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaSigner")
            .field("subject", &self.info.subject)
            .field("serial_number", &self.info.serial_number)
            .field("not_after", &self.window.not_after)
            .field("path_len", &self.path_len)
            .field("parents", &self.parents.len())
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CaSigner {
    /// Loads a CA from its certificate and private key.
    ///
    /// Checks that the certificate is a CA (`basicConstraints CA:TRUE`, and
    /// `keyCertSign` if it has a key usage), that the key is its key, and
    /// that its subject can be reproduced byte for byte as the issuer of the
    /// certificates it signs (single-valued RDNs, no repeated attribute
    /// types), so chains always link.
    ///
    /// # Errors
    /// [`PkiError::NotACa`], [`PkiError::KeyMismatch`], or the parsing
    /// errors of [`inspect`](fn@crate::inspect).
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, PkiError> {
        pem::check_size("certificate", certificate_pem)?;
        pem::check_size("private_key", private_key_pem)?;
        let der = pem::single_certificate("certificate", certificate_pem)?;
        let cert = parse_certificate("certificate", &der)?;

        let constraints = cert
            .basic_constraints()
            .map_err(|_| PkiError::NotACa("malformed basicConstraints".into()))?
            .filter(|bc| bc.value.ca)
            .ok_or_else(|| PkiError::NotACa("the certificate is not a CA certificate".into()))?;
        let path_len = constraints.value.path_len_constraint;
        match cert.key_usage() {
            Ok(Some(ku)) if !ku.value.key_cert_sign() => {
                return Err(PkiError::NotACa(
                    "the certificate's key usage does not allow certificate signing".into(),
                ));
            }
            Err(_) => return Err(PkiError::NotACa("malformed key usage".into())),
            _ => {}
        }
        csr::to_rcgen_dn(cert.subject())
            .map_err(|reason| PkiError::NotACa(format!("subject: {reason}")))?;

        let key = SigningKeyPair::from_pem("private_key", private_key_pem)?;
        if !SubjectKey::from_spki(cert.public_key())?.matches(&key) {
            return Err(PkiError::KeyMismatch);
        }
        let info = describe("certificate", &cert)?;
        let window = Window {
            not_before: info.not_before,
            not_after: info.not_after,
        };
        let permitted_dns = permitted_dns_domains(&cert)?;
        let key_id = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        drop(cert);

        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(der.as_slice()), key)
            .map_err(|e| PkiError::NotACa(e.to_string()))?;
        Ok(Self {
            issuer,
            certificate_pem: pem::encode("CERTIFICATE", &der),
            parents: Vec::new(),
            info,
            window,
            path_len,
            permitted_dns,
            key_id,
            crl_distribution_points: Vec::new(),
            issuing_certificates_urls: Vec::new(),
        })
    }

    /// Records the certificates above this CA (its issuer first, up to the
    /// root), which are returned as `ca_chain` with everything it issues.
    /// Each entry may hold one or more PEM certificates.
    ///
    /// # Errors
    /// The parsing errors of [`inspect`](fn@crate::inspect) (field `ca_chain`).
    pub fn with_chain(mut self, parents: &[String]) -> Result<Self, PkiError> {
        let mut out = Vec::new();
        for entry in parents {
            if entry.len() > pem::MAX_PEM_LEN {
                return Err(PkiError::InvalidSize {
                    field: "ca_chain",
                    len: entry.len(),
                    min: pem::MIN_PEM_LEN,
                    max: pem::MAX_PEM_LEN,
                });
            }
            for der in pem::certificates("ca_chain", entry)? {
                parse_certificate("ca_chain", &der)?;
                out.push(pem::encode("CERTIFICATE", &der));
            }
        }
        self.parents = out;
        Ok(self)
    }

    /// Sets the URLs written into every certificate this CA signs: CRL
    /// distribution points and the AIA `caIssuers` location of this CA's
    /// certificate (IBM's `crl_distribution_points_encoded` and
    /// `issuing_certificates_urls_encoded`; the URLs are the service's).
    ///
    /// # Errors
    /// [`PkiError::InvalidParams`] if a URL is not ASCII or has no scheme.
    pub fn with_urls(
        mut self,
        crl_distribution_points: &[String],
        issuing_certificates_urls: &[String],
    ) -> Result<Self, PkiError> {
        build::check_urls("crl_distribution_points", crl_distribution_points)?;
        build::check_urls("issuing_certificates_urls", issuing_certificates_urls)?;
        self.crl_distribution_points = crl_distribution_points.to_vec();
        self.issuing_certificates_urls = issuing_certificates_urls.to_vec();
        Ok(self)
    }

    /// This CA's certificate (PEM, normalised).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// This CA's certificate followed by its parents: the `ca_chain` of what
    /// it issues.
    pub fn ca_chain(&self) -> Vec<String> {
        std::iter::once(self.certificate_pem.clone())
            .chain(self.parents.iter().cloned())
            .collect()
    }

    /// This CA certificate's metadata.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// When this CA certificate expires; nothing it signs outlives it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.window.not_after
    }

    /// The path length constraint of this CA (`None`: unconstrained).
    pub fn path_len_constraint(&self) -> Option<u32> {
        self.path_len
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, SigningKeyPair> {
        &self.issuer
    }

    pub(crate) fn key_id(&self) -> Option<&[u8]> {
        self.key_id.as_deref()
    }

    /// The basic constraints of a CA certificate this CA signs: the request
    /// (negative = unconstrained), cut to one less than our own limit.
    fn child_constraints(&self, requested: Option<i64>) -> Result<BasicConstraints, PkiError> {
        let requested = match requested {
            Some(n) if n >= 0 => {
                Some(u32::try_from(n).ok().filter(|&n| n <= 255).ok_or_else(|| {
                    PkiError::InvalidParams("max_path_length must be at most 255".into())
                })?)
            }
            _ => None,
        };
        let limit = match self.path_len {
            Some(0) => {
                return Err(PkiError::NotAllowed(
                    "the issuing CA's path length constraint is 0: it cannot sign CA certificates"
                        .into(),
                ));
            }
            Some(p) => Some(p - 1),
            None => None,
        };
        let effective = match (requested, limit) {
            (Some(r), Some(l)) => Some(r.min(l)),
            (r, l) => r.or(l),
        };
        Ok(match effective {
            Some(n) => BasicConstraints::Constrained(u8::try_from(n).unwrap_or(u8::MAX)),
            None => BasicConstraints::Unconstrained,
        })
    }

    /// Refuses DNS names outside this CA's name constraints: a certificate
    /// that breaks them would be rejected by every verifier anyway.
    pub(crate) fn check_name_constraints(&self, sans: &Sans) -> Result<(), PkiError> {
        if self.permitted_dns.is_empty() {
            return Ok(());
        }
        for name in &sans.dns {
            let base = name.strip_prefix("*.").unwrap_or(name);
            let ok = self.permitted_dns.iter().any(|domain| {
                let domain = domain.trim_start_matches('.');
                base.eq_ignore_ascii_case(domain)
                    || base
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
            });
            if !ok {
                return Err(PkiError::NotAllowed(format!(
                    "DNS name {name:?} is outside the CA's permitted DNS domains"
                )));
            }
        }
        Ok(())
    }

    /// Common settings of everything this CA signs: serial, validity, AKI,
    /// CRL distribution points and AIA.
    pub(crate) fn base_params(
        &self,
        now: OffsetDateTime,
        backdate: Duration,
        ttl: Duration,
    ) -> Result<CertificateParams, PkiError> {
        let (not_before, not_after) = build::validity(now, backdate, ttl, Some(self.window))?;
        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points =
            build::crl_distribution_points(&self.crl_distribution_points);
        if let Some(aia) = build::authority_info_access(&self.issuing_certificates_urls) {
            params.custom_extensions.push(aia);
        }
        Ok(params)
    }

    /// Time left before this CA expires, the default lifetime of what it
    /// signs when no TTL is given.
    pub(crate) fn remaining(&self, now: OffsetDateTime) -> Duration {
        let left = self.window.not_after - build::normalize(now);
        Duration::try_from(left).unwrap_or(Duration::ZERO)
    }
}

fn permitted_dns_domains(cert: &X509Certificate<'_>) -> Result<Vec<String>, PkiError> {
    let constraints = cert
        .name_constraints()
        .map_err(|_| PkiError::NotACa("malformed name constraints".into()))?;
    Ok(constraints
        .and_then(|nc| nc.value.permitted_subtrees.as_ref())
        .map(|subtrees| {
            subtrees
                .iter()
                .filter_map(|s| match s.base {
                    GeneralName::DNSName(d) => Some(d.to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Key usages of every CA certificate (Vault's choice).
fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ]
}

fn name_constraints(domains: &[String]) -> Result<Option<NameConstraints>, PkiError> {
    let domains: Vec<&str> = domains
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect();
    if domains.is_empty() {
        return Ok(None);
    }
    let mut permitted = Vec::new();
    for domain in domains {
        if !domain.is_ascii() {
            return Err(PkiError::InvalidParams(format!(
                "permitted_dns_domains: {domain:?} must be ASCII"
            )));
        }
        permitted.push(GeneralSubtree::DnsName(domain.to_owned()));
    }
    Ok(Some(NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: Vec::new(),
    }))
}

/// Creates a self-signed root CA with a new key pair.
///
/// # Errors
/// [`PkiError::InvalidParams`] / [`PkiError::UnsupportedKey`] for bad
/// parameters, [`PkiError::Random`] / [`PkiError::Signing`] on failure.
pub fn generate_root(params: &CaParams, now: OffsetDateTime) -> Result<IssuedCa, PkiError> {
    let subject = params.subject()?;
    let sans = params.sans()?;
    let key = SigningKeyPair::generate(params.key_type, params.key_bits)?;
    let (not_before, not_after) = build::validity(now, CA_BACKDATE, params.ttl, None)?;

    let mut cp = CertificateParams::default();
    cp.not_before = not_before;
    cp.not_after = not_after;
    cp.serial_number = Some(random_serial()?);
    cp.distinguished_name = subject;
    cp.subject_alt_names = sans.to_rcgen()?;
    cp.is_ca =
        IsCa::Ca(match params.max_path_length {
            Some(n) if n >= 0 => BasicConstraints::Constrained(u8::try_from(n).map_err(|_| {
                PkiError::InvalidParams("max_path_length must be at most 255".into())
            })?),
            _ => BasicConstraints::Unconstrained,
        });
    cp.key_usages = ca_key_usages();
    cp.name_constraints = name_constraints(&params.permitted_dns_domains)?;
    let cert = cp.self_signed(&key)?;
    let certificate_pem = pem::encode("CERTIFICATE", cert.der());
    finish_ca(
        cert.der(),
        &key,
        params.private_key_format,
        certificate_pem.clone(),
        vec![certificate_pem],
    )
}

/// Creates an intermediate CA with a new key pair, signed by `issuer`
/// (IBM's internal signing). Its path length is cut to fit the issuer's, and
/// its validity ends no later than the issuer's.
///
/// # Errors
/// As [`generate_root`], plus [`PkiError::NotAllowed`] when the issuer's
/// path length forbids sub-CAs or a name breaks its name constraints, and
/// [`PkiError::NotACa`] when the issuer has expired.
pub fn generate_intermediate(
    params: &CaParams,
    issuer: &CaSigner,
    now: OffsetDateTime,
) -> Result<IssuedCa, PkiError> {
    let subject = params.subject()?;
    let sans = params.sans()?;
    issuer.check_name_constraints(&sans)?;
    let constraints = issuer.child_constraints(params.max_path_length)?;
    let key = SigningKeyPair::generate(params.key_type, params.key_bits)?;

    let mut cp = issuer.base_params(now, CA_BACKDATE, params.ttl)?;
    cp.distinguished_name = subject;
    cp.subject_alt_names = sans.to_rcgen()?;
    cp.is_ca = IsCa::Ca(constraints);
    cp.key_usages = ca_key_usages();
    cp.name_constraints = name_constraints(&params.permitted_dns_domains)?;
    let cert = cp.signed_by(&key, issuer.issuer())?;
    finish_ca(
        cert.der(),
        &key,
        params.private_key_format,
        issuer.certificate_pem().to_owned(),
        issuer.ca_chain(),
    )
}

fn finish_ca(
    der: &[u8],
    key: &SigningKeyPair,
    format: PrivateKeyFormat,
    issuing_ca_pem: String,
    ca_chain: Vec<String>,
) -> Result<IssuedCa, PkiError> {
    let cert = parse_certificate("certificate", der)?;
    let info = describe("certificate", &cert)?;
    Ok(IssuedCa {
        certificate_pem: pem::encode("CERTIFICATE", der),
        private_key_pem: key.to_pem(format)?,
        issuing_ca_pem,
        ca_chain,
        serial_number: info.serial_number.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        info,
    })
}

/// Creates a key pair and a CSR for an intermediate CA that an external CA
/// will sign (IBM's `signing_method: external`). `ttl`, `max_path_length`
/// and `permitted_dns_domains` are the signer's business and are not in the
/// request.
///
/// # Errors
/// As [`generate_root`].
pub fn intermediate_csr(params: &CaParams) -> Result<CsrBundle, PkiError> {
    let subject = params.subject()?;
    let sans = params.sans()?;
    let key = SigningKeyPair::generate(params.key_type, params.key_bits)?;
    let mut cp = CertificateParams::default();
    cp.distinguished_name = subject;
    cp.subject_alt_names = sans.to_rcgen()?;
    let csr = cp.serialize_request(&key)?;
    Ok(CsrBundle {
        csr_pem: pem::encode("CERTIFICATE REQUEST", csr.der()),
        private_key_pem: key.to_pem(params.private_key_format)?,
    })
}

/// Values that override (or fill in) what a CSR asks for, from the
/// `sign_intermediate` / `sign_csr` actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignOverrides {
    /// Subject common name; `None` keeps the CSR's.
    pub common_name: Option<String>,
    /// DNS names and e-mail addresses for the SAN.
    pub alt_names: Vec<String>,
    /// IP address SANs.
    pub ip_sans: Vec<String>,
    /// URI SANs.
    pub uri_sans: Vec<String>,
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
    /// Subject `serialNumber` attribute.
    pub serial_number: Option<String>,
    /// Lifetime; `None` means until the signing CA expires.
    pub ttl: Option<Duration>,
    /// Path length of a signed CA (negative or `None`: as long as the
    /// signer allows).
    pub max_path_length: Option<i64>,
    /// Keep the common name out of the SANs.
    pub exclude_cn_from_sans: bool,
    /// Name constraints for a signed CA.
    pub permitted_dns_domains: Vec<String>,
    /// Take subject and SANs from the CSR verbatim and ignore the subject
    /// and SAN fields above.
    pub use_csr_values: bool,
}

/// Signs a CSR with `issuer`. With `is_ca` the result is a CA certificate
/// (the `sign_intermediate` / `sign_csr` actions); without, an end-entity
/// certificate for TLS server and client use.
///
/// The CSR's signature is verified first (proof of possession). The
/// returned [`IssuedCert`] has no private key.
///
/// # Errors
/// [`PkiError::InvalidCsr`], [`PkiError::InvalidParams`],
/// [`PkiError::NotAllowed`] (path length or name constraints),
/// [`PkiError::NotACa`] (expired issuer), [`PkiError::Signing`].
pub fn sign_csr(
    issuer: &CaSigner,
    csr_pem: &str,
    overrides: &SignOverrides,
    is_ca: bool,
    now: OffsetDateTime,
) -> Result<IssuedCert, PkiError> {
    let request = csr::parse(csr_pem)?;
    let (subject, sans) = if overrides.use_csr_values {
        let subject = request
            .subject
            .clone()
            .map_err(|reason| PkiError::InvalidCsr(format!("subject: {reason}")))?;
        (subject, request.sans.clone())
    } else {
        let common_name = overrides
            .common_name
            .clone()
            .or_else(|| request.common_name.clone())
            .filter(|cn| !cn.trim().is_empty())
            .ok_or_else(|| {
                PkiError::InvalidParams("common_name is required (none in the CSR)".into())
            })?;
        let subject = Subject {
            common_name: Some(&common_name),
            ou: &overrides.ou,
            organization: &overrides.organization,
            country: &overrides.country,
            locality: &overrides.locality,
            province: &overrides.province,
            street_address: &overrides.street_address,
            postal_code: &overrides.postal_code,
            serial_number: overrides.serial_number.as_deref(),
        }
        .to_dn()?;
        let mut sans = Sans::from_api(
            &overrides.alt_names,
            &overrides.ip_sans,
            &overrides.uri_sans,
        )?;
        if !overrides.exclude_cn_from_sans {
            sans.add_common_name(&common_name);
        }
        (subject, sans)
    };
    issuer.check_name_constraints(&sans)?;

    let ttl = overrides.ttl.unwrap_or_else(|| issuer.remaining(now));
    let mut cp = issuer.base_params(now, CA_BACKDATE, ttl)?;
    cp.distinguished_name = subject;
    cp.subject_alt_names = sans.to_rcgen()?;
    if is_ca {
        cp.is_ca = IsCa::Ca(issuer.child_constraints(overrides.max_path_length)?);
        cp.key_usages = ca_key_usages();
        cp.name_constraints = name_constraints(&overrides.permitted_dns_domains)?;
    } else {
        cp.is_ca = IsCa::NoCa;
        cp.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        cp.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key_id = cp.key_identifier(&request.key);
        cp.custom_extensions
            .push(build::subject_key_identifier(&key_id));
    }
    let cert = cp.signed_by(&request.key, issuer.issuer())?;
    crate::issue::finish_cert(cert.der(), None, issuer)
}

/// Checks an externally signed intermediate certificate against the key
/// kept from [`intermediate_csr`] and returns a signer for it
/// (`set_signed`). Equivalent to [`CaSigner::from_pem`] plus the chain.
///
/// # Errors
/// As [`CaSigner::from_pem`] and [`CaSigner::with_chain`].
pub fn accept_signed_intermediate(
    certificate_pem: &str,
    private_key_pem: &str,
    parents: &[String],
) -> Result<CaSigner, PkiError> {
    CaSigner::from_pem(certificate_pem, private_key_pem)?.with_chain(parents)
}
