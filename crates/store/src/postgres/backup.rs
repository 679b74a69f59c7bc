//! [`BackupStore`] on PostgreSQL: the export reads in one `REPEATABLE READ, READ ONLY`
//! transaction (one snapshot of the whole database, taken while the cluster keeps writing); the
//! import writes in one transaction.

use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::{PostgresStore, db};
use crate::backup::{
    BackupStore, Column, ColumnKind, ImportCounter, ImportReport, RowSource, SCHEMA_VERSION_SQL,
    SEEDED_TABLES, SnapshotInfo, SnapshotSink, TableInfo, Value, clear_sql, count_sql,
    dependency_order, insert_sql, match_schema, probe_sql, select_sql,
};
use crate::{StoreError, StoreResult};

/// PostgreSQL's integer columns come in two widths; the rest map one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgType {
    Int4,
    Int8,
    Bool,
    Text,
    Bytea,
}

impl PgType {
    fn parse(data_type: &str) -> StoreResult<Self> {
        Ok(match data_type {
            "integer" => Self::Int4,
            "bigint" => Self::Int8,
            "boolean" => Self::Bool,
            "text" => Self::Text,
            "bytea" => Self::Bytea,
            _ => return Err(StoreError::Corrupt("a column type the backup cannot carry")),
        })
    }

    fn kind(self) -> ColumnKind {
        match self {
            Self::Int4 | Self::Int8 => ColumnKind::Int,
            Self::Bool => ColumnKind::Bool,
            Self::Text => ColumnKind::Text,
            Self::Bytea => ColumnKind::Bytes,
        }
    }
}

/// The tables of the schema with their columns' types (row counts zero), referenced tables first.
async fn tables(conn: &mut PgConnection) -> StoreResult<Vec<(TableInfo, Vec<PgType>)>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         AND tablename NOT LIKE '\\_sqlx\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let refs: Vec<(String, String)> = sqlx::query_as(
        "SELECT src.relname::text, dst.relname::text FROM pg_constraint c \
         JOIN pg_class src ON src.oid = c.conrelid \
         JOIN pg_class dst ON dst.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = src.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut out = Vec::with_capacity(names.len());
    for name in dependency_order(&names, &refs) {
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut columns = Vec::with_capacity(cols.len());
        let mut types = Vec::with_capacity(cols.len());
        for (col, data_type) in cols {
            let t = PgType::parse(&data_type)?;
            columns.push(Column {
                name: col,
                kind: t.kind(),
            });
            types.push(t);
        }
        out.push((
            TableInfo {
                name,
                columns,
                rows: 0,
            },
            types,
        ));
    }
    Ok(out)
}

async fn schema_version(conn: &mut PgConnection) -> StoreResult<i64> {
    sqlx::query_scalar(SCHEMA_VERSION_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

fn value(row: &PgRow, i: usize, t: PgType) -> StoreResult<Value> {
    let v = match t {
        PgType::Int4 => row
            .try_get::<Option<i32>, _>(i)
            .map_err(db)?
            .map(|n| Value::Int(i64::from(n))),
        PgType::Int8 => row
            .try_get::<Option<i64>, _>(i)
            .map_err(db)?
            .map(Value::Int),
        PgType::Bool => row
            .try_get::<Option<bool>, _>(i)
            .map_err(db)?
            .map(Value::Bool),
        PgType::Text => row
            .try_get::<Option<String>, _>(i)
            .map_err(db)?
            .map(Value::Text),
        PgType::Bytea => row
            .try_get::<Option<Vec<u8>>, _>(i)
            .map_err(db)?
            .map(Value::Bytes),
    };
    Ok(v.unwrap_or(Value::Null))
}

#[async_trait]
impl BackupStore for PostgresStore {
    async fn export(&self, sink: &mut dyn SnapshotSink) -> StoreResult<SnapshotInfo> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Before any query: the snapshot is taken at the first statement after this one.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let schema_version = schema_version(&mut tx).await?;
        let found = tables(&mut tx).await?;
        let mut tables = Vec::with_capacity(found.len());
        let mut types = Vec::with_capacity(found.len());
        for (mut t, ty) in found {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(count_sql(&t.name)))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            t.rows = u64::try_from(n).unwrap_or(0);
            tables.push(t);
            types.push(ty);
        }
        let snapshot = SnapshotInfo {
            backend: "postgres".into(),
            schema_version,
            tables,
        };
        sink.begin(&snapshot).await?;
        for (index, (table, ty)) in snapshot.tables.iter().zip(&types).enumerate() {
            let sql = select_sql(table);
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                let values = ty
                    .iter()
                    .enumerate()
                    .map(|(i, t)| value(&row, i, *t))
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let version = schema_version(&mut tx).await?;
        let found = tables(&mut tx).await?;
        let target: Vec<TableInfo> = found.iter().map(|(t, _)| t.clone()).collect();
        // The PostgreSQL types of each snapshot table's columns, in the snapshot's order.
        let types: Vec<Vec<PgType>> = match_schema(snapshot, version, &target)?
            .into_iter()
            .map(|(t, cols)| cols.into_iter().map(|c| found[t].1[c]).collect())
            .collect();
        for t in &target {
            if SEEDED_TABLES.contains(&t.name.as_str()) {
                continue;
            }
            let any: Option<i32> = sqlx::query_scalar(AssertSqlSafe(probe_sql(&t.name)))
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
        let inserts = insert_sql(snapshot, |i| format!("${i}"));
        let mut counter = ImportCounter::new(snapshot);
        while let Some((table, values)) = rows.next_row().await? {
            counter.row(table)?;
            let (Some(sql), Some(types)) = (inserts.get(table), types.get(table)) else {
                return Err(StoreError::Backup("rows out of table order"));
            };
            if values.len() != types.len() {
                return Err(StoreError::Backup("a row with the wrong number of values"));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for (v, ty) in values.into_iter().zip(types) {
                let v = v.coerce(ty.kind())?;
                q = match (v, ty) {
                    (Value::Null, PgType::Int4) => q.bind(None::<i32>),
                    (Value::Null, PgType::Int8) => q.bind(None::<i64>),
                    (Value::Null, PgType::Bool) => q.bind(None::<bool>),
                    (Value::Null, PgType::Text) => q.bind(None::<String>),
                    (Value::Null, PgType::Bytea) => q.bind(None::<Vec<u8>>),
                    (Value::Int(i), PgType::Int4) => {
                        q.bind(i32::try_from(i).map_err(|_| {
                            StoreError::Backup("an integer too large for its column")
                        })?)
                    }
                    (Value::Int(i), _) => q.bind(i),
                    (Value::Bool(b), _) => q.bind(b),
                    // NUL in text: PostgreSQL refuses it, StoreError::UnstorableText below.
                    (Value::Text(s), _) => q.bind(s),
                    (Value::Bytes(b), _) => q.bind(b),
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
