//! Data sealed under a human passphrase: Argon2id (RFC 9106) derives an AES-256-GCM key.
//!
//! Used for files that leave the service, such as certificate backup bundles, which must be
//! opened elsewhere with nothing but the passphrase. Layout (all integers big-endian):
//!
//! ```text
//! magic "ARCA-PB1" (8) | m_cost KiB (4) | t_cost (4) | p_cost (4) | salt (16) | nonce (12) | ct ‖ tag
//! ```
//!
//! The header (everything before the ciphertext) and a caller-chosen context are the AES-GCM
//! associated data, so a file sealed for one purpose cannot be opened as another and no header
//! byte can be changed unnoticed. [`parse_header`] bounds the Argon2 parameters before any work
//! is done, so a crafted file cannot make [`open`] allocate gigabytes or run for minutes.

use std::fmt;

use argon2::{Algorithm, Argon2, Version};
use zeroize::Zeroizing;

use crate::aead::{AeadKey, NONCE_LEN};
use crate::error::CryptoError;
use crate::keys::AesKey256;
use crate::random::fill_random;

/// The format's magic bytes (and version).
pub const MAGIC: &[u8; 8] = b"ARCA-PB1";
/// Length of the random salt.
pub const SALT_LEN: usize = 16;
/// Length of the header before the ciphertext.
pub const HEADER_LEN: usize = MAGIC.len() + 12 + SALT_LEN + NONCE_LEN;

/// The largest memory cost [`open`] accepts: 1 GiB.
pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
/// The largest number of passes [`open`] accepts.
pub const MAX_T_COST: u32 = 16;
/// The largest parallelism [`open`] accepts.
pub const MAX_P_COST: u32 = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The parameters files are sealed with: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's second
    /// recommended option, with one lane since the derivation runs on one thread). About a
    /// quarter of a second on a current core; a passphrase is derived once per file.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    fn check(self) -> Result<Self, CryptoError> {
        let ok = (1..=MAX_P_COST).contains(&self.p_cost)
            && (1..=MAX_T_COST).contains(&self.t_cost)
            && self.m_cost_kib <= MAX_M_COST_KIB
            && self.m_cost_kib >= 8 * self.p_cost;
        if ok {
            Ok(self)
        } else {
            Err(CryptoError::MalformedCiphertext(
                "passphrase box: Argon2 parameters out of range",
            ))
        }
    }
}

