//! The content of a backup's frames: JSON lines. The first describes the snapshot (backend,
//! schema, tables with their columns and row counts); each following line is one row, a JSON
//! array of its values in the column order, tables one after the other. Values: `null`,
//! integers, booleans, strings, and bytes as base64 strings (the column type says which).

use arca_store::backup::{Column, ColumnKind, SnapshotInfo, TableInfo, Value};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::BackupError;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSnapshot {
    backend: String,
    schema_version: i64,
    tables: Vec<WireTable>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTable {
    name: String,
    /// `[name, kind]` pairs.
    columns: Vec<(String, String)>,
    rows: u64,
}

/// The first line: the snapshot's description.
pub fn encode_snapshot(info: &SnapshotInfo, out: &mut Vec<u8>) -> Result<(), BackupError> {
    let wire = WireSnapshot {
        backend: info.backend.clone(),
        schema_version: info.schema_version,
        tables: info
            .tables
            .iter()
            .map(|t| WireTable {
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.kind.as_str().to_owned()))
                    .collect(),
                rows: t.rows,
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &wire).map_err(|_| BackupError::Format("cannot encode"))?;
    out.push(b'\n');
    Ok(())
}

/// Parses [`encode_snapshot`]'s line.
pub fn decode_snapshot(line: &[u8]) -> Result<SnapshotInfo, BackupError> {
    let wire: WireSnapshot = serde_json::from_slice(line)
        .map_err(|_| BackupError::Format("malformed snapshot description"))?;
    let tables = wire
        .tables
        .into_iter()
        .map(|t| {
            let columns = t
                .columns
                .into_iter()
                .map(|(name, kind)| {
                    Ok(Column {
                        name,
                        kind: ColumnKind::parse(&kind)
                            .ok_or(BackupError::Format("unknown column type"))?,
                    })
                })
                .collect::<Result<Vec<_>, BackupError>>()?;
            Ok(TableInfo {
                name: t.name,
                columns,
                rows: t.rows,
            })
        })
        .collect::<Result<Vec<_>, BackupError>>()?;
    Ok(SnapshotInfo {
        backend: wire.backend,
        schema_version: wire.schema_version,
        tables,
    })
}

/// One row's line.
pub fn encode_row(values: &[Value], out: &mut Vec<u8>) -> Result<(), BackupError> {
    let json: Vec<Json> = values
        .iter()
        .map(|v| match v {
            Value::Null => Json::Null,
            Value::Int(i) => Json::from(*i),
            Value::Bool(b) => Json::Bool(*b),
            Value::Text(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(STANDARD.encode(b)),
        })
        .collect();
    serde_json::to_writer(&mut *out, &json).map_err(|_| BackupError::Format("cannot encode"))?;
    out.push(b'\n');
    Ok(())
}

/// Parses a row's line for a table with `columns`.
pub fn decode_row(line: &[u8], columns: &[Column]) -> Result<Vec<Value>, BackupError> {
    let bad = || BackupError::Format("malformed row");
    let json: Vec<Json> = serde_json::from_slice(line).map_err(|_| bad())?;
    if json.len() != columns.len() {
        return Err(bad());
    }
    json.into_iter()
        .zip(columns)
        .map(|(v, c)| {
            Ok(match (v, c.kind) {
                (Json::Null, _) => Value::Null,
                (Json::Number(n), ColumnKind::Int) => Value::Int(n.as_i64().ok_or_else(bad)?),
                (Json::Bool(b), ColumnKind::Bool) => Value::Bool(b),
                (Json::String(s), ColumnKind::Text) => Value::Text(s),
                (Json::String(s), ColumnKind::Bytes) => {
                    Value::Bytes(STANDARD.decode(s).map_err(|_| bad())?)
                }
                _ => return Err(bad()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn columns() -> Vec<Column> {
        [
            ColumnKind::Int,
            ColumnKind::Bool,
            ColumnKind::Text,
            ColumnKind::Bytes,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Column {
            name: format!("c{i}"),
            kind,
        })
        .collect()
    }

    fn value(kind: ColumnKind) -> BoxedStrategy<Value> {
        let some = match kind {
            ColumnKind::Int => any::<i64>().prop_map(Value::Int).boxed(),
            ColumnKind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            ColumnKind::Text => any::<String>().prop_map(Value::Text).boxed(),
            ColumnKind::Bytes => proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(Value::Bytes)
                .boxed(),
        };
        prop_oneof![1 => Just(Value::Null), 4 => some].boxed()
    }

    proptest! {
        #[test]
        fn rows_round_trip(
            a in value(ColumnKind::Int),
            b in value(ColumnKind::Bool),
            c in value(ColumnKind::Text),
            d in value(ColumnKind::Bytes),
        ) {
            let row = vec![a, b, c, d];
            let mut line = Vec::new();
            encode_row(&row, &mut line).unwrap();
            // One line: a newline inside text is escaped.
            prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
            prop_assert_eq!(decode_row(&line[..line.len() - 1], &columns()).unwrap(), row);
        }

        #[test]
        fn any_line_decodes_or_is_refused(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_row(&line, &columns());
            let _ = decode_snapshot(&line);
        }
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        let cols = columns();
        assert!(decode_row(br#"[1, true, "x", "AA=="]"#, &cols).is_ok());
        assert!(decode_row(br#"["1", true, "x", "AA=="]"#, &cols).is_err());
        assert!(decode_row(br#"[1, 1, "x", "AA=="]"#, &cols).is_err());
        assert!(decode_row(br#"[1, true, "x", "not base64!"]"#, &cols).is_err());
        assert!(decode_row(br#"[1, true, "x"]"#, &cols).is_err());
        assert!(decode_row(br#"[1.5, true, "x", "AA=="]"#, &cols).is_err());
    }

    #[test]
    fn snapshot_descriptions_round_trip() {
        let info = SnapshotInfo {
            backend: "sqlite".into(),
            schema_version: 16,
            tables: vec![TableInfo {
                name: "t".into(),
                columns: columns(),
                rows: 3,
            }],
        };
        let mut line = Vec::new();
        encode_snapshot(&info, &mut line).unwrap();
        assert_eq!(decode_snapshot(&line[..line.len() - 1]).unwrap(), info);
    }
}
