//! The Key Protect resources beside keys and their actions: key rings, aliases, key and
//! instance policies, import tokens and secure import, registrations, and the KMIP management
//! plane (adapters and client certificates).

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{
    B64, Collection, CreateItem, DualAuthDelete, KEY_MEDIA, Key, KeyVersion, KpClient, NewKey,
    ProofFields, RequestEnvelope, RequestMetadata, RotateBody, RotationPolicy,
};
use crate::ClientError;
use base64::Engine as _;

/// Media type of policies (key and instance).
pub const POLICY_MEDIA: &str = "application/vnd.ibm.kms.policy+json";
/// Media type of KMIP adapters.
pub const KMIP_ADAPTER_MEDIA: &str = "application/vnd.ibm.kms.kmip_adapter+json";
/// Media type of KMIP client certificates.
pub const KMIP_CERTIFICATE_MEDIA: &str = "application/vnd.ibm.kms.kmip_client_certificate+json";
/// The only KMIP adapter profile.
pub const KMIP_PROFILE_NATIVE: &str = "native_1.0";
/// The secure-import algorithm the client uses (RSA-OAEP with SHA-256, empty label).
pub const SECURE_IMPORT_ALGORITHM: &str = "RSAES_OAEP_SHA_256";

/// A key ring: `{id, creationDate, createdBy}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRing {
    /// Ring id (`default` always exists).
    pub id: String,
    /// When it was made (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
}

/// A key alias: `{keyId, alias, createdBy, creationDate}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAlias {
    /// The key it names.
    pub key_id: String,
    /// The alias.
    pub alias: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// When it was made (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
}

/// A key's policies (`GET`/`PUT /keys/{id}/policies`); without `policy=`, both are present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPolicies {
    /// The key id.
    #[serde(default)]
    pub id: String,
    /// The policy CRN.
    #[serde(default)]
    pub crn: String,
    /// Rotation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationPolicy>,
    /// Dual-authorization delete policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_auth_delete: Option<DualAuthDelete>,
    /// Creation (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub last_update_date: String,
    /// Who changed it last.
    #[serde(default)]
    pub updated_by: String,
}

/// `policy_data` of an instance policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstancePolicyData {
    /// Whether the policy is on.
    pub enabled: bool,
    /// Its attributes (only when enabled; `dualAuthDelete` and `metrics` have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

/// An instance policy as `GET /instance/policies` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancePolicy {
    /// `allowedNetwork`, `dualAuthDelete`, `allowedIP`, `keyCreateImportAccess`, `metrics` or
    /// `rotation`.
    #[serde(rename = "policy_type")]
    pub policy_type: String,
    /// Whether it is on and its attributes.
    #[serde(rename = "policy_data")]
    pub policy_data: InstancePolicyData,
    /// Creation (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// Who changed it last.
    #[serde(default)]
    pub updated_by: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub last_updated: String,
}

/// One instance policy to set (`PUT /instance/policies`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstancePolicyInput {
    /// The policy type.
    pub policy_type: String,
    /// Whether it is on and its attributes.
    pub policy_data: InstancePolicyData,
}

impl InstancePolicyInput {
    /// A policy turned off (no attributes).
    pub fn disabled(policy_type: &str) -> Self {
        Self {
            policy_type: policy_type.to_owned(),
            policy_data: InstancePolicyData {
                enabled: false,
                attributes: None,
            },
        }
    }

    /// A policy turned on with `attributes` (`None` for `dualAuthDelete` and `metrics`).
    pub fn enabled(policy_type: &str, attributes: Option<Map<String, Value>>) -> Self {
        Self {
            policy_type: policy_type.to_owned(),
            policy_data: InstancePolicyData {
                enabled: true,
                attributes,
            },
        }
    }

    /// `allowedNetwork`: `public-and-private` or `private-only`.
    pub fn allowed_network(network: &str) -> Self {
        Self::enabled(
            "allowedNetwork",
            Some(Map::from_iter([(
                "allowed_network".to_owned(),
                Value::from(network),
            )])),
        )
    }

    /// `allowedIP`: IPv4/IPv6 CIDRs.
    pub fn allowed_ip(cidrs: &[String]) -> Self {
        Self::enabled(
            "allowedIP",
            Some(Map::from_iter([(
                "allowed_ip".to_owned(),
                Value::from(cidrs.to_vec()),
            )])),
        )
    }

