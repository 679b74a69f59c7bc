//! Root-of-trust operations: initialize, load at start, unseal, seal, status.

use std::sync::Arc;

use arca_keystore::{InitParams, Keystore, KeystoreKind, SealRecord, SealStatus, UnsealInput};
use arca_store::{
    AccountRecord, ApiKeyRecord, InitialState, PrincipalKind, PrincipalRecord, Store,
};
use zeroize::Zeroizing;

use crate::auth::{Principal, new_api_key};
use crate::clock::{Clock, to_millis};
use crate::{ServiceError, ServiceResult, ids};

/// What `initialize` returns, once: the shares and the first admin's API key.
pub struct InitOutput {
    /// Unseal shares (empty for an HSM keystore).
    pub shares: Vec<Zeroizing<String>>,
    /// Shares needed to unseal.
    pub threshold: u8,
    /// The first account.
    pub account_id: String,
    /// Its admin's API key.
    pub api_key: Zeroizing<String>,
}

impl std::fmt::Debug for InitOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOutput")
            .field("shares", &format_args!("<{} redacted>", self.shares.len()))
            .field("threshold", &self.threshold)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Root-of-trust operations.
#[derive(Debug, Clone)]
pub struct SystemService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    /// Serializes init/load so two concurrent `init` calls cannot both write.
    init_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Longest share text accepted.
const MAX_SHARE_LEN: usize = 1024;

impl SystemService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            init_lock: Arc::default(),
        }
    }

    /// The keystore's status.
    pub fn status(&self) -> SealStatus {
        self.keystore.status()
    }

    /// Whether data requests can be served.
    pub fn require_unsealed(&self) -> ServiceResult<()> {
        let s = self.keystore.status();
        if !s.initialized {
            Err(ServiceError::NotInitialized)
        } else if s.sealed {
            Err(ServiceError::Sealed)
        } else {
            Ok(())
        }
    }

    /// At start: loads the persisted seal record, if any, and unseals an HSM keystore.
    /// Returns whether the store was initialized.
    pub async fn start(&self) -> ServiceResult<bool> {
        let _guard = self.init_lock.lock().await;
        let Some(bytes) = self.store.seal_record().await? else {
            return Ok(false);
        };
        let record = SealRecord::from_bytes(&bytes)?;
        self.keystore.load(record)?;
        if self.keystore.kind() == KeystoreKind::Pkcs11 {
            self.unseal_blocking(None).await?;
        }
        Ok(true)
    }

    /// Creates the master key, the first account and its admin. `before_commit` sees the output
    /// before anything is stored (dev mode writes its unseal share to a file there, so a crash
    /// cannot leave a store whose share was never kept).
    pub async fn initialize(
        &self,
        params: InitParams,
        account_name: &str,
        before_commit: impl FnOnce(&InitOutput) -> ServiceResult<()>,
    ) -> ServiceResult<InitOutput> {
        let account_name = account_name.trim();
        if account_name.is_empty() || account_name.chars().count() > 100 {
            return Err(ServiceError::InvalidInput(
                "account_name must be 1 to 100 characters".into(),
            ));
        }
        let _guard = self.init_lock.lock().await;
        if self.store.seal_record().await?.is_some() || self.keystore.status().initialized {
            return Err(ServiceError::AlreadyInitialized);
        }
        let keystore = self.keystore.clone();
        // The HSM may block; keep it off the async workers.
        let initialized = tokio::task::spawn_blocking(move || keystore.initialize(params))
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))??;
        let now = to_millis(self.clock.now());
        let account = AccountRecord {
            id: ids::account_id()?,
            name: account_name.to_owned(),
            created_at: now,
        };
        let admin = PrincipalRecord {
            id: format!("user-{}", ids::uuid()?),
            account_id: account.id.clone(),
            kind: PrincipalKind::User,
            name: "admin".into(),
            is_admin: true,
            created_at: now,
        };
        let key = new_api_key()?;
        let api_key = ApiKeyRecord {
            id: format!("ApiKey-{}", ids::uuid()?),
            principal_id: admin.id.clone(),
            name: "initial admin key".into(),
            digest: key.digest.to_vec(),
            created_at: now,
        };
        let output = InitOutput {
            shares: initialized.shares,
            threshold: params.threshold,
            account_id: account.id.clone(),
            api_key: key.text,
        };
        before_commit(&output)?;
        self.store
            .initialize(&InitialState {
                seal_record: initialized.record.to_bytes()?,
                account,
                admin,
                api_key,
                created_at: now,
            })
            .await?;
        self.keystore.load(initialized.record)?;
        if self.keystore.kind() == KeystoreKind::Pkcs11 {
            self.unseal_blocking(None).await?;
        }
        tracing::info!(account_id = %output.account_id, "root of trust initialized");
        Ok(output)
    }

    /// One unseal step: a share for the Shamir keystore, nothing for an HSM (which retries).
    pub async fn unseal(&self, share: Option<Zeroizing<String>>) -> ServiceResult<SealStatus> {
        if let Some(s) = &share
            && s.len() > MAX_SHARE_LEN
        {
            return Err(ServiceError::InvalidShare(
                "invalid unseal share: too long; it was not counted".into(),
            ));
        }
        self.unseal_blocking(share).await
    }

    async fn unseal_blocking(&self, share: Option<Zeroizing<String>>) -> ServiceResult<SealStatus> {
        let keystore = self.keystore.clone();
        let status = tokio::task::spawn_blocking(move || {
            let input = match &share {
                Some(s) => UnsealInput::Share(s.as_str()),
                None => UnsealInput::Auto,
            };
            keystore.unseal(input)
        })
        .await
        .map_err(|e| ServiceError::Internal(Box::new(e)))??;
        Ok(status)
    }

    /// Drops the master key from memory. Account administrators only.
    pub fn seal(&self, principal: &Principal) -> ServiceResult<SealStatus> {
        principal.require_admin()?;
        self.keystore.seal();
        tracing::warn!(principal = %principal.id, "sealed by request");
        Ok(self.keystore.status())
    }
}
