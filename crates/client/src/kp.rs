//! The Key Protect v2 API (`/api/v2/...`) and the IAM token endpoint, as IBM's SDKs use them:
//! an API key is traded for an access token (`POST /identity/token`), which is cached and sent as
//! `Authorization: Bearer`; every call names its instance in `Bluemix-Instance`.
//!
//! Binary fields (key material, data keys, ciphertexts) are base64 on the wire and bytes here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Client, ClientError, RawResponse};

mod resources;
pub use resources::*;

/// The grant type of an API-key token request.
pub const GRANT_APIKEY: &str = "urn:ibm:params:oauth:grant-type:apikey";
/// Media type of keys (and of create requests).
pub const KEY_MEDIA: &str = "application/vnd.ibm.kms.key+json";
/// Media type of error bodies.
pub const ERROR_MEDIA: &str = "application/vnd.ibm.kms.error+json";
/// A cached token is renewed when it has less than this left.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Standard, padded base64 (Key Protect's encoding of binary fields).
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes standard base64 (surrounding whitespace ignored).
pub fn b64_decode(text: &str) -> Result<Vec<u8>, ClientError> {
    B64.decode(text.trim())
        .map_err(|e| ClientError::Config(format!("invalid base64: {e}")))
}

/// Base64 (standard, padded) for optional byte fields.
mod b64_opt {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Zeroizing<Vec<u8>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&B64.encode(bytes.as_slice())),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            B64.decode(t.trim())
                .map(Zeroizing::new)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// Serializes optional secret bytes as base64, zeroizing the encoded text afterwards.
fn ser_secret<S: serde::Serializer>(value: &Option<&[u8]>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(bytes) => {
            let text = Zeroizing::new(B64.encode(bytes));
            s.serialize_some(text.as_str())
        }
        None => s.serialize_none(),
    }
}

/// Base64 for required byte fields (not secret: ciphertexts).
mod b64_req {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text.trim()).map_err(serde::de::Error::custom)
    }
}

/// Base64 for optional ciphertexts.
mod b64_opt_plain {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&B64.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| B64.decode(t.trim()).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What `POST /identity/token` answers.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (a JWT), sent as `Authorization: Bearer`.
    pub access_token: String,
    /// Not supported by Arca (refresh is by API key).
    #[serde(default)]
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Expiry, Unix seconds.
    pub expiration: i64,
    /// Scopes.
    #[serde(default)]
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// IAM's error body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamErrorBody {
    error_code: String,
    error_message: String,
}

/// Key Protect's error envelope (only what the client reads).
#[derive(Debug, Deserialize)]
struct KpErrorBody {
    metadata: KpErrorMetadata,
    resources: Vec<KpErrorResource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KpErrorMetadata {
    collection_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KpErrorResource {
    error_msg: String,
    #[serde(default)]
    reasons: Vec<KpErrorReason>,
}

#[derive(Debug, Deserialize)]
struct KpErrorReason {
    code: String,
    message: String,
}

/// Turns an error answer into a [`ClientError`]: Key Protect's envelope, IAM's body or Arca's
/// own, in that order.
fn error_of(status: u16, bytes: &[u8]) -> ClientError {
    if let Ok(kp) = serde_json::from_slice::<KpErrorBody>(bytes)
        && kp.metadata.collection_type == ERROR_MEDIA
        && let Some(first) = kp.resources.first()
    {
        let (code, message) = match first.reasons.first() {
            Some(r) => (r.code.clone(), r.message.clone()),
            None => (String::new(), first.error_msg.clone()),
        };
        return ClientError::Kp {
            status,
            code,
            message,
        };
    }
    if let Ok(iam) = serde_json::from_slice::<IamErrorBody>(bytes) {
        return ClientError::Kp {
            status,
            code: iam.error_code,
            message: iam.error_message,
        };
    }
    match serde_json::from_slice::<arca_proto::ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status, body },
        // HEAD answers carry no body: the status is all there is.
        Err(_) if bytes.is_empty() => ClientError::Unexpected {
            status,
            detail: reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_owned(),
        },
        Err(_) => ClientError::Unexpected {
            status,
            detail: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        },
    }
}

/// The collection envelope: `{metadata, resources}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection<T> {
    /// Type and counts.
    pub metadata: CollectionMetadata,
    /// The items.
    pub resources: Vec<T>,
}