/// The parsed header of a sealed file.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The Argon2id parameters.
    pub params: KdfParams,
    /// The salt.
    pub salt: [u8; SALT_LEN],
    /// The AES-GCM nonce.
    pub nonce: [u8; NONCE_LEN],
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let fields = [
            &MAGIC[..],
            &self.params.m_cost_kib.to_be_bytes(),
            &self.params.t_cost.to_be_bytes(),
            &self.params.p_cost.to_be_bytes(),
            &self.salt,
            &self.nonce,
        ];
        let mut at = 0;
        for field in fields {
            out[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        out
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

/// Reads and checks the header of a sealed file (magic, parameter bounds, length), without
/// deriving anything.
///
/// # Errors
/// [`CryptoError::MalformedCiphertext`] for anything that is not a passphrase box this build
/// can open.
pub fn parse_header(sealed: &[u8]) -> Result<Header, CryptoError> {
    if sealed.len() < HEADER_LEN + crate::aead::TAG_LEN {
        return Err(CryptoError::MalformedCiphertext(
            "passphrase box: too short",
        ));
    }
    if &sealed[..MAGIC.len()] != MAGIC {
        return Err(CryptoError::MalformedCiphertext(
            "passphrase box: not an Arca passphrase-sealed file",
        ));
    }
    let at = MAGIC.len();
    let params = KdfParams {
        m_cost_kib: be_u32(sealed, at),
        t_cost: be_u32(sealed, at + 4),
        p_cost: be_u32(sealed, at + 8),
    }
    .check()?;
    let at = at + 12;
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&sealed[at..at + SALT_LEN]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[at + SALT_LEN..HEADER_LEN]);
    Ok(Header {
        params,
        salt,
        nonce,
    })
}

fn derive(passphrase: &[u8], header: &Header) -> Result<AeadKey, CryptoError> {
    let p = header.params;
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|_| CryptoError::MalformedCiphertext("passphrase box: Argon2 parameters"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, &header.salt, key.as_mut_slice())
        .map_err(|_| CryptoError::InvalidLength("passphrase too long for Argon2"))?;
    AeadKey::new(&AesKey256::from_slice(key.as_slice())?)
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

/// Seals `plaintext` under `passphrase` with [`KdfParams::DEFAULT`]. `context` names the
/// purpose (e.g. `b"arca:certificate-bundle:v1"`) and must be given again to [`open`].
///
/// # Errors
/// [`CryptoError::Rng`] if no salt or nonce can be drawn; [`CryptoError::InvalidLength`] for a
/// passphrase Argon2 refuses (longer than 2^32 - 1 bytes).
pub fn seal(passphrase: &[u8], context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_with_params(KdfParams::DEFAULT, passphrase, context, plaintext)
}

/// [`seal`] with chosen Argon2id parameters (within the bounds [`open`] accepts).
///
/// # Errors
/// As [`seal`], and [`CryptoError::MalformedCiphertext`] for parameters out of bounds.
pub fn seal_with_params(
    params: KdfParams,
    passphrase: &[u8],
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut header = Header {
        params: params.check()?,
        salt: [0; SALT_LEN],
        nonce: [0; NONCE_LEN],
    };
    fill_random(&mut header.salt)?;
    fill_random(&mut header.nonce)?;
    let key = derive(passphrase, &header)?;
    let encoded = header.encode();
    let ct = key.seal_with_nonce(&header.nonce, &aad(&encoded, context), plaintext)?;
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.extend_from_slice(&encoded);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a file made by [`seal`].
///
/// # Errors
/// [`CryptoError::MalformedCiphertext`] if it is not a passphrase box (or its parameters are out
/// of bounds); [`CryptoError::AuthenticationFailed`] for a wrong passphrase, a wrong context or
/// any changed byte.
pub fn open(
    passphrase: &[u8],
    context: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let header = parse_header(sealed)?;
    let key = derive(passphrase, &header)?;
    let (encoded, ct) = sealed.split_at(HEADER_LEN);
    key.open(&header.nonce, &aad(encoded, context), ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cheap parameters: the tests exercise the format, not Argon2's cost.
    const FAST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    const CTX: &[u8] = b"arca:test:v1";

    #[test]
    fn round_trip() {
        let sealed = seal_with_params(FAST, b"correct horse", CTX, b"bundle").unwrap();
        assert_eq!(&**open(b"correct horse", CTX, &sealed).unwrap(), b"bundle");
        assert_eq!(parse_header(&sealed).unwrap().params, FAST);
    }

    #[test]
    fn wrong_passphrase_or_context_fails_authentication() {
        let sealed = seal_with_params(FAST, b"correct horse", CTX, b"bundle").unwrap();
        assert_eq!(
            open(b"correct horsf", CTX, &sealed),
            Err(CryptoError::AuthenticationFailed)
        );
        assert_eq!(
            open(b"correct horse", b"arca:other:v1", &sealed),
            Err(CryptoError::AuthenticationFailed)
        );
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let sealed = seal_with_params(FAST, b"pw", CTX, b"some plaintext").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(open(b"pw", CTX, &t).is_err(), "byte {i} flipped");
        }
        assert!(open(b"pw", CTX, &sealed[..sealed.len() - 1]).is_err());
        assert!(open(b"pw", CTX, &[]).is_err());
    }

    #[test]
    fn parameters_out_of_bounds_are_refused_before_deriving() {
        let sealed = seal_with_params(FAST, b"pw", CTX, b"x").unwrap();
        for (offset, value) in [
            (8, MAX_M_COST_KIB + 1),
            (12, MAX_T_COST + 1),
            (12, 0),
            (16, 0),
            (16, MAX_P_COST + 1),
        ] {
            let mut t = sealed.clone();
            t[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
            assert!(matches!(
                parse_header(&t),
                Err(CryptoError::MalformedCiphertext(_))
            ));
        }
        assert!(
            seal_with_params(
                KdfParams {
                    m_cost_kib: 4,
                    ..FAST
                },
                b"pw",
                CTX,
                b"x"
            )
            .is_err()
        );
    }

    /// The key derivation against an independent implementation: argon2-cffi 25.1
    /// (`hash_secret_raw(b"password", b"somesaltsomesalt", time_cost=2, memory_cost=256,
    /// parallelism=1, hash_len=32, type=Type.ID)`), so a file sealed here opens with any
    /// conforming Argon2id.
    #[test]
    fn argon2id_matches_a_reference_implementation() {
        let header = Header {
            params: KdfParams {
                m_cost_kib: 256,
                t_cost: 2,
                p_cost: 1,
            },
            salt: *b"somesaltsomesalt",
            nonce: [0; NONCE_LEN],
        };
        let key = derive(b"password", &header).unwrap();
        let expected =
            AeadKey::new(&AesKey256::from_slice(&hex::decode(REFERENCE_KEY).unwrap()).unwrap())
                .unwrap();
        let ct = key.seal_with_nonce(&[0; NONCE_LEN], b"", b"probe").unwrap();
        assert_eq!(
            &**expected.open(&[0; NONCE_LEN], b"", &ct).unwrap(),
            b"probe"
        );
    }

    const REFERENCE_KEY: &str = "cab746b4621993fdc91ec50787980b414a90a692f0bc68dfe19f9c25b3cba9ec";

    proptest::proptest! {
        #[test]
        fn any_plaintext_round_trips(pt in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let sealed = seal_with_params(FAST, b"pw", CTX, &pt).unwrap();
            proptest::prop_assert_eq!(&**open(b"pw", CTX, &sealed).unwrap(), pt.as_slice());
        }
    }
}
