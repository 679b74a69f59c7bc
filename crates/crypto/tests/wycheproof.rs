//! Wycheproof vectors run against this crate's public API.
//!
//! Each test counts the vectors it ran and asserts a minimum, so a data
//! change that silently filters everything out fails instead of passing.

// Test-only helpers outside #[test] fns; clippy.toml's test allowances do
// not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arca_crypto::aead::{self, NONCE_LEN};
use arca_crypto::kdf::hkdf_sha256;
use arca_crypto::keys::AesKey256;
use arca_crypto::keywrap::{unwrap_with_padding, wrap_with_padding};
use arca_crypto::oaep::{ImportKeyPair, OaepHash};
use wycheproof::{HashFunction, Mgf, TestResult};

/// AES-256-GCM, 96-bit nonces, 128-bit tags: the only parameters `aead`
/// offers. Other key/nonce sizes in the file are skipped.
#[test]
fn aes_gcm_256() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in &group.tests {
            let key = AesKey256::from_slice(&t.key).unwrap();
            let nonce: [u8; NONCE_LEN] = t.nonce.as_slice().try_into().unwrap();
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = aead::open(&key, &nonce, &t.aad, &ct_tag);
            if t.result.must_fail() {
                invalid += 1;
                assert!(opened.is_err(), "tc {} opened: {}", t.tc_id, t.comment);
            } else {
                valid += 1;
                assert_eq!(&**opened.unwrap(), &t.pt[..], "tc {}", t.tc_id);
                let sealed = aead::seal(&key, &nonce, &t.aad, &t.pt).unwrap();
                assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
            }
        }
    }
    eprintln!("aes_gcm_256: {valid} valid, {invalid} invalid");
    assert!(valid >= 30 && invalid >= 20);
}

/// AES-KWP for every KEK size the crate supports (128, 192, 256).
#[test]
fn aes_kwp() {
    let set =
        wycheproof::keywrap::TestSet::load(wycheproof::keywrap::TestName::AesKeyWrapWithPadding)
            .unwrap();
    let mut counts = std::collections::BTreeMap::<(usize, bool), usize>::new();
    for group in &set.test_groups {
        assert!(matches!(group.key_size, 128 | 192 | 256));
        for t in &group.tests {
            let unwrapped = unwrap_with_padding(&t.key, &t.ct);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(&**unwrapped.unwrap(), &t.pt[..], "tc {}", t.tc_id);
                    assert_eq!(wrap_with_padding(&t.key, &t.pt).unwrap(), &t.ct[..]);
                }
                TestResult::Invalid => {
                    assert!(
                        unwrapped.is_err(),
                        "tc {} unwrapped: {}",
                        t.tc_id,
                        t.comment
                    );
                }
                // Policy-dependent; only require no panic.
                TestResult::Acceptable => {}
            }
            *counts
                .entry((group.key_size, t.result.must_fail()))
                .or_default() += 1;
        }
    }
    eprintln!("aes_kwp (key bits, must_fail) -> count: {counts:?}");
    for bits in [128, 192, 256] {
        assert!(counts.get(&(bits, false)).copied().unwrap_or(0) >= 20);
        assert!(counts.get(&(bits, true)).copied().unwrap_or(0) >= 40);
    }
}

#[test]
fn hkdf_sha256_vectors() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let out = hkdf_sha256(&t.ikm, &t.salt, &t.info, t.size);
            if t.result.must_fail() {
                invalid += 1;
                assert!(out.is_err(), "tc {}", t.tc_id);
            } else {
                valid += 1;
                assert_eq!(&**out.unwrap(), &t.okm[..], "tc {}", t.tc_id);
            }
        }
    }
    eprintln!("hkdf_sha256: {valid} valid, {invalid} invalid");
    assert!(valid >= 50 && invalid >= 1);
}

/// Runs one OAEP test set. The crate only decrypts with an empty label, so
/// vectors with a label are checked to *fail* (a label mismatch must be
/// rejected) rather than to decrypt.
fn oaep_set(name: wycheproof::rsa_oaep::TestName, only_matching_hashes: bool) -> (usize, usize) {
    let set = wycheproof::rsa_oaep::TestSet::load(name).unwrap();
    let (mut ok, mut rejected) = (0, 0);
    for group in &set.test_groups {
        let hash = match (group.hash, group.mgf, group.mgf_hash) {
            (HashFunction::Sha2_256, Mgf::Mgf1, HashFunction::Sha2_256) => OaepHash::Sha256,
            (HashFunction::Sha1, Mgf::Mgf1, HashFunction::Sha1) => OaepHash::Sha1,
            _ if only_matching_hashes => continue,
            _ => panic!("unexpected parameters in set"),
        };
        // aws-lc-rs accepts 2048..=8192-bit keys; the misc file has smaller ones.
        if group.key_size < 2048 {
            continue;
        }
        let key = ImportKeyPair::from_pkcs8_der(&group.pkcs8)
            .unwrap_or_else(|e| panic!("{}-bit PKCS#8 key rejected: {e}", group.key_size));
        for t in &group.tests {
            let out = key.decrypt(hash, &t.ct);
            if t.result == TestResult::Valid && t.label.is_empty() {
                assert_eq!(&**out.unwrap(), &t.pt[..], "tc {}", t.tc_id);
                ok += 1;
            } else if t.result == TestResult::Acceptable {
                // Policy-dependent; only require no panic.
            } else {
                assert!(out.is_err(), "tc {} decrypted: {}", t.tc_id, t.comment);
                rejected += 1;
            }
        }
    }
    (ok, rejected)
}

#[test]
fn rsa_oaep_sha256() {
    use wycheproof::rsa_oaep::TestName::*;
    let mut total = (0, 0);
    for name in [
        Rsa2048Sha256Mgf1Sha256,
        Rsa3072Sha256Mgf1Sha256,
        Rsa4096Sha256Mgf1Sha256,
    ] {
        let (ok, rej) = oaep_set(name, false);
        assert!(ok >= 10 && rej >= 10, "{name:?}: {ok} ok, {rej} rejected");
        total = (total.0 + ok, total.1 + rej);
    }
    eprintln!(
        "rsa_oaep sha256: {} decrypted, {} rejected",
        total.0, total.1
    );
}

#[test]
fn rsa_oaep_sha1() {
    let (ok, rej) = oaep_set(wycheproof::rsa_oaep::TestName::Rsa2048Sha1Mgf1Sha1, false);
    eprintln!("rsa_oaep sha1: {ok} decrypted, {rej} rejected");
    assert!(ok >= 10 && rej >= 10);
}

/// The misc file mixes parameters; run the groups matching what we offer.
#[test]
fn rsa_oaep_misc() {
    let (ok, rej) = oaep_set(wycheproof::rsa_oaep::TestName::RsaMisc, true);
    eprintln!("rsa_oaep misc: {ok} decrypted, {rej} rejected");
    assert!(ok >= 1);
}
