//! Building blocks shared by every certificate this crate signs: subjects,
//! subject alternative names, validity windows and the URL extensions.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, DnValue, SanType};
use time::{OffsetDateTime, UtcOffset};

use crate::error::PkiError;

/// Subject attribute lists as the Secrets Manager API carries them.
///
/// rcgen stores one value per attribute type, so each list may hold at most
/// one (non-empty) value; more is rejected rather than silently dropped.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Subject<'a> {
    pub(crate) common_name: Option<&'a str>,
    pub(crate) ou: &'a [String],
    pub(crate) organization: &'a [String],
    pub(crate) country: &'a [String],
    pub(crate) locality: &'a [String],
    pub(crate) province: &'a [String],
    pub(crate) street_address: &'a [String],
    pub(crate) postal_code: &'a [String],
    pub(crate) serial_number: Option<&'a str>,
}

const OID_STREET: &[u64] = &[2, 5, 4, 9];
const OID_POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

impl Subject<'_> {
    /// The DN, ordered from the most general attribute to the common name,
    /// the conventional order that prints as `CN=…,O=…,C=…` in RFC 4514.
    pub(crate) fn to_dn(self) -> Result<DistinguishedName, PkiError> {
        let mut dn = DistinguishedName::new();
        // Country codes and serial numbers are PrintableString by RFC 5280.
        if let Some(c) = one("country", self.country)? {
            dn.push(DnType::CountryName, printable("country", c)?);
        }
        if let Some(v) = one("province", self.province)? {
            dn.push(DnType::StateOrProvinceName, v);
        }
        if let Some(v) = one("locality", self.locality)? {
            dn.push(DnType::LocalityName, v);
        }
        if let Some(v) = one("street_address", self.street_address)? {
            dn.push(DnType::CustomDnType(OID_STREET.to_vec()), v);
        }
        if let Some(v) = one("postal_code", self.postal_code)? {
            dn.push(DnType::CustomDnType(OID_POSTAL_CODE.to_vec()), v);
        }
        if let Some(v) = one("organization", self.organization)? {
            dn.push(DnType::OrganizationName, v);
        }
        if let Some(v) = one("ou", self.ou)? {
            dn.push(DnType::OrganizationalUnitName, v);
        }
        if let Some(v) = self.serial_number.filter(|s| !s.is_empty()) {
            dn.push(
                DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
                printable("serial_number", v)?,
            );
        }
        if let Some(cn) = self.common_name.filter(|s| !s.is_empty()) {
            if cn.chars().count() > 64 {
                return Err(PkiError::InvalidParams(
                    "common_name must be at most 64 characters".into(),
                ));
            }
            dn.push(DnType::CommonName, cn);
        }
        Ok(dn)
    }
}

fn one<'a>(field: &str, values: &'a [String]) -> Result<Option<&'a str>, PkiError> {
    let mut non_empty = values.iter().filter(|v| !v.is_empty());
    let first = non_empty.next();
    if non_empty.next().is_some() {
        return Err(PkiError::InvalidParams(format!(
            "{field}: at most one value is supported"
        )));
    }
    Ok(first.map(String::as_str))
}

fn printable(field: &str, value: &str) -> Result<DnValue, PkiError> {
    if !is_encodable_printable(value) {
        return Err(PkiError::InvalidParams(format!(
            "{field} may only contain letters, digits, spaces and '()+,-./:="
        )));
    }
    value
        .try_into()
        .map(DnValue::PrintableString)
        .map_err(|_| PkiError::InvalidParams(format!("{field} is not a PrintableString")))
}

/// The PrintableString characters the DER writer under rcgen accepts.
/// rcgen's own check also lets `?` through, which the writer then asserts
/// on, so every PrintableString we hand to rcgen passes this first.
pub(crate) fn is_encodable_printable(value: &str) -> bool {
    value.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'='
            )
    })
}

/// Whether the DER writer under rcgen can encode an OID with these arcs
/// (it asserts instead of failing): at least two arcs, a first arc of 0, 1
/// or 2, a second arc below 40 unless the first is 2, and no overflow when
/// the two are combined.
pub(crate) fn is_encodable_oid(arcs: &[u64]) -> bool {
    match arcs {
        [first, second, ..] => *first <= 2 && (*first == 2 || *second < 40) && *second < (1 << 62),
        _ => false,
    }
}

/// Subject alternative names, split by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sans {
    pub(crate) dns: Vec<String>,
    pub(crate) emails: Vec<String>,
    pub(crate) ips: Vec<IpAddr>,
    pub(crate) uris: Vec<String>,
}

