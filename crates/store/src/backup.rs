//! Whole-store export and import, for backups: every table read in one consistent snapshot, and
//! written back into an empty store of either backend in one transaction.
//!
//! The export is generic over the schema (tables and columns are read from the database's own
//! catalog), so a table added by a later migration is backed up without code here; rows travel
//! as typed [`Value`]s, so a backup of the embedded SQLite store restores into PostgreSQL and the
//! other way round (SQLite keeps flags as integers, PostgreSQL as booleans).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use crate::{StoreError, StoreResult};

/// The type of a column, as the backup carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A 64-bit integer (ids, counters, Unix-millisecond times).
    Int,
    /// A flag (PostgreSQL `BOOLEAN`; SQLite stores flags as [`ColumnKind::Int`]).
    Bool,
    /// UTF-8 text.
    Text,
    /// Bytes (wrapped keys, ciphertext, digests).
    Bytes,
}

impl ColumnKind {
    /// The name used in backup files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Bool => "bool",
            Self::Text => "text",
            Self::Bytes => "bytes",
        }
    }

    /// Parses [`ColumnKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "int" => Self::Int,
            "bool" => Self::Bool,
            "text" => Self::Text,
            "bytes" => Self::Bytes,
            _ => return None,
        })
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: ColumnKind,
}

/// One table of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// Its columns, in the order every row of it lists its values.
    pub columns: Vec<Column>,
    /// How many rows the snapshot holds.
    pub rows: u64,
}

/// What a snapshot holds: its tables, in an order in which they can be written back (a table
/// comes after every table its foreign keys refer to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The backend it was read from (`sqlite`, `postgres`).
    pub backend: String,
    /// The last migration applied to it: a backup restores only into the same schema.
    pub schema_version: i64,
    /// The tables.
    pub tables: Vec<TableInfo>,
}

impl SnapshotInfo {
    /// Rows over all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// One value of a row. Its `Debug` shows the type only: values are ciphertext, digests and
/// metadata, and never belong in logs.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Null => "Null",
            Self::Int(_) => "Int(..)",
            Self::Bool(_) => "Bool(..)",
            Self::Text(_) => "Text(..)",
            Self::Bytes(_) => "Bytes(..)",
        })
    }
}

impl Value {
    /// The value converted for a column of `kind`: flags and integers convert both ways (0 and 1
    /// only), everything else must already match.
    pub(crate) fn coerce(self, kind: ColumnKind) -> StoreResult<Self> {
        Ok(match (self, kind) {
            (Self::Null, _) => Self::Null,
            (Self::Int(i), ColumnKind::Int) => Self::Int(i),
            (Self::Bool(b), ColumnKind::Bool) => Self::Bool(b),
            (Self::Bool(b), ColumnKind::Int) => Self::Int(i64::from(b)),
            (Self::Int(0), ColumnKind::Bool) => Self::Bool(false),
            (Self::Int(1), ColumnKind::Bool) => Self::Bool(true),
            (v @ Self::Text(_), ColumnKind::Text) => v,
            (v @ Self::Bytes(_), ColumnKind::Bytes) => v,
            _ => return Err(StoreError::Backup("a value does not fit its column's type")),
        })
    }
}

/// Receives a snapshot: its description first, then every row, table by table in the order
/// the description lists them.
#[async_trait]
pub trait SnapshotSink: Send {
    /// The snapshot's tables, before any row.
    async fn begin(&mut self, snapshot: &SnapshotInfo) -> StoreResult<()>;
    /// One row of table `table` (an index into [`SnapshotInfo::tables`]).
    async fn row(&mut self, table: usize, values: Vec<Value>) -> StoreResult<()>;
}

/// Gives the rows of a snapshot back, table by table in the order of its description.
#[async_trait]
pub trait RowSource: Send {
    /// The next row: its table (an index into [`SnapshotInfo::tables`]) and its values, or
    /// `None` after the last.
    async fn next_row(&mut self) -> StoreResult<Option<(usize, Vec<Value>)>>;
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Tables written.
    pub tables: usize,
    /// Rows written.
    pub rows: u64,
}

