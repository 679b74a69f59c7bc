//! The keystore suite: every root of trust must pass all of it. A backend supplies a `Harness`
//! that knows how to make a fresh keystore, how to unseal it, and how to "restart" it (a new
//! keystore loading the persisted record).

use arca_keystore::{InitParams, Keystore, KeystoreError, SealRecord, UnsealInput};

pub(crate) trait Harness {
    /// A fresh, uninitialized keystore.
    fn fresh(&self) -> Box<dyn Keystore>;
    /// Unseals with whatever the backend needs (`shares` are those `initialize` returned).
    fn unseal(&self, ks: &dyn Keystore, shares: &[String]);
}

const PARAMS: InitParams = InitParams {
    shares: 5,
    threshold: 3,
};

fn init(h: &dyn Harness) -> (Box<dyn Keystore>, SealRecord, Vec<String>) {
    let ks = h.fresh();
    let status = ks.status();
    assert!(!status.initialized);
    assert!(status.sealed);
    let out = ks.initialize(PARAMS).unwrap();
    assert!(
        !ks.status().initialized,
        "initialize changes nothing until load"
    );
    let shares: Vec<String> = out.shares.iter().map(|s| s.to_string()).collect();
    ks.load(out.record.clone()).unwrap();
    assert!(ks.status().sealed);
    h.unseal(ks.as_ref(), &shares);
    assert!(!ks.status().sealed);
    (ks, out.record, shares)
}

pub(crate) fn wrap_round_trip(h: &dyn Harness) {
    let (ks, _, _) = init(h);
    let key = [0x5au8; 32];
    let wrapped = ks.wrap(b"purpose:a", &key).unwrap();
    assert!(!wrapped.windows(key.len()).any(|w| w == key));
    assert_eq!(&ks.unwrap(b"purpose:a", &wrapped).unwrap()[..], &key[..]);
    // Bound to its purpose.
    assert!(matches!(
        ks.unwrap(b"purpose:b", &wrapped),
        Err(KeystoreError::UnwrapFailed)
    ));
    // Any flipped byte is rejected.
    for i in 0..wrapped.len() {
        let mut bad = wrapped.clone();
        bad[i] ^= 0x01;
        assert!(ks.unwrap(b"purpose:a", &bad).is_err(), "byte {i}");
    }
    assert!(ks.unwrap(b"purpose:a", &wrapped[..10]).is_err());
    assert!(ks.unwrap(b"purpose:a", b"").is_err());
}

pub(crate) fn sealing_drops_the_master_key(h: &dyn Harness) {
    let (ks, _, shares) = init(h);
    let wrapped = ks.wrap(b"x", b"data-key").unwrap();
    ks.seal();
    assert!(ks.status().sealed);
    assert!(matches!(ks.wrap(b"x", b"k"), Err(KeystoreError::Sealed)));
    assert!(matches!(
        ks.unwrap(b"x", &wrapped),
        Err(KeystoreError::Sealed)
    ));
    h.unseal(ks.as_ref(), &shares);
    assert_eq!(&ks.unwrap(b"x", &wrapped).unwrap()[..], b"data-key");
}

pub(crate) fn restart_keeps_the_master_key(h: &dyn Harness) {
    let (ks, record, shares) = init(h);
    let wrapped = ks.wrap(b"x", b"data-key").unwrap();
    drop(ks);
    let bytes = record.to_bytes().unwrap();
    let again = h.fresh();
    again.load(SealRecord::from_bytes(&bytes).unwrap()).unwrap();
    let status = again.status();
    assert!(status.initialized);
    assert!(status.sealed, "a loaded keystore starts sealed");
    assert!(matches!(
        again.unwrap(b"x", &wrapped),
        Err(KeystoreError::Sealed)
    ));
    h.unseal(again.as_ref(), &shares);
    assert_eq!(&again.unwrap(b"x", &wrapped).unwrap()[..], b"data-key");
}

