//! Import tokens for secure key import (BYOK): an RSA-4096 key pair and a nonce per instance.
//! The client encrypts its key material to the public key (RSA-OAEP) and proves it by
//! AES-GCM-encrypting the nonce with that material. One token per instance; a new one replaces
//! the old. The private key and nonce are stored wrapped by the master key.

use std::sync::Arc;

use arca_crypto::aead::{AeadKey, NONCE_LEN};
use arca_crypto::hash::ct_eq;
use arca_crypto::oaep::{ImportKeyPair, OaepHash, RsaBits};
use arca_crypto::random::random_bytes;
use arca_keystore::Keystore;
use arca_store::{ImportTokenRecord, Store};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::access::{AccessService, Permission};
use crate::auth::Principal;
use crate::clock::{Clock, from_millis, to_millis};
use crate::instances::InstanceService;
use crate::{ServiceError, ServiceResult, ids, kms_access};

/// Default token lifetime (seconds).
pub const DEFAULT_EXPIRATION_SECS: i64 = 600;
const NONCE_BYTES: usize = 8;

/// Token metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportToken {
    /// Token id.
    pub id: String,
    /// When created.
    pub creation_date: OffsetDateTime,
    /// When it expires.
    pub expiration_date: OffsetDateTime,
    /// Lifetime in seconds.
    pub expiration_secs: i64,
    /// Retrievals allowed.
    pub max_retrievals: i64,
    /// Retrievals left.
    pub remaining_retrievals: i64,
}

/// A retrieved token: what the client encrypts to.
pub struct RetrievedToken {
    /// Metadata (after this retrieval).
    pub token: ImportToken,
    /// The RSA public key, PEM.
    pub public_key_pem: String,
    /// The nonce to encrypt with the key material.
    pub nonce: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RetrievedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrievedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Securely imported material, as the client sent it.
pub struct SecureImport<'a> {
    /// RSA-OAEP ciphertext of the key material.
    pub payload: &'a [u8],
    /// AES-GCM (key = the material) ciphertext‖tag of the token's nonce.
    pub encrypted_nonce: &'a [u8],
    /// The GCM IV.
    pub iv: &'a [u8],
    /// `RSAES_OAEP_SHA_256` or `RSAES_OAEP_SHA_1`.
    pub algorithm: &'a str,
}

impl std::fmt::Debug for SecureImport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureImport")
            .field("payload_len", &self.payload.len())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn key_aad(instance_id: &str, id: &str) -> Vec<u8> {
    format!("arca:kp:import-token-key:v1:{instance_id}:{id}").into_bytes()
}

fn nonce_aad(instance_id: &str, id: &str) -> Vec<u8> {
    format!("arca:kp:import-token-nonce:v1:{instance_id}:{id}").into_bytes()
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

/// Import tokens.
#[derive(Debug, Clone)]
pub struct ImportTokenService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
}

fn view(r: &ImportTokenRecord) -> ImportToken {
    ImportToken {
        id: r.id.clone(),
        creation_date: from_millis(r.creation_date),
        expiration_date: from_millis(r.expiration_date),
        expiration_secs: (r.expiration_date - r.creation_date) / 1000,
        max_retrievals: r.max_retrievals,
        remaining_retrievals: r.remaining_retrievals,
    }
}

