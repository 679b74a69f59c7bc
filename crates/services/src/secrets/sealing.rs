//! Envelope encryption of secret data: every version (and every configuration's secret fields)
//! is sealed with its own fresh data key (AES-256-GCM, 96-bit random nonce), with an AAD that
//! binds the instance and the object (secret and version ids); the data key is then wrapped by
//! the instance's root key, which is either
//! - provider-managed (`instance`): a key-encryption key derived from the instance key, itself
//!   wrapped by the master key; or
//! - customer-managed (`kms:<key-service instance>:<key id>`): a root key of the key service,
//!   used through the key service's wrap and unwrap as the secrets instance itself (a
//!   service-to-service authorization must allow it). Disabling that key makes the data
//!   unreadable until it is enabled; destroying it makes it unreadable for good.

use std::sync::Arc;

use arca_crypto::aead::AeadKey;
use arca_crypto::envelope::{self, KeyVersionId};
use arca_crypto::kdf::hkdf_sha256_key;
use arca_crypto::keys::AesKey256;
use arca_store::Store;
use zeroize::Zeroizing;

use crate::auth::Principal;
use crate::cache::CoherentMap;
use crate::instances::{Instance, InstanceService, ServiceKind};
use crate::keys::KeyService;
use crate::{ServiceError, ServiceResult};

/// The stored name of the provider-managed root key.
pub(crate) const INSTANCE_ROOT: &str = "instance";

const KEK_INFO: &[u8] = b"arca:sm:kek:v1";

/// A root key, parsed from its stored name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootKey {
    /// The instance key.
    Instance,
    /// A key-service root key.
    Kms {
        /// The key-service instance.
        instance_id: String,
        /// The key.
        key_id: String,
    },
}

impl RootKey {
    /// Parses a stored name.
    pub(crate) fn parse(s: &str) -> ServiceResult<Self> {
        if s == INSTANCE_ROOT {
            return Ok(Self::Instance);
        }
        match s.strip_prefix("kms:").and_then(|r| r.split_once(':')) {
            Some((i, k)) if !i.is_empty() && !k.is_empty() => Ok(Self::Kms {
                instance_id: i.to_owned(),
                key_id: k.to_owned(),
            }),
            _ => Err(ServiceError::Internal(
                "secret data is wrapped by an unknown root key".into(),
            )),
        }
    }

    /// The stored name.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Instance => INSTANCE_ROOT.to_owned(),
            Self::Kms {
                instance_id,
                key_id,
            } => format!("kms:{instance_id}:{key_id}"),
        }
    }
}

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
    store: Arc<dyn Store>,
    instances: InstanceService,
    keys: KeyService,
    /// Key-encryption keys by instance id, derived once from the instance key. Cleared on seal.
    keks: Arc<CoherentMap<String, Arc<AeadKey>>>,
    /// The current root key of each instance (changed through this service, on this node or
    /// another one).
    roots: Arc<CoherentMap<String, RootKey>>,
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

/// The AAD given to the key service for a data key: the same binding, as its list of strings.
fn kms_aad(instance_id: &str, context: &str) -> [String; 3] {
    [
        "arca:sm:dek:v1".to_owned(),
        instance_id.to_owned(),
        context.to_owned(),
    ]
}

fn instance_version_id(instance_id: &str) -> KeyVersionId {
    let bytes = uuid::Uuid::try_parse(instance_id)
        .map(|u| *u.as_bytes())
        .unwrap_or_default();
    KeyVersionId::from_uuid_bytes(bytes)
}

/// The secrets instance acting on its own behalf toward the key service.
pub(crate) fn service_principal(instance: &Instance) -> Principal {
    Principal::for_service_instance(
        &instance.account_id,
        ServiceKind::SecretsManager,
        &instance.id,
    )
}

/// Explains a refusal of the key service in the secrets service's terms.
fn root_key_error(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::InvalidState(_) => ServiceError::InvalidState(
            "the instance's root key is not active (disabled, expired or deleted): its secrets \
             cannot be read or written until the key is enabled or restored"
                .into(),
        ),
        ServiceError::NotFound(_) => ServiceError::InvalidState(
            "the instance's root key no longer exists: the data it protected cannot be \
             recovered"
                .into(),
        ),
        ServiceError::Forbidden(_) => ServiceError::Forbidden(
            "the secrets instance is not authorized to use its root key (create a \
             service-to-service authorization with the Reader role)",
        ),
        ServiceError::InvalidInput(_) => ServiceError::InvalidState(
            "the data key could not be unwrapped by the instance's root key".into(),
        ),
        other => other,
    }
}

impl Sealer {
    pub(crate) fn new(store: Arc<dyn Store>, instances: InstanceService, keys: KeyService) -> Self {
        Self {
            store,
            instances,
            keys,
            keks: Arc::default(),
            roots: Arc::default(),
        }
    }

    /// Drops every derived key (the server is being sealed).
    pub(crate) fn forget_keys(&self) {
        self.keks.clear();
        self.roots.clear();
    }

    /// Drops what is cached of an instance: its root key (changed on another node) and its
    /// key-encryption key (a reclaimed instance's must not stay in memory).
    pub(crate) fn forget_instance(&self, instance_id: &str) {
        self.roots.remove(instance_id);
        self.keks.remove(instance_id);
    }