/// The envelope's `metadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionMetadata {
    /// Media type of the items.
    pub collection_type: String,
    /// Number of items in `resources`.
    pub collection_total: i64,
    /// All matches, when asked for (`totalCount=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
}

/// A key version: `{id, creationDate?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVersion {
    /// Version id (UUID).
    pub id: String,
    /// When it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
}

/// A rotation policy (snake_case inside, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// Interval in months (1 to 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_month: Option<i64>,
}

/// The dual-authorization delete policy of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DualAuthDelete {
    /// Whether two authorizations are needed to delete.
    pub enabled: bool,
    /// Whether one authorization was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_set_for_deletion: Option<bool>,
    /// When that authorization expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_expiration: Option<String>,
}

/// A key (`KeyWithPayload`; `payload` only for standard keys, where the API returns it).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    /// `application/vnd.ibm.kms.key+json`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Key id (UUID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Aliases.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// NIST state: 0 pre-active, 1 active, 2 suspended, 3 deactivated, 5 destroyed.
    pub state: i64,
    /// Expiration date (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    /// `false` for root keys, `true` for standard keys.
    pub extractable: bool,
    /// The key's CRN.
    #[serde(default)]
    pub crn: String,
    /// Whether the material was imported.
    #[serde(default)]
    pub imported: bool,
    /// Key ring.
    #[serde(rename = "keyRingID", default)]
    pub key_ring_id: String,
    /// Creation date (RFC 3339).
    #[serde(default)]
    pub creation_date: String,
    /// Who created it.
    #[serde(default)]
    pub created_by: String,
    /// Last change (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_date: Option<String>,
    /// Last rotation (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotate_date: Option<String>,
    /// The current version.
    pub key_version: KeyVersion,
    /// Dual-authorization delete policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_auth_delete: Option<DualAuthDelete>,
    /// Rotation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationPolicy>,
    /// Whether the key is deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Deletion date (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<String>,
    /// Who deleted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    /// End of the restore window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_expiration_date: Option<String>,
    /// Whether a restore is possible now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_allowed: Option<bool>,
    /// Whether a purge is possible now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_allowed: Option<bool>,
    /// From when a purge is possible (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_allowed_from: Option<String>,
    /// When the key is purged automatically (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_scheduled_on: Option<String>,
    /// A standard key's material (base64 on the wire).
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub payload: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state)
            .field("extractable", &self.extractable)
            .field("imported", &self.imported)
            .field("key_version", &self.key_version)
            .field("deleted", &self.deleted)
            .field("payload", &self.payload.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Key {
    /// The same key without its material (for printing metadata).
    pub fn without_payload(&self) -> Self {
        Self {
            payload: None,
            ..self.clone()
        }
    }
}

/// What a new key is made of (builder).
#[derive(Clone, Default)]
pub struct NewKey {
    /// Name (2 to 90 characters).
    pub name: String,
    /// Standard (`true`) or root (`false`).
    pub extractable: bool,
    /// Description.
    pub description: Option<String>,
    /// Material to import in clear; generated when `None`.
    pub payload: Option<Zeroizing<Vec<u8>>>,
    /// Expiration date, RFC 3339.
    pub expiration_date: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Rotation policy: when set, the key is created through `keys_with_policy_overrides`.
    pub rotation: Option<RotationPolicy>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("name", &self.name)
            .field("extractable", &self.extractable)
            .field("imported", &self.payload.is_some())
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// A root key (never leaves the service; wraps data keys).
    pub fn root(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// A standard key (its material is returned by `GET`).
    pub fn standard(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            extractable: true,
            ..Self::default()
        }
    }

    /// Imports `material` instead of generating it.
    pub fn import(mut self, material: &[u8]) -> Self {
        self.payload = Some(Zeroizing::new(material.to_vec()));
        self
    }

    /// Sets the expiration date (RFC 3339).
    pub fn expires(mut self, date: &str) -> Self {
        self.expiration_date = Some(date.to_owned());
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    extractable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_secret")]
    payload: Option<&'a [u8]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_date: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<RotationPolicy>,
    #[serde(flatten)]
    proof: Option<ProofFields>,
}

/// The proof fields of a secure import (`encryptedNonce`, `iv`, `encryptionAlgorithm`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProofFields {
    encrypted_nonce: String,
    iv: String,
    encryption_algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestMetadata {
    collection_type: &'static str,
    collection_total: usize,
}

#[derive(Serialize)]
struct RequestEnvelope<T> {
    metadata: RequestMetadata,
    resources: Vec<T>,
}

/// Filters and page of `GET`/`HEAD /api/v2/keys`.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// States to include. `Some(vec![])` sends an empty `state=` (as IBM's SDK does: no
    /// filter); `None` omits the parameter.
    pub state: Option<Vec<i64>>,
    /// Only standard (`true`) or only root (`false`) keys.
    pub extractable: Option<bool>,
    /// Page size.
    pub limit: Option<i64>,
    /// Page start.
    pub offset: Option<i64>,
}

impl KeyFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(states) = &self.state {
            let list: Vec<String> = states.iter().map(i64::to_string).collect();
            q.push(("state", list.join(",")));
        }
        if let Some(e) = self.extractable {
            q.push(("extractable", e.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        q
    }
}

/// A page of key versions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVersions {
    /// The versions, newest first.
    pub versions: Vec<KeyVersion>,
    /// All versions (when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
}

#[derive(Serialize)]
struct WrapBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_secret")]
    plaintext: Option<&'a [u8]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aad: Option<&'a [String]>,
}

