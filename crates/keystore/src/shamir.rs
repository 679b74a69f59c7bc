//! Software root of trust: the master key sealed under an unseal key split into Shamir shares.

use std::sync::Mutex;

use arca_crypto::aead::AeadKey;
use arca_crypto::envelope::{self, KeyVersionId};
use arca_crypto::hash::{ct_eq, sha256};
use arca_crypto::keys::AesKey256;
use arca_crypto::random::fill_random;
use arca_crypto::shamir::{self, Share};
use zeroize::Zeroizing;

use crate::master::{MasterKey, MasterSlot};
use crate::record::{ShareCheck, b64_decode, b64_encode, key_id_from_hex};
use crate::{
    InitParams, Initialized, Keystore, KeystoreError, KeystoreKind, SealRecord, SealStatus,
    UnsealInput,
};

/// AAD of the master key's envelope under the unseal key.
const MASTER_AAD: &[u8] = b"arca:master-key:v1";
/// Domain separation of share check values.
const SHARE_CHECK_DOMAIN: &[u8] = b"arca:share-check:v1:";
/// The unseal key's envelope names this fixed id: there is one unseal key per record.
const UNSEAL_KEY_ID: KeyVersionId = KeyVersionId([0; 16]);

struct Loaded {
    master_key_id: KeyVersionId,
    threshold: u8,
    shares: u8,
    checks: Vec<ShareCheck>,
    sealed_master: Vec<u8>,
}

#[derive(Default)]
struct State {
    loaded: Option<Loaded>,
    /// Valid shares given so far, by distinct index.
    pending: Vec<Share>,
}

/// Master key sealed by Shamir shares (k of n). See the crate docs.
#[derive(Default)]
pub struct ShamirKeystore {
    state: Mutex<State>,
    master: MasterSlot,
}

impl std::fmt::Debug for ShamirKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShamirKeystore")
            .field("status", &self.status())
            .finish()
    }
}

fn share_check(share: &Share) -> [u8; 32] {
    let text = Zeroizing::new(share.to_text());
    let mut input = Zeroizing::new(Vec::with_capacity(SHARE_CHECK_DOMAIN.len() + text.len()));
    input.extend_from_slice(SHARE_CHECK_DOMAIN);
    input.extend_from_slice(text.as_bytes());
    sha256(&input)
}

impl ShamirKeystore {
    /// A keystore with nothing loaded: call [`Keystore::initialize`] or [`Keystore::load`].
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked; the state stays consistent because
        // every mutation below is a single assignment or push.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status_of(&self, state: &State) -> SealStatus {
        let (threshold, shares) = state
            .loaded
            .as_ref()
            .map(|l| (l.threshold, l.shares))
            .unwrap_or((0, 0));
        SealStatus {
            kind: KeystoreKind::Shamir,
            initialized: state.loaded.is_some(),
            sealed: self.master.is_sealed(),
            threshold,
            shares,
            progress: u8::try_from(state.pending.len()).unwrap_or(u8::MAX),
        }
    }

    fn load_record(record: SealRecord) -> Result<Loaded, KeystoreError> {
        let SealRecord::Shamir {
            master_key_id,
            threshold,
            shares,
            share_checks,
            sealed_master,
        } = record
        else {
            return Err(KeystoreError::CorruptRecord(
                "not a Shamir record: the server is configured for another keystore",
            ));
        };
        if threshold == 0 || threshold > shares || share_checks.len() != usize::from(shares) {
            return Err(KeystoreError::CorruptRecord("share parameters"));
        }
        Ok(Loaded {
            master_key_id: key_id_from_hex(&master_key_id)?,
            threshold,
            shares,
            checks: share_checks,
            sealed_master: b64_decode(&sealed_master, "sealed master key")?,
        })
    }
}

impl Keystore for ShamirKeystore {
    fn kind(&self) -> KeystoreKind {
        KeystoreKind::Shamir
    }

    fn status(&self) -> SealStatus {
        let state = self.lock();
        self.status_of(&state)
    }

