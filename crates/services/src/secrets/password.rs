//! Password generation for `username_password` secrets, by policy.

use arca_crypto::random::fill_random;
use zeroize::Zeroizing;

use super::model::PasswordPolicy;
use crate::{ServiceError, ServiceResult};

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const SYMBOLS: &[u8] = b"!@#$%^&*()-_=+[]{}<>?~";

/// A uniform index below `n` (rejection sampling: no modulo bias).
fn index(n: usize) -> ServiceResult<usize> {
    let n32 = u32::try_from(n).map_err(|_| ServiceError::Internal("alphabet too large".into()))?;
    let zone = u32::MAX - (u32::MAX % n32);
    loop {
        let mut b = [0u8; 4];
        fill_random(&mut b).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return usize::try_from(v % n32).map_err(|e| ServiceError::Internal(Box::new(e)));
        }
    }
}

/// Generates a password of `policy.length` characters with at least one character of every
/// class the policy includes.
pub fn generate(policy: &PasswordPolicy) -> ServiceResult<Zeroizing<String>> {
    policy.validate()?;
    let mut classes: Vec<&[u8]> = vec![LOWER];
    if policy.include_uppercase {
        classes.push(UPPER);
    }
    if policy.include_digits {
        classes.push(DIGITS);
    }
    if policy.include_symbols {
        classes.push(SYMBOLS);
    }
    let all: Vec<u8> = classes.concat();
    let length = usize::try_from(policy.length).unwrap_or(32);
    let mut out = Zeroizing::new(Vec::with_capacity(length));
    // One of each class first, the rest from the union, then a Fisher-Yates shuffle.
    for class in &classes {
        out.push(class[index(class.len())?]);
    }
    while out.len() < length {
        out.push(all[index(all.len())?]);
    }
    for i in (1..out.len()).rev() {
        let j = index(i + 1)?;
        out.swap(i, j);
    }
    let text = String::from_utf8(out.to_vec()).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    Ok(Zeroizing::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_policy() {
        let p = PasswordPolicy {
            length: 12,
            include_digits: true,
            include_symbols: false,
            include_uppercase: true,
        };
        for _ in 0..50 {
            let pw = generate(&p).unwrap();
            assert_eq!(pw.len(), 12);
            assert!(pw.bytes().any(|b| b.is_ascii_digit()));
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(pw.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        let lower_only = PasswordPolicy {
            length: 40,
            include_digits: false,
            include_symbols: false,
            include_uppercase: false,
        };
        assert!(
            generate(&lower_only)
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_lowercase())
        );
        assert_ne!(*generate(&p).unwrap(), *generate(&p).unwrap());
    }

    #[test]
    fn refuses_bad_lengths() {
        for length in [11, 257] {
            let p = PasswordPolicy {
                length,
                ..Default::default()
            };
            assert!(generate(&p).is_err());
        }
    }
}
