//! AES-256-GCM with 96-bit nonces.
//!
//! Callers that encrypt many messages under one key should build an
//! [`AeadKey`] once and reuse it: constructing it expands the AES key
//! schedule, which the free functions [`seal`] and [`open`] redo per call.
//!
//! With random nonces, a single key must not seal more than about 2^32
//! messages (NIST SP 800-38D §8.3); key rotation is the caller's job.

use std::fmt;

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::AesKey256;
use crate::random::fill_random;

/// Length in bytes of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length in bytes of the AES-GCM authentication tag.
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM key with its key schedule already expanded.
pub struct AeadKey {
    key: LessSafeKey,
}

impl AeadKey {
    /// Prepares `key` for sealing and opening.
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if the primitive rejects the key (not
    /// expected for a 32-byte key).
    pub fn new(key: &AesKey256) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose_secret())
            .map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Prepares an AES-GCM key of 128, 192 or 256 bits given as bytes. Arca's own data is
    /// always sealed with AES-256 ([`AeadKey::new`]); this serves protocols that use customer
    /// key material of any AES size as a GCM key (the nonce proof of a secure key import).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyLength`] unless the key is 16, 24 or 32 bytes.
    pub fn from_bytes_any_size(key: &[u8]) -> Result<Self, CryptoError> {
        let algorithm = match key.len() {
            16 => &AES_128_GCM,
            24 => &AES_192_GCM,
            32 => &AES_256_GCM,
            _ => return Err(CryptoError::InvalidKeyLength),
        };
        let unbound = UnboundKey::new(algorithm, key).map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts under a fresh random nonce; returns the nonce and
    /// `ciphertext ‖ tag`.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if no nonce can be drawn, [`CryptoError::Internal`]
    /// if the plaintext is too long for GCM.
    pub fn seal_random_nonce(
        &self,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let ct = self.seal_with_nonce(&nonce, aad, plaintext)?;
        Ok((nonce, ct))
    }

    /// Encrypts with a caller-chosen nonce; returns `ciphertext ‖ tag`.
    ///
    /// The nonce must never repeat under this key: a repeat reveals the XOR
    /// of plaintexts and lets an attacker forge tags. Prefer
    /// [`AeadKey::seal_random_nonce`].
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if the plaintext is too long for GCM.
    pub fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut in_out = Vec::with_capacity(plaintext.len().saturating_add(TAG_LEN));
        in_out.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Internal)?;
        Ok(in_out)
    }

    /// Decrypts and authenticates `ciphertext ‖ tag`.
    ///
    /// # Errors
    /// [`CryptoError::MalformedCiphertext`] if the input is shorter than a
    /// tag, [`CryptoError::AuthenticationFailed`] for a wrong key, wrong AAD
    /// or tampered input.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::MalformedCiphertext(
                "ciphertext shorter than tag",
            ));
        }
        // Decrypt in a zeroizing buffer so plaintext (or partial output on
        // failure) is wiped when dropped.
        let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
        let pt_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                buf.as_mut_slice(),
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        buf.truncate(pt_len);
        Ok(buf)
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(<redacted>)")
    }
}

/// One-shot AES-256-GCM encryption; returns `ciphertext ‖ tag`.
///
/// # Errors
/// See [`AeadKey::seal_with_nonce`].
pub fn seal(
    key: &AesKey256,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    AeadKey::new(key)?.seal_with_nonce(nonce, aad, plaintext)
}

/// One-shot AES-256-GCM decryption of `ciphertext ‖ tag`.
///
/// # Errors
/// See [`AeadKey::open`].
pub fn open(
    key: &AesKey256,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    AeadKey::new(key)?.open(nonce, aad, ciphertext_and_tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_size_keys_round_trip_and_refuse_other_sizes() {
        for len in [16, 24, 32] {
            let key = AeadKey::from_bytes_any_size(&vec![7u8; len]).unwrap();
            let nonce = [1u8; NONCE_LEN];
            let ct = key.seal_with_nonce(&nonce, b"aad", b"nonce-proof").unwrap();
            assert_eq!(&key.open(&nonce, b"aad", &ct).unwrap()[..], b"nonce-proof");
            // A key of another size cannot open it.
            let other =
                AeadKey::from_bytes_any_size(&vec![7u8; if len == 16 { 32 } else { 16 }]).unwrap();
            assert!(other.open(&nonce, b"aad", &ct).is_err());
        }
        for len in [0, 15, 20, 33] {
            assert!(matches!(
                AeadKey::from_bytes_any_size(&vec![0u8; len]),
                Err(CryptoError::InvalidKeyLength)
            ));
        }
    }

    fn key() -> AesKey256 {
        AesKey256::from_slice(&[0x42; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_layout() {
        let k = AeadKey::new(&key()).unwrap();
        let (nonce, ct) = k.seal_random_nonce(b"aad", b"hello").unwrap();
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(&*k.open(&nonce, b"aad", &ct).unwrap(), b"hello");
        // Free functions agree with the reusable key.
        assert_eq!(seal(&key(), &nonce, b"aad", b"hello").unwrap(), ct);
        assert_eq!(&*open(&key(), &nonce, b"aad", &ct).unwrap(), b"hello");
    }

    #[test]
    fn random_nonces_differ() {
        let k = AeadKey::new(&key()).unwrap();
        let (n1, c1) = k.seal_random_nonce(b"", b"x").unwrap();
        let (n2, c2) = k.seal_random_nonce(b"", b"x").unwrap();
        assert_ne!(n1, n2);
        assert_ne!(c1, c2);
    }

    #[test]
    fn failures() {
        let k = AeadKey::new(&key()).unwrap();
        let nonce = [1u8; NONCE_LEN];
        let ct = k.seal_with_nonce(&nonce, b"aad", b"secret").unwrap();
        assert_eq!(
            k.open(&nonce, b"AAD", &ct).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert_eq!(
            k.open(&[2u8; NONCE_LEN], b"aad", &ct).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        let other = AeadKey::new(&AesKey256::from_slice(&[1; 32]).unwrap()).unwrap();
        assert_eq!(
            other.open(&nonce, b"aad", &ct).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert!(matches!(
            k.open(&nonce, b"aad", &ct[..TAG_LEN - 1]),
            Err(CryptoError::MalformedCiphertext(_))
        ));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            k.open(&nonce, b"aad", &bad).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    #[test]
    fn empty_plaintext() {
        let k = AeadKey::new(&key()).unwrap();
        let (n, ct) = k.seal_random_nonce(b"", b"").unwrap();
        assert_eq!(ct.len(), TAG_LEN);
        assert!(k.open(&n, b"", &ct).unwrap().is_empty());
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", AeadKey::new(&key()).unwrap()),
            "AeadKey(<redacted>)"
        );
    }
}
