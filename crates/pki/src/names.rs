//! Turning X.509 names into strings.
//!
//! Two renderings exist because two audiences read them: [`rfc4514`] is the
//! unambiguous, machine-comparable form (what Go's `pkix.Name.String` and
//! `openssl -nameopt RFC2253` print), and [`display_values`] reproduces what
//! IBM Secrets Manager shows in its `issuer` field (the attribute values in
//! certificate order, joined by spaces, e.g. `US Texas Austin Example Corp.
//! Example Org example.com`).

use x509_parser::asn1_rs::{Tag, ToDer as _};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The short names RFC 4514 §3 defines, plus the few that Go and OpenSSL
/// also print by name. Anything else is printed as a dotted OID.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// Decodes a directory-string attribute value, or `None` when the value is
/// not a string type (or not validly encoded as one).
pub(crate) fn attribute_string(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    let value = attr.attr_value();
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        // T.61 in practice carries Latin-1; mapping bytes to code points is
        // what OpenSSL does too.
        Tag::TeletexString => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        Tag::UniversalString => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// The first common name of `name`, if it is a string.
pub(crate) fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name().next().and_then(attribute_string)
}

/// RFC 4514 string form: RDNs in reverse order separated by `,`, multi-valued
/// RDNs joined by `+`, special characters escaped, non-string values as
/// `#` + hex of their DER encoding.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<&_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            match (short_name(&oid), attribute_string(attr)) {
                (Some(short), Some(value)) => {
                    out.push_str(short);
                    out.push('=');
                    escape_into(&mut out, &value);
                }
                (short, value) => {
                    out.push_str(short.map_or(oid.as_str(), |s| s));
                    out.push('=');
                    match (short, value) {
                        // A known string attribute under an unknown type
                        // still reads better as text.
                        (None, Some(value)) => escape_into(&mut out, &value),
                        _ => {
                            out.push('#');
                            let der = attr.attr_value().to_der_vec().unwrap_or_default();
                            out.push_str(&hex::encode(der));
                        }
                    }
                }
            }
        }
    }
    out
}

/// IBM's rendering: every attribute value in certificate order, joined by a
/// single space. Non-string values are skipped.
pub(crate) fn display_values(name: &X509Name<'_>) -> String {
    name.iter_attributes()
        .filter_map(attribute_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 4514 §2.4 escaping.
fn escape_into(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s);
        out
    }

    #[test]
    fn escaping_follows_rfc4514() {
        assert_eq!(esc("Example, Inc."), "Example\\, Inc.");
        assert_eq!(esc("#1 shop"), "\\#1 shop");
        assert_eq!(esc(" padded "), "\\ padded\\ ");
        assert_eq!(esc("a+b=c"), "a\\+b=c");
        assert_eq!(esc("plain"), "plain");
    }
}
