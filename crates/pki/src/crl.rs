//! Certificate revocation lists (`revoke_certificate`, `rotate_crl`).

use std::time::Duration;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use crate::build;
use crate::ca::CaSigner;
use crate::error::PkiError;
use crate::pem;
use crate::serial::parse_serial;

/// Builds and signs a CRL listing `revoked` (serial in any form
/// [`crate::parse_serial`] reads, and revocation time), valid from `now`
/// for `next_update`.
///
/// `crl_number` must grow with every CRL the CA publishes (RFC 5280
/// §5.2.3); the caller keeps the counter. The CRL's authority key
/// identifier equals the CA certificate's subject key identifier, so
/// verifiers find the right key.
///
/// # Errors
/// [`PkiError::InvalidParams`] for a malformed serial or an empty validity,
/// [`PkiError::Signing`] if the CA key may not sign CRLs or signing fails.
pub fn build_crl<S: AsRef<str>>(
    issuer: &CaSigner,
    revoked: &[(S, OffsetDateTime)],
    crl_number: u64,
    now: OffsetDateTime,
    next_update: Duration,
) -> Result<String, PkiError> {
    if next_update.is_zero() {
        return Err(PkiError::InvalidParams(
            "the CRL's next update must be after this update".into(),
        ));
    }
    let this_update = build::normalize(now);
    let next_update = build::add(this_update, next_update)?;
    build::check_encodable("the CRL's update time", this_update)?;
    build::check_encodable("the CRL's next update", next_update)?;
    let revoked_certs = revoked
        .iter()
        .map(|(serial, at)| {
            let revocation_time = build::normalize(*at);
            build::check_encodable("a revocation time", revocation_time)?;
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&parse_serial(serial.as_ref())?),
                revocation_time,
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let number = crl_number.to_be_bytes();
    let first = number
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(number.len() - 1);
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&number[first..]),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: match issuer.key_id() {
            Some(id) => KeyIdMethod::PreSpecified(id.to_vec()),
            None => KeyIdMethod::Sha256,
        },
    };
    let crl = params.signed_by(issuer.issuer())?;
    Ok(pem::encode("X509 CRL", crl.der()))
}
