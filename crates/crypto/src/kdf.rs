//! HKDF-SHA256 (RFC 5869).

use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{AES_256_KEY_LEN, AesKey256};

/// Longest output HKDF-SHA256 can produce: 255 × the hash length.
pub const HKDF_SHA256_MAX_LEN: usize = 255 * 32;

/// Output length for aws-lc-rs's typed `expand`.
struct OutLen(usize);

impl KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// Derives `len` bytes from `ikm` with HKDF-SHA256. An empty `salt` means
/// the RFC 5869 default (a hash-length string of zeros).
///
/// # Errors
/// [`CryptoError::InvalidLength`] if `len` exceeds [`HKDF_SHA256_MAX_LEN`].
pub fn hkdf_sha256(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if len > HKDF_SHA256_MAX_LEN {
        return Err(CryptoError::InvalidLength(
            "HKDF output longer than 255 blocks",
        ));
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    if len == 0 {
        return Ok(out);
    }
    let info_parts = [info];
    Salt::new(HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&info_parts, OutLen(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

/// Derives an AES-256 key with HKDF-SHA256.
///
/// # Errors
/// [`CryptoError::Internal`] if the primitive fails (not expected).
pub fn hkdf_sha256_key(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<AesKey256, CryptoError> {
    let bytes = hkdf_sha256(ikm, salt, info, AES_256_KEY_LEN)?;
    AesKey256::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 5869 Appendix A.1.
    #[test]
    fn rfc5869_case_1() {
        let okm = hkdf_sha256(
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &h("000102030405060708090a0b0c"),
            &h("f0f1f2f3f4f5f6f7f8f9"),
            42,
        )
        .unwrap();
        assert_eq!(
            *okm,
            h(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
    }

    /// RFC 5869 Appendix A.3: empty salt and info.
    #[test]
    fn rfc5869_case_3() {
        let okm = hkdf_sha256(&[0x0b; 22], &[], &[], 42).unwrap();
        assert_eq!(
            *okm,
            h(
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
            )
        );
    }

    #[test]
    fn lengths() {
        assert!(hkdf_sha256(b"k", b"", b"", 0).unwrap().is_empty());
        assert_eq!(
            hkdf_sha256(b"k", b"", b"", HKDF_SHA256_MAX_LEN)
                .unwrap()
                .len(),
            HKDF_SHA256_MAX_LEN
        );
        assert!(matches!(
            hkdf_sha256(b"k", b"", b"", HKDF_SHA256_MAX_LEN + 1),
            Err(CryptoError::InvalidLength(_))
        ));
        let k = hkdf_sha256_key(b"ikm", b"salt", b"info").unwrap();
        assert_eq!(
            &k.expose_secret()[..],
            &hkdf_sha256(b"ikm", b"salt", b"info", 32).unwrap()[..]
        );
    }
}