    /// `rotation`: every `months` months (1 to 12).
    pub fn rotation(months: i64) -> Self {
        Self::enabled(
            "rotation",
            Some(Map::from_iter([(
                "interval_month".to_owned(),
                Value::from(months),
            )])),
        )
    }

    /// `keyCreateImportAccess` with its five attributes.
    pub fn key_create_import_access(access: &KeyCreateImportAccess) -> Self {
        let attrs = [
            ("create_root_key", access.create_root_key),
            ("create_standard_key", access.create_standard_key),
            ("import_root_key", access.import_root_key),
            ("import_standard_key", access.import_standard_key),
            ("enforce_token", access.enforce_token),
        ];
        Self::enabled(
            "keyCreateImportAccess",
            Some(
                attrs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Value::from(v)))
                    .collect(),
            ),
        )
    }
}

/// The attributes of `keyCreateImportAccess` (all allowed, no token enforced by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCreateImportAccess {
    /// Generated root keys allowed.
    pub create_root_key: bool,
    /// Generated standard keys allowed.
    pub create_standard_key: bool,
    /// Imported root keys allowed.
    pub import_root_key: bool,
    /// Imported standard keys allowed.
    pub import_standard_key: bool,
    /// Root keys may be imported only through an import token.
    pub enforce_token: bool,
}

impl Default for KeyCreateImportAccess {
    fn default() -> Self {
        Self {
            create_root_key: true,
            create_standard_key: true,
            import_root_key: true,
            import_standard_key: true,
            enforce_token: false,
        }
    }
}

/// An import token (`POST /import_token`; `GET` adds the public key and nonce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportToken {
    /// Token id.
    #[serde(default)]
    pub id: String,
    /// Creation (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Expiry (RFC 3339).
    #[serde(default)]
    pub expiration_date: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expiration: i64,
    /// How many retrievals were allowed.
    #[serde(default)]
    pub max_allowed_retrievals: i64,
    /// Retrievals left.
    #[serde(default)]
    pub remaining_retrievals: i64,
}

/// A retrieved import token: its public key (PEM) and nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetrievedImportToken {
    /// The token's metadata.
    #[serde(flatten)]
    pub token: ImportToken,
    /// The PEM of the RSA public key (SubjectPublicKeyInfo) to encrypt material to.
    pub public_key_pem: String,
    /// The nonce to prove (base64 in JSON).
    #[serde(serialize_with = "ser_b64")]
    pub nonce: Vec<u8>,
}

fn ser_b64<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

#[derive(Deserialize)]
struct RetrievedWire {
    #[serde(flatten)]
    token: ImportToken,
    payload: String,
    nonce: String,
}

impl RetrievedImportToken {
    /// The public key as SubjectPublicKeyInfo DER (from the PEM).
    pub fn public_key_der(&self) -> Result<Vec<u8>, ClientError> {
        let text = self.public_key_pem.trim();
        if !text.starts_with("-----BEGIN PUBLIC KEY-----") {
            return Err(ClientError::Config(
                "the import token's key is not a PEM PUBLIC KEY".into(),
            ));
        }
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        B64.decode(body)
            .map_err(|e| ClientError::Config(format!("invalid public key PEM: {e}")))
    }
}

/// What a secure import sends: the material RSA-OAEP-encrypted to the token's public key, and
/// the token's nonce AES-GCM-encrypted with the material itself under a random IV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureImport {
    /// RSA-OAEP(SHA-256) of the material.
    pub payload: Vec<u8>,
    /// AES-GCM(material, iv, nonce): ciphertext then tag.
    pub encrypted_nonce: Vec<u8>,
    /// The 12-byte GCM IV.
    pub iv: Vec<u8>,
    /// `RSAES_OAEP_SHA_256`.
    pub algorithm: &'static str,
}

impl SecureImport {
    /// Builds the payload and proof for `material` (16, 24 or 32 bytes) and a retrieved token.
    pub fn new(token: &RetrievedImportToken, material: &[u8]) -> Result<Self, ClientError> {
        use arca_crypto::aead::AeadKey;
        use arca_crypto::oaep::{OaepHash, encrypt_to_public_key};
        let crypto = |what: &str, e: arca_crypto::error::CryptoError| {
            ClientError::Config(format!("secure import: {what}: {e}"))
        };
        let gcm = AeadKey::from_bytes_any_size(material)
            .map_err(|e| crypto("the material must be 16, 24 or 32 bytes", e))?;
        let (iv, encrypted_nonce) = gcm
            .seal_random_nonce(&[], &token.nonce)
            .map_err(|e| crypto("encrypting the nonce", e))?;
        let payload = encrypt_to_public_key(&token.public_key_der()?, OaepHash::Sha256, material)
            .map_err(|e| crypto("encrypting the material", e))?;
        Ok(Self {
            payload,
            encrypted_nonce,
            iv: iv.to_vec(),
            algorithm: SECURE_IMPORT_ALGORITHM,
        })
    }

