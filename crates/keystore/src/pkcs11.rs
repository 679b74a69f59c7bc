//! HSM root of trust over PKCS#11: the master key is sealed (CKM_AES_GCM, with AAD) by a
//! non-extractable AES-256 key inside a token, and unsealed automatically at start. Only that one
//! decryption runs in the HSM; wrap/unwrap with the master key then run in memory, so the HSM is
//! never on the request path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use arca_crypto::envelope::KeyVersionId;
use arca_crypto::keys::AesKey256;
use arca_crypto::random::fill_random;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::master::{MasterKey, MasterSlot};
use crate::record::{b64_decode, b64_encode, key_id_from_hex};
use crate::{
    InitParams, Initialized, Keystore, KeystoreError, KeystoreKind, SealRecord, SealStatus,
    UnsealInput,
};

const MASTER_AAD: &[u8] = b"arca:master-key:v1:pkcs11";
/// The key label used when the configuration names none.
pub const DEFAULT_KEY_LABEL: &str = "arca-master-seal";

/// Where the HSM is and how to log in.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// Label of the token holding the sealing key.
    pub token_label: String,
    /// User PIN of the token.
    pub pin: SecretString,
    /// Label of the sealing key; created by `initialize` if absent.
    pub key_label: String,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<redacted>")
            .field("key_label", &self.key_label)
            .finish()
    }
}

struct Loaded {
    master_key_id: KeyVersionId,
    iv: Vec<u8>,
    sealed_master: Vec<u8>,
}

/// Master key sealed by a key in a PKCS#11 token. See the module docs.
pub struct Pkcs11Keystore {
    config: Pkcs11Config,
    loaded: Mutex<Option<Loaded>>,
    master: MasterSlot,
}

impl std::fmt::Debug for Pkcs11Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Keystore")
            .field("config", &self.config)
            .field("status", &self.status())
            .finish()
    }
}

fn hsm(context: &'static str) -> impl Fn(CkError) -> KeystoreError {
    move |e| KeystoreError::Hsm(format!("{context}: {e}"))
}

/// One initialized context per module per process: C_Initialize may run only once, and dropping
/// the last context finalizes the library under every other user.
fn context(module: &Path) -> Result<Pkcs11, KeystoreError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        KeystoreError::Hsm(format!(
            "cannot load PKCS#11 module {}: {e}",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(hsm("C_Initialize")(e)),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// HSM work (key creation, the unseal decryption) is rare (init, start), so it is serialized per
/// process: some modules, SoftHSM2 among them, fail token-object creation under concurrent sessions.
static HSM_OPS: Mutex<()> = Mutex::new(());

fn hsm_ops() -> std::sync::MutexGuard<'static, ()> {
    HSM_OPS.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pkcs11Keystore {
    /// A keystore for the configured token; nothing is opened until `initialize` or `unseal`.
    pub fn new(config: Pkcs11Config) -> Self {
        Self {
            config,
            loaded: Mutex::new(None),
            master: MasterSlot::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Loaded>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a logged-in session on the configured token.
    fn session(&self) -> Result<Session, KeystoreError> {
        let ctx = context(&self.config.module)?;
        let slots = ctx.get_slots_with_token().map_err(hsm("C_GetSlotList"))?;
        let mut found = None;
        for slot in slots {
            let info = ctx.get_token_info(slot).map_err(hsm("C_GetTokenInfo"))?;
            if info.label().trim_end() == self.config.token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            KeystoreError::Hsm(format!(
                "no token labelled {:?} in module {}",
                self.config.token_label,
                self.config.module.display()
            ))
        })?;
        let session = ctx.open_rw_session(slot).map_err(hsm("C_OpenSession"))?;
        let pin = AuthPin::from(self.config.pin.expose_secret().to_owned());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(hsm("C_Login")(e)),
        }
    }

    fn find_key(&self, session: &Session) -> Result<Option<ObjectHandle>, KeystoreError> {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Label(self.config.key_label.as_bytes().to_vec()),
            ])
            .map_err(hsm("C_FindObjects"))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(KeystoreError::Hsm(format!(
                "more than one key labelled {:?} in the token",
                self.config.key_label
            ))),
        }
    }

    fn create_key(&self, session: &Session) -> Result<ObjectHandle, KeystoreError> {
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::ValueLen(32.into()),
                    Attribute::Label(self.config.key_label.as_bytes().to_vec()),
                ],
            )
            .map_err(hsm("C_GenerateKey"))
    }

    fn open_master(&self, loaded: &Loaded) -> Result<MasterKey, KeystoreError> {
        let _ops = hsm_ops();
        let session = self.session()?;
        let key = self.find_key(&session)?.ok_or_else(|| {
            KeystoreError::Hsm(format!(
                "the sealing key {:?} is missing from the token",
                self.config.key_label
            ))
        })?;
        let mut iv = loaded.iv.clone();
        let params = GcmParams::new(&mut iv, MASTER_AAD, 128.into()).map_err(hsm("GCM params"))?;
        let raw = Zeroizing::new(
            session
                .decrypt(&Mechanism::AesGcm(params), key, &loaded.sealed_master)
                .map_err(|_| {
                    KeystoreError::CorruptRecord("the HSM key does not open the master key")
                })?,
        );
        MasterKey::new(loaded.master_key_id, AesKey256::from_slice(&raw)?)
    }
}

