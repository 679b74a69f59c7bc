//! Issuing private certificates (`private_cert` secrets) from a CA under a
//! template.

use std::fmt;
use std::time::Duration;

use rcgen::IsCa;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::build::{self, Sans, Subject};
use crate::ca::CaSigner;
use crate::csr;
use crate::error::PkiError;
use crate::inspect::{CertificateInfo, describe, parse_certificate};
use crate::keys::{KeyType, PrivateKeyFormat, SigningKeyPair, algorithm_for};
use crate::pem;
use crate::template::Template;

/// A request for a private certificate (the `private_cert` prototype).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafRequest {
    /// Subject common name. Checked against the template like any name.
    pub common_name: String,
    /// DNS names and e-mail addresses (entries with `@`) for the SAN.
    pub alt_names: Vec<String>,
    /// IP address SANs (the template must allow IP SANs).
    pub ip_sans: Vec<String>,
    /// URI SANs (must match the template's `allowed_uri_sans`).
    pub uri_sans: Vec<String>,
    /// Requested lifetime; `None` uses the template's `ttl`, then its
    /// `max_ttl`, then the CA's remaining lifetime. Always cut to the
    /// template's `max_ttl` and the CA's expiry.
    pub ttl: Option<Duration>,
    /// Key type for a generated key; must equal the template's. `None`: the
    /// template's.
    pub key_type: Option<KeyType>,
    /// Key size for a generated key; at least the template's. `None`: the
    /// template's.
    pub key_bits: Option<u32>,
    /// A PEM CSR: its public key is certified and no private key is
    /// generated or returned.
    pub csr: Option<String>,
    /// Keep the common name out of the SANs.
    pub exclude_cn_from_sans: bool,
    /// Encoding of the returned private key.
    pub private_key_format: PrivateKeyFormat,
}

impl LeafRequest {
    /// A request for `common_name` with everything else defaulted.
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            ..Self::default()
        }
    }
}

