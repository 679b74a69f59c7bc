//! The versioned, self-describing ciphertext format for data sealed under a
//! key version.
//!
//! Layout (all offsets in bytes):
//!
//! | offset  | length | field                                            |
//! |---------|--------|--------------------------------------------------|
//! | 0       | 1      | magic `0xA7`                                     |
//! | 1       | 1      | format version, currently `1`                    |
//! | 2       | 1      | algorithm id, `1` = AES-256-GCM                  |
//! | 3..19   | 16     | key version id (a UUID's bytes, opaque here)     |
//! | 19..31  | 12     | random nonce                                     |
//! | 31..    | n + 16 | ciphertext ‖ 16-byte GCM tag                     |
//!
//! The whole 31-byte header is authenticated: the AEAD associated data is
//! `header ‖ caller_aad`. Swapping the key version id (or any header byte)
//! therefore fails authentication instead of silently decrypting under a
//! different interpretation.
//!
//! The key version id lets a reader pick the right key before decrypting,
//! which is what makes key rotation possible without re-encrypting data.

use std::fmt;

use zeroize::Zeroizing;

use crate::aead::{AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::CryptoError;

/// First byte of every envelope.
pub const MAGIC: u8 = 0xA7;
/// The format version this build writes.
pub const FORMAT_V1: u8 = 1;
/// Length in bytes of a key version id.
pub const KEY_VERSION_LEN: usize = 16;
/// Length in bytes of the authenticated header.
pub const HEADER_LEN: usize = 3 + KEY_VERSION_LEN + NONCE_LEN;
/// Bytes an envelope adds to the plaintext length.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Encryption algorithm named in an envelope header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256-GCM, 96-bit random nonce, 128-bit tag.
    Aes256Gcm,
}

impl Algorithm {
    /// The byte stored in the header for this algorithm.
    pub fn id(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
        }
    }

    /// The algorithm for a header byte.
    ///
    /// # Errors
    /// [`CryptoError::UnsupportedAlgorithm`] for unknown ids.
    pub fn from_id(id: u8) -> Result<Self, CryptoError> {
        match id {
            1 => Ok(Self::Aes256Gcm),
            other => Err(CryptoError::UnsupportedAlgorithm(other)),
        }
    }
}

/// Identifies the key version that sealed an envelope (a UUID's 16 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyVersionId(pub [u8; KEY_VERSION_LEN]);

impl KeyVersionId {
    /// Wraps a UUID's 16 bytes.
    pub fn from_uuid_bytes(bytes: [u8; KEY_VERSION_LEN]) -> Self {
        Self(bytes)
    }

    /// The 16 raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_VERSION_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyVersionId {
    /// Hex in the hyphenated 8-4-4-4-12 UUID grouping, so it matches how the
    /// rest of the system prints the same id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyVersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyVersionId({self})")
    }
}

/// A parsed envelope. Borrows the ciphertext from the input; holds nothing
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Format version byte (always [`FORMAT_V1`] after [`parse`]).
    pub format: u8,
    /// Encryption algorithm.
    pub algorithm: Algorithm,
    /// Key version that sealed the data.
    pub key_version: KeyVersionId,
    /// AEAD nonce.
    pub nonce: [u8; NONCE_LEN],
    /// `ciphertext ‖ tag`.
    pub ciphertext: &'a [u8],
}

impl Envelope<'_> {
    /// Rebuilds the 31-byte header; [`parse`] is strict, so this equals the
    /// bytes that were parsed.
    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = MAGIC;
        h[1] = self.format;
        h[2] = self.algorithm.id();
        h[3..3 + KEY_VERSION_LEN].copy_from_slice(&self.key_version.0);
        h[3 + KEY_VERSION_LEN..].copy_from_slice(&self.nonce);
        h
    }

    /// Decrypts and authenticates the envelope with `key` (which must be the
    /// key for [`Envelope::key_version`]) and the caller's associated data.
    ///
    /// # Errors
    /// [`CryptoError::UnsupportedFormat`] if `format` was altered to an
    /// unknown value, [`CryptoError::MalformedCiphertext`] if the ciphertext
    /// is shorter than a tag, [`CryptoError::AuthenticationFailed`] for a
    /// wrong key, wrong AAD, or any tampering.
    pub fn open(&self, key: &AeadKey, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if self.format != FORMAT_V1 {
            return Err(CryptoError::UnsupportedFormat(self.format));
        }
        match self.algorithm {
            Algorithm::Aes256Gcm => {
                let full_aad = full_aad(&self.header(), aad);
                key.open(&self.nonce, &full_aad, self.ciphertext)
            }
        }
    }
}

