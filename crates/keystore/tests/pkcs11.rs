//! The keystore suite against a SoftHSM2 token created by the test itself.
//! Without SoftHSM2 the tests pass vacuously, unless `ARCA_REQUIRE_PKCS11=1` (CI), where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod suite;

use arca_keystore::{Keystore, KeystoreError, Pkcs11Keystore, UnsealInput, softhsm};

struct Hsm(arca_keystore::Pkcs11Config);

impl suite::Harness for Hsm {
    fn fresh(&self) -> Box<dyn Keystore> {
        Box::new(Pkcs11Keystore::new(self.0.clone()))
    }
    fn unseal(&self, ks: &dyn Keystore, _shares: &[String]) {
        ks.unseal(UnsealInput::Auto).unwrap();
    }
}

fn harness() -> Option<Hsm> {
    // One token per test, one key label per harness call.
    match softhsm::test_token("arca-master-seal").unwrap() {
        Some(config) => Some(Hsm(config)),
        None if softhsm::required() => {
            panic!("ARCA_REQUIRE_PKCS11=1 but no PKCS#11 module was found (install softhsm2)")
        }
        None => {
            eprintln!("SKIPPED: SoftHSM2 not installed");
            None
        }
    }
}

keystore_suite!(harness());

#[test]
fn hsm_refuses_shares_and_auto_unseals() {
    let Some(h) = harness() else { return };
    let ks = Pkcs11Keystore::new(h.0.clone());
    let out = ks
        .initialize(arca_keystore::InitParams {
            shares: 0,
            threshold: 0,
        })
        .unwrap();
    assert!(out.shares.is_empty());
    ks.load(out.record.clone()).unwrap();
    ks.unseal(UnsealInput::Auto).unwrap();
    assert!(!ks.status().sealed);
    assert!(matches!(
        ks.unseal(UnsealInput::Share("arca-share-v1:AAAA")),
        Err(KeystoreError::Unsupported(_))
    ));
    // A configuration naming another sealing key refuses the record with a clear message.
    // (A wrong PIN is not tested here: the token is shared by the tests of this process, and
    // PKCS#11 login state is per process, so another test's session may already be logged in.)
    let mut other_key = h.0.clone();
    other_key.key_label = "some-other-key".into();
    let other = Pkcs11Keystore::new(other_key);
    let err = other.load(out.record.clone()).unwrap_err();
    assert!(err.to_string().contains("some-other-key"), "{err}");
    assert!(other.status().sealed);
    assert!(!other.status().initialized);
}

#[test]
fn deleted_sealing_key_is_a_clear_error() {
    let Some(h) = harness() else { return };
    let ks = Pkcs11Keystore::new(h.0.clone());
    let out = ks
        .initialize(arca_keystore::InitParams {
            shares: 0,
            threshold: 0,
        })
        .unwrap();
    // A record naming a key label that the token does not hold.
    let mut record = serde_json::to_value(&out.record).unwrap();
    record["key_label"] = "never-created".into();
    let mut config = h.0.clone();
    config.key_label = "never-created".into();
    let ks = Pkcs11Keystore::new(config);
    ks.load(serde_json::from_value(record).unwrap()).unwrap();
    let err = ks.unseal(UnsealInput::Auto).unwrap_err();
    assert!(err.to_string().contains("missing from the token"), "{err}");
    assert!(ks.status().sealed);
}

#[test]
fn missing_token_is_a_clear_error() {
    let Some(h) = harness() else { return };
    let mut config = h.0.clone();
    config.token_label = "no-such-token".into();
    let ks = Pkcs11Keystore::new(config);
    let err = ks
        .initialize(arca_keystore::InitParams {
            shares: 0,
            threshold: 0,
        })
        .unwrap_err();
    assert!(err.to_string().contains("no token labelled"), "{err}");
}