#[derive(Serialize)]
struct CiphertextBody<'a> {
    ciphertext: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aad: Option<&'a [String]>,
}

#[derive(Serialize)]
struct RotateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_secret")]
    payload: Option<&'a [u8]>,
    #[serde(flatten)]
    proof: Option<ProofFields>,
}

/// The answer of `wrap`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wrapped {
    /// The generated data key, when none was sent.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
    /// The wrapped data key.
    #[serde(with = "b64_req")]
    pub ciphertext: Vec<u8>,
    /// The version that wrapped it.
    pub key_version: KeyVersion,
}

impl std::fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrapped")
            .field("plaintext", &self.plaintext.as_ref().map(|_| "<redacted>"))
            .field("ciphertext_len", &self.ciphertext.len())
            .field("key_version", &self.key_version)
            .finish()
    }
}

/// The answer of `unwrap`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unwrapped {
    /// The data key.
    #[serde(with = "b64_opt")]
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
    /// The version that had wrapped it.
    pub key_version: KeyVersion,
    /// When an older version had wrapped it: the data key wrapped by the latest version.
    #[serde(
        default,
        with = "b64_opt_plain",
        skip_serializing_if = "Option::is_none"
    )]
    pub ciphertext: Option<Vec<u8>>,
    /// The latest version, with `ciphertext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrapped_key_version: Option<KeyVersion>,
}

impl std::fmt::Debug for Unwrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unwrapped")
            .field("plaintext", &"<redacted>")
            .field("key_version", &self.key_version)
            .field("rewrapped", &self.ciphertext.is_some())
            .field("rewrapped_key_version", &self.rewrapped_key_version)
            .finish()
    }
}

impl Unwrapped {
    /// The data key (empty if the server sent none, which it never does on success).
    pub fn data_key(&self) -> &[u8] {
        self.plaintext.as_ref().map_or(&[], |p| p.as_slice())
    }
}

/// The answer of `rewrap`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rewrapped {
    /// The data key wrapped by the latest version.
    #[serde(with = "b64_req")]
    pub ciphertext: Vec<u8>,
    /// The version that had wrapped it.
    pub key_version: KeyVersion,
    /// The latest version.
    pub rewrapped_key_version: KeyVersion,
}

/// How a [`KpClient`] authenticates.
#[derive(Clone)]
enum Auth {
    /// Trades the client's API key for an access token, cached until shortly before it expires.
    ApiKey(Arc<Mutex<Option<CachedToken>>>),
    /// Sends this bearer as is (tests: forged, expired or garbage tokens).
    Bearer(Zeroizing<String>),
    /// Sends no `Authorization`.
    None,
}

#[derive(Clone)]
struct CachedToken {
    token: Zeroizing<String>,
    renew_at: Instant,
}