fn full_aad(header: &[u8; HEADER_LEN], aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + aad.len());
    v.extend_from_slice(header);
    v.extend_from_slice(aad);
    v
}

/// Seals `plaintext` under `key` (the key of `key_version`) with a fresh
/// random nonce, binding `aad` and the header; returns the envelope bytes.
///
/// # Errors
/// [`CryptoError::Rng`] if no nonce can be drawn, [`CryptoError::Internal`]
/// if the plaintext is too long for GCM.
pub fn seal(
    key: &AeadKey,
    key_version: KeyVersionId,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill_random(&mut nonce)?;
    let env = Envelope {
        format: FORMAT_V1,
        algorithm: Algorithm::Aes256Gcm,
        key_version,
        nonce,
        ciphertext: &[],
    };
    let header = env.header();
    let ct = key.seal_with_nonce(&nonce, &full_aad(&header, aad), plaintext)?;
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Parses envelope bytes without decrypting. Strict and total: any input
/// yields either an [`Envelope`] or an error, never a panic.
///
/// # Errors
/// [`CryptoError::MalformedCiphertext`] for wrong magic or short input,
/// [`CryptoError::UnsupportedFormat`] / [`CryptoError::UnsupportedAlgorithm`]
/// for unknown header values.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, CryptoError> {
    let Some((&magic, rest)) = bytes.split_first() else {
        return Err(CryptoError::MalformedCiphertext("empty input"));
    };
    if magic != MAGIC {
        return Err(CryptoError::MalformedCiphertext("bad magic byte"));
    }
    let Some((&format, rest)) = rest.split_first() else {
        return Err(CryptoError::MalformedCiphertext("truncated header"));
    };
    if format != FORMAT_V1 {
        return Err(CryptoError::UnsupportedFormat(format));
    }
    let Some((&alg, rest)) = rest.split_first() else {
        return Err(CryptoError::MalformedCiphertext("truncated header"));
    };
    let algorithm = Algorithm::from_id(alg)?;
    let Some((kv, rest)) = rest.split_first_chunk::<KEY_VERSION_LEN>() else {
        return Err(CryptoError::MalformedCiphertext("truncated header"));
    };
    let Some((nonce, ciphertext)) = rest.split_first_chunk::<NONCE_LEN>() else {
        return Err(CryptoError::MalformedCiphertext("truncated header"));
    };
    if ciphertext.len() < TAG_LEN {
        return Err(CryptoError::MalformedCiphertext(
            "ciphertext shorter than tag",
        ));
    }
    Ok(Envelope {
        format,
        algorithm,
        key_version: KeyVersionId(*kv),
        nonce: *nonce,
        ciphertext,
    })
}