    fn proof(&self) -> ProofFields {
        ProofFields {
            encrypted_nonce: B64.encode(&self.encrypted_nonce),
            iv: B64.encode(&self.iv),
            encryption_algorithm: self.algorithm,
        }
    }
}

/// A registration of a cloud resource with a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The key.
    #[serde(default)]
    pub key_id: String,
    /// The key's name.
    #[serde(default)]
    pub key_name: String,
    /// The registered resource.
    #[serde(default)]
    pub resource_crn: String,
    /// Who registered it.
    #[serde(default)]
    pub created_by: String,
    /// When (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Who changed it last.
    #[serde(default)]
    pub updated_by: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub last_updated: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it blocks deleting the key.
    #[serde(default)]
    pub prevent_key_deletion: bool,
    /// The key version in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<KeyVersion>,
}

/// A page of registrations.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registrations {
    /// The registrations.
    pub registrations: Vec<Registration>,
    /// All matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
}

/// `profile_data` of a KMIP adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmipProfileData {
    /// The root key (same instance) the adapter's objects are protected by.
    pub crk_id: String,
}

/// A KMIP adapter (snake_case on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmipAdapter {
    /// Adapter id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `native_1.0`.
    pub profile: String,
    /// The root key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_data: Option<KmipProfileData>,
    /// Creation (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// Who made it.
    #[serde(default)]
    pub created_by: String,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
    /// Who changed it last.
    #[serde(default)]
    pub updated_by: String,
}

/// A new KMIP adapter (`native_1.0` profile).
#[derive(Debug, Clone, Default)]
pub struct NewKmipAdapter {
    /// Name (generated when `None`).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The root key.
    pub crk_id: String,
    /// Allows a root key with an expiration date.
    pub allow_expiring_key: bool,
}

/// A KMIP client certificate (the PEM only in single-certificate answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmipCertificate {
    /// Certificate id.
    pub id: String,
    /// Name.
    pub name: String,
    /// When it was added (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// Who added it.
    #[serde(default)]
    pub created_by: String,
    /// The PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyPolicyItem {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<RotationPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dual_auth_delete: Option<EnabledOnly>,
}

#[derive(Serialize)]
struct EnabledOnly {
    enabled: bool,
}

#[derive(Serialize)]
struct AdapterItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    profile: &'static str,
    profile_data: KmipProfileData,
}

#[derive(Serialize)]
struct CertificateItem<'a> {
    certificate: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportTokenRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_allowed_retrievals: Option<i64>,
}

fn envelope<T>(collection_type: &'static str, items: Vec<T>) -> RequestEnvelope<T> {
    RequestEnvelope {
        metadata: RequestMetadata {
            collection_type,
            collection_total: items.len(),
        },
        resources: items,
    }
}

fn first<T>(status: u16, c: Collection<T>, what: &str) -> Result<T, ClientError> {
    c.resources
        .into_iter()
        .next()
        .ok_or_else(|| ClientError::Unexpected {
            status,
            detail: format!("no {what} in the answer"),
        })
}

impl KpClient {
    /// `GET` of a collection at `segments` with `query`.
    async fn get_collection<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(u16, Collection<T>), ClientError> {
        let req = self
            .request(Method::GET, self.url(segments)?)
            .await?
            .query(query);
        let (status, _, bytes) = self.exchange(req).await?;
        Ok((status, Self::parse(status, &bytes)?))
    }

