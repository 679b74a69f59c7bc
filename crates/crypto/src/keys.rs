//! Symmetric key types.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::random::fill_random;

/// Length in bytes of an [`AesKey256`].
pub const AES_256_KEY_LEN: usize = 32;

/// A 256-bit AES key. The bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct AesKey256(Zeroizing<[u8; AES_256_KEY_LEN]>);

impl AesKey256 {
    /// Generates a fresh random key from the system RNG.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the system generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; AES_256_KEY_LEN]);
        fill_random(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// Builds a key from exactly 32 bytes.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyLength`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; AES_256_KEY_LEN]);
        if bytes.len() != AES_256_KEY_LEN {
            return Err(CryptoError::InvalidKeyLength);
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The raw key bytes. Named loudly so uses stand out in review.
    pub fn expose_secret(&self) -> &[u8; AES_256_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for AesKey256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey256(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_slice_checks_length() {
        assert_eq!(
            AesKey256::from_slice(&[0u8; 31]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        assert_eq!(
            AesKey256::from_slice(&[0u8; 33]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        let k = AesKey256::from_slice(&[7u8; 32]).unwrap();
        assert_eq!(k.expose_secret(), &[7u8; 32]);
    }

    #[test]
    fn generate_gives_distinct_keys() {
        let a = AesKey256::generate().unwrap();
        let b = AesKey256::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn debug_is_redacted() {
        let k = AesKey256::from_slice(&[0xab; 32]).unwrap();
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "AesKey256(<redacted>)");
        assert!(!dbg.to_lowercase().contains("abab"));
    }
}