/// Parses and opens envelope bytes in one step. Callers that must choose the
/// key by version should [`parse`] first and use [`Envelope::open`].
///
/// # Errors
/// Any error of [`parse`] or [`Envelope::open`].
pub fn open(key: &AeadKey, aad: &[u8], bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    parse(bytes)?.open(key, aad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AesKey256;
    use proptest::prelude::*;

    const KV: KeyVersionId = KeyVersionId([
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        0x77,
    ]);

    fn key() -> AeadKey {
        AeadKey::new(&AesKey256::from_slice(&[9u8; 32]).unwrap()).unwrap()
    }

    #[test]
    fn layout() {
        let bytes = seal(&key(), KV, b"ctx", b"hello").unwrap();
        assert_eq!(HEADER_LEN, 31);
        assert_eq!(bytes.len(), OVERHEAD + 5);
        assert_eq!(bytes[0], 0xA7);
        assert_eq!(bytes[1], 1);
        assert_eq!(bytes[2], 1);
        assert_eq!(&bytes[3..19], KV.as_bytes());
        let env = parse(&bytes).unwrap();
        assert_eq!(env.key_version, KV);
        assert_eq!(env.algorithm, Algorithm::Aes256Gcm);
        assert_eq!(&env.nonce[..], &bytes[19..31]);
        assert_eq!(env.ciphertext, &bytes[31..]);
        assert_eq!(&*env.open(&key(), b"ctx").unwrap(), b"hello");
        assert_eq!(&*open(&key(), b"ctx", &bytes).unwrap(), b"hello");
    }

    #[test]
    fn display_and_debug() {
        assert_eq!(KV.to_string(), "01234567-89ab-cdef-0011-223344556677");
        assert_eq!(
            format!("{KV:?}"),
            "KeyVersionId(01234567-89ab-cdef-0011-223344556677)"
        );
        assert_eq!(KeyVersionId::from_uuid_bytes(KV.0), KV);
    }

    #[test]
    fn parse_rejects() {
        let good = seal(&key(), KV, b"", b"").unwrap();
        assert!(parse(&good).is_ok());
        assert!(matches!(
            parse(&[]),
            Err(CryptoError::MalformedCiphertext(_))
        ));
        let mut b = good.clone();
        b[0] = 0xA6;
        assert!(matches!(
            parse(&b),
            Err(CryptoError::MalformedCiphertext(_))
        ));
        let mut b = good.clone();
        b[1] = 2;
        assert_eq!(parse(&b).unwrap_err(), CryptoError::UnsupportedFormat(2));
        let mut b = good.clone();
        b[2] = 9;
        assert_eq!(parse(&b).unwrap_err(), CryptoError::UnsupportedAlgorithm(9));
        for len in 0..good.len() {
            assert!(parse(&good[..len]).is_err(), "prefix of {len} bytes parsed");
        }
    }

    #[test]
    fn swapped_key_version_fails() {
        let bytes = seal(&key(), KV, b"", b"data").unwrap();
        let mut env = parse(&bytes).unwrap();
        env.key_version = KeyVersionId([0u8; 16]);
        assert_eq!(
            env.open(&key(), b"").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        env.key_version = KV;
        env.format = 7;
        assert_eq!(
            env.open(&key(), b"").unwrap_err(),
            CryptoError::UnsupportedFormat(7)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(pt in proptest::collection::vec(any::<u8>(), 0..512),
                      aad in proptest::collection::vec(any::<u8>(), 0..64),
                      kv in any::<[u8; 16]>()) {
            let k = key();
            let bytes = seal(&k, KeyVersionId(kv), &aad, &pt).unwrap();
            prop_assert_eq!(parse(&bytes).unwrap().key_version, KeyVersionId(kv));
            prop_assert_eq!(&*open(&k, &aad, &bytes).unwrap(), &pt[..]);
        }

        #[test]
        fn any_bit_flip_fails(pt in proptest::collection::vec(any::<u8>(), 0..128),
                              aad in proptest::collection::vec(any::<u8>(), 0..32),
                              bit in any::<usize>()) {
            let k = key();
            let mut bytes = seal(&k, KV, &aad, &pt).unwrap();
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(open(&k, &aad, &bytes).is_err());
        }

        #[test]
        fn wrong_aad_fails(pt in proptest::collection::vec(any::<u8>(), 0..128),
                           aad in proptest::collection::vec(any::<u8>(), 0..32),
                           other in proptest::collection::vec(any::<u8>(), 0..32)) {
            prop_assume!(aad != other);
            let k = key();
            let bytes = seal(&k, KV, &aad, &pt).unwrap();
            prop_assert_eq!(open(&k, &other, &bytes).unwrap_err(), CryptoError::AuthenticationFailed);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_near_valid(tail in proptest::collection::vec(any::<u8>(), 0..64),
                                            alg in any::<u8>()) {
            // Valid prefix so the fuzzing reaches the later length checks.
            let mut bytes = vec![MAGIC, FORMAT_V1, alg];
            bytes.extend_from_slice(&tail);
            let _ = parse(&bytes);
        }
    }
}
