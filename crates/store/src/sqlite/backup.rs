//! [`BackupStore`] on SQLite: the export reads in one transaction of the read pool (a WAL
//! snapshot: writers go on, the export sees none of their commits); the import writes in one
//! transaction of the writer.

use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use super::{SqliteStore, db};
use crate::backup::{
    BackupStore, Column, ColumnKind, ImportCounter, ImportReport, RowSource, SCHEMA_VERSION_SQL,
    SEEDED_TABLES, SnapshotInfo, SnapshotSink, TableInfo, Value, clear_sql, count_sql,
    dependency_order, insert_sql, match_schema, probe_sql, select_sql,
};
use crate::{StoreError, StoreResult};

/// The tables of the schema with their columns (row counts zero), referenced tables first.
async fn tables(conn: &mut SqliteConnection) -> StoreResult<Vec<TableInfo>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sqlx\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut refs = Vec::new();
    for name in &names {
        let targets: Vec<String> =
            sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list(?)")
                .bind(name)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        refs.extend(targets.into_iter().map(|t| (name.clone(), t)));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in dependency_order(&names, &refs) {
        let cols: Vec<(String, String)> =
            sqlx::query_as("SELECT name, type FROM pragma_table_info(?) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        let columns = cols
            .into_iter()
            .map(|(name, decl)| {
                let kind = match decl.to_ascii_uppercase().as_str() {
                    "INTEGER" => ColumnKind::Int,
                    "TEXT" => ColumnKind::Text,
                    "BLOB" => ColumnKind::Bytes,
                    _ => return Err(StoreError::Corrupt("a column type the backup cannot carry")),
                };
                Ok(Column { name, kind })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.push(TableInfo {
            name,
            columns,
            rows: 0,
        });
    }
    Ok(out)
}

async fn schema_version(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar(SCHEMA_VERSION_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

fn value(row: &SqliteRow, i: usize, kind: ColumnKind) -> StoreResult<Value> {
    let v = match kind {
        ColumnKind::Int | ColumnKind::Bool => row
            .try_get::<Option<i64>, _>(i)
            .map_err(db)?
            .map(Value::Int),
        ColumnKind::Text => row
            .try_get::<Option<String>, _>(i)
            .map_err(db)?
            .map(Value::Text),
        ColumnKind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)
            .map_err(db)?
            .map(Value::Bytes),
    };
    Ok(v.unwrap_or(Value::Null))
}

#[async_trait]
impl BackupStore for SqliteStore {
    async fn export(&self, sink: &mut dyn SnapshotSink) -> StoreResult<SnapshotInfo> {
        let mut tx = self.reader.begin().await.map_err(db)?;
        // The first read fixes the transaction's snapshot; every later one sees the same.
        let schema_version = schema_version(&mut tx).await?;
        let mut tables = tables(&mut tx).await?;
        for t in &mut tables {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(count_sql(&t.name)))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            t.rows = u64::try_from(n).unwrap_or(0);
        }
        let snapshot = SnapshotInfo {
            backend: "sqlite".into(),
            schema_version,
            tables,
        };
        sink.begin(&snapshot).await?;
        for (index, table) in snapshot.tables.iter().enumerate() {
            let sql = select_sql(table);
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                let values = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| value(&row, i, c.kind))
                    .collect::<StoreResult<Vec<_>>>()?;
                sink.row(index, values).await?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(snapshot)
    }

    async fn import(
        &self,
        snapshot: &SnapshotInfo,
        rows: &mut dyn RowSource,
    ) -> StoreResult<ImportReport> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let version = schema_version(&mut tx).await?;
        let target = tables(&mut tx).await?;
        // The target's column types, per snapshot table, in the snapshot's column order.
        let kinds: Vec<Vec<ColumnKind>> = match_schema(snapshot, version, &target)?
            .into_iter()
            .map(|(t, cols)| {
                cols.into_iter()
                    .map(|c| target[t].columns[c].kind)
                    .collect()
            })
            .collect();
        for t in &target {
            if SEEDED_TABLES.contains(&t.name.as_str()) {
                continue;
            }
            let any: Option<i64> = sqlx::query_scalar(AssertSqlSafe(probe_sql(&t.name)))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if any.is_some() {
                return Err(StoreError::NotEmpty);
            }
        }
        for t in SEEDED_TABLES {
            sqlx::query(AssertSqlSafe(clear_sql(t)))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let inserts = insert_sql(snapshot, |_| "?".to_owned());
        let mut counter = ImportCounter::new(snapshot);
        while let Some((table, values)) = rows.next_row().await? {
            counter.row(table)?;
            let (Some(sql), Some(kinds)) = (inserts.get(table), kinds.get(table)) else {
                return Err(StoreError::Backup("rows out of table order"));
            };
            if values.len() != kinds.len() {
                return Err(StoreError::Backup("a row with the wrong number of values"));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for (v, kind) in values.into_iter().zip(kinds) {
                q = match v.coerce(*kind)? {
                    Value::Null => q.bind(None::<i64>),
                    Value::Int(i) => q.bind(i),
                    Value::Bool(b) => q.bind(i64::from(b)),
                    Value::Text(s) => q.bind(s),
                    Value::Bytes(b) => q.bind(b),
                };
            }
            q.execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_db(e, "a row of the backup"))?;
        }
        let report = counter.finish()?;
        tx.commit().await.map_err(db)?;
        Ok(report)
    }
}
