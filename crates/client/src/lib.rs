//! The Arca HTTP client: one library for the `arca` CLI and the integration tests, so both drive
//! the server exactly as users do.
#![warn(missing_docs)]

pub mod audit;
pub mod cert_bundle;
pub mod events;
mod iam;
pub mod kp;
mod rc;
pub mod sm;

use arca_proto::ErrorBody;
use arca_proto::health::Health;
use arca_proto::instance::{
    CreateInstanceRequest, Instance, InstanceList, Reclamation, ReclamationList, RootKeyStatus,
    ServiceKind, SetRootKeyRequest,
};
use arca_proto::sys::{InitRequest, InitResponse, SealStatus, UnsealRequest};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {}", body.errors.first().map(|e| e.message.as_str()).unwrap_or("error"))]
    Api {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: ErrorBody,
    },
    /// The server answered with a Key Protect (or IAM) error body.
    #[error("{status}: {message} ({code})")]
    Kp {
        /// HTTP status.
        status: u16,
        /// The first reason's code (`resources[0].reasons[0].code`; IAM: `errorCode`).
        code: String,
        /// The first reason's message (IAM: `errorMessage`).
        message: String,
    },
    /// The server answered with something that is not the expected JSON.
    #[error("unexpected answer ({status}): {detail}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
    /// The request could not be sent or the answer not read.
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    /// Bad client settings.
    #[error("client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. }
            | Self::Kp { status, .. }
            | Self::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The first error code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } => body.errors.first().map(|e| e.code.as_str()),
            Self::Kp { code, .. } => Some(code.as_str()),
            _ => None,
        }
    }
}

/// A raw answer, for callers (tests) that look at status and body themselves.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A backup being downloaded ([`Client::backup`]).
#[derive(Debug)]
pub struct BackupDownload {
    resp: reqwest::Response,
}

impl BackupDownload {
    /// The next piece of the file, or `None` at its end. The server cuts the stream short on a
    /// failure, so whether the file is whole is for its trailer to tell
    /// (`arca_services::backup`'s reader checks it).
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        Ok(self.resp.chunk().await?.map(|b| b.to_vec()))
    }
}

