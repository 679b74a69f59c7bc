//! Arca's server assembly: configuration, the root of trust and store chosen by it, TLS, the HTTPS
//! accept loop with graceful shutdown, and dev mode.
#![warn(missing_docs)]

pub mod config;
pub mod dev;
mod error;
mod serve;
pub mod tls;

pub use config::{Config, KeystoreConfig, StoreConfig};
pub use error::ServerError;
pub use serve::RunningServer;

use std::sync::Arc;

use arca_api::{AppState, Limits};
use arca_keystore::{Keystore, Pkcs11Keystore, ShamirKeystore};
use arca_services::{Arca, Clock, Settings, SystemClock};
use arca_store::{PostgresOptions, PostgresStore, SqliteStore, Store};
use secrecy::ExposeSecret;

/// The store a server runs on: usable as a [`Store`] (it dereferences to one), and closed on
/// shutdown.
#[derive(Debug, Clone)]
pub enum StoreHandle {
    /// The embedded SQLite database.
    Sqlite(Arc<SqliteStore>),
    /// A PostgreSQL database shared by the nodes of a cluster.
    Postgres(Arc<PostgresStore>),
}

impl StoreHandle {
    /// The store, shared, for the services.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Postgres(s) => s.clone(),
        }
    }

    /// Closes the connections (SQLite also checkpoints its WAL).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

impl std::ops::Deref for StoreHandle {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        match self {
            Self::Sqlite(s) => s.as_ref(),
            Self::Postgres(s) => s.as_ref(),
        }
    }
}

/// The assembled services and what owns their resources.
#[derive(Debug)]
pub struct Assembled {
    /// The services.
    pub arca: Arca,
    /// The store (closed on shutdown).
    pub store: StoreHandle,
    /// The root of trust (sealed on shutdown).
    pub keystore: Arc<dyn Keystore>,
}

/// Opens the store named by `store` (SQLite in `data_dir/arca.db`, or PostgreSQL), running its
/// migrations.
pub async fn open_store(
    data_dir: &std::path::Path,
    store: &StoreConfig,
) -> Result<StoreHandle, ServerError> {
    Ok(match store {
        StoreConfig::Sqlite => {
            std::fs::create_dir_all(data_dir).map_err(|source| ServerError::Io {
                what: format!("create data directory {}", data_dir.display()),
                source,
            })?;
            StoreHandle::Sqlite(Arc::new(
                SqliteStore::open(&data_dir.join("arca.db")).await?,
            ))
        }
        StoreConfig::Postgres {
            url,
            max_connections,
        } => StoreHandle::Postgres(Arc::new(
            PostgresStore::connect(
                url.expose_secret(),
                &PostgresOptions {
                    max_connections: *max_connections,
                    ..PostgresOptions::default()
                },
            )
            .await?,
        )),
    })
}

/// The root of trust named by `keystore`, with no record loaded.
pub fn open_keystore(keystore: &KeystoreConfig) -> Arc<dyn Keystore> {
    match keystore {
        KeystoreConfig::Shamir => Arc::new(ShamirKeystore::new()),
        KeystoreConfig::Pkcs11(p) => Arc::new(Pkcs11Keystore::new(p.clone())),
    }
}

/// Opens the store and the root of trust named by `config`, and loads the seal record (an HSM
/// keystore unseals itself here).
pub async fn assemble(config: &Config) -> Result<Assembled, ServerError> {
    assemble_with_clock(config, Arc::new(SystemClock)).await
}

/// [`assemble`] with the services reading time from `clock` (tests of expiry use a
/// [`arca_services::ManualClock`]).
pub async fn assemble_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Assembled, ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::Io {
        what: format!("create data directory {}", config.data_dir.display()),
        source,
    })?;
    let store = open_store(&config.data_dir, &config.store).await?;
    let keystore = open_keystore(&config.keystore);
    let arca = Arca::new(
        store.shared(),
        keystore.clone(),
        clock,
        Settings {
            region: config.region.clone(),
            reclamation_period: time::Duration::try_from(config.reclamation_period)
                .unwrap_or(time::Duration::days(7)),
            events: arca_services::events::EventSettings {
                allow_http: config.events_allow_http,
                ..Default::default()
            },
            backup: config.backup.clone(),
            audit: config.audit,
            ..Settings::default()
        },
    );
    arca.system.start().await?;
    Ok(Assembled {
        arca,
        store,
        keystore,
    })
}

/// Assembles the services and serves them over HTTPS on `config.listen`.
pub async fn start(config: &Config) -> Result<RunningServer, ServerError> {
    let assembled = assemble(config).await?;
    serve_assembled(config, assembled).await
}

/// [`start`] with the services reading time from `clock`.
pub async fn start_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    let assembled = assemble_with_clock(config, clock).await?;
    serve_assembled(config, assembled).await
}

/// Serves already assembled services (dev mode bootstraps between the two steps).
pub async fn serve_assembled(
    config: &Config,
    assembled: Assembled,
) -> Result<RunningServer, ServerError> {
    let tls = tls::server_config(&config.tls_cert, &config.tls_key)?;
    let app = arca_api::router(
        AppState {
            arca: Arc::new(assembled.arca.clone()),
        },
        Limits {
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
        },
    );
    serve::serve(config.listen, tls, app, assembled, config.jobs_interval).await
}
