//! Envelope encryption of secret data: every version (and every configuration's secret fields)
//! is sealed with its own fresh data key (AES-256-GCM, 96-bit random nonce), with an AAD that
//! binds the instance and the object (secret and version ids); the data key is then wrapped by
//! the instance's root key. The provider-managed root is a key-encryption key derived from the
//! instance key (itself wrapped by the master key), named `instance` in the stored rows.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arca_crypto::aead::AeadKey;
use arca_crypto::envelope::{self, KeyVersionId};
use arca_crypto::kdf::hkdf_sha256_key;
use arca_crypto::keys::AesKey256;
use zeroize::Zeroizing;

use crate::instances::InstanceService;
use crate::{ServiceError, ServiceResult};

/// The stored name of the provider-managed root key.
pub(crate) const INSTANCE_ROOT: &str = "instance";

const KEK_INFO: &[u8] = b"arca:sm:kek:v1";

/// Sealed data: what the store keeps.
pub(crate) struct Sealed {
    /// The data under its data key.
    pub payload: Vec<u8>,
    /// The data key under the root key.
    pub wrapped_dek: Vec<u8>,
    /// Which root key.
    pub root_key: String,
}

/// Seals and opens secret data for the secrets service.
#[derive(Clone)]
pub(crate) struct Sealer {
    instances: InstanceService,
    /// Key-encryption keys by instance id, derived once from the instance key. Cleared on seal.
    keks: Arc<RwLock<HashMap<String, Arc<AeadKey>>>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

fn aad(purpose: &str, instance_id: &str, context: &str) -> Vec<u8> {
    // NUL-separated: ids and contexts never contain NUL, so the encoding is unambiguous.
    format!("arca:sm:{purpose}:v1\0{instance_id}\0{context}").into_bytes()
}

fn instance_version_id(instance_id: &str) -> KeyVersionId {
    let bytes = uuid::Uuid::try_parse(instance_id)
        .map(|u| *u.as_bytes())
        .unwrap_or_default();
    KeyVersionId::from_uuid_bytes(bytes)
}

impl Sealer {
    pub(crate) fn new(instances: InstanceService) -> Self {
        Self {
            instances,
            keks: Arc::default(),
        }
    }

    /// Drops every derived key (the server is being sealed).
    pub(crate) fn forget_keys(&self) {
        if let Ok(mut m) = self.keks.write() {
            m.clear();
        }
    }

    async fn kek(&self, instance_id: &str) -> ServiceResult<Arc<AeadKey>> {
        if let Some(k) = self
            .keks
            .read()
            .ok()
            .and_then(|m| m.get(instance_id).cloned())
        {
            return Ok(k);
        }
        let ik = self.instances.instance_key(instance_id).await?;
        let derived = hkdf_sha256_key(&ik, instance_id.as_bytes(), KEK_INFO).map_err(internal)?;
        let kek = Arc::new(AeadKey::new(&derived).map_err(internal)?);
        if let Ok(mut m) = self.keks.write() {
            m.insert(instance_id.to_owned(), kek.clone());
        }
        Ok(kek)
    }

    /// Seals `plaintext` for the object named by `context` (e.g. `secret/<id>/<version>`).
    pub(crate) async fn seal(
        &self,
        instance_id: &str,
        context: &str,
        plaintext: &[u8],
    ) -> ServiceResult<Sealed> {
        let dek = AesKey256::generate().map_err(internal)?;
        let data_key = AeadKey::new(&dek).map_err(internal)?;
        let payload = envelope::seal(
            &data_key,
            KeyVersionId::from_uuid_bytes([0; 16]),
            &aad("data", instance_id, context),
            plaintext,
        )
        .map_err(internal)?;
        let kek = self.kek(instance_id).await?;
        let wrapped_dek = envelope::seal(
            &kek,
            instance_version_id(instance_id),
            &aad("dek", instance_id, context),
            dek.expose_secret(),
        )
        .map_err(internal)?;
        Ok(Sealed {
            payload,
            wrapped_dek,
            root_key: INSTANCE_ROOT.to_owned(),
        })
    }

    /// Opens data sealed by [`Sealer::seal`] for the same instance and context.
    pub(crate) async fn open(
        &self,
        instance_id: &str,
        context: &str,
        payload: &[u8],
        wrapped_dek: &[u8],
        root_key: &str,
    ) -> ServiceResult<Zeroizing<Vec<u8>>> {
        if root_key != INSTANCE_ROOT {
            return Err(ServiceError::Internal(
                "secret data is wrapped by an unknown root key".into(),
            ));
        }
        let kek = self.kek(instance_id).await?;
        let dek = envelope::open(&kek, &aad("dek", instance_id, context), wrapped_dek)
            .map_err(internal)?;
        let dek = AesKey256::from_slice(&dek).map_err(internal)?;
        let data_key = AeadKey::new(&dek).map_err(internal)?;
        envelope::open(&data_key, &aad("data", instance_id, context), payload).map_err(internal)
    }
}
