//! RSA-OAEP decryption for secure key import.
//!
//! The service publishes an import public key; a client encrypts key
//! material to it with RSA-OAEP (MGF1 with the same hash, empty label) and
//! the service decrypts it here. Backed by aws-lc-rs; the RustCrypto `rsa`
//! crate is deliberately not used (RUSTSEC-2023-0071, Marvin timing attack).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// OAEP hash (also used for MGF1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    /// SHA-256 with MGF1-SHA-256. Preferred.
    Sha256,
    /// SHA-1 with MGF1-SHA-1, for clients that support nothing else. OAEP's
    /// security does not rest on SHA-1 collision resistance.
    Sha1,
}

impl OaepHash {
    fn algorithm(self) -> &'static OaepAlgorithm {
        match self {
            Self::Sha256 => &OAEP_SHA256_MGF1SHA256,
            Self::Sha1 => &OAEP_SHA1_MGF1SHA1,
        }
    }
}

/// Modulus size for generated import keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaBits {
    /// 2048-bit modulus.
    Rsa2048,
    /// 4096-bit modulus.
    Rsa4096,
}

impl RsaBits {
    fn key_size(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa4096 => KeySize::Rsa4096,
        }
    }
}

/// An RSA private key used to decrypt imported key material.
pub struct ImportKeyPair {
    /// Kept for serialization and the public key; `oaep` does the decrypting.
    key: PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
}

impl ImportKeyPair {
    fn from_key(key: PrivateDecryptingKey) -> Result<Self, CryptoError> {
        let oaep = OaepPrivateDecryptingKey::new(key.clone())
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(Self { key, oaep })
    }

    /// Generates a new key pair. 4096-bit generation can take seconds.
    ///
    /// # Errors
    /// [`CryptoError::KeyGeneration`] if generation fails.
    pub fn generate(bits: RsaBits) -> Result<Self, CryptoError> {
        let key = PrivateDecryptingKey::generate(bits.key_size())
            .map_err(|_| CryptoError::KeyGeneration)?;
        Self::from_key(key)
    }

    /// Loads a PKCS#8 (v1) DER RSA private key of 2048 to 8192 bits.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPrivateKey`] if the bytes are not an acceptable
    /// RSA private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key =
            PrivateDecryptingKey::from_pkcs8(der).map_err(|_| CryptoError::InvalidPrivateKey)?;
        Self::from_key(key)
    }

    /// Serializes the private key as PKCS#8 DER, for storing it encrypted.
    ///
    /// # Errors
    /// [`CryptoError::Encoding`] if serialization fails.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        // aws-lc-rs's DER buffer zeroizes itself; the copy is zeroizing too.
        let der = self.key.as_der().map_err(|_| CryptoError::Encoding)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// [`CryptoError::Encoding`] if serialization fails.
    pub fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        let der = self
            .key
            .public_key()
            .as_der()
            .map_err(|_| CryptoError::Encoding)?;
        Ok(der.as_ref().to_vec())
    }

    /// The public key as a PEM `PUBLIC KEY` block.
    ///
    /// # Errors
    /// [`CryptoError::Encoding`] if serialization fails.
    pub fn public_key_pem(&self) -> Result<String, CryptoError> {
        let b64 = STANDARD.encode(self.public_key_der()?);
        let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
        pem.push_str("-----BEGIN PUBLIC KEY-----\n");
        // Base64 output is ASCII, so byte chunks are valid UTF-8.
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).map_err(|_| CryptoError::Encoding)?);
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(pem)
    }

    /// Modulus size in bits.
    pub fn key_size_bits(&self) -> usize {
        self.key.key_size_bits()
    }

    /// Decrypts an RSA-OAEP ciphertext (MGF1 with `hash`, empty label).
    ///
    /// # Errors
    /// [`CryptoError::MalformedCiphertext`] if the length is not the modulus
    /// length, [`CryptoError::AuthenticationFailed`] for any decryption or
    /// padding failure (one error for all, to avoid a padding oracle).
    pub fn decrypt(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if ciphertext.len() != self.oaep.key_size_bytes() {
            return Err(CryptoError::MalformedCiphertext(
                "RSA ciphertext length differs from modulus length",
            ));
        }
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(hash.algorithm(), ciphertext, &mut out, None)
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl fmt::Debug for ImportKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ImportKeyPair(rsa-{}, <redacted>)",
            self.key.key_size_bits()
        )
    }
}