impl Sans {
    /// Sorts the API's lists: `alt_names` entries with an `@` are e-mail
    /// addresses, the rest DNS names (Vault's and IBM's rule); `ip_sans`
    /// must parse as IP addresses; `uri_sans` must look like URIs.
    pub(crate) fn from_api(
        alt_names: &[String],
        ip_sans: &[String],
        uri_sans: &[String],
    ) -> Result<Self, PkiError> {
        let mut sans = Self::default();
        for name in alt_names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            if name.contains('@') {
                push_unique(&mut sans.emails, name.to_owned());
            } else {
                push_unique(&mut sans.dns, name.to_ascii_lowercase());
            }
        }
        for ip in ip_sans.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let parsed: IpAddr = ip.parse().map_err(|_| {
                PkiError::InvalidParams(format!("ip_sans: {ip:?} is not an IP address"))
            })?;
            if !sans.ips.contains(&parsed) {
                sans.ips.push(parsed);
            }
        }
        for uri in uri_sans.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            if !looks_like_uri(uri) {
                return Err(PkiError::InvalidParams(format!(
                    "uri_sans: {uri:?} is not a URI (scheme:rest, ASCII)"
                )));
            }
            push_unique(&mut sans.uris, uri.to_owned());
        }
        Ok(sans)
    }

    /// Adds the common name as a SAN (Vault's default): as an e-mail address
    /// if it has an `@`, as a DNS name if it is a host name, otherwise not
    /// at all (a CA named `Example Root CA` gets no bogus DNS SAN).
    pub(crate) fn add_common_name(&mut self, cn: &str) {
        if cn.is_empty() {
            return;
        }
        if cn.contains('@') {
            push_unique(&mut self.emails, cn.to_owned());
        } else if crate::template::is_hostname(cn.strip_prefix("*.").unwrap_or(cn)) {
            push_unique(&mut self.dns, cn.to_ascii_lowercase());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.emails.is_empty() && self.ips.is_empty() && self.uris.is_empty()
    }

    pub(crate) fn to_rcgen(&self) -> Result<Vec<SanType>, PkiError> {
        let ia5 = |kind: &str, s: &str| {
            s.try_into().map_err(|_| {
                PkiError::InvalidParams(format!("{kind} {s:?} must be ASCII (IA5String)"))
            })
        };
        let mut out = Vec::new();
        for d in &self.dns {
            out.push(SanType::DnsName(ia5("DNS name", d)?));
        }
        for ip in &self.ips {
            out.push(SanType::IpAddress(*ip));
        }
        for e in &self.emails {
            out.push(SanType::Rfc822Name(ia5("e-mail address", e)?));
        }
        for u in &self.uris {
            out.push(SanType::URI(ia5("URI", u)?));
        }
        Ok(out)
    }
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn looks_like_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    uri.is_ascii()
        && !rest.is_empty()
        && !uri
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Latest instant X.509 can express (GeneralizedTime has four-digit years).
fn max_time() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59 UTC)
}

/// Earliest instant we write (UTCTime starts in 1950).
fn min_time() -> OffsetDateTime {
    time::macros::datetime!(1950-01-01 00:00:00 UTC)
}

/// UTC, whole seconds: certificates carry no sub-second precision, and
/// rounding here keeps the returned metadata equal to what is encoded.
pub(crate) fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Refuses instants X.509 cannot encode (the DER time encoders assert on
/// them), so callers get an error instead of a panic.
pub(crate) fn check_encodable(what: &str, t: OffsetDateTime) -> Result<(), PkiError> {
    if (min_time()..=max_time()).contains(&t) {
        Ok(())
    } else {
        Err(PkiError::InvalidParams(format!(
            "{what} must be between 1950 and 9999"
        )))
    }
}

/// Adds a std duration to a time without panicking on overflow.
pub(crate) fn add(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime, PkiError> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d))
        .ok_or_else(|| PkiError::InvalidParams("duration is too large".into()))
}

/// Subtracts a std duration from a time without panicking on overflow.
pub(crate) fn sub(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime, PkiError> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d))
        .ok_or_else(|| PkiError::InvalidParams("duration is too large".into()))
}

/// The window an issuer's validity allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
}

/// Computes `[now - backdate, now + ttl]`, clamped into the issuer's window
/// when there is one. The backdating absorbs clock skew between us and the
/// relying party (Vault and IBM backdate by 30 seconds).
pub(crate) fn validity(
    now: OffsetDateTime,
    backdate: Duration,
    ttl: Duration,
    issuer: Option<Window>,
) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    if ttl.is_zero() {
        return Err(PkiError::InvalidParams(
            "ttl must be greater than zero".into(),
        ));
    }
    let now = normalize(now);
    let mut not_before = sub(now, backdate)?.max(min_time());
    // A TTL past the end of X.509 time is clamped rather than refused: the
    // caller asked for "as long as possible".
    let mut not_after = add(now, ttl).unwrap_or_else(|_| max_time()).min(max_time());
    if let Some(window) = issuer {
        if now >= window.not_after {
            return Err(PkiError::NotACa("the CA certificate has expired".into()));
        }
        not_before = not_before.max(window.not_before);
        not_after = not_after.min(window.not_after);
    }
    if now < min_time() || not_after <= not_before {
        return Err(PkiError::InvalidParams(
            "the requested validity period is empty".into(),
        ));
    }
    Ok((not_before, not_after))
}

/// The CRL distribution points extension for certificates a CA issues.
pub(crate) fn crl_distribution_points(urls: &[String]) -> Vec<CrlDistributionPoint> {
    if urls.is_empty() {
        Vec::new()
    } else {
        vec![CrlDistributionPoint {
            uris: urls.to_vec(),
        }]
    }
}