/// A Key Protect client of one instance, borrowing the connection settings of a [`Client`].
#[derive(Clone)]
pub struct KpClient {
    client: Client,
    instance: Option<String>,
    auth: Auth,
}

impl std::fmt::Debug for KpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::ApiKey(_) => "api key",
            Auth::Bearer(_) => "bearer",
            Auth::None => "none",
        };
        f.debug_struct("KpClient")
            .field("client", &self.client)
            .field("instance", &self.instance)
            .field("auth", &auth)
            .finish()
    }
}

impl Client {
    /// `POST /identity/token`: trades an API key for an access token.
    pub async fn token(&self, api_key: &str) -> Result<TokenResponse, ClientError> {
        let form = [("grant_type", GRANT_APIKEY), ("apikey", api_key)];
        let resp = self
            .http
            .post(self.url("/identity/token")?)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if !(200..300).contains(&status) {
            return Err(error_of(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
            status,
            detail: e.to_string(),
        })
    }

    /// A Key Protect client of `instance_id`, authenticating with an access token obtained
    /// from this client's API key.
    pub fn kp(&self, instance_id: &str) -> KpClient {
        KpClient {
            client: self.clone(),
            instance: Some(instance_id.to_owned()),
            auth: Auth::ApiKey(Arc::default()),
        }
    }
}

impl KpClient {
    /// The same client sending `token` as the bearer instead (no token exchange).
    pub fn with_bearer(&self, token: &str) -> Self {
        Self {
            auth: Auth::Bearer(Zeroizing::new(token.to_owned())),
            ..self.clone()
        }
    }

    /// The same client sending no `Authorization` header.
    pub fn without_auth(&self) -> Self {
        Self {
            auth: Auth::None,
            ..self.clone()
        }
    }

    /// The same client for another instance (`None`: no `Bluemix-Instance` header). The token
    /// cache is shared.
    pub fn with_instance(&self, instance_id: Option<&str>) -> Self {
        Self {
            instance: instance_id.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The instance named in `Bluemix-Instance`.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// The access token this client sends (obtained or renewed when needed).
    pub async fn access_token(&self) -> Result<Option<Zeroizing<String>>, ClientError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Bearer(t) => Ok(Some(t.clone())),
            Auth::ApiKey(cache) => {
                if let Some(c) = cache.lock().ok().and_then(|c| c.clone())
                    && Instant::now() < c.renew_at
                {
                    return Ok(Some(c.token));
                }
                let api_key = self.client.api_key.clone().ok_or_else(|| {
                    ClientError::Config("an API key is needed for Key Protect calls".into())
                })?;
                let issued = self.client.token(&api_key).await?;
                let lifetime = Duration::from_secs(u64::try_from(issued.expires_in).unwrap_or(0));
                let token = Zeroizing::new(issued.access_token);
                if let Ok(mut slot) = cache.lock() {
                    *slot = Some(CachedToken {
                        token: token.clone(),
                        renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
                    });
                }
                Ok(Some(token))
            }
        }
    }

    fn url(&self, segments: &[&str]) -> Result<url::Url, ClientError> {
        let mut url = self.client.url("/api/v2/")?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn request(
        &self,
        method: Method,
        url: url::Url,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut req = self
            .client
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(instance) = &self.instance {
            req = req.header("Bluemix-Instance", instance.as_str());
        }
        if let Some(token) = self.access_token().await? {
            req = req.bearer_auth(token.as_str());
        }
        Ok(req)
    }

    /// Sends and returns status, headers and body, mapping error answers to errors.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), ClientError> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?.to_vec();
        if !(200..300).contains(&status) {
            return Err(error_of(status, &bytes));
        }
        Ok((status, headers, bytes))
    }

    fn parse<T: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(bytes).map_err(|e| ClientError::Unexpected {
            status,
            detail: e.to_string(),
        })
    }