/// Tables a migration fills with a first row (`audit_head`: the empty chain's head): an import
/// replaces their rows, and they do not make a store count as in use.
pub(crate) const SEEDED_TABLES: [&str; 1] = ["audit_head"];

/// Export and import of the whole store.
#[async_trait]
pub trait BackupStore {
    /// Reads every table in one consistent snapshot (PostgreSQL: a repeatable-read, read-only
    /// transaction; SQLite: one read transaction on the WAL), while the store keeps serving.
    async fn export(&self, sink: &mut dyn SnapshotSink) -> StoreResult<SnapshotInfo>;

    /// Writes a snapshot into this store in one transaction, so a failure writes nothing.
    /// Refused unless the store is empty (never initialized, no rows), its schema is the
    /// snapshot's, and it has the snapshot's tables and columns. Checks that every table got
    /// the number of rows the snapshot announced.
    async fn import(
        &self,
        snapshot: &SnapshotInfo,
        rows: &mut dyn RowSource,
    ) -> StoreResult<ImportReport>;
}

/// Orders tables so that each comes after the tables it refers to (`refs`: table → the tables
/// its foreign keys name); ties by name, so the order is stable. A cycle (none in Arca's
/// schema) is broken by name order, and the import then reports the violated constraint.
pub(crate) fn dependency_order(tables: &[String], refs: &[(String, String)]) -> Vec<String> {
    let known: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (from, to) in refs {
        if from != to
            && known.contains(to.as_str())
            && let Some(set) = needs.get_mut(from.as_str())
        {
            set.insert(to.as_str());
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < needs.len() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(t, deps)| !done.contains(*t) && deps.iter().all(|d| done.contains(d)))
            .map(|(t, _)| *t)
            .collect();
        let next = if ready.is_empty() {
            // A cycle: take the first remaining table by name.
            needs
                .keys()
                .copied()
                .filter(|t| !done.contains(t))
                .take(1)
                .collect()
        } else {
            ready
        };
        for t in next {
            done.insert(t);
            order.push(t.to_owned());
        }
    }
    order
}

/// Where a snapshot's tables and columns are in a target schema: per snapshot table, the index
/// of the target table and, per snapshot column, the index of the target column.
pub(crate) type SchemaMap = Vec<(usize, Vec<usize>)>;

/// Checks a snapshot against the store it is imported into: same schema version, same tables
/// and, per table, the same columns (by name; types may differ only as [`Value::coerce`]
/// allows). Returns where each snapshot table and column is in `target`.
pub(crate) fn match_schema(
    snapshot: &SnapshotInfo,
    schema_version: i64,
    target: &[TableInfo],
) -> StoreResult<SchemaMap> {
    if snapshot.schema_version != schema_version {
        return Err(StoreError::SchemaMismatch {
            backup: snapshot.schema_version,
            store: schema_version,
        });
    }
    let tables_differ = || StoreError::Backup("the backup's tables differ from the store's");
    let columns_differ = || StoreError::Backup("the backup's columns differ from the store's");
    if target.len() != snapshot.tables.len() {
        return Err(tables_differ());
    }
    snapshot
        .tables
        .iter()
        .map(|table| {
            let t = target
                .iter()
                .position(|t| t.name == table.name)
                .ok_or_else(tables_differ)?;
            if target[t].columns.len() != table.columns.len() {
                return Err(columns_differ());
            }
            let cols = table
                .columns
                .iter()
                .map(|c| {
                    target[t]
                        .columns
                        .iter()
                        .position(|tc| tc.name == c.name)
                        .ok_or_else(columns_differ)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((t, cols))
        })
        .collect()
}

/// Counts rows per table during an import and checks them against the snapshot.
pub(crate) struct ImportCounter<'a> {
    snapshot: &'a SnapshotInfo,
    counts: Vec<u64>,
    current: usize,
}

impl<'a> ImportCounter<'a> {
    pub(crate) fn new(snapshot: &'a SnapshotInfo) -> Self {
        Self {
            snapshot,
            counts: vec![0; snapshot.tables.len()],
            current: 0,
        }
    }

    /// Accepts a row of `table`: tables must come in order, each with no more rows than announced.
    pub(crate) fn row(&mut self, table: usize) -> StoreResult<()> {
        if table < self.current || table >= self.counts.len() {
            return Err(StoreError::Backup("rows out of table order"));
        }
        self.current = table;
        self.counts[table] += 1;
        if self.counts[table] > self.snapshot.tables[table].rows {
            return Err(StoreError::Backup("more rows than the backup announced"));
        }
        Ok(())
    }

    /// Checks every table got its rows.
    pub(crate) fn finish(self) -> StoreResult<ImportReport> {
        for (t, n) in self.snapshot.tables.iter().zip(&self.counts) {
            if t.rows != *n {
                return Err(StoreError::Backup("fewer rows than the backup announced"));
            }
        }
        Ok(ImportReport {
            tables: self.counts.len(),
            rows: self.counts.iter().sum(),
        })
    }
}

/// `SELECT <columns> FROM <table>`, the columns in the table's order.
pub(crate) fn select_sql(table: &TableInfo) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| quoted(&c.name)).collect();
    format!("SELECT {} FROM {}", cols.join(", "), quoted(&table.name))
}

