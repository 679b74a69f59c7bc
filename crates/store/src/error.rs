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
    /// A backup cannot be taken or restored: a malformed snapshot, or a reader that went away.
    #[error("backup: {0}")]
    Backup(&'static str),
    /// A backup is restored only into a store with its schema (the same Arca version).
    #[error(
        "the backup has schema version {backup} and this store {store}: restore it with the \
         Arca version that took it"
    )]
    SchemaMismatch {
        /// The backup's last migration.
        backup: i64,
        /// The store's last migration.
        store: i64,
    },
    /// A restore goes only into an empty store.
    #[error(
        "the store is not empty (it was initialized or holds data): restore into a new database"
    )]
    NotEmpty,
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
