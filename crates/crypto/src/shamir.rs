//! Shamir secret sharing over GF(256), via the `blahaj` crate.
//!
//! Used to split the root (unseal) key among operators. Each byte of the
//! secret is shared independently with its own random polynomial; share
//! `i` is the evaluation at `x = i` (1..=255).
//!
//! Shamir sharing has **no integrity**: combining too few shares, or a
//! corrupted or foreign share, silently yields a wrong secret rather than an
//! error. Callers must verify the combined secret, e.g. by opening an AEAD
//! ciphertext sealed under it, before trusting it.
//!
//! Text form of a share: `arca-share-v1:` followed by standard (padded)
//! base64 of the share bytes, which are the x-coordinate followed by one
//! y-byte per secret byte.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use blahaj::Sharks;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Prefix of the text form of a share; versioned so the encoding can change.
pub const SHARE_TEXT_PREFIX: &str = "arca-share-v1:";

/// One share of a split secret. The bytes are wiped on drop and never
/// printed.
#[derive(Clone)]
pub struct Share {
    /// `x ‖ y_1 … y_n`; invariant: length >= 2 and `x != 0`.
    bytes: Zeroizing<Vec<u8>>,
}

impl Share {
    /// Builds a share from its raw bytes (x-coordinate first).
    ///
    /// # Errors
    /// [`CryptoError::MalformedShare`] if shorter than 2 bytes or if the
    /// x-coordinate is 0 (that point would be the secret itself).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() < 2 {
            return Err(CryptoError::MalformedShare("share too short"));
        }
        if bytes.first() == Some(&0) {
            return Err(CryptoError::MalformedShare("share index 0 is invalid"));
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The share's x-coordinate (1..=255).
    pub fn index(&self) -> u8 {
        // The constructor guarantees a non-empty buffer; 0 is unreachable.
        self.bytes.first().copied().unwrap_or(0)
    }

    /// The raw share bytes (x-coordinate first). Secret.
    pub fn expose_secret(&self) -> &[u8] {
        &self.bytes
    }

    /// The y-values; one per secret byte.
    fn y(&self) -> &[u8] {
        self.bytes.get(1..).unwrap_or_default()
    }

    /// Text form, `arca-share-v1:<base64>`, for handing to an operator.
    /// The string is as secret as the share; callers should wipe it.
    pub fn to_text(&self) -> String {
        let mut s = String::from(SHARE_TEXT_PREFIX);
        STANDARD.encode_string(&self.bytes[..], &mut s);
        s
    }

    /// Parses the text form; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`CryptoError::MalformedShare`] for a missing prefix, invalid
    /// base64, or invalid share bytes.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let body = text
            .trim()
            .strip_prefix(SHARE_TEXT_PREFIX)
            .ok_or(CryptoError::MalformedShare("missing arca-share-v1: prefix"))?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(body)
                .map_err(|_| CryptoError::MalformedShare("invalid base64"))?,
        );
        Self::from_bytes(&bytes)
    }
}

impl PartialEq for Share {
    /// Constant-time, since shares are secret.
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for Share {}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Share(index: {}, <redacted>)", self.index())
    }
}

/// Splits `secret` into `shares` shares, any `threshold` of which recover it.
///
/// Randomness comes from `rand`'s thread-local CSPRNG (ChaCha, seeded and
/// periodically reseeded from the OS), which is what `blahaj`'s dealer uses.
///
/// # Errors
/// [`CryptoError::Shamir`] if `secret` is empty, `threshold` is 0, or
/// `threshold > shares`.
pub fn split(secret: &[u8], threshold: u8, shares: u8) -> Result<Vec<Share>, CryptoError> {
    if secret.is_empty() {
        return Err(CryptoError::Shamir("secret is empty"));
    }
    if threshold == 0 {
        return Err(CryptoError::Shamir("threshold must be at least 1"));
    }
    if threshold > shares {
        return Err(CryptoError::Shamir("threshold exceeds number of shares"));
    }
    let out = Sharks(threshold)
        .dealer(secret)
        .take(usize::from(shares))
        .map(|s| Share {
            bytes: Zeroizing::new(Vec::from(&s)),
        })
        .collect::<Vec<_>>();
    if out.len() != usize::from(shares) {
        return Err(CryptoError::Shamir("dealer produced too few shares"));
    }
    Ok(out)
}

