//! Reading certificate signing requests.

use std::net::IpAddr;

use rcgen::{DistinguishedName, DnType, DnValue};
use x509_parser::asn1_rs::Tag;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::X509Name;

use crate::build::Sans;
use crate::error::PkiError;
use crate::inspect::ip_from_bytes;
use crate::keys::SubjectKey;
use crate::names;
use crate::pem;

/// What we take from a CSR: its (proven) public key, subject and SANs.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCsr {
    pub(crate) key: SubjectKey,
    pub(crate) common_name: Option<String>,
    /// The subject as rcgen can re-encode it, when its shape allows (one
    /// value per attribute type); used for `use_csr_values`.
    pub(crate) subject: Result<DistinguishedName, String>,
    pub(crate) sans: Sans,
}

/// Parses a PEM CSR and verifies its self-signature, which proves the
/// requester holds the private key.
pub(crate) fn parse(csr_pem: &str) -> Result<ParsedCsr, PkiError> {
    pem::check_size("csr", csr_pem)?;
    let der = pem::single_csr(csr_pem)?;
    let csr = match X509CertificationRequest::from_der(&der) {
        Ok(([], csr)) => csr,
        Ok(_) => {
            return Err(PkiError::InvalidCsr(
                "trailing data after the request".into(),
            ));
        }
        Err(e) => return Err(PkiError::InvalidCsr(e.to_string())),
    };
    csr.verify_signature()
        .map_err(|_| PkiError::InvalidCsr("the request's signature does not verify".into()))?;
    let info = &csr.certification_request_info;
    let key = SubjectKey::from_spki(&info.subject_pki)?;

    let mut sans = Sans::default();
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => sans.dns.push(d.to_ascii_lowercase()),
                        GeneralName::RFC822Name(e) => sans.emails.push((*e).to_owned()),
                        GeneralName::URI(u) => sans.uris.push((*u).to_owned()),
                        GeneralName::IPAddress(b) => {
                            let ip: IpAddr = ip_from_bytes(b).ok_or_else(|| {
                                PkiError::InvalidCsr("malformed IP address SAN".into())
                            })?;
                            sans.ips.push(ip);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    Ok(ParsedCsr {
        key,
        common_name: names::common_name(&info.subject),
        subject: to_rcgen_dn(&info.subject),
        sans,
    })
}

/// Converts a parsed name into rcgen's model, keeping each value's string
/// type. Fails (with a reason) on shapes rcgen cannot represent.
pub(crate) fn to_rcgen_dn(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for rdn in name.iter_rdn() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err("multi-valued RDNs are not supported".into());
        };
        let arcs: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or("attribute type OID too large")?
            .collect();
        if !crate::build::is_encodable_oid(&arcs) {
            return Err("malformed attribute type OID".into());
        }
        let ty = DnType::from_oid(&arcs);
        if dn.get(&ty).is_some() {
            return Err("repeated subject attribute types are not supported".into());
        }
        let text = names::attribute_string(attr).ok_or("non-string subject attribute")?;
        let value = match attr.attr_value().tag() {
            Tag::PrintableString if crate::build::is_encodable_printable(&text) => {
                DnValue::PrintableString(
                    text.as_str()
                        .try_into()
                        .map_err(|_| "invalid PrintableString in subject")?,
                )
            }
            Tag::PrintableString => return Err("unsupported PrintableString characters".into()),
            Tag::Ia5String => DnValue::Ia5String(
                text.as_str()
                    .try_into()
                    .map_err(|_| "invalid IA5String in subject")?,
            ),
            _ => DnValue::Utf8String(text),
        };
        dn.push(ty, value);
    }
    Ok(dn)
}
