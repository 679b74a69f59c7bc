//! Dev mode: a server that needs no configuration. Embedded database, a 1-of-1 Shamir keystore
//! whose share is kept in `DATA/unseal.key` (so it unseals itself), a self-signed CA, an admin
//! API key and a first key-service instance, all described in `DATA/dev.json` for scripts.
//!
//! `dev.json` is a contract: `url`, `ca_cert` (absolute path), `api_key`, `account_id`,
//! `kms_instance_id`, `secrets_manager_instance_id`, `secrets_manager_url` (the service URL to give
//! IBM's Secrets Manager SDK). Fields are only ever added.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use arca_keystore::InitParams;
use arca_services::{Clock, ServiceError, ServiceKind, SystemClock};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::{Config, KeystoreConfig};
use crate::{RunningServer, ServerError};

/// The contents of `dev.json`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevInfo {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// Absolute path of the CA certificate to trust.
    pub ca_cert: String,
    /// The admin API key.
    pub api_key: String,
    /// The admin's account.
    pub account_id: String,
    /// A first key-service instance (`Bluemix-Instance` header).
    pub kms_instance_id: String,
    /// A first secrets-service instance.
    #[serde(default)]
    pub secrets_manager_instance_id: String,
    /// Its service URL: `https://127.0.0.1:PORT/sm/<instance id>`.
    #[serde(default)]
    pub secrets_manager_url: String,
}

impl std::fmt::Debug for DevInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevInfo")
            .field("url", &self.url)
            .field("ca_cert", &self.ca_cert)
            .field("account_id", &self.account_id)
            .field("kms_instance_id", &self.kms_instance_id)
            .field(
                "secrets_manager_instance_id",
                &self.secrets_manager_instance_id,
            )
            .field("secrets_manager_url", &self.secrets_manager_url)
            .finish_non_exhaustive()
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> ServerError {
    move |source| ServerError::Io { what, source }
}

/// Writes a file atomically (temp file, fsync, rename) with the given mode.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServerError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(format!("write {}", tmp.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("write {}", path.display())))
}

/// Writes a file readable only by its owner.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    write_atomic(path, bytes, 0o600)
}

/// Writes a world-readable file.
pub(crate) fn write_public(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    write_atomic(path, bytes, 0o644)
}

/// Options of `arca server --dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Where to listen (`127.0.0.1:8200` by default; port 0 picks one).
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
}

/// Starts a dev server: bootstraps `data_dir` on first use, reuses it afterwards.
pub async fn start_dev(options: &DevOptions) -> Result<(RunningServer, DevInfo), ServerError> {
    std::fs::create_dir_all(&options.data_dir).map_err(io(format!(
        "create data directory {}",
        options.data_dir.display()
    )))?;
    let data_dir = options.data_dir.canonicalize().map_err(io(format!(
        "resolve data directory {}",
        options.data_dir.display()
    )))?;
    let certs = crate::tls::ensure_dev_certificates(&data_dir, SystemClock.now())?;
    let config = Config {
        listen: options.listen,
        data_dir: data_dir.clone(),
        region: "local".into(),
        tls_cert: certs.server_cert.clone(),
        tls_key: certs.server_key.clone(),
        keystore: KeystoreConfig::Shamir,
        store: crate::StoreConfig::Sqlite,
        max_body_bytes: 1024 * 1024,
        request_timeout: std::time::Duration::from_secs(30),
        jobs_interval: std::time::Duration::from_secs(crate::config::DEFAULT_JOBS_INTERVAL_SECS),
        reclamation_period: std::time::Duration::from_secs(
            crate::config::DEFAULT_RECLAMATION_HOURS * 3600,
        ),
        events_allow_http: false,
        backup: None,
        audit: arca_services::audit::AuditSettings::default(),
    };
    let assembled = crate::assemble(&config).await?;
    let arca = assembled.arca.clone();
    let share_path = data_dir.join("unseal.key");
    let info_path = data_dir.join("dev.json");
    let ca_cert = certs.ca_cert.display().to_string();

    let mut info = if arca.system.status().initialized {
        let share = Zeroizing::new(
            std::fs::read_to_string(&share_path)
                .map_err(io(format!("read {}", share_path.display())))?,
        );
        arca.system
            .unseal(Some(Zeroizing::new(share.trim().to_owned())))
            .await?;
        let text = std::fs::read(&info_path).map_err(io(format!(
            "read {} (the dev data directory is incomplete; remove it to start over)",
            info_path.display()
        )))?;
        serde_json::from_slice::<DevInfo>(&text)
            .map_err(|e| ServerError::Config(format!("{}: {e}", info_path.display())))?
    } else {
        let out = arca
            .system
            .initialize(
                InitParams {
                    shares: 1,
                    threshold: 1,
                },
                "dev",
                |out| {
                    // Kept before the store commits, so the store is never left without them.
                    let share = out.shares.first().ok_or_else(|| {
                        ServiceError::Internal("initialize returned no share".into())
                    })?;
                    write_private(&share_path, share.as_bytes())
                        .map_err(|e| ServiceError::Internal(Box::new(e)))?;
                    let info = DevInfo {
                        url: String::new(),
                        ca_cert: ca_cert.clone(),
                        api_key: out.api_key.to_string(),
                        account_id: out.account_id.clone(),
                        kms_instance_id: String::new(),
                        secrets_manager_instance_id: String::new(),
                        secrets_manager_url: String::new(),
                    };
                    write_info(&info_path, &info).map_err(|e| ServiceError::Internal(Box::new(e)))
                },
            )
            .await?;
        let share = out
            .shares
            .first()
            .map(|s| Zeroizing::new(s.to_string()))
            .ok_or_else(|| ServerError::Config("initialize returned no share".into()))?;
        arca.system.unseal(Some(share)).await?;
        DevInfo {
            url: String::new(),
            ca_cert: ca_cert.clone(),
            api_key: out.api_key.to_string(),
            account_id: out.account_id.clone(),
            kms_instance_id: String::new(),
            secrets_manager_instance_id: String::new(),
            secrets_manager_url: String::new(),
        }
    };
    if info.kms_instance_id.is_empty() {
        let admin = arca.auth.authenticate_api_key(&info.api_key).await?;
        let instance = arca
            .instances
            .create(&admin, "dev", ServiceKind::Kms)
            .await?;
        info.kms_instance_id = instance.id;
    }
    if info.secrets_manager_instance_id.is_empty() {
        let admin = arca.auth.authenticate_api_key(&info.api_key).await?;
        let instance = arca
            .instances
            .create(&admin, "dev-secrets", ServiceKind::SecretsManager)
            .await?;
        info.secrets_manager_instance_id = instance.id;
    }
    let server = crate::serve_assembled(&config, assembled).await?;
    info.url = format!("https://{}", server.local_addr());
    info.secrets_manager_url = format!("{}/sm/{}", info.url, info.secrets_manager_instance_id);
    info.ca_cert = ca_cert;
    write_info(&info_path, &info)?;
    Ok((server, info))
}

fn write_info(path: &Path, info: &DevInfo) -> Result<(), ServerError> {
    let mut text = serde_json::to_vec_pretty(info)
        .map_err(|e| ServerError::Config(format!("serialize dev.json: {e}")))?;
    text.push(b'\n');
    // It holds the admin API key.
    write_private(path, &text)
}
