use thiserror::Error;

/// Why the server could not start or run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A file or socket operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The store failed.
    #[error("store")]
    Store(#[from] arca_store::StoreError),
    /// A service failed.
    #[error(transparent)]
    Service(#[from] arca_services::ServiceError),
}
