//! Certificate serial numbers: generation and the `38:eb:01` text form.

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use rcgen::SerialNumber;

use crate::error::PkiError;

/// Serial length in bytes: the RFC 5280 maximum (20 octets), like IBM's
/// private CA. 159 random bits make collisions and prediction moot.
const SERIAL_LEN: usize = 20;

/// Draws a random positive serial that encodes in exactly 20 bytes.
///
/// The top bit is cleared so the DER INTEGER is positive without a padding
/// byte, and the first byte is forced non-zero so DER does not shorten it.
pub(crate) fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; SERIAL_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 0x01;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// Formats serial bytes the way Secrets Manager does: lowercase hex pairs
/// joined by `:`, with DER's sign-padding zero byte dropped.
pub fn format_serial(bytes: &[u8]) -> String {
    let bytes = match bytes {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
        _ => bytes,
    };
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Parses a serial written as `38:eb:01`, `38eb01` or `38-EB-01` into its
/// big-endian bytes.
///
/// # Errors
/// [`PkiError::InvalidParams`] if it is empty or not hexadecimal.
pub fn parse_serial(text: &str) -> Result<Vec<u8>, PkiError> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect();
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    match hex::decode(&padded) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= 64 => Ok(bytes),
        _ => Err(PkiError::InvalidParams(format!(
            "serial number {text:?} is not a hexadecimal serial"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn random_serials_are_positive_and_20_bytes() {
        for _ in 0..64 {
            let s = random_serial().unwrap().to_bytes();
            assert_eq!(s.len(), SERIAL_LEN);
            assert!(s[0] != 0 && s[0] & 0x80 == 0);
        }
        assert_ne!(random_serial().unwrap(), random_serial().unwrap());
    }

    #[test]
    fn text_forms_round_trip() {
        assert_eq!(format_serial(&[0x38, 0xeb, 0x01]), "38:eb:01");
        assert_eq!(format_serial(&[0x00, 0xfc, 0x22]), "fc:22");
        assert_eq!(format_serial(&[0x00, 0x12]), "00:12");
        assert_eq!(parse_serial("38:eb:01").unwrap(), vec![0x38, 0xeb, 0x01]);
        assert_eq!(parse_serial("38EB01").unwrap(), vec![0x38, 0xeb, 0x01]);
        assert_eq!(parse_serial("1").unwrap(), vec![0x01]);
        assert!(parse_serial("").is_err());
        assert!(parse_serial("zz").is_err());
    }
}
