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
    /// Text the database cannot store: PostgreSQL refuses the NUL character in text (SQLite
    /// stores it). Bad input, not a failure of the database.
    #[error("text with a character the database cannot store (NUL)")]
    UnstorableText,
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
            _ => Self::database(err),
        }
    }

    /// Maps a database error, turning PostgreSQL's refusal of a NUL character in text
    /// (SQLSTATE 22021, `character_not_in_repertoire`; 22P05 `untranslatable_character`) into
    /// [`StoreError::UnstorableText`].
    pub(crate) fn database(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                Self::UnstorableText
            }
            _ => Self::Database(err),
        }
    }
}