    fn one_key(status: u16, bytes: &[u8]) -> Result<Key, ClientError> {
        let c: Collection<Key> = Self::parse(status, bytes)?;
        c.resources
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Unexpected {
                status,
                detail: "no key in the answer".into(),
            })
    }

    async fn json_body(
        &self,
        method: Method,
        segments: &[&str],
        media_type: &str,
        body: &impl Serialize,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), ClientError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ClientError::Config(e.to_string()))?,
        );
        let req = self
            .request(method, self.url(segments)?)
            .await?
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(bytes.to_vec());
        self.exchange(req).await
    }

    /// Sends any request to `/api/v2/{path}` with this client's headers and returns the raw
    /// answer (tests of bad input). `path` is appended as is (it may carry a query).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<RawResponse, ClientError> {
        let url = self.client.url(&format!("/api/v2/{path}"))?;
        let mut req = self.request(method, url).await?.body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let resp = req.send().await?;
        Ok(RawResponse {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await?.to_vec(),
        })
    }

    /// `POST /api/v2/keys` (or `keys_with_policy_overrides` when a rotation policy is set).
    pub async fn create_key(&self, new: &NewKey) -> Result<Key, ClientError> {
        let payload = new.payload.as_ref().map(|p| p.as_slice());
        let body = RequestEnvelope {
            metadata: RequestMetadata {
                collection_type: KEY_MEDIA,
                collection_total: 1,
            },
            resources: vec![CreateItem {
                kind: KEY_MEDIA,
                name: &new.name,
                extractable: new.extractable,
                description: new.description.as_deref(),
                payload,
                expiration_date: new.expiration_date.as_deref(),
                tags: &new.tags,
                rotation: new.rotation,
                proof: None,
            }],
        };
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

    /// `GET /api/v2/keys`.
    pub async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<Key>, ClientError> {
        let req = self
            .request(Method::GET, self.url(&["keys"])?)
            .await?
            .query(&filter.query());
        let (status, _, bytes) = self.exchange(req).await?;
        let c: Collection<Key> = Self::parse(status, &bytes)?;
        Ok(c.resources)
    }

    /// `HEAD /api/v2/keys`: how many keys match (`Key-Total`).
    pub async fn count_keys(&self, filter: &KeyFilter) -> Result<i64, ClientError> {
        let req = self
            .request(Method::HEAD, self.url(&["keys"])?)
            .await?
            .query(&filter.query());
        let (status, headers, _) = self.exchange(req).await?;
        headers
            .get("key-total")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ClientError::Unexpected {
                status,
                detail: "no valid Key-Total header".into(),
            })
    }

    /// `GET /api/v2/keys/{id}`: with a standard key's material.
    pub async fn get_key(&self, id: &str) -> Result<Key, ClientError> {
        let req = self.request(Method::GET, self.url(&["keys", id])?).await?;
        let (status, _, bytes) = self.exchange(req).await?;
        Self::one_key(status, &bytes)
    }

    /// `GET /api/v2/keys/{id}/metadata`: never any material.
    pub async fn get_key_metadata(&self, id: &str) -> Result<Key, ClientError> {
        let req = self
            .request(Method::GET, self.url(&["keys", id, "metadata"])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        Self::one_key(status, &bytes)
    }

    /// `GET /api/v2/keys/{id}/versions?totalCount=true`, newest first.
    pub async fn key_versions(&self, id: &str) -> Result<KeyVersions, ClientError> {
        let req = self
            .request(Method::GET, self.url(&["keys", id, "versions"])?)
            .await?
            .query(&[("totalCount", "true")]);
        let (status, _, bytes) = self.exchange(req).await?;
        let c: Collection<KeyVersion> = Self::parse(status, &bytes)?;
        Ok(KeyVersions {
            versions: c.resources,
            total_count: c.metadata.total_count,
        })
    }

    async fn action<T: DeserializeOwned>(
        &self,
        id: &str,
        action: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let media = format!("application/vnd.ibm.kms.key_action_{action}+json");
        let (status, _, bytes) = self
            .json_body(Method::POST, &["keys", id, "actions", action], &media, body)
            .await?;
        Self::parse(status, &bytes)
    }

    async fn action_no_content(&self, id: &str, action: &str) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, self.url(&["keys", id, "actions", action])?)
            .await?;
        self.exchange(req).await?;
        Ok(())
    }

    /// Wraps `plaintext` (or a data key the service generates when `None`) with the root key.
    pub async fn wrap(
        &self,
        id: &str,
        plaintext: Option<&[u8]>,
        aad: &[String],
    ) -> Result<Wrapped, ClientError> {
        let body = WrapBody {
            plaintext,
            aad: (!aad.is_empty()).then_some(aad),
        };
        self.action(id, "wrap", &body).await
    }

    /// Unwraps a wrapped data key.
    pub async fn unwrap(
        &self,
        id: &str,
        ciphertext: &[u8],
        aad: &[String],
    ) -> Result<Unwrapped, ClientError> {
        let body = CiphertextBody {
            ciphertext: B64.encode(ciphertext),
            aad: (!aad.is_empty()).then_some(aad),
        };
        self.action(id, "unwrap", &body).await
    }

    /// Rewraps a wrapped data key with the key's latest version.
    pub async fn rewrap(
        &self,
        id: &str,
        ciphertext: &[u8],
        aad: &[String],
    ) -> Result<Rewrapped, ClientError> {
        let body = CiphertextBody {
            ciphertext: B64.encode(ciphertext),
            aad: (!aad.is_empty()).then_some(aad),
        };
        self.action(id, "rewrap", &body).await
    }

    /// Rotates a root key (imported keys: with new material).
    pub async fn rotate(&self, id: &str, payload: Option<&[u8]>) -> Result<(), ClientError> {
        let body = RotateBody {
            payload,
            proof: None,
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

    /// Suspends an active key.
    pub async fn disable(&self, id: &str) -> Result<(), ClientError> {
        self.action_no_content(id, "disable").await
    }

    /// Re-enables a suspended key.
    pub async fn enable(&self, id: &str) -> Result<(), ClientError> {
        self.action_no_content(id, "enable").await
    }

    /// Resynchronizes the resources registered on a key.
    pub async fn sync(&self, id: &str) -> Result<(), ClientError> {
        self.action_no_content(id, "sync").await
    }

    /// `DELETE /api/v2/keys/{id}`; with `representation`, returns the deleted key.
    pub async fn delete_key(
        &self,
        id: &str,
        representation: bool,
    ) -> Result<Option<Key>, ClientError> {
        let mut req = self
            .request(Method::DELETE, self.url(&["keys", id])?)
            .await?;
        if representation {
            req = req.header("Prefer", "return=representation");
        }
        let (status, _, bytes) = self.exchange(req).await?;
        if representation {
            Self::one_key(status, &bytes).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `DELETE /api/v2/keys/{id}/purge`: destroys a deleted key's material and metadata (after
    /// the purge wait); returns the key as it was.
    pub async fn purge_key(&self, id: &str) -> Result<Key, ClientError> {
        let req = self
            .request(Method::DELETE, self.url(&["keys", id, "purge"])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        Self::one_key(status, &bytes)
    }

    /// First authorization to delete a key with a dual-authorization delete policy.
    pub async fn set_key_for_deletion(&self, id: &str) -> Result<(), ClientError> {
        self.action_no_content(id, "setKeyForDeletion").await
    }

    /// Cancels the first authorization to delete a key.
    pub async fn unset_key_for_deletion(&self, id: &str) -> Result<(), ClientError> {
        self.action_no_content(id, "unsetKeyForDeletion").await
    }

    /// `PUT /api/v2/keys/{id}/policies?policy=dualAuthDelete` (cannot be turned off once on).
    pub async fn set_dual_auth_delete(&self, id: &str, enabled: bool) -> Result<(), ClientError> {
        let mut url = self.url(&["keys", id, "policies"])?;
        url.query_pairs_mut()
            .append_pair("policy", "dualAuthDelete");
        let body = serde_json::json!({
            "metadata": {"collectionType": "application/vnd.ibm.kms.policy+json", "collectionTotal": 1},
            "resources": [{"type": "application/vnd.ibm.kms.policy+json", "dualAuthDelete": {"enabled": enabled}}]
        });
        let req = self
            .request(Method::PUT, url)
            .await?
            .header("Content-Type", "application/vnd.ibm.kms.policy+json")
            .body(serde_json::to_vec(&body).map_err(|e| ClientError::Config(e.to_string()))?);
        self.exchange(req).await?;
        Ok(())
    }

    /// `POST /api/v2/keys/{id}/restore`.
    pub async fn restore_key(&self, id: &str) -> Result<Key, ClientError> {
        let req = self
            .request(Method::POST, self.url(&["keys", id, "restore"])?)
            .await?;
        let (status, _, bytes) = self.exchange(req).await?;
        Self::one_key(status, &bytes)
    }
}
