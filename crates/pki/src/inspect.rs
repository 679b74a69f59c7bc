//! Reading certificates: the metadata Secrets Manager shows for certificate
//! secrets, and validation of imported certificate bundles.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::signature_algorithm::SignatureAlgorithm as ParsedSigAlg;

use crate::error::PkiError;
use crate::keys::{SigningKeyPair, SubjectKey};
use crate::names;
use crate::pem;
use crate::serial::format_serial;

/// What Secrets Manager reports about a certificate (`imported_cert` and
/// `private_cert` metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's first common name, if it has one.
    pub common_name: Option<String>,
    /// Subject alternative names in certificate order: DNS names, IP
    /// addresses (in their usual text form) and e-mail addresses. URIs and
    /// other name forms are not listed.
    pub alt_names: Vec<String>,
    /// The issuer DN in RFC 4514 form (`CN=Example CA,O=Example,C=US`: most
    /// specific attribute first, `,`-separated, special characters escaped).
    /// Same convention as Go's `pkix.Name.String()`.
    pub issuer: String,
    /// The issuer as IBM Secrets Manager displays it: attribute values in
    /// certificate order joined by spaces (`US Example Example CA`). For a
    /// CA whose subject is only a common name this is just that name.
    pub issuer_display: String,
    /// The subject DN in the same RFC 4514 form as [`Self::issuer`].
    pub subject: String,
    /// Serial number as lowercase hex pairs joined by `:` (`38:eb:01`).
    pub serial_number: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity (Secrets Manager's `expiration_date`).
    pub not_after: OffsetDateTime,
    /// IBM key algorithm label: `RSA2048`, `RSA3072`, `RSA4096` (any RSA
    /// size is `RSA<bits>`), `ECDSA256`, `ECDSA384`, `ECDSA521`, `ED25519`.
    pub key_algorithm: String,
    /// Signature algorithm in the Go / IBM spelling: `SHA256-RSA`,
    /// `SHA384-RSA`, `SHA512-RSA`, `SHA1-RSA`, `SHA256-RSAPSS`,
    /// `ECDSA-SHA256`, `ECDSA-SHA384`, `ECDSA-SHA512`, `Ed25519`; anything
    /// unrecognised is given as its dotted OID.
    pub signing_algorithm: String,
    /// Whether an intermediate chain was supplied.
    pub intermediate_included: bool,
    /// Whether a private key was supplied (and matched).
    pub private_key_included: bool,
}

/// Validates an imported certificate bundle and extracts its metadata.
///
/// This is the crate's parser of untrusted bytes: every input may be
/// attacker-controlled. It checks sizes first (50 B – 100 KB per input, as
/// the API does), never panics, and reports problems as [`PkiError`]s that
/// name the offending field. It is the entry point for fuzzing.
///
/// - `certificate_pem` must hold exactly one `CERTIFICATE` block.
/// - `intermediate_pem`, if given, one or more `CERTIFICATE` blocks, each of
///   which must parse. The chain is not verified against the leaf: Secrets
///   Manager stores whatever chain the owner supplies.
/// - `private_key_pem`, if given, one unencrypted key (PKCS#8, PKCS#1 RSA or
///   SEC1 EC) whose public half must equal the certificate's public key.
///
/// # Errors
/// [`PkiError::InvalidSize`], [`PkiError::MalformedPem`],
/// [`PkiError::InvalidCertificate`], [`PkiError::InvalidPrivateKey`],
/// [`PkiError::EncryptedPrivateKey`], [`PkiError::UnsupportedKey`] or
/// [`PkiError::KeyMismatch`].
pub fn inspect(
    certificate_pem: &str,
    intermediate_pem: Option<&str>,
    private_key_pem: Option<&str>,
) -> Result<CertificateInfo, PkiError> {
    pem::check_size("certificate", certificate_pem)?;
    if let Some(text) = intermediate_pem {
        pem::check_size("intermediate", text)?;
    }
    if let Some(text) = private_key_pem {
        pem::check_size("private_key", text)?;
    }

    let der = pem::single_certificate("certificate", certificate_pem)?;
    let cert = parse_certificate("certificate", &der)?;
    let mut info = describe("certificate", &cert)?;

    if let Some(text) = intermediate_pem {
        for der in pem::certificates("intermediate", text)? {
            parse_certificate("intermediate", &der)?;
        }
        info.intermediate_included = true;
    }

    if let Some(text) = private_key_pem {
        let pair = SigningKeyPair::from_pem("private_key", text)?;
        let public = SubjectKey::from_spki(cert.public_key())?;
        if !public.matches(&pair) {
            return Err(PkiError::KeyMismatch);
        }
        info.private_key_included = true;
    }
    Ok(info)
}