    /// Records a new root key for an instance (after the store has it).
    pub(crate) fn set_root(&self, instance_id: &str, root: RootKey) {
        self.roots.insert(instance_id.to_owned(), root);
    }

    /// The instance's current root key.
    pub(crate) async fn root(&self, instance_id: &str) -> ServiceResult<RootKey> {
        if let Some(r) = self.roots.get(instance_id) {
            return Ok(r);
        }
        let generation = self.roots.generation();
        let root = match self.store.get_secrets_root(instance_id).await? {
            Some(r) => RootKey::parse(&r.root_key)?,
            None => RootKey::Instance,
        };
        self.roots
            .insert_if_current(generation, instance_id.to_owned(), root.clone());
        Ok(root)
    }

    async fn kek(&self, instance_id: &str) -> ServiceResult<Arc<AeadKey>> {
        if let Some(k) = self.keks.get(instance_id) {
            return Ok(k);
        }
        let generation = self.keks.generation();
        let ik = self.instances.instance_key(instance_id).await?;
        let derived = hkdf_sha256_key(&ik, instance_id.as_bytes(), KEK_INFO).map_err(internal)?;
        let kek = Arc::new(AeadKey::new(&derived).map_err(internal)?);
        self.keks
            .insert_if_current(generation, instance_id.to_owned(), kek.clone());
        Ok(kek)
    }

    /// Wraps a data key with `root`.
    pub(crate) async fn wrap_dek(
        &self,
        instance_id: &str,
        context: &str,
        root: &RootKey,
        dek: &AesKey256,
    ) -> ServiceResult<Vec<u8>> {
        match root {
            RootKey::Instance => {
                let kek = self.kek(instance_id).await?;
                envelope::seal(
                    &kek,
                    instance_version_id(instance_id),
                    &aad("dek", instance_id, context),
                    dek.expose_secret(),
                )
                .map_err(internal)
            }
            RootKey::Kms {
                instance_id: kms,
                key_id,
            } => {
                let instance = self.instances.lookup(instance_id).await?;
                let wrapped = self
                    .keys
                    .wrap(
                        &service_principal(&instance),
                        kms,
                        key_id,
                        Some(Zeroizing::new(dek.expose_secret().to_vec())),
                        &kms_aad(instance_id, context),
                    )
                    .await
                    .map_err(root_key_error)?;
                Ok(wrapped.ciphertext)
            }
        }
    }

    /// Unwraps a data key wrapped by the root key named `root_key`.
    pub(crate) async fn unwrap_dek(
        &self,
        instance_id: &str,
        context: &str,
        root_key: &str,
        wrapped: &[u8],
    ) -> ServiceResult<AesKey256> {
        let bytes = match RootKey::parse(root_key)? {
            RootKey::Instance => {
                let kek = self.kek(instance_id).await?;
                envelope::open(&kek, &aad("dek", instance_id, context), wrapped)
                    .map_err(internal)?
            }
            RootKey::Kms {
                instance_id: kms,
                key_id,
            } => {
                let instance = self.instances.lookup(instance_id).await?;
                self.keys
                    .unwrap(
                        &service_principal(&instance),
                        &kms,
                        &key_id,
                        wrapped,
                        &kms_aad(instance_id, context),
                    )
                    .await
                    .map_err(root_key_error)?
                    .plaintext
            }
        };
        AesKey256::from_slice(&bytes).map_err(internal)
    }

    /// Rewraps a data key wrapped by a customer root key with that key's latest version.
    pub(crate) async fn rewrap_dek(
        &self,
        instance_id: &str,
        context: &str,
        root: &RootKey,
        wrapped: &[u8],
    ) -> ServiceResult<Vec<u8>> {
        match root {
            RootKey::Instance => Ok(wrapped.to_vec()),
            RootKey::Kms {
                instance_id: kms,
                key_id,
            } => {
                let instance = self.instances.lookup(instance_id).await?;
                Ok(self
                    .keys
                    .rewrap(
                        &service_principal(&instance),
                        kms,
                        key_id,
                        wrapped,
                        &kms_aad(instance_id, context),
                    )
                    .await
                    .map_err(root_key_error)?
                    .ciphertext)
            }
        }
    }

    /// Seals `plaintext` for the object named by `context` (e.g. `secret/<id>/<version>`) under
    /// the instance's current root key.
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
        let root = self.root(instance_id).await?;
        let wrapped_dek = self.wrap_dek(instance_id, context, &root, &dek).await?;
        Ok(Sealed {
            payload,
            wrapped_dek,
            root_key: root.name(),
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
        let dek = self
            .unwrap_dek(instance_id, context, root_key, wrapped_dek)
            .await?;
        let data_key = AeadKey::new(&dek).map_err(internal)?;
        envelope::open(&data_key, &aad("data", instance_id, context), payload).map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names_round_trip() {
        for r in [
            RootKey::Instance,
            RootKey::Kms {
                instance_id: "i".into(),
                key_id: "k".into(),
            },
        ] {
            assert_eq!(RootKey::parse(&r.name()).unwrap(), r);
        }
        for bad in ["", "kms:", "kms:i", "kms::k", "other"] {
            assert!(RootKey::parse(bad).is_err(), "{bad}");
        }
    }
}
