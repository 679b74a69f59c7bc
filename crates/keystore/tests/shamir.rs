//! The keystore suite against the Shamir keystore, plus share handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod suite;

use arca_keystore::{InitParams, Keystore, KeystoreError, ShamirKeystore, UnsealInput};

struct Shamir;

impl suite::Harness for Shamir {
    fn fresh(&self) -> Box<dyn Keystore> {
        Box::new(ShamirKeystore::new())
    }
    fn unseal(&self, ks: &dyn Keystore, shares: &[String]) {
        let threshold = usize::from(ks.status().threshold);
        // Use the last shares, not the first: any k of n must do.
        for share in shares.iter().rev().take(threshold) {
            ks.unseal(UnsealInput::Share(share)).unwrap();
        }
    }
}

keystore_suite!(Some(Shamir));

fn init(shares: u8, threshold: u8) -> (ShamirKeystore, Vec<String>) {
    let ks = ShamirKeystore::new();
    let out = ks.initialize(InitParams { shares, threshold }).unwrap();
    ks.load(out.record).unwrap();
    (ks, out.shares.iter().map(|s| s.to_string()).collect())
}

#[test]
fn three_of_five_unseal_two_do_not() {
    let (ks, shares) = init(5, 3);
    assert_eq!(shares.len(), 5);
    let s = ks.unseal(UnsealInput::Share(&shares[4])).unwrap();
    assert_eq!(
        (s.sealed, s.progress, s.threshold, s.shares),
        (true, 1, 3, 5)
    );
    let s = ks.unseal(UnsealInput::Share(&shares[1])).unwrap();
    assert_eq!((s.sealed, s.progress), (true, 2));
    assert!(matches!(ks.wrap(b"x", b"k"), Err(KeystoreError::Sealed)));
    let s = ks.unseal(UnsealInput::Share(&shares[2])).unwrap();
    assert!(!s.sealed);
    assert_eq!(s.progress, 0);
    ks.wrap(b"x", b"k").unwrap();
}

#[test]
fn wrong_share_is_rejected_and_not_counted() {
    let (ks, shares) = init(5, 3);
    let (_, foreign) = init(5, 3);
    ks.unseal(UnsealInput::Share(&shares[0])).unwrap();
    // A share of another server, even with a matching index.
    for bad in &foreign {
        let err = ks.unseal(UnsealInput::Share(bad)).unwrap_err();
        assert!(matches!(err, KeystoreError::InvalidShare(_)), "{err:?}");
        assert!(err.to_string().contains("not counted"), "{err}");
    }
    // Garbage.
    for bad in [
        "",
        "hello",
        "arca-share-v1:",
        "arca-share-v1:!!!",
        "arca-share-v1:AAAA",
    ] {
        assert!(matches!(
            ks.unseal(UnsealInput::Share(bad)),
            Err(KeystoreError::InvalidShare(_))
        ));
    }
    // The same share twice counts once.
    assert!(matches!(
        ks.unseal(UnsealInput::Share(&shares[0])),
        Err(KeystoreError::DuplicateShare)
    ));
    let status = ks.status();
    assert_eq!((status.sealed, status.progress), (true, 1));
    ks.unseal(UnsealInput::Share(&shares[3])).unwrap();
    let status = ks.unseal(UnsealInput::Share(&shares[4])).unwrap();
    assert!(!status.sealed);
}

#[test]
fn sealing_forgets_given_shares() {
    let (ks, shares) = init(5, 3);
    ks.unseal(UnsealInput::Share(&shares[0])).unwrap();
    ks.unseal(UnsealInput::Share(&shares[1])).unwrap();
    ks.seal();
    assert_eq!(ks.status().progress, 0);
    ks.unseal(UnsealInput::Share(&shares[2])).unwrap();
    assert!(ks.status().sealed);
}

#[test]
fn bad_parameters_are_refused() {
    let ks = ShamirKeystore::new();
    for (shares, threshold) in [(5, 0), (2, 3), (0, 0)] {
        assert!(matches!(
            ks.initialize(InitParams { shares, threshold }),
            Err(KeystoreError::InvalidParams(_))
        ));
    }
    assert!(!ks.status().initialized);
    // One of one: the dev-mode setup.
    let out = ks
        .initialize(InitParams {
            shares: 1,
            threshold: 1,
        })
        .unwrap();
    ks.load(out.record).unwrap();
    ks.unseal(UnsealInput::Share(&out.shares[0])).unwrap();
    assert!(!ks.status().sealed);
}

#[test]
fn debug_output_has_no_secrets() {
    let ks = ShamirKeystore::new();
    let out = ks
        .initialize(InitParams {
            shares: 3,
            threshold: 2,
        })
        .unwrap();
    let text = format!("{out:?} {ks:?}");
    for share in &out.shares {
        assert!(!text.contains(share.as_str()));
    }
}