/// A client of one Arca server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    api_key: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// A client of the server at `url` (`https://host:port`), trusting only `ca_pem` when given
    /// (else the system's roots), authenticating with `api_key` when given.
    pub fn new(
        url: &str,
        ca_pem: Option<&[u8]>,
        api_key: Option<String>,
    ) -> Result<Self, ClientError> {
        let base = url::Url::parse(url)
            .map_err(|e| ClientError::Config(format!("invalid server URL {url:?}: {e}")))?;
        if base.scheme() != "https" {
            return Err(ClientError::Config(format!(
                "server URL {url:?} must be https://"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("arca-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientError::Config(format!("invalid CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(ClientError::Config("no certificate in the CA file".into()));
            }
            builder = builder.tls_certs_only(certs);
        }
        Ok(Self {
            http: builder.build()?,
            base,
            api_key: api_key.map(Zeroizing::new),
        })
    }

    /// The same client with another API key.
    pub fn with_api_key(&self, api_key: Option<String>) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            api_key: api_key.map(Zeroizing::new),
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base
            .join(path)
            .map_err(|e| ClientError::Config(format!("bad path {path:?}: {e}")))
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut req = self.http.request(method, self.url(path)?);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.as_str());
        }
        Ok(req)
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
                status: status.as_u16(),
                detail: e.to_string(),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                body,
            }),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            }),
        }
    }

    /// `path` plus one percent-encoded segment.
    fn url_with_segment(&self, path: &str, segment: &str) -> Result<url::Url, ClientError> {
        let mut url = self.url(path)?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .pop_if_empty()
            .push(segment);
        Ok(url)
    }

    async fn send_url<T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut req = self.http.request(method, url);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.as_str());
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::decode(req.send().await?).await
    }

    /// Sends a request whose success answer has no body (204).
    async fn send_empty(&self, method: Method, url: url::Url) -> Result<(), ClientError> {
        let mut req = self.http.request(method, url);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.as_str());
        }
        let resp = req.send().await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Self::decode::<serde_json::Value>(resp).await.map(|_| ())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut req = self.request(method, path)?;
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::decode(req.send().await?).await
    }

    /// Sends any request and returns the raw answer (for tests of bad input).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<RawResponse, ClientError> {
        let mut req = self.request(method, path)?.body(body);
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

    /// `GET /health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.send(Method::GET, "/health", None::<&()>).await
    }

    /// `GET /health/ready`: `Ok(true, ..)` when ready, `Ok(false, ..)` on 503.
    pub async fn ready(&self) -> Result<(bool, Health), ClientError> {
        let resp = self.request(Method::GET, "/health/ready")?.send().await?;
        let ready = resp.status() == StatusCode::OK;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let health = serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
            status,
            detail: e.to_string(),
        })?;
        Ok((ready, health))
    }

    /// `GET /v1/sys/seal-status`.
    pub async fn seal_status(&self) -> Result<SealStatus, ClientError> {
        self.send(Method::GET, "/v1/sys/seal-status", None::<&()>)
            .await
    }

    /// `POST /v1/sys/init`.
    pub async fn init(&self, req: &InitRequest) -> Result<InitResponse, ClientError> {
        self.send(Method::POST, "/v1/sys/init", Some(req)).await
    }

    /// `POST /v1/sys/unseal` with one share (or none, to retry an HSM unseal).
    pub async fn unseal(&self, share: Option<&str>) -> Result<SealStatus, ClientError> {
        let req = UnsealRequest {
            share: share.map(str::to_owned),
        };
        self.send(Method::POST, "/v1/sys/unseal", Some(&req)).await
    }

    /// `POST /v1/sys/seal`.
    pub async fn seal(&self) -> Result<SealStatus, ClientError> {
        self.send(Method::POST, "/v1/sys/seal", None::<&()>).await
    }

    /// `POST /v1/sys/backup`: an online backup of the whole store, streamed. The download may
    /// take long: it is allowed hours, not the client's usual minute.
    pub async fn backup(&self) -> Result<BackupDownload, ClientError> {
        let resp = self
            .request(Method::POST, "/v1/sys/backup")?
            .timeout(std::time::Duration::from_secs(12 * 3600))
            .send()
            .await?;
        if !resp.status().is_success() {
            return Self::decode::<serde_json::Value>(resp).await.and_then(|_| {
                Err(ClientError::Unexpected {
                    status: 0,
                    detail: "no backup".into(),
                })
            });
        }
        Ok(BackupDownload { resp })
    }

    /// `POST /v1/instances`.
    pub async fn create_instance(
        &self,
        name: &str,
        service: ServiceKind,
    ) -> Result<Instance, ClientError> {
        let req = CreateInstanceRequest {
            name: name.to_owned(),
            service,
        };
        self.send(Method::POST, "/v1/instances", Some(&req)).await
    }

    /// `GET /v1/instances`.
    pub async fn list_instances(&self) -> Result<Vec<Instance>, ClientError> {
        let list: InstanceList = self.send(Method::GET, "/v1/instances", None::<&()>).await?;
        Ok(list.instances)
    }

    /// `GET /v1/instances/{id}`.
    pub async fn get_instance(&self, id: &str) -> Result<Instance, ClientError> {
        let url = self.url_with_segment("/v1/instances/", id)?;
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// Deletes an instance: disabled at once, reclaimed after the reclamation period.
    pub async fn delete_instance(&self, id: &str) -> Result<Reclamation, ClientError> {
        let url = self.url_with_segment("/v1/instances/", id)?;
        self.send_url(Method::DELETE, url, None::<&()>).await
    }

    /// The deleted instances of the account.
    pub async fn list_reclamations(&self) -> Result<Vec<Reclamation>, ClientError> {
        let list: ReclamationList = self
            .send(Method::GET, "/v1/reclamations", None::<&()>)
            .await?;
        Ok(list.reclamations)
    }

    /// Restores a deleted instance.
    pub async fn restore_instance(&self, id: &str) -> Result<Instance, ClientError> {
        let mut url = self.url_with_segment("/v1/reclamations/", id)?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .push("restore");
        self.send_url(Method::POST, url, None::<&()>).await
    }

    /// Reclaims a deleted instance now (crypto-shredded, irreversible).
    pub async fn reclaim_instance(&self, id: &str) -> Result<(), ClientError> {
        let mut url = self.url_with_segment("/v1/reclamations/", id)?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .push("reclaim");
        self.send_empty(Method::POST, url).await
    }

    /// `/v1/instances/<id>/<tail...>`, every segment percent-encoded.
    fn instance_url(&self, id: &str, tail: &[&str]) -> Result<url::Url, ClientError> {
        let mut url = self.url_with_segment("/v1/instances/", id)?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .extend(tail);
        Ok(url)
    }

    /// The root key of a secrets instance and the progress of moving data keys to it.
    pub async fn root_key_status(&self, id: &str) -> Result<RootKeyStatus, ClientError> {
        let url = self.instance_url(id, &["root_key"])?;
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// Sets (`Some(crn)`) or removes (`None`) the customer root key of a secrets instance.
    pub async fn set_root_key(
        &self,
        id: &str,
        root_key_crn: Option<&str>,
    ) -> Result<RootKeyStatus, ClientError> {
        let url = self.instance_url(id, &["root_key"])?;
        let body = SetRootKeyRequest {
            root_key_crn: root_key_crn.map(str::to_owned),
        };
        self.send_url(Method::PUT, url, Some(&body)).await
    }

    /// Moves one batch of a secrets instance's data keys to its root key.
    pub async fn reencrypt(&self, id: &str) -> Result<RootKeyStatus, ClientError> {
        let url = self.instance_url(id, &["root_key", "reencrypt"])?;
        self.send_url(Method::POST, url, None::<&()>).await
    }
}