    fn initialize(&self, params: InitParams) -> Result<Initialized, KeystoreError> {
        let InitParams { shares, threshold } = params;
        if threshold == 0 {
            return Err(KeystoreError::InvalidParams("threshold must be at least 1"));
        }
        if shares < threshold {
            return Err(KeystoreError::InvalidParams(
                "shares must be at least the threshold",
            ));
        }
        let state = self.lock();
        if state.loaded.is_some() {
            return Err(KeystoreError::AlreadyInitialized);
        }
        let master = AesKey256::generate()?;
        let mut id = [0u8; 16];
        fill_random(&mut id)?;
        let unseal_key = AesKey256::generate()?;
        let sealed_master = envelope::seal(
            &AeadKey::new(&unseal_key)?,
            UNSEAL_KEY_ID,
            MASTER_AAD,
            master.expose_secret(),
        )?;
        let parts = shamir::split(unseal_key.expose_secret(), threshold, shares)?;
        let checks: Vec<ShareCheck> = parts
            .iter()
            .map(|s| ShareCheck {
                index: s.index(),
                digest: hex::encode(share_check(s)),
            })
            .collect();
        let record = SealRecord::Shamir {
            master_key_id: hex::encode(id),
            threshold,
            shares,
            share_checks: checks,
            sealed_master: b64_encode(&sealed_master),
        };
        drop(state);
        Ok(Initialized {
            record,
            shares: parts.iter().map(|s| Zeroizing::new(s.to_text())).collect(),
        })
    }

    fn load(&self, record: SealRecord) -> Result<(), KeystoreError> {
        let loaded = Self::load_record(record)?;
        let mut state = self.lock();
        if state.loaded.is_some() {
            return Err(KeystoreError::AlreadyInitialized);
        }
        state.loaded = Some(loaded);
        state.pending.clear();
        Ok(())
    }

    fn unseal(&self, input: UnsealInput<'_>) -> Result<SealStatus, KeystoreError> {
        let UnsealInput::Share(text) = input else {
            return Err(KeystoreError::InvalidShare(
                "the Shamir keystore needs a share",
            ));
        };
        let mut guard = self.lock();
        // Reborrow through the guard once so the fields can be borrowed separately.
        let state = &mut *guard;
        let Some(loaded) = state.loaded.as_ref() else {
            return Err(KeystoreError::NotInitialized);
        };
        if !self.master.is_sealed() {
            return Ok(self.status_of(state));
        }
        let share = Share::from_text(text)
            .map_err(|_| KeystoreError::InvalidShare("not an Arca unseal share"))?;
        let check = loaded
            .checks
            .iter()
            .find(|c| c.index == share.index())
            .ok_or(KeystoreError::InvalidShare(
                "not one of this server's shares",
            ))?;
        let expected =
            hex::decode(&check.digest).map_err(|_| KeystoreError::CorruptRecord("share check"))?;
        if !ct_eq(&expected, &share_check(&share)) {
            return Err(KeystoreError::InvalidShare(
                "not one of this server's shares",
            ));
        }
        if state.pending.iter().any(|s| s.index() == share.index()) {
            return Err(KeystoreError::DuplicateShare);
        }
        state.pending.push(share);
        if state.pending.len() < usize::from(loaded.threshold) {
            return Ok(self.status_of(state));
        }
        // Threshold reached: recombine, open the master key, forget the shares whatever happens.
        let pending = std::mem::take(&mut state.pending);
        let unseal_key = shamir::combine(&pending, loaded.threshold)?;
        drop(pending);
        let unseal_key = AesKey256::from_slice(&unseal_key)?;
        let raw = envelope::open(
            &AeadKey::new(&unseal_key)?,
            MASTER_AAD,
            &loaded.sealed_master,
        )
        .map_err(|_| KeystoreError::CorruptRecord("the shares do not open the master key"))?;
        let master = MasterKey::new(loaded.master_key_id, AesKey256::from_slice(&raw)?)?;
        self.master.set(master);
        tracing::info!("master key unsealed");
        Ok(self.status_of(state))
    }

    fn seal(&self) {
        let mut state = self.lock();
        state.pending.clear();
        self.master.clear();
        tracing::info!("master key sealed");
    }

    fn wrap(&self, aad: &[u8], key: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        self.master.wrap(aad, key)
    }

    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        self.master.unwrap(aad, wrapped)
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> Result<[u8; 32], KeystoreError> {
        self.master.mac(purpose, data)
    }
}