/// Recombines at least `threshold` distinct shares into the secret.
///
/// Exact duplicates are ignored. The result is only correct if the shares
/// come from one split with this threshold; see the module docs on
/// verifying it.
///
/// # Errors
/// [`CryptoError::Shamir`] if `threshold` is 0, shares differ in length,
/// two shares have the same index but different values, or there are fewer
/// than `threshold` distinct shares.
pub fn combine(shares: &[Share], threshold: u8) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if threshold == 0 {
        return Err(CryptoError::Shamir("threshold must be at least 1"));
    }
    let Some(first) = shares.first() else {
        return Err(CryptoError::Shamir("no shares given"));
    };
    let len = first.bytes.len();
    let mut distinct: BTreeMap<u8, &Share> = BTreeMap::new();
    for share in shares {
        if share.bytes.len() != len {
            return Err(CryptoError::Shamir("shares have different lengths"));
        }
        if let Some(prev) = distinct.insert(share.index(), share) {
            // blahaj would double-count a repeated x and return garbage.
            if !bool::from(prev.y().ct_eq(share.y())) {
                return Err(CryptoError::Shamir(
                    "conflicting shares with the same index",
                ));
            }
        }
    }
    if distinct.len() < usize::from(threshold) {
        return Err(CryptoError::Shamir("not enough distinct shares"));
    }
    let parsed = distinct
        .values()
        .map(|s| {
            blahaj::Share::try_from(&s.bytes[..]).map_err(|_| CryptoError::Shamir("invalid share"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Sharks(threshold)
        .recover(&parsed)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Shamir("not enough distinct shares"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::subsequence;

    #[test]
    fn basic_split_combine() {
        let secret = b"the root key, 32 bytes long!!!!!";
        let shares = split(secret, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        let idx: Vec<u8> = shares.iter().map(Share::index).collect();
        assert_eq!(idx, vec![1, 2, 3, 4, 5]);
        assert_eq!(&*combine(&shares[1..4], 3).unwrap(), secret);
        assert_eq!(&*combine(&shares, 3).unwrap(), secret);
        assert!(matches!(
            combine(&shares[..2], 3),
            Err(CryptoError::Shamir(_))
        ));
        // Duplicates do not count towards the threshold.
        let dup = vec![shares[0].clone(), shares[0].clone(), shares[1].clone()];
        assert!(matches!(combine(&dup, 3), Err(CryptoError::Shamir(_))));
        let dup = vec![
            shares[0].clone(),
            shares[0].clone(),
            shares[1].clone(),
            shares[2].clone(),
        ];
        assert_eq!(&*combine(&dup, 3).unwrap(), secret);
    }

    #[test]
    fn threshold_one() {
        let shares = split(b"s", 1, 3).unwrap();
        for s in &shares {
            assert_eq!(&*combine(std::slice::from_ref(s), 1).unwrap(), b"s");
        }
        assert_eq!(split(b"s", 1, 1).unwrap().len(), 1);
    }

    #[test]
    fn parameter_validation() {
        assert!(matches!(split(b"", 2, 3), Err(CryptoError::Shamir(_))));
        assert!(matches!(split(b"s", 0, 3), Err(CryptoError::Shamir(_))));
        assert!(matches!(split(b"s", 4, 3), Err(CryptoError::Shamir(_))));
        assert!(matches!(split(b"s", 0, 0), Err(CryptoError::Shamir(_))));
        assert_eq!(split(b"s", 255, 255).unwrap().len(), 255);
        assert!(matches!(combine(&[], 1), Err(CryptoError::Shamir(_))));
        let shares = split(b"secret", 2, 3).unwrap();
        assert!(matches!(combine(&shares, 0), Err(CryptoError::Shamir(_))));
    }

    #[test]
    fn mismatched_and_conflicting() {
        let a = split(b"secret", 2, 3).unwrap();
        let b = split(b"longer secret", 2, 3).unwrap();
        assert!(matches!(
            combine(&[a[0].clone(), b[1].clone()], 2),
            Err(CryptoError::Shamir(_))
        ));
        let c = split(b"SECRET", 2, 3).unwrap();
        // Same index (1), different values.
        assert!(matches!(
            combine(&[a[0].clone(), c[0].clone(), a[1].clone()], 2),
            Err(CryptoError::Shamir(_))
        ));
    }

    #[test]
    fn text_form() {
        let shares = split(b"secret", 2, 3).unwrap();
        let t = shares[0].to_text();
        assert!(t.starts_with("arca-share-v1:"));
        assert_eq!(Share::from_text(&t).unwrap(), shares[0]);
        assert_eq!(
            Share::from_text(&format!("  \n{t}\r\n ")).unwrap(),
            shares[0]
        );
        for bad in [
            "",
            "arca-share-v1:",
            "arca-share-v2:AQI=",
            "ARCA-SHARE-V1:AQI=",
            "AQI=",
            "arca-share-v1:AQ==",     // one byte: too short
            "arca-share-v1:AAI=",     // index 0
            "arca-share-v1:AQI",      // missing padding
            "arca-share-v1:AQJ=",     // non-canonical trailing bits
            "arca-share-v1:A QI=",    // inner whitespace
            "arca-share-v1:AQI=AQI=", // padding in the middle
            "arca-share-v1:\u{e9}\u{e9}==",
        ] {
            assert!(
                matches!(Share::from_text(bad), Err(CryptoError::MalformedShare(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let share = Share::from_bytes(&[7, 0xde, 0xad, 0xbe, 0xef]).unwrap();
        let dbg = format!("{share:?}");
        assert_eq!(dbg, "Share(index: 7, <redacted>)");
        assert!(!dbg.contains("dead") && !dbg.contains("222"));
    }

    fn params() -> impl Strategy<Value = (u8, u8, Vec<usize>, Vec<usize>, Vec<u8>)> {
        (1u8..=6)
            .prop_flat_map(|k| (Just(k), k..=8u8))
            .prop_flat_map(|(k, n)| {
                let all: Vec<usize> = (0..usize::from(n)).collect();
                (
                    Just(k),
                    Just(n),
                    subsequence(all.clone(), usize::from(k)).prop_shuffle(),
                    subsequence(all, usize::from(k) - 1),
                    // At least 16 bytes, so a wrong reconstruction equals the
                    // secret with probability 2^-128, not a flaky 2^-8.
                    proptest::collection::vec(any::<u8>(), 16..48),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_k_subset_recovers((k, n, subset, fewer, secret) in params()) {
            let shares = split(&secret, k, n).unwrap();
            let chosen: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            prop_assert_eq!(&*combine(&chosen, k).unwrap(), &secret[..]);

            let fewer: Vec<Share> = fewer.iter().map(|&i| shares[i].clone()).collect();
            // Asking for the real threshold with k-1 shares is refused...
            prop_assert!(combine(&fewer, k).is_err());
            // ...and interpolating k-1 shares as if they sufficed gives a
            // different value, since k-1 points leave f(0) undetermined.
            if k >= 2 {
                let wrong = combine(&fewer, k - 1).unwrap();
                prop_assert_ne!(&*wrong, &secret[..]);
            }
        }

        #[test]
        fn text_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..80), x in 1u8..=255) {
            let mut raw = vec![x];
            raw.extend_from_slice(&bytes);
            let share = Share::from_bytes(&raw).unwrap();
            let back = Share::from_text(&share.to_text()).unwrap();
            prop_assert_eq!(back.expose_secret(), &raw[..]);
            prop_assert_eq!(back.index(), x);
        }

        #[test]
        fn from_text_never_panics(s in ".*") {
            let _ = Share::from_text(&s);
            let _ = Share::from_text(&format!("{SHARE_TEXT_PREFIX}{s}"));
        }
    }
}