/// Parses one DER certificate, rejecting trailing bytes.
pub(crate) fn parse_certificate<'a>(
    field: &'static str,
    der: &'a [u8],
) -> Result<X509Certificate<'a>, PkiError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(PkiError::InvalidCertificate {
            field,
            reason: "trailing data after the certificate".into(),
        }),
        Err(e) => Err(PkiError::InvalidCertificate {
            field,
            reason: e.to_string(),
        }),
    }
}

/// Builds the metadata of a parsed certificate (no bundle flags set).
pub(crate) fn describe(
    field: &'static str,
    cert: &X509Certificate<'_>,
) -> Result<CertificateInfo, PkiError> {
    let key = SubjectKey::from_spki(cert.public_key())?;
    let alt_names = alt_names(cert).map_err(|reason| PkiError::InvalidCertificate {
        field,
        reason: reason.into(),
    })?;
    Ok(CertificateInfo {
        common_name: names::common_name(cert.subject()),
        alt_names,
        issuer: names::rfc4514(cert.issuer()),
        issuer_display: names::display_values(cert.issuer()),
        subject: names::rfc4514(cert.subject()),
        serial_number: format_serial(cert.raw_serial()),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        key_algorithm: key.label(),
        signing_algorithm: signing_algorithm(cert),
        intermediate_included: false,
        private_key_included: false,
    })
}

fn alt_names(cert: &X509Certificate<'_>) -> Result<Vec<String>, &'static str> {
    let Some(san) = cert
        .subject_alternative_name()
        .map_err(|_| "malformed or duplicated subjectAltName extension")?
    else {
        return Ok(Vec::new());
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) => Some((*s).to_owned()),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect())
}

pub(crate) fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Some(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        None
    }
}

/// Go's `x509.SignatureAlgorithm.String()` names, which IBM's backend emits.
fn signing_algorithm(cert: &X509Certificate<'_>) -> String {
    let alg = &cert.signature_algorithm;
    let oid = alg.algorithm.to_id_string();
    let name = match oid.as_str() {
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.5" => "SHA1-RSA",
        "1.2.840.113549.1.1.14" => "SHA224-RSA",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.113549.1.1.10" => match ParsedSigAlg::try_from(alg) {
            Ok(ParsedSigAlg::RSASSA_PSS(params)) => {
                match params.hash_algorithm_oid().to_id_string().as_str() {
                    "1.3.14.3.2.26" => "SHA1-RSAPSS",
                    "2.16.840.1.101.3.4.2.1" => "SHA256-RSAPSS",
                    "2.16.840.1.101.3.4.2.2" => "SHA384-RSAPSS",
                    "2.16.840.1.101.3.4.2.3" => "SHA512-RSAPSS",
                    _ => "RSAPSS",
                }
            }
            _ => "RSAPSS",
        },
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10045.4.3.1" => "ECDSA-SHA224",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.2.840.10040.4.3" => "DSA-SHA1",
        "2.16.840.1.101.3.4.3.2" => "DSA-SHA256",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => return oid,
    };
    name.to_owned()
}
