//! Key types, key generation, private-key formats and public-key inspection.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm,
};
use rcgen::{
    KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ECDSA_P521_SHA512, PKCS_ED25519,
    PKCS_RSA_SHA256, PublicKeyData, RsaKeySize, SignatureAlgorithm, SigningKey,
};
use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::asn1_rs::{Any, FromDer as _, Oid, Sequence};
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::{Zeroize as _, Zeroizing};

use crate::error::PkiError;
use crate::pem;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// The key algorithms of the private CA (`key_type` in the Secrets Manager
/// API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA with PKCS#1 v1.5 SHA-256 signatures. 2048, 3072 or 4096 bits.
    #[default]
    Rsa,
    /// ECDSA on a NIST curve: 256 (P-256, SHA-256), 384 (P-384, SHA-384) or
    /// 521 (P-521, SHA-512) bits.
    Ec,
    /// Ed25519. Not offered by IBM's private CA, accepted here because
    /// imported certificates and CSRs may use it.
    Ed25519,
}

impl KeyType {
    /// Parses the API spelling (`rsa`, `ec`, `ed25519`).
    ///
    /// # Errors
    /// [`PkiError::InvalidParams`] for any other value.
    pub fn parse(value: &str) -> Result<Self, PkiError> {
        match value {
            "rsa" => Ok(Self::Rsa),
            "ec" => Ok(Self::Ec),
            "ed25519" => Ok(Self::Ed25519),
            other => Err(PkiError::InvalidParams(format!(
                "key_type must be rsa, ec or ed25519, not {other:?}"
            ))),
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ec => "ec",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The API's default `key_bits` for this type (2048 for RSA, 256 for EC
    /// and Ed25519).
    pub fn default_bits(self) -> u32 {
        match self {
            Self::Rsa => 2048,
            Self::Ec | Self::Ed25519 => 256,
        }
    }
}

/// The textual encoding of private keys handed back to callers
/// (`private_key_format` in the Secrets Manager API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PrivateKeyFormat {
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`), this crate's default.
    #[default]
    Pkcs8,
    /// What IBM calls `der` (and makes its default): the algorithm-specific
    /// form, PKCS#1 (`RSA PRIVATE KEY`) for RSA and SEC1 (`EC PRIVATE KEY`)
    /// for EC, still PEM-armoured. Ed25519 has no such form and stays PKCS#8.
    Der,
}

impl PrivateKeyFormat {
    /// Parses the API spelling (`pkcs8`, `der`).
    ///
    /// # Errors
    /// [`PkiError::InvalidParams`] for any other value.
    pub fn parse(value: &str) -> Result<Self, PkiError> {
        match value {
            "pkcs8" => Ok(Self::Pkcs8),
            "der" => Ok(Self::Der),
            other => Err(PkiError::InvalidParams(format!(
                "private_key_format must be der or pkcs8, not {other:?}"
            ))),
        }
    }
}

/// The IBM `key_algorithm` label for a key (`RSA2048`, `RSA4096`,
/// `ECDSA256`, `ECDSA384`, `ECDSA521`, `ED25519`).
pub(crate) fn key_algorithm_label(key_type: KeyType, bits: u32) -> String {
    match key_type {
        KeyType::Rsa => format!("RSA{bits}"),
        KeyType::Ec => format!("ECDSA{bits}"),
        KeyType::Ed25519 => "ED25519".to_owned(),
    }
}

/// Checks a requested key type and size and returns rcgen's algorithm.
pub(crate) fn algorithm_for(
    key_type: KeyType,
    bits: u32,
) -> Result<&'static SignatureAlgorithm, PkiError> {
    match (key_type, bits) {
        (KeyType::Rsa, 2048 | 3072 | 4096) => Ok(&PKCS_RSA_SHA256),
        (KeyType::Ec, 256) => Ok(&PKCS_ECDSA_P256_SHA256),
        (KeyType::Ec, 384) => Ok(&PKCS_ECDSA_P384_SHA384),
        (KeyType::Ec, 521) => Ok(&PKCS_ECDSA_P521_SHA512),
        (KeyType::Ed25519, 0 | 256) => Ok(&PKCS_ED25519),
        (KeyType::Rsa, _) => Err(PkiError::UnsupportedKey(format!(
            "RSA keys must be 2048, 3072 or 4096 bits, not {bits}"
        ))),
        (KeyType::Ec, _) => Err(PkiError::UnsupportedKey(format!(
            "EC keys must be 256, 384 or 521 bits, not {bits}"
        ))),
        (KeyType::Ed25519, _) => Err(PkiError::UnsupportedKey(format!(
            "Ed25519 keys are 256 bits, not {bits}"
        ))),
    }
}

/// A private key pair that wipes rcgen's copy of the key when dropped.
///
/// rcgen keeps a serialized copy of the private key in a plain `Vec`; its
/// `zeroize` feature only makes that wipeable, so this wrapper does the
/// wiping. The key is always held as PKCS#8 so it can be re-encoded in
/// either [`PrivateKeyFormat`].
pub(crate) struct SigningKeyPair {
    inner: KeyPair,
    key_type: KeyType,
    bits: u32,
}

impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("key_type", &self.key_type)
            .field("bits", &self.bits)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl Drop for SigningKeyPair {
    fn drop(&mut self) {
        self.inner.zeroize();
    }
}

impl PublicKeyData for SigningKeyPair {
    fn der_bytes(&self) -> &[u8] {
        self.inner.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        PublicKeyData::algorithm(&self.inner)
    }
}

impl SigningKey for SigningKeyPair {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.inner.sign(msg)
    }
}

impl SigningKeyPair {
    /// Generates a fresh key pair with the operating system's randomness.
    pub(crate) fn generate(key_type: KeyType, bits: u32) -> Result<Self, PkiError> {
        let alg = algorithm_for(key_type, bits)?;
        let inner = match key_type {
            KeyType::Rsa => {
                let size = match bits {
                    2048 => RsaKeySize::_2048,
                    3072 => RsaKeySize::_3072,
                    _ => RsaKeySize::_4096,
                };
                KeyPair::generate_rsa_for(alg, size)?
            }
            KeyType::Ec | KeyType::Ed25519 => KeyPair::generate_for(alg)?,
        };
        let bits = if key_type == KeyType::Ed25519 {
            256
        } else {
            bits
        };
        Ok(Self {
            inner,
            key_type,
            bits,
        })
    }

    /// Parses one PEM private-key block in any accepted form.
    pub(crate) fn from_pem(field: &'static str, text: &str) -> Result<Self, PkiError> {
        let (kind, der) = pem::single_private_key(field, text)?;
        Self::from_der(kind, &der)
    }

    /// Loads a DER private key (PKCS#8, PKCS#1 or SEC1), normalising it to
    /// PKCS#8.
    pub(crate) fn from_der(kind: SectionKind, der: &[u8]) -> Result<Self, PkiError> {
        let pkcs8 = to_pkcs8(kind, der)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.as_slice()));
        let inner = KeyPair::try_from(&key)
            .map_err(|_| PkiError::InvalidPrivateKey("unsupported or corrupt key"))?;
        let alg = PublicKeyData::algorithm(&inner);
        let (key_type, bits) = if alg == &PKCS_RSA_SHA256 {
            (KeyType::Rsa, rsa_modulus_bits(inner.der_bytes())?)
        } else if alg == &PKCS_ECDSA_P256_SHA256 {
            (KeyType::Ec, 256)
        } else if alg == &PKCS_ECDSA_P384_SHA384 {
            (KeyType::Ec, 384)
        } else if alg == &PKCS_ECDSA_P521_SHA512 {
            (KeyType::Ec, 521)
        } else if alg == &PKCS_ED25519 {
            (KeyType::Ed25519, 256)
        } else {
            let mut inner = inner;
            inner.zeroize();
            return Err(PkiError::UnsupportedKey(
                "unsupported private key algorithm".into(),
            ));
        };
        Ok(Self {
            inner,
            key_type,
            bits,
        })
    }

    pub(crate) fn key_type(&self) -> KeyType {
        self.key_type
    }

    #[cfg(test)]
    pub(crate) fn bits(&self) -> u32 {
        self.bits
    }

    /// The raw public key (the SubjectPublicKeyInfo bit string contents).
    pub(crate) fn public_key_raw(&self) -> &[u8] {
        self.inner.der_bytes()
    }

    /// PEM-encodes the private key in `format`.
    pub(crate) fn to_pem(&self, format: PrivateKeyFormat) -> Result<Zeroizing<String>, PkiError> {
        let pkcs8 = self.inner.serialized_der();
        match (format, self.key_type) {
            (PrivateKeyFormat::Pkcs8, _) | (PrivateKeyFormat::Der, KeyType::Ed25519) => {
                Ok(pem::encode_secret("PRIVATE KEY", pkcs8))
            }
            (PrivateKeyFormat::Der, KeyType::Rsa) => {
                let pkcs1 = pkcs8_inner_key(pkcs8)?;
                Ok(pem::encode_secret("RSA PRIVATE KEY", pkcs1))
            }
            (PrivateKeyFormat::Der, KeyType::Ec) => {
                let alg = ecdsa_signing_alg(self.bits)?;
                let kp = EcdsaKeyPair::from_pkcs8(alg, pkcs8)
                    .map_err(|_| PkiError::InvalidPrivateKey("corrupt EC key"))?;
                let sec1 = kp
                    .private_key()
                    .as_der()
                    .map_err(|_| PkiError::InvalidPrivateKey("cannot encode EC key"))?;
                Ok(pem::encode_secret("EC PRIVATE KEY", sec1.as_ref()))
            }
        }
    }
}

/// Re-encodes a PEM private key (PKCS#8, PKCS#1 or SEC1) in `format`.
///
/// # Errors
/// [`PkiError::MalformedPem`], [`PkiError::EncryptedPrivateKey`],
/// [`PkiError::InvalidPrivateKey`] or [`PkiError::UnsupportedKey`] if the
/// input is not an unencrypted RSA, EC (P-256/384/521) or Ed25519 key.
pub fn convert_private_key(
    private_key_pem: &str,
    format: PrivateKeyFormat,
) -> Result<Zeroizing<String>, PkiError> {
    pem::check_size("private_key", private_key_pem)?;
    SigningKeyPair::from_pem("private_key", private_key_pem)?.to_pem(format)
}

fn ecdsa_signing_alg(bits: u32) -> Result<&'static EcdsaSigningAlgorithm, PkiError> {
    match bits {
        256 => Ok(&ECDSA_P256_SHA256_ASN1_SIGNING),
        384 => Ok(&ECDSA_P384_SHA384_ASN1_SIGNING),
        521 => Ok(&ECDSA_P521_SHA512_ASN1_SIGNING),
        _ => Err(PkiError::UnsupportedKey(format!(
            "no EC curve of {bits} bits"
        ))),
    }
}

/// Converts PKCS#1 and SEC1 keys to PKCS#8 through aws-lc, which checks the
/// key's internal consistency on the way.
fn to_pkcs8(kind: SectionKind, der: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    match kind {
        SectionKind::PrivateKey => Ok(Zeroizing::new(der.to_vec())),
        SectionKind::RsaPrivateKey => {
            let kp = aws_lc_rs::rsa::KeyPair::from_der(der)
                .map_err(|_| PkiError::InvalidPrivateKey("corrupt PKCS#1 RSA key"))?;
            let doc = kp
                .as_der()
                .map_err(|_| PkiError::InvalidPrivateKey("cannot encode RSA key"))?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        SectionKind::EcPrivateKey => {
            for alg in [
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &ECDSA_P384_SHA384_ASN1_SIGNING,
                &ECDSA_P521_SHA512_ASN1_SIGNING,
            ] {
                if let Ok(kp) = EcdsaKeyPair::from_private_key_der(alg, der) {
                    let doc = kp
                        .to_pkcs8v1()
                        .map_err(|_| PkiError::InvalidPrivateKey("cannot encode EC key"))?;
                    return Ok(Zeroizing::new(doc.as_ref().to_vec()));
                }
            }
            Err(PkiError::InvalidPrivateKey(
                "not a P-256, P-384 or P-521 SEC1 EC key",
            ))
        }
        _ => Err(PkiError::InvalidPrivateKey("not a private key")),
    }
}

/// Returns the `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo`, which
/// for RSA is exactly the PKCS#1 `RSAPrivateKey`.
fn pkcs8_inner_key(pkcs8: &[u8]) -> Result<&[u8], PkiError> {
    let parsed = Sequence::from_der_and_then(pkcs8, |content| {
        let (rest, _version) = u32::from_der(content)?;
        let (rest, _algorithm) = Any::from_der(rest)?;
        <&[u8]>::from_der(rest)
    });
    match parsed {
        Ok((_, inner)) => Ok(inner),
        Err(_) => Err(PkiError::InvalidPrivateKey("corrupt PKCS#8 structure")),
    }
}

/// Exact bit length of an RSA modulus, from a DER `RSAPublicKey`.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<u32, PkiError> {
    let (_, key) = RSAPublicKey::from_der(rsa_public_key)
        .map_err(|_| PkiError::UnsupportedKey("malformed RSA public key".into()))?;
    Ok(bit_length(key.modulus))
}

fn bit_length(be: &[u8]) -> u32 {
    let digits = match be.iter().position(|&b| b != 0) {
        Some(first) => &be[first..],
        None => return 0,
    };
    let top = digits.first().map_or(0, |b| 8 - b.leading_zeros());
    u32::try_from((digits.len() - 1) * 8)
        .unwrap_or(u32::MAX)
        .saturating_add(top)
}

/// A public key taken from a certificate or CSR, in the shape rcgen needs to
/// put it into a new certificate.
#[derive(Debug, Clone)]
pub(crate) struct SubjectKey {
    raw: Vec<u8>,
    alg: &'static SignatureAlgorithm,
    pub(crate) key_type: KeyType,
    pub(crate) bits: u32,
}

impl PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl SubjectKey {
    /// Classifies a SubjectPublicKeyInfo. Only RSA, EC on P-256/384/521 and
    /// Ed25519 are recognised; RSA-PSS-only keys, DSA, other curves and
    /// anything newer are rejected.
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, PkiError> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let raw = spki.subject_public_key.data.to_vec();
        let (key_type, bits, alg): (_, _, &'static SignatureAlgorithm) = match oid.as_str() {
            OID_RSA_ENCRYPTION => (KeyType::Rsa, rsa_modulus_bits(&raw)?, &PKCS_RSA_SHA256),
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| Oid::try_from(p.clone()).ok())
                    .map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some(OID_P256) => (KeyType::Ec, 256, &PKCS_ECDSA_P256_SHA256),
                    Some(OID_P384) => (KeyType::Ec, 384, &PKCS_ECDSA_P384_SHA384),
                    Some(OID_P521) => (KeyType::Ec, 521, &PKCS_ECDSA_P521_SHA512),
                    Some(other) => {
                        return Err(PkiError::UnsupportedKey(format!(
                            "EC curve {other} is not supported (P-256, P-384, P-521 are)"
                        )));
                    }
                    None => {
                        return Err(PkiError::UnsupportedKey(
                            "EC key without a named curve".into(),
                        ));
                    }
                }
            }
            OID_ED25519 => (KeyType::Ed25519, 256, &PKCS_ED25519),
            other => {
                return Err(PkiError::UnsupportedKey(format!(
                    "public key algorithm {other} is not supported (RSA, EC, Ed25519 are)"
                )));
            }
        };
        Ok(Self {
            raw,
            alg,
            key_type,
            bits,
        })
    }

    /// The IBM `key_algorithm` label.
    pub(crate) fn label(&self) -> String {
        key_algorithm_label(self.key_type, self.bits)
    }

    /// Whether `pair` is the private half of this key.
    pub(crate) fn matches(&self, pair: &SigningKeyPair) -> bool {
        self.key_type == pair.key_type() && self.raw == pair.public_key_raw()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x7f, 0xff]), 15);
    }

    #[test]
    fn ec_and_ed25519_keys_round_trip_through_both_formats() {
        for (kt, bits) in [
            (KeyType::Ec, 256),
            (KeyType::Ec, 384),
            (KeyType::Ec, 521),
            (KeyType::Ed25519, 256),
        ] {
            let kp = SigningKeyPair::generate(kt, bits).unwrap();
            for format in [PrivateKeyFormat::Pkcs8, PrivateKeyFormat::Der] {
                let text = kp.to_pem(format).unwrap();
                let back = SigningKeyPair::from_pem("private_key", &text).unwrap();
                assert_eq!(back.public_key_raw(), kp.public_key_raw());
                assert_eq!((back.key_type(), back.bits()), (kt, bits));
            }
        }
        let ec = SigningKeyPair::generate(KeyType::Ec, 256).unwrap();
        assert!(
            ec.to_pem(PrivateKeyFormat::Der)
                .unwrap()
                .contains("BEGIN EC PRIVATE KEY")
        );
    }

    #[test]
    fn rsa_key_round_trips_through_pkcs1() {
        let kp = SigningKeyPair::generate(KeyType::Rsa, 2048).unwrap();
        assert_eq!(kp.bits(), 2048);
        let pkcs1 = kp.to_pem(PrivateKeyFormat::Der).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let back = SigningKeyPair::from_pem("private_key", &pkcs1).unwrap();
        assert_eq!(back.public_key_raw(), kp.public_key_raw());
        assert_eq!(back.bits(), 2048);
    }

    #[test]
    fn bad_sizes_are_rejected() {
        assert!(algorithm_for(KeyType::Rsa, 1024).is_err());
        assert!(algorithm_for(KeyType::Ec, 224).is_err());
        assert!(KeyType::parse("dsa").is_err());
        assert_eq!(KeyType::parse("ec").unwrap(), KeyType::Ec);
        assert_eq!(
            PrivateKeyFormat::parse("der").unwrap(),
            PrivateKeyFormat::Der
        );
    }

    #[test]
    fn debug_redacts() {
        let kp = SigningKeyPair::generate(KeyType::Ec, 256).unwrap();
        let text = format!("{kp:?}");
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("serialized"));
    }
}