    /// A request without a body at `segments` (`?query`), answered without content.
    async fn no_content(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(), ClientError> {
        let req = self
            .request(method, self.url(segments)?)
            .await?
            .query(query);
        self.exchange(req).await?;
        Ok(())
    }

    /// A JSON request at `segments` with `?query`.
    async fn send_json(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: &impl Serialize,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ClientError::Config(e.to_string()))?,
        );
        let req = self
            .request(method, self.url(segments)?)
            .await?
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.to_vec());
        let (status, _, bytes) = self.exchange(req).await?;
        Ok((status, bytes))
    }

    // --- key rings ---

    /// `GET /api/v2/key_rings` (all of them, `default` included).
    pub async fn list_key_rings(&self) -> Result<Vec<KeyRing>, ClientError> {
        let (_, c) = self
            .get_collection::<KeyRing>(&["key_rings"], &[("limit", "5000".into())])
            .await?;
        Ok(c.resources)
    }

    /// `POST /api/v2/key_rings/{id}`.
    pub async fn create_key_ring(&self, id: &str) -> Result<KeyRing, ClientError> {
        let req = self
            .request(Method::POST, self.url(&["key_rings", id])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(KeyRing {
                id: id.to_owned(),
                creation_date: String::new(),
                created_by: String::new(),
            });
        }
        first(status, Self::parse(status, &bytes)?, "key ring")
    }

    /// `DELETE /api/v2/key_rings/{id}` (`force`: also when it holds destroyed keys).
    pub async fn delete_key_ring(&self, id: &str, force: bool) -> Result<(), ClientError> {
        let query = if force {
            vec![("force", "true".to_owned())]
        } else {
            Vec::new()
        };
        self.no_content(Method::DELETE, &["key_rings", id], &query)
            .await
    }

    /// `PATCH /api/v2/keys/{id}` with `{"keyRingID": ring}`: moves the key to another ring.
    pub async fn move_key(&self, id: &str, ring: &str) -> Result<Key, ClientError> {
        let body = serde_json::json!({ "keyRingID": ring });
        let (status, bytes) = self
            .send_json(Method::PATCH, &["keys", id], &[], &body)
            .await?;
        Self::one_key(status, &bytes)
    }

    // --- aliases ---

    /// `POST /api/v2/keys/{id}/aliases/{alias}`.
    pub async fn create_alias(&self, id: &str, alias: &str) -> Result<KeyAlias, ClientError> {
        let req = self
            .request(Method::POST, self.url(&["keys", id, "aliases", alias])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        first(status, Self::parse(status, &bytes)?, "alias")
    }

    /// `DELETE /api/v2/keys/{id}/aliases/{alias}` (the key stays).
    pub async fn delete_alias(&self, id: &str, alias: &str) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["keys", id, "aliases", alias], &[])
            .await
    }

    // --- key policies ---

    /// `GET /api/v2/keys/{id}/policies`: rotation and dual-authorization delete.
    pub async fn get_key_policies(&self, id: &str) -> Result<KeyPolicies, ClientError> {
        let (status, c) = self.get_collection(&["keys", id, "policies"], &[]).await?;
        first(status, c, "policy")
    }

    /// `PUT /api/v2/keys/{id}/policies`: sets the rotation policy, the dual-authorization
    /// delete policy (cannot be turned off once on), or both; returns them as set.
    pub async fn set_key_policies(
        &self,
        id: &str,
        rotation: Option<RotationPolicy>,
        dual_auth_delete: Option<bool>,
    ) -> Result<KeyPolicies, ClientError> {
        let query = match (rotation.is_some(), dual_auth_delete.is_some()) {
            (true, false) => vec![("policy", "rotation".to_owned())],
            (false, true) => vec![("policy", "dualAuthDelete".to_owned())],
            (true, true) => Vec::new(),
            (false, false) => {
                return Err(ClientError::Config(
                    "no policy to set: give rotation and/or dualAuthDelete".into(),
                ));
            }
        };
        let body = envelope(
            POLICY_MEDIA,
            vec![KeyPolicyItem {
                kind: POLICY_MEDIA,
                rotation,
                dual_auth_delete: dual_auth_delete.map(|enabled| EnabledOnly { enabled }),
            }],
        );
        let (status, bytes) = self
            .send_json(Method::PUT, &["keys", id, "policies"], &query, &body)
            .await?;
        let c: Collection<KeyPolicies> = Self::parse(status, &bytes)?;
        // A single-policy answer holds one item with that policy only; merge whatever came.
        let mut items = c.resources.into_iter();
        let mut merged = items.next().ok_or_else(|| ClientError::Unexpected {
            status,
            detail: "no policy in the answer".into(),
        })?;
        for more in items {
            merged.rotation = merged.rotation.or(more.rotation);
            merged.dual_auth_delete = merged.dual_auth_delete.or(more.dual_auth_delete);
        }
        Ok(merged)
    }

    // --- instance policies ---

    /// `GET /api/v2/instance/policies` (`policy`: only that type).
    pub async fn get_instance_policies(
        &self,
        policy: Option<&str>,
    ) -> Result<Vec<InstancePolicy>, ClientError> {
        let query: Vec<(&str, String)> = policy
            .map(|p| ("policy", p.to_owned()))
            .into_iter()
            .collect();
        let (_, c) = self
            .get_collection(&["instance", "policies"], &query)
            .await?;
        Ok(c.resources)
    }

    /// `PUT /api/v2/instance/policies`: one policy (`?policy=` its type) or several at once.
    pub async fn set_instance_policies(
        &self,
        policies: &[InstancePolicyInput],
    ) -> Result<(), ClientError> {
        let query = match policies {
            [] => return Err(ClientError::Config("no instance policy to set".into())),
            [one] => vec![("policy", one.policy_type.clone())],
            _ => Vec::new(),
        };
        let body = envelope(POLICY_MEDIA, policies.iter().collect());
        self.send_json(Method::PUT, &["instance", "policies"], &query, &body)
            .await?;
        Ok(())
    }

    // --- import tokens and secure import ---

    /// `POST /api/v2/import_token`: a new token (the instance's only one). `expiration` in
    /// seconds (300 to 86400, default 600).
    pub async fn create_import_token(
        &self,
        expiration: Option<i64>,
        max_allowed_retrievals: Option<i64>,
    ) -> Result<ImportToken, ClientError> {
        let body = ImportTokenRequest {
            expiration,
            max_allowed_retrievals,
        };
        let (status, bytes) = self
            .send_json(Method::POST, &["import_token"], &[], &body)
            .await?;
        Self::parse(status, &bytes)
    }

    /// `GET /api/v2/import_token`: the public key and nonce (uses up one retrieval).
    pub async fn get_import_token(&self) -> Result<RetrievedImportToken, ClientError> {
        let req = self
            .request(Method::GET, self.url(&["import_token"])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        let wire: RetrievedWire = Self::parse(status, &bytes)?;
        let bad = |what: &str| ClientError::Unexpected {
            status,
            detail: format!("import token: invalid {what}"),
        };
        let pem = B64
            .decode(wire.payload.trim())
            .map_err(|_| bad("payload"))?;
        Ok(RetrievedImportToken {
            token: wire.token,
            public_key_pem: String::from_utf8(pem).map_err(|_| bad("payload"))?,
            nonce: B64.decode(wire.nonce.trim()).map_err(|_| bad("nonce"))?,
        })
    }

    /// Creates a root key from `material` through the import token `token` (see
    /// [`SecureImport`]); `new` gives the name and other settings (its payload is ignored).
    pub async fn create_key_secure(
        &self,
        new: &NewKey,
        token: &RetrievedImportToken,
        material: &[u8],
    ) -> Result<Key, ClientError> {
        let import = SecureImport::new(token, material)?;
        let body = envelope(
            KEY_MEDIA,
            vec![CreateItem {
                kind: KEY_MEDIA,
                name: &new.name,
                extractable: false,
                description: new.description.as_deref(),
                payload: Some(&import.payload),
                expiration_date: new.expiration_date.as_deref(),
                tags: &new.tags,
                rotation: new.rotation,
                proof: Some(import.proof()),
            }],
        );
        let path = if new.rotation.is_some() {
            "keys_with_policy_overrides"
        } else {
            "keys"
        };
        let (status, _, bytes) = self
            .json_body(Method::POST, &[path], KEY_MEDIA, &body)
            .await?;
        Self::one_key(status, &bytes)
    }

    /// Rotates an imported root key to new `material` through the import token `token`.
    pub async fn rotate_secure(
        &self,
        id: &str,
        token: &RetrievedImportToken,
        material: &[u8],
    ) -> Result<(), ClientError> {
        let import = SecureImport::new(token, material)?;
        let body = RotateBody {
            payload: Some(&import.payload),
            proof: Some(import.proof()),
        };
        self.json_body(
            Method::POST,
            &["keys", id, "actions", "rotate"],
            "application/vnd.ibm.kms.key_action_rotate+json",
            &body,
        )
        .await?;
        Ok(())
    }

    // --- registrations ---

    /// `GET /api/v2/keys/{id}/registrations`, or of all keys (`GET /api/v2/keys/registrations`)
    /// when `key_id` is `None`.
    pub async fn list_registrations(
        &self,
        key_id: Option<&str>,
    ) -> Result<Registrations, ClientError> {
        let segments: Vec<&str> = match key_id {
            Some(id) => vec!["keys", id, "registrations"],
            None => vec!["keys", "registrations"],
        };
        let (_, c) = self
            .get_collection::<Registration>(&segments, &[("totalCount", "true".into())])
            .await?;
        Ok(Registrations {
            registrations: c.resources,
            total_count: c.metadata.total_count,
        })
    }

    // --- KMIP ---

    /// `POST /api/v2/kmip_adapters` (profile `native_1.0`).
    pub async fn create_kmip_adapter(
        &self,
        new: &NewKmipAdapter,
    ) -> Result<KmipAdapter, ClientError> {
        let query = if new.allow_expiring_key {
            vec![("allowExpiringKey", "true".to_owned())]
        } else {
            Vec::new()
        };
        let body = envelope(
            KMIP_ADAPTER_MEDIA,
            vec![AdapterItem {
                name: new.name.as_deref(),
                description: new.description.as_deref(),
                profile: KMIP_PROFILE_NATIVE,
                profile_data: KmipProfileData {
                    crk_id: new.crk_id.clone(),
                },
            }],
        );
        let (status, bytes) = self
            .send_json(Method::POST, &["kmip_adapters"], &query, &body)
            .await?;
        first(status, Self::parse(status, &bytes)?, "KMIP adapter")
    }

    /// `GET /api/v2/kmip_adapters` (`crk_id`: only those of that root key).
    pub async fn list_kmip_adapters(
        &self,
        crk_id: Option<&str>,
    ) -> Result<Vec<KmipAdapter>, ClientError> {
        let mut query = vec![("limit", "200".to_owned())];
        if let Some(crk) = crk_id {
            query.push(("crk_id", crk.to_owned()));
        }
        let (_, c) = self.get_collection(&["kmip_adapters"], &query).await?;
        Ok(c.resources)
    }

    /// `GET /api/v2/kmip_adapters/{id}` (id or name).
    pub async fn get_kmip_adapter(&self, id: &str) -> Result<KmipAdapter, ClientError> {
        let (status, c) = self.get_collection(&["kmip_adapters", id], &[]).await?;
        first(status, c, "KMIP adapter")
    }

    /// `DELETE /api/v2/kmip_adapters/{id}` (and its certificates).
    pub async fn delete_kmip_adapter(&self, id: &str) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["kmip_adapters", id], &[])
            .await
    }

    /// `POST /api/v2/kmip_adapters/{adapter}/certificates`: adds a PEM client certificate.
    pub async fn add_kmip_certificate(
        &self,
        adapter: &str,
        certificate_pem: &str,
        name: Option<&str>,
    ) -> Result<KmipCertificate, ClientError> {
        let body = envelope(
            KMIP_CERTIFICATE_MEDIA,
            vec![CertificateItem {
                certificate: certificate_pem,
                name,
            }],
        );
        let (status, bytes) = self
            .send_json(
                Method::POST,
                &["kmip_adapters", adapter, "certificates"],
                &[],
                &body,
            )
            .await?;
        first(status, Self::parse(status, &bytes)?, "certificate")
    }

    /// `GET /api/v2/kmip_adapters/{adapter}/certificates` (without the PEMs).
    pub async fn list_kmip_certificates(
        &self,
        adapter: &str,
    ) -> Result<Vec<KmipCertificate>, ClientError> {
        let (_, c) = self
            .get_collection(
                &["kmip_adapters", adapter, "certificates"],
                &[("limit", "200".into())],
            )
            .await?;
        Ok(c.resources)
    }

    /// `GET /api/v2/kmip_adapters/{adapter}/certificates/{id}` (id or name), with the PEM.
    pub async fn get_kmip_certificate(
        &self,
        adapter: &str,
        id: &str,
    ) -> Result<KmipCertificate, ClientError> {
        let (status, c) = self
            .get_collection(&["kmip_adapters", adapter, "certificates", id], &[])
            .await?;
        first(status, c, "certificate")
    }

    /// `DELETE /api/v2/kmip_adapters/{adapter}/certificates/{id}`.
    pub async fn delete_kmip_certificate(
        &self,
        adapter: &str,
        id: &str,
    ) -> Result<(), ClientError> {
        self.no_content(
            Method::DELETE,
            &["kmip_adapters", adapter, "certificates", id],
            &[],
        )
        .await
    }
}