pub(crate) fn initialize_only_once(h: &dyn Harness) {
    let (ks, record, _) = init(h);
    assert!(matches!(
        ks.initialize(PARAMS),
        Err(KeystoreError::AlreadyInitialized)
    ));
    assert!(matches!(
        ks.load(record),
        Err(KeystoreError::AlreadyInitialized)
    ));
}

pub(crate) fn other_master_key_cannot_unwrap(h: &dyn Harness) {
    let (a, _, _) = init(h);
    let (b, _, _) = init(h);
    let wrapped = a.wrap(b"x", b"data-key").unwrap();
    assert!(matches!(
        b.unwrap(b"x", &wrapped),
        Err(KeystoreError::UnwrapFailed)
    ));
}

pub(crate) fn macs_belong_to_the_master_key(h: &dyn Harness) {
    let (a, record, shares) = init(h);
    let mac = a.mac(b"purpose:a", b"data").unwrap();
    assert_eq!(a.mac(b"purpose:a", b"data").unwrap(), mac, "deterministic");
    assert_ne!(
        a.mac(b"purpose:b", b"data").unwrap(),
        mac,
        "bound to its purpose"
    );
    assert_ne!(a.mac(b"purpose:a", b"datA").unwrap(), mac);
    // The same master key after a restart makes the same MAC; another makes another.
    let again = h.fresh();
    again.load(record).unwrap();
    assert!(matches!(
        again.mac(b"purpose:a", b"data"),
        Err(KeystoreError::Sealed)
    ));
    h.unseal(again.as_ref(), &shares);
    assert_eq!(again.mac(b"purpose:a", b"data").unwrap(), mac);
    let (b, _, _) = init(h);
    assert_ne!(b.mac(b"purpose:a", b"data").unwrap(), mac);
    a.seal();
    assert!(matches!(
        a.mac(b"purpose:a", b"data"),
        Err(KeystoreError::Sealed)
    ));
}

pub(crate) fn uninitialized_refuses_everything(h: &dyn Harness) {
    let ks = h.fresh();
    assert!(ks.wrap(b"x", b"k").is_err());
    assert!(matches!(
        ks.unseal(UnsealInput::Auto),
        Err(KeystoreError::NotInitialized) | Err(KeystoreError::InvalidShare(_))
    ));
}

pub(crate) fn corrupt_record_is_refused(h: &dyn Harness) {
    assert!(SealRecord::from_bytes(b"{not json").is_err());
    assert!(SealRecord::from_bytes(br#"{"kind":"other"}"#).is_err());
    let (_, record, _) = init(h);
    let mut json: serde_json::Value = serde_json::from_slice(&record.to_bytes().unwrap()).unwrap();
    json["master_key_id"] = serde_json::Value::String("zz".into());
    let bad = SealRecord::from_bytes(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert!(matches!(
        h.fresh().load(bad),
        Err(KeystoreError::CorruptRecord(_))
    ));
}

/// One `#[test]` per case. `$harness` is an expression giving `Option<impl Harness>`; `None`
/// means the backend is unavailable, which fails when it is required (see `skip_or_fail`).
macro_rules! keystore_suite {
    ($harness:expr) => {
        keystore_suite!(@case $harness, wrap_round_trip);
        keystore_suite!(@case $harness, sealing_drops_the_master_key);
        keystore_suite!(@case $harness, restart_keeps_the_master_key);
        keystore_suite!(@case $harness, initialize_only_once);
        keystore_suite!(@case $harness, other_master_key_cannot_unwrap);
        keystore_suite!(@case $harness, macs_belong_to_the_master_key);
        keystore_suite!(@case $harness, uninitialized_refuses_everything);
        keystore_suite!(@case $harness, corrupt_record_is_refused);
    };
    (@case $harness:expr, $name:ident) => {
        #[test]
        fn $name() {
            if let Some(h) = $harness {
                suite::$name(&h);
            }
        }
    };
}