const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// DER of the OID id-ad-caIssuers (1.3.6.1.5.5.7.48.2).
const DER_OID_CA_ISSUERS: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
const OID_SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];

/// Authority Information Access with one caIssuers entry per URL, so
/// clients can fetch the issuing certificate. rcgen has no builder for it,
/// and the structure is small enough to encode by hand.
pub(crate) fn authority_info_access(urls: &[String]) -> Option<CustomExtension> {
    if urls.is_empty() {
        return None;
    }
    let mut descriptions = Vec::new();
    for url in urls {
        let mut description = DER_OID_CA_ISSUERS.to_vec();
        // [6] IMPLICIT IA5String: uniformResourceIdentifier.
        description.extend(tlv(0x86, url.as_bytes()));
        descriptions.extend(tlv(0x30, &description));
    }
    Some(CustomExtension::from_oid_content(
        OID_AUTHORITY_INFO_ACCESS,
        tlv(0x30, &descriptions),
    ))
}

/// Subject Key Identifier as a custom extension, for end-entity
/// certificates: rcgen writes it only for CA and explicit non-CA profiles.
pub(crate) fn subject_key_identifier(key_id: &[u8]) -> CustomExtension {
    CustomExtension::from_oid_content(OID_SUBJECT_KEY_IDENTIFIER, tlv(0x04, key_id))
}

/// Checks that every URL is ASCII without whitespace (they are written as
/// IA5String) and has a scheme.
pub(crate) fn check_urls(field: &str, urls: &[String]) -> Result<(), PkiError> {
    match urls.iter().find(|u| !looks_like_uri(u)) {
        Some(bad) => Err(PkiError::InvalidParams(format!(
            "{field}: {bad:?} is not an ASCII URL"
        ))),
        None => Ok(()),
    }
}

/// One DER tag-length-value with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    #[test]
    fn der_lengths() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = vec![0u8; 200];
        assert_eq!(&tlv(0x04, &long)[..3], &[0x04, 0x81, 200]);
        let longer = vec![0u8; 300];
        assert_eq!(&tlv(0x04, &longer)[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn validity_is_clamped_and_whole_seconds() {
        let now = datetime!(2030-01-01 12:00:00.5 UTC);
        let window = Window {
            not_before: datetime!(2029-01-01 0:00 UTC),
            not_after: datetime!(2030-01-02 0:00 UTC),
        };
        let (nb, na) = validity(
            now,
            Duration::from_secs(30),
            Duration::from_secs(86_400 * 10),
            Some(window),
        )
        .unwrap();
        assert_eq!(nb, datetime!(2030-01-01 11:59:30 UTC));
        assert_eq!(na, window.not_after);
        assert!(validity(now, Duration::ZERO, Duration::ZERO, None).is_err());
        let expired = Window {
            not_before: window.not_before,
            not_after: datetime!(2030-01-01 0:00 UTC),
        };
        assert!(validity(now, Duration::ZERO, Duration::from_secs(1), Some(expired)).is_err());
        let (_, far) =
            validity(now, Duration::ZERO, Duration::from_secs(u64::MAX / 4), None).unwrap();
        assert_eq!(far, max_time());
    }

    #[test]
    fn values_the_der_writer_would_assert_on_are_refused() {
        let country = vec!["U?".to_owned()];
        let s = Subject {
            country: &country,
            ..Subject::default()
        };
        assert!(matches!(s.to_dn(), Err(PkiError::InvalidParams(_))));
        assert!(is_encodable_printable("Example (Co.) 1, a/b:c=d-e+f'g"));
        assert!(!is_encodable_printable("a*b"));
        assert!(is_encodable_oid(&[2, 5, 4, 3]));
        assert!(is_encodable_oid(&[2, 999]));
        assert!(!is_encodable_oid(&[1, 40]));
        assert!(!is_encodable_oid(&[3, 1]));
        assert!(!is_encodable_oid(&[1]));
        assert!(!is_encodable_oid(&[2, u64::MAX - 80]));
    }

    #[test]
    fn subject_rejects_multiple_values() {
        let two = vec!["a".to_owned(), "b".to_owned()];
        let s = Subject {
            ou: &two,
            ..Subject::default()
        };
        assert!(s.to_dn().is_err());
    }

    #[test]
    fn sans_are_sorted_by_kind() {
        let sans = Sans::from_api(
            &["Example.com".into(), "ops@example.com".into()],
            &["10.0.0.1".into(), "::1".into()],
            &["spiffe://example/svc".into()],
        )
        .unwrap();
        assert_eq!(sans.dns, vec!["example.com"]);
        assert_eq!(sans.emails, vec!["ops@example.com"]);
        assert_eq!(sans.ips.len(), 2);
        assert_eq!(sans.uris, vec!["spiffe://example/svc"]);
        assert!(Sans::from_api(&[], &["not-an-ip".into()], &[]).is_err());
        assert!(Sans::from_api(&[], &[], &["no scheme".into()]).is_err());
    }
}