/// A certificate this crate issued, with what Secrets Manager returns for
/// it.
pub struct IssuedCert {
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// Its private key when one was generated (`None` for CSR requests).
    pub private_key_pem: Option<Zeroizing<String>>,
    /// The issuing CA's certificate (PEM).
    pub issuing_ca_pem: String,
    /// Issuing CA first, then its parents up to the root.
    pub ca_chain: Vec<String>,
    /// Serial number (`38:eb:01` form), the handle for revocation.
    pub serial_number: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The certificate's metadata.
    pub info: CertificateInfo,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("serial_number", &self.serial_number)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("info", &self.info)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Issues a certificate from `issuer` under `template`.
///
/// Every name (common name, DNS and e-mail SANs) must pass the template's
/// name policy; IP and URI SANs need the template's permission. The
/// lifetime is cut to the template's `max_ttl` and to the CA's expiry.
/// Without a CSR a key pair of the template's type is generated with the
/// operating system's randomness.
///
/// # Errors
/// [`PkiError::NotAllowed`] when the template or the CA's constraints
/// refuse the request, [`PkiError::InvalidParams`] /
/// [`PkiError::InvalidCsr`] / [`PkiError::UnsupportedKey`] for malformed
/// input, [`PkiError::NotACa`] when the CA has expired,
/// [`PkiError::Random`] / [`PkiError::Signing`] on failure.
pub fn issue(
    issuer: &CaSigner,
    template: &Template,
    req: &LeafRequest,
    now: OffsetDateTime,
) -> Result<IssuedCert, PkiError> {
    template.validate()?;
    let csr = req.csr.as_deref().map(csr::parse).transpose()?;

    // Key: the template fixes the type and a minimum size.
    let key_type = req.key_type.unwrap_or(template.key_type);
    let key_bits = req.key_bits.unwrap_or(template.key_bits);
    let (actual_type, actual_bits) = match &csr {
        Some(c) => (c.key.key_type, c.key.bits),
        None => (key_type, key_bits),
    };
    if actual_type != template.key_type {
        return Err(PkiError::NotAllowed(format!(
            "key type {} is not allowed by the certificate template (it requires {})",
            actual_type.as_str(),
            template.key_type.as_str()
        )));
    }
    if actual_bits < template.key_bits {
        return Err(PkiError::NotAllowed(format!(
            "a {actual_bits}-bit key is smaller than the template's {} bits",
            template.key_bits
        )));
    }
    if csr.is_none() {
        algorithm_for(key_type, key_bits)?;
    }

    // Names: from the CSR when the template says so, else from the request.
    let common_name = match &csr {
        Some(c) if template.use_csr_common_name => c
            .common_name
            .clone()
            .filter(|cn| !cn.trim().is_empty())
            .unwrap_or_else(|| req.common_name.clone()),
        _ => req.common_name.clone(),
    };
    let common_name = common_name.trim();
    let mut sans = match &csr {
        Some(c) if template.use_csr_sans && !c.sans.is_empty() => c.sans.clone(),
        _ => Sans::from_api(&req.alt_names, &req.ip_sans, &req.uri_sans)?,
    };
    if common_name.is_empty() {
        if template.require_cn {
            return Err(PkiError::InvalidParams("common_name is required".into()));
        }
    } else {
        template.check_name(common_name)?;
        if !req.exclude_cn_from_sans {
            sans.add_common_name(common_name);
        }
    }
    for name in sans.dns.iter().chain(&sans.emails) {
        template.check_name(name)?;
    }
    if !sans.ips.is_empty() && !template.allow_ip_sans {
        return Err(PkiError::NotAllowed(
            "IP address SANs are not allowed by the certificate template".into(),
        ));
    }
    for uri in &sans.uris {
        template.check_uri(uri)?;
    }
    issuer.check_name_constraints(&sans)?;

    // Lifetime: request, else template ttl, else max_ttl, else up to the CA's
    // expiry; then capped by max_ttl (the CA cap is applied by base_params).
    let mut ttl = req
        .ttl
        .or(template.ttl)
        .or(template.max_ttl)
        .unwrap_or_else(|| issuer.remaining(now));
    if let Some(max) = template.max_ttl {
        ttl = ttl.min(max);
    }

    let mut cp = issuer.base_params(now, template.not_before_duration, ttl)?;
    cp.distinguished_name = Subject {
        common_name: Some(common_name),
        ou: &template.ou,
        organization: &template.organization,
        country: &template.country,
        locality: &template.locality,
        province: &template.province,
        street_address: &template.street_address,
        postal_code: &template.postal_code,
        serial_number: template.serial_number.as_deref(),
    }
    .to_dn()?;
    cp.subject_alt_names = sans.to_rcgen()?;
    cp.key_usages = template.key_usages()?;
    cp.extended_key_usages = template.extended_key_usages()?;
    // rcgen writes a subject key identifier for explicit non-CA
    // certificates only; add one ourselves otherwise.
    let explicit = template.basic_constraints_valid_for_non_ca;
    cp.is_ca = if explicit {
        IsCa::ExplicitNoCa
    } else {
        IsCa::NoCa
    };

    match csr {
        Some(request) => {
            if !explicit {
                let key_id = cp.key_identifier(&request.key);
                cp.custom_extensions
                    .push(build::subject_key_identifier(&key_id));
            }
            let cert = cp.signed_by(&request.key, issuer.issuer())?;
            finish_cert(cert.der(), None, issuer)
        }
        None => {
            let key = SigningKeyPair::generate(key_type, key_bits)?;
            if !explicit {
                let key_id = cp.key_identifier(&key);
                cp.custom_extensions
                    .push(build::subject_key_identifier(&key_id));
            }
            let cert = cp.signed_by(&key, issuer.issuer())?;
            let private_key = key.to_pem(req.private_key_format)?;
            finish_cert(cert.der(), Some(private_key), issuer)
        }
    }
}

/// Packages a signed certificate with its metadata and chain.
pub(crate) fn finish_cert(
    der: &[u8],
    private_key_pem: Option<Zeroizing<String>>,
    issuer: &CaSigner,
) -> Result<IssuedCert, PkiError> {
    let cert = parse_certificate("certificate", der)?;
    let info = describe("certificate", &cert)?;
    Ok(IssuedCert {
        certificate_pem: pem::encode("CERTIFICATE", der),
        private_key_pem,
        issuing_ca_pem: issuer.certificate_pem().to_owned(),
        ca_chain: issuer.ca_chain(),
        serial_number: info.serial_number.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        info,
    })
}