/// Encrypts `plaintext` to an RSA public key given as SubjectPublicKeyInfo
/// DER, with RSA-OAEP (MGF1 with `hash`, empty label). This is what an
/// importing client does; the service itself only decrypts.
///
/// # Errors
/// [`CryptoError::InvalidPublicKey`] if the DER is not an acceptable RSA
/// key, [`CryptoError::InvalidLength`] if the plaintext is too long for the
/// key and hash.
pub fn encrypt_to_public_key(
    spki_der: &[u8],
    hash: OaepHash,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let public =
        PublicEncryptingKey::from_der(spki_der).map_err(|_| CryptoError::InvalidPublicKey)?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| CryptoError::InvalidPublicKey)?;
    if plaintext.len() > oaep.max_plaintext_size(hash.algorithm()) {
        return Err(CryptoError::InvalidLength(
            "plaintext too long for RSA-OAEP",
        ));
    }
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let len = oaep
        .encrypt(hash.algorithm(), plaintext, &mut out, None)
        .map_err(|_| CryptoError::Internal)?
        .len();
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// Key generation is slow; share one 2048-bit key across tests.
    fn key2048() -> &'static ImportKeyPair {
        static KEY: OnceLock<ImportKeyPair> = OnceLock::new();
        KEY.get_or_init(|| ImportKeyPair::generate(RsaBits::Rsa2048).unwrap())
    }

    #[test]
    fn round_trip_both_hashes() {
        let k = key2048();
        assert_eq!(k.key_size_bits(), 2048);
        let spki = k.public_key_der().unwrap();
        for hash in [OaepHash::Sha256, OaepHash::Sha1] {
            let ct =
                encrypt_to_public_key(&spki, hash, b"a 32-byte key to be imported!!!").unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(
                &*k.decrypt(hash, &ct).unwrap(),
                b"a 32-byte key to be imported!!!"
            );
        }
    }

    #[test]
    fn wrong_hash_or_tamper_fails() {
        let k = key2048();
        let spki = k.public_key_der().unwrap();
        let ct = encrypt_to_public_key(&spki, OaepHash::Sha256, b"secret").unwrap();
        assert_eq!(
            k.decrypt(OaepHash::Sha1, &ct).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        let mut bad = ct.clone();
        bad[100] ^= 0x80;
        assert_eq!(
            k.decrypt(OaepHash::Sha256, &bad).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert!(matches!(
            k.decrypt(OaepHash::Sha256, &ct[1..]),
            Err(CryptoError::MalformedCiphertext(_))
        ));
    }

    #[test]
    fn plaintext_limit() {
        let spki = key2048().public_key_der().unwrap();
        // 256 - 2*32 - 2 = 190 bytes max for SHA-256.
        assert!(encrypt_to_public_key(&spki, OaepHash::Sha256, &[0u8; 190]).is_ok());
        assert!(matches!(
            encrypt_to_public_key(&spki, OaepHash::Sha256, &[0u8; 191]),
            Err(CryptoError::InvalidLength(_))
        ));
        assert_eq!(
            encrypt_to_public_key(b"not a key", OaepHash::Sha256, b"x").unwrap_err(),
            CryptoError::InvalidPublicKey
        );
    }

    #[test]
    fn pkcs8_round_trip_and_pem() {
        let k = key2048();
        let der = k.to_pkcs8_der().unwrap();
        let k2 = ImportKeyPair::from_pkcs8_der(&der).unwrap();
        assert_eq!(k2.public_key_der().unwrap(), k.public_key_der().unwrap());
        let pem = k.public_key_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(STANDARD.decode(body).unwrap(), k.public_key_der().unwrap());
        assert_eq!(
            ImportKeyPair::from_pkcs8_der(b"garbage").unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
    }

    #[test]
    fn debug_is_redacted() {
        let k = key2048();
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "ImportKeyPair(rsa-2048, <redacted>)");
        let der = k.to_pkcs8_der().unwrap();
        // No window of the private key encoding leaks into Debug output.
        let der_hex = hex::encode(&der[..]);
        for window in der_hex.as_bytes().chunks(16) {
            assert!(!dbg.contains(std::str::from_utf8(window).unwrap()));
        }
    }

    #[test]
    fn rsa4096_generate_and_decrypt() {
        let k = ImportKeyPair::generate(RsaBits::Rsa4096).unwrap();
        assert_eq!(k.key_size_bits(), 4096);
        let ct =
            encrypt_to_public_key(&k.public_key_der().unwrap(), OaepHash::Sha256, b"key").unwrap();
        assert_eq!(ct.len(), 512);
        assert_eq!(&*k.decrypt(OaepHash::Sha256, &ct).unwrap(), b"key");
    }
}
