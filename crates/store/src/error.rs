use thiserror::Error;

/// Errors of the store. Messages never carry stored values, only what failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint or a one-time write was violated.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row changed since it was read (optimistic concurrency): read again and retry.
    #[error("changed concurrently: {0}")]
    Stale(&'static str),
    /// A stored value could not be decoded (corruption or a newer schema).
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
    /// The database failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database could not be opened.
    #[error("cannot open database at {path}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// Maps a database error, turning unique violations into [`StoreError::Conflict`].
    pub(crate) fn from_db(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what),
            _ => Self::Database(err),
        }
    }
}
