//! Randomness from the operating system via aws-lc-rs.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Fills `buf` with cryptographically secure random bytes.
///
/// # Errors
/// [`CryptoError::Rng`] if the system generator fails.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Rng)
}

/// Returns `len` cryptographically secure random bytes in a zeroizing buffer
/// (they are usually used as secrets).
///
/// # Errors
/// [`CryptoError::Rng`] if the system generator fails.
pub fn random_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    fill_random(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_have_requested_length_and_differ() {
        let a = random_bytes(32).unwrap();
        let b = random_bytes(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(*a, *b);
        assert!(random_bytes(0).unwrap().is_empty());
    }
}