impl Keystore for Pkcs11Keystore {
    fn kind(&self) -> KeystoreKind {
        KeystoreKind::Pkcs11
    }

    fn status(&self) -> SealStatus {
        SealStatus {
            kind: KeystoreKind::Pkcs11,
            initialized: self.lock().is_some(),
            sealed: self.master.is_sealed(),
            threshold: 0,
            shares: 0,
            progress: 0,
        }
    }

    fn initialize(&self, _params: InitParams) -> Result<Initialized, KeystoreError> {
        if self.lock().is_some() {
            return Err(KeystoreError::AlreadyInitialized);
        }
        let _ops = hsm_ops();
        let session = self.session()?;
        let key = match self.find_key(&session)? {
            Some(key) => key,
            None => self.create_key(&session)?,
        };
        let master = AesKey256::generate()?;
        let mut id = [0u8; 16];
        fill_random(&mut id)?;
        let mut iv = vec![0u8; 12];
        fill_random(&mut iv)?;
        let mut iv_param = iv.clone();
        let params =
            GcmParams::new(&mut iv_param, MASTER_AAD, 128.into()).map_err(hsm("GCM params"))?;
        let sealed_master = session
            .encrypt(&Mechanism::AesGcm(params), key, master.expose_secret())
            .map_err(hsm("C_Encrypt"))?;
        let record = SealRecord::Pkcs11 {
            master_key_id: hex::encode(id),
            token_label: self.config.token_label.clone(),
            key_label: self.config.key_label.clone(),
            iv: b64_encode(&iv),
            sealed_master: b64_encode(&sealed_master),
        };
        Ok(Initialized {
            record,
            shares: Vec::new(),
        })
    }

    fn load(&self, record: SealRecord) -> Result<(), KeystoreError> {
        let SealRecord::Pkcs11 {
            master_key_id,
            token_label,
            key_label,
            iv,
            sealed_master,
        } = record
        else {
            return Err(KeystoreError::CorruptRecord(
                "not a PKCS#11 record: the server is configured for another keystore",
            ));
        };
        if token_label != self.config.token_label || key_label != self.config.key_label {
            return Err(KeystoreError::Hsm(format!(
                "the master key was sealed by key {key_label:?} of token {token_label:?}, \
                 but the configuration names key {:?} of token {:?}",
                self.config.key_label, self.config.token_label
            )));
        }
        let mut loaded = self.lock();
        if loaded.is_some() {
            return Err(KeystoreError::AlreadyInitialized);
        }
        *loaded = Some(Loaded {
            master_key_id: key_id_from_hex(&master_key_id)?,
            iv: b64_decode(&iv, "iv")?,
            sealed_master: b64_decode(&sealed_master, "sealed master key")?,
        });
        Ok(())
    }

    fn unseal(&self, input: UnsealInput<'_>) -> Result<SealStatus, KeystoreError> {
        if let UnsealInput::Share(_) = input {
            return Err(KeystoreError::Unsupported(
                "pkcs11 (it unseals itself; no shares exist)",
            ));
        }
        {
            let loaded = self.lock();
            let loaded = loaded.as_ref().ok_or(KeystoreError::NotInitialized)?;
            if self.master.is_sealed() {
                let master = self.open_master(loaded)?;
                self.master.set(master);
                tracing::info!("master key unsealed by the HSM");
            }
        }
        Ok(self.status())
    }

    fn seal(&self) {
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

/// Provisioning helper: initializes a free slot of the module as a token with `label`, its SO PIN
/// and its user PIN — what `softhsm2-util --init-token --free` does, through the same process-wide
/// context the keystore uses (a second context would finalize the library under the first).
/// Used by the test suites to create their own SoftHSM2 tokens.
pub fn init_token(
    module: &Path,
    label: &str,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<(), KeystoreError> {
    // Two callers must not pick the same free slot.
    let _ops = hsm_ops();
    let ctx = context(module)?;
    let slots = ctx.get_all_slots().map_err(hsm("C_GetSlotList"))?;
    let mut free = None;
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(hsm("C_GetTokenInfo"))?;
        if !info.token_initialized() {
            free = Some(slot);
            break;
        }
    }
    let slot = free.ok_or_else(|| KeystoreError::Hsm("no free slot in the module".into()))?;
    let so = AuthPin::from(so_pin.expose_secret().to_owned());
    ctx.init_token(slot, &so, label)
        .map_err(hsm("C_InitToken"))?;
    let session = ctx.open_rw_session(slot).map_err(hsm("C_OpenSession"))?;
    session
        .login(UserType::So, Some(&so))
        .map_err(hsm("C_Login(SO)"))?;
    session
        .init_pin(&AuthPin::from(user_pin.expose_secret().to_owned()))
        .map_err(hsm("C_InitPIN"))?;
    session.logout().map_err(hsm("C_Logout"))?;
    Ok(())
}