impl ImportTokenService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            instances,
            access,
        }
    }

    /// Creates (or replaces) the instance's import token.
    pub async fn create(
        &self,
        principal: &Principal,
        instance_id: &str,
        expiration_secs: Option<i64>,
        max_retrievals: Option<i64>,
    ) -> ServiceResult<ImportToken> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Create,
        )
        .await?;
        let expiration = expiration_secs.unwrap_or(DEFAULT_EXPIRATION_SECS);
        if !(300..=86_400).contains(&expiration) {
            return Err(ServiceError::InvalidInput(
                "expiration must be 300 to 86400 seconds".into(),
            ));
        }
        let max = max_retrievals.unwrap_or(1);
        if !(1..=1000).contains(&max) {
            return Err(ServiceError::InvalidInput(
                "maxAllowedRetrievals must be 1 to 1000".into(),
            ));
        }
        // RSA-4096 generation takes a second or so: keep it off the async workers.
        let pair = tokio::task::spawn_blocking(|| ImportKeyPair::generate(RsaBits::Rsa4096))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        let id = ids::uuid()?;
        let nonce = random_bytes(NONCE_BYTES).map_err(internal)?;
        let now = to_millis(self.clock.now());
        let record = ImportTokenRecord {
            instance_id: instance_id.to_owned(),
            id: id.clone(),
            wrapped_private_key: self.keystore.wrap(
                &key_aad(instance_id, &id),
                &pair.to_pkcs8_der().map_err(internal)?,
            )?,
            public_key_pem: pair.public_key_pem().map_err(internal)?,
            wrapped_nonce: self.keystore.wrap(&nonce_aad(instance_id, &id), &nonce)?,
            creation_date: now,
            expiration_date: now + expiration * 1000,
            max_retrievals: max,
            remaining_retrievals: max,
            created_by: principal.id.clone(),
        };
        self.store.put_import_token(&record).await?;
        tracing::info!(instance_id, token_id = %id, "import token created");
        Ok(view(&record))
    }

    async fn current(&self, instance_id: &str) -> ServiceResult<ImportTokenRecord> {
        let record = self
            .store
            .import_token(instance_id)
            .await?
            .ok_or(ServiceError::NotFound("import token"))?;
        if to_millis(self.clock.now()) >= record.expiration_date {
            return Err(ServiceError::InvalidState(
                "The import token has expired".into(),
            ));
        }
        Ok(record)
    }

    /// Retrieves the token's public key and nonce, using up one retrieval.
    pub async fn retrieve(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<RetrievedToken> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Create,
        )
        .await?;
        let record = self.current(instance_id).await?;
        let record = self
            .store
            .take_import_token_retrieval(instance_id, &record.id)
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidState(
                    "The import token has no retrievals left: create a new one".into(),
                )
            })?;
        let nonce = self
            .keystore
            .unwrap(&nonce_aad(instance_id, &record.id), &record.wrapped_nonce)?;
        Ok(RetrievedToken {
            token: view(&record),
            public_key_pem: record.public_key_pem,
            nonce,
        })
    }

    /// Opens securely imported key material: RSA-OAEP-decrypts it with the token's private key
    /// and checks that it encrypts the token's nonce. The token must be unexpired.
    pub async fn open(
        &self,
        instance_id: &str,
        import: &SecureImport<'_>,
    ) -> ServiceResult<Zeroizing<Vec<u8>>> {
        let hash = match import.algorithm {
            "RSAES_OAEP_SHA_256" => OaepHash::Sha256,
            "RSAES_OAEP_SHA_1" => OaepHash::Sha1,
            other => {
                return Err(ServiceError::InvalidInput(format!(
                    "encryptionAlgorithm {other:?}: expected RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1"
                )));
            }
        };
        let record = self.current(instance_id).await?;
        let der = self.keystore.unwrap(
            &key_aad(instance_id, &record.id),
            &record.wrapped_private_key,
        )?;
        let pair = ImportKeyPair::from_pkcs8_der(&der).map_err(internal)?;
        let refused = || {
            ServiceError::InvalidInput(
                "The encrypted payload could not be decrypted with the import token".into(),
            )
        };
        let material = pair.decrypt(hash, import.payload).map_err(|_| refused())?;
        if ![16, 24, 32].contains(&material.len()) {
            return Err(ServiceError::InvalidInput(
                "imported root key material must be 128, 192 or 256 bits".into(),
            ));
        }
        let nonce = self
            .keystore
            .unwrap(&nonce_aad(instance_id, &record.id), &record.wrapped_nonce)?;
        let iv: [u8; NONCE_LEN] = import
            .iv
            .try_into()
            .map_err(|_| ServiceError::InvalidInput("iv must be 12 bytes".into()))?;
        let mismatch =
            || ServiceError::InvalidInput("The encrypted nonce given does not match".into());
        // The nonce proof uses the material as an AES-GCM key of its own size.
        let opened = AeadKey::from_bytes_any_size(&material)
            .map_err(internal)?
            .open(&iv, &[], import.encrypted_nonce)
            .map_err(|_| mismatch())?;
        if !ct_eq(&opened, &nonce) {
            return Err(mismatch());
        }
        Ok(material)
    }
}