/// The last migration applied (the same text in both dialects).
pub(crate) const SCHEMA_VERSION_SQL: &str =
    "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";

/// `SELECT COUNT(*) FROM <table>`.
pub(crate) fn count_sql(table: &str) -> String {
    format!("SELECT COUNT(*) FROM {}", quoted(table))
}

/// `SELECT 1 FROM <table> LIMIT 1`: whether a table has a row.
pub(crate) fn probe_sql(table: &str) -> String {
    format!("SELECT 1 FROM {} LIMIT 1", quoted(table))
}

/// `DELETE FROM <table>`, for the [`SEEDED_TABLES`] an import replaces.
pub(crate) fn clear_sql(table: &str) -> String {
    format!("DELETE FROM {}", quoted(table))
}

/// One `INSERT` per snapshot table, its parameters written by `placeholder` (1-based: `?` on
/// SQLite, `$n` on PostgreSQL).
pub(crate) fn insert_sql(snapshot: &SnapshotInfo, placeholder: fn(usize) -> String) -> Vec<String> {
    snapshot
        .tables
        .iter()
        .map(|t| {
            let cols: Vec<String> = t.columns.iter().map(|c| quoted(&c.name)).collect();
            let params: Vec<String> = (1..=cols.len()).map(placeholder).collect();
            format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quoted(&t.name),
                cols.join(", "),
                params.join(", ")
            )
        })
        .collect()
}

/// A quoted SQL identifier. Names come from the database's own catalog (and, on import, only
/// after [`match_schema`] found them there), so quoting guards against odd names, not input.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn referenced_tables_come_first() {
        let order = dependency_order(
            &s(&["versions", "keys", "accounts", "instances"]),
            &[
                ("versions".into(), "keys".into()),
                ("keys".into(), "instances".into()),
                ("instances".into(), "accounts".into()),
                ("keys".into(), "keys".into()),
            ],
        );
        assert_eq!(order, s(&["accounts", "instances", "keys", "versions"]));
    }

    #[test]
    fn a_cycle_still_orders_every_table() {
        let order = dependency_order(
            &s(&["b", "a", "c"]),
            &[("a".into(), "b".into()), ("b".into(), "a".into())],
        );
        assert_eq!(order, s(&["c", "a", "b"]));
    }

    #[test]
    fn flags_and_integers_convert_both_ways_only_for_0_and_1() {
        assert_eq!(
            Value::Int(1).coerce(ColumnKind::Bool).ok(),
            Some(Value::Bool(true))
        );
        assert_eq!(
            Value::Bool(false).coerce(ColumnKind::Int).ok(),
            Some(Value::Int(0))
        );
        assert!(Value::Int(2).coerce(ColumnKind::Bool).is_err());
        assert!(Value::Text("1".into()).coerce(ColumnKind::Int).is_err());
        assert_eq!(
            Value::Null.coerce(ColumnKind::Bytes).ok(),
            Some(Value::Null)
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        let shown = format!("{:?}", Value::Text("secret-name".into()));
        assert!(!shown.contains("secret"));
    }
}
