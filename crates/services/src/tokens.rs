//! IAM-style access tokens: `POST /identity/token` trades an API key for a signed JWT, which every
//! later request presents as `Authorization: Bearer`.
//!
//! Tokens are HS256 JWTs signed with a 256-bit key that is stored wrapped by the master key, so
//! every node of a cluster can verify them and a stolen database cannot forge them. A verified
//! token is cached by its SHA-256 until it expires: one HMAC per token, not per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arca_crypto::hash::sha256;
use arca_crypto::keys::AesKey256;
use arca_keystore::Keystore;
use arca_store::{PrincipalKind, Store, StoreError};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::auth::{AuthService, Principal};
use crate::clock::{Clock, to_millis};
use crate::{ServiceError, ServiceResult, ids};

/// Lifetime of an access token, in seconds (IBM IAM's).
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
const ISSUER: &str = "arca";

/// What the token endpoint answers.
pub struct IssuedToken {
    /// The JWT.
    pub access_token: Zeroizing<String>,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Expiry, Unix seconds.
    pub expiration: i64,
    /// Whom it was issued to (for the audit record).
    pub principal_id: String,
    /// Their account.
    pub account_id: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iam_id: String,
    account: AccountClaim,
    /// `user` or `service_id`.
    sub_type: String,
    admin: bool,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccountClaim {
    bss: String,
}

struct SigningKey {
    id: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    auth: AuthService,
    key: Arc<RwLock<Option<Arc<SigningKey>>>>,
    verified: Arc<RwLock<VerifiedTokens>>,
}

/// Verified tokens by SHA-256, with their expiry (Unix seconds).
type VerifiedTokens = HashMap<[u8; 32], (Principal, i64)>;

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").finish_non_exhaustive()
    }
}

fn signing_aad(id: &str) -> Vec<u8> {
    format!("arca:iam-signing-key:v1:{id}").into_bytes()
}

/// Largest number of cached verified tokens; the cache is cleared of expired ones beyond it.
const MAX_CACHED_TOKENS: usize = 100_000;

impl TokenService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        auth: AuthService,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            auth,
            key: Arc::default(),
            verified: Arc::default(),
        }
    }

    /// The signing key: from memory, else unwrapped from the store, else made and stored.
    async fn signing_key(&self) -> ServiceResult<Arc<SigningKey>> {
        if let Some(k) = self.key.read().ok().and_then(|k| k.clone()) {
            return Ok(k);
        }
        let (id, wrapped) = match self.store.signing_key().await? {
            Some(found) => found,
            None => {
                let id = ids::uuid()?;
                let secret =
                    AesKey256::generate().map_err(|e| ServiceError::Internal(Box::new(e)))?;
                let wrapped = self
                    .keystore
                    .wrap(&signing_aad(&id), secret.expose_secret())?;
                let now = to_millis(self.clock.now());
                match self.store.put_signing_key(&id, &wrapped, now).await {
                    Ok(()) => (id, wrapped),
                    // Another request made one first: use that one.
                    Err(StoreError::Conflict(_)) => self
                        .store
                        .signing_key()
                        .await?
                        .ok_or_else(|| ServiceError::Internal("signing key vanished".into()))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let secret = self.keystore.unwrap(&signing_aad(&id), &wrapped)?;
        let key = Arc::new(SigningKey {
            id,
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        });
        if let Ok(mut slot) = self.key.write() {
            *slot = Some(key.clone());
        }
        Ok(key)
    }

    /// Drops the signing key from memory (on seal).
    pub fn forget_keys(&self) {
        if let Ok(mut slot) = self.key.write() {
            *slot = None;
        }
        if let Ok(mut cache) = self.verified.write() {
            cache.clear();
        }
    }

    /// Trades an API key for an access token.
    pub async fn issue(&self, api_key: &str) -> ServiceResult<IssuedToken> {
        let principal = self.auth.authenticate_api_key(api_key).await?;
        let key = self.signing_key().await?;
        let now = self.clock.now().unix_timestamp();
        let exp = now + TOKEN_LIFETIME_SECS;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: principal.id.clone(),
            iam_id: principal.id.clone(),
            account: AccountClaim {
                bss: principal.account_id.clone(),
            },
            sub_type: principal.kind.as_str().into(),
            admin: principal.is_admin,
            iat: now,
            exp,
            jti: ids::uuid()?,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        Ok(IssuedToken {
            access_token: Zeroizing::new(token),
            expires_in: TOKEN_LIFETIME_SECS,
            expiration: exp,
            principal_id: principal.id.clone(),
            account_id: principal.account_id.clone(),
        })
    }

    /// Verifies an access token: signature, issuer and expiry (against the service clock).
    pub async fn verify(&self, token: &str) -> ServiceResult<Principal> {
        let now = self.clock.now().unix_timestamp();
        let digest = sha256(token.as_bytes());
        if let Some((p, exp)) = self
            .verified
            .read()
            .ok()
            .and_then(|c| c.get(&digest).cloned())
        {
            if now < exp {
                return Ok(p);
            }
            return Err(ServiceError::Unauthenticated(
                "the access token has expired",
            ));
        }
        let key = self.signing_key().await?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        // Expiry is checked below against the service clock, not the wall clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| ServiceError::Unauthenticated("invalid access token"))?;
        let claims = data.claims;
        if now >= claims.exp {
            return Err(ServiceError::Unauthenticated(
                "the access token has expired",
            ));
        }
        let principal = Principal {
            id: claims.sub,
            account_id: claims.account.bss,
            kind: PrincipalKind::parse(&claims.sub_type)
                .ok_or(ServiceError::Unauthenticated("invalid access token"))?,
            is_admin: claims.admin,
            service_instance: None,
        };
        if let Ok(mut cache) = self.verified.write() {
            if cache.len() >= MAX_CACHED_TOKENS {
                cache.retain(|_, (_, exp)| now < *exp);
            }
            cache.insert(digest, (principal.clone(), claims.exp));
        }
        Ok(principal)
    }

    /// Authenticates a bearer credential: an access token (JWT) or, for Arca's own API and
    /// scripts, an API key.
    pub async fn authenticate(&self, credential: &str) -> ServiceResult<Principal> {
        if credential.len() > 8192 {
            return Err(ServiceError::Unauthenticated("invalid credentials"));
        }
        if credential.split('.').count() == 3 {
            self.verify(credential).await
        } else {
            self.auth.authenticate_api_key(credential).await
        }
    }
}
