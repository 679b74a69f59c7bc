//! The three mini-languages of `GET /api/v2/keys` (Key Protect §6.3 to §6.5), parsed and
//! applied without I/O: `search` (name and alias substring search with `not:`, `escape:`,
//! `exact:`, `alias:` and `name:` prefixes), `sort` (a comma list of properties, `-` for
//! descending) and `filter` (space-separated `prop=value` / `prop=op:value` terms).
//!
//! Parsers return [`QueryError`] for anything they do not accept; they never panic.

use std::cmp::Ordering;
use std::collections::HashMap;

use arca_store::KeyRecord;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// At most this many keys can be searched (Key Protect: 5000); more is `KEY_SEARCH_TOO_BROAD`.
pub const SEARCH_SPACE_LIMIT: usize = 5000;

/// At most this many terms per property in `filter`.
pub const MAX_TERMS_PER_PROPERTY: usize = 3;

/// A query parameter that does not parse; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError(message.into()))
}

// ---------------------------------------------------------------------------------------------
// search

/// Where a search looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The key's name.
    Name,
    /// The key's aliases.
    Alias,
}

impl Scope {
    /// The wire name (`metadata.searchQuery.scopes`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Alias => "alias",
        }
    }
}

/// A parsed `search` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The text searched for (after the prefixes).
    pub query: String,
    /// The scopes, OR-ed; never empty (no scope given means name and alias).
    pub scopes: Vec<Scope>,
    /// `not:`: keys whose name and aliases do not match.
    pub not: bool,
    /// `exact:`: whole-value matches only.
    pub exact: bool,
    lowered: String,
}

/// What a search also looks up directly (returned first when found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A full key id.
    Id(String),
    /// An alias.
    Alias(String),
}

impl Search {
    /// Parses `search`: prefixes in any order, then the text. `escape:` ends the prefixes.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let mut rest = text;
        let (mut not, mut exact) = (false, false);
        let mut scopes = Vec::new();
        while let Some((prefix, after)) = rest.split_once(':') {
            match prefix.to_ascii_lowercase().as_str() {
                "not" => not = true,
                "exact" => exact = true,
                "name" if !scopes.contains(&Scope::Name) => scopes.push(Scope::Name),
                "alias" if !scopes.contains(&Scope::Alias) => scopes.push(Scope::Alias),
                "name" | "alias" => {}
                "escape" => {
                    rest = after;
                    break;
                }
                _ => break,
            }
            rest = after;
        }
        if rest.is_empty() {
            return err("search needs text to search for after its prefixes");
        }
        if scopes.is_empty() {
            scopes = vec![Scope::Name, Scope::Alias];
        }
        Ok(Self {
            query: rest.to_owned(),
            lowered: rest.to_lowercase(),
            scopes,
            not,
            exact,
        })
    }

    fn matches_value(&self, value: &str) -> bool {
        let value = value.to_lowercase();
        if self.exact {
            value == self.lowered
        } else {
            value.contains(&self.lowered)
        }
    }

    /// Whether a key with this name and these aliases matches.
    pub fn matches(&self, name: &str, aliases: &[String]) -> bool {
        let hit = self.scopes.iter().any(|scope| match scope {
            Scope::Name => self.matches_value(name),
            Scope::Alias => aliases.iter().any(|a| self.matches_value(a)),
        });
        hit != self.not
    }

    /// The direct lookup this search implies: a full key id, or a term in the alias scope
    /// (none for `not:` searches).
    pub fn lookup(&self) -> Option<Lookup> {
        if self.not {
            return None;
        }
        if self.query.len() == 36
            && let Ok(id) = uuid::Uuid::try_parse(&self.query)
        {
            return Some(Lookup::Id(id.to_string()));
        }
        self.scopes
            .contains(&Scope::Alias)
            .then(|| Lookup::Alias(self.query.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// sort

/// A sortable key property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `id`.
    Id,
    /// `state`.
    State,
    /// `extractable`.
    Extractable,
    /// `imported`.
    Imported,
    /// `creationDate`.
    CreationDate,
    /// `lastUpdateDate`.
    LastUpdateDate,
    /// `lastRotateDate`.
    LastRotateDate,
    /// `deletionDate`.
    DeletionDate,
    /// `expirationDate`.
    ExpirationDate,
}

impl SortField {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "id" => Self::Id,
            "state" => Self::State,
            "extractable" => Self::Extractable,
            "imported" => Self::Imported,
            "creationdate" => Self::CreationDate,
            "lastupdatedate" => Self::LastUpdateDate,
            "lastrotatedate" => Self::LastRotateDate,
            "deletiondate" => Self::DeletionDate,
            "expirationdate" => Self::ExpirationDate,
            _ => return None,
        })
    }

    fn compare(self, a: &KeyRecord, b: &KeyRecord) -> Ordering {
        match self {
            Self::Id => a.id.cmp(&b.id),
            Self::State => a.state.cmp(&b.state),
            Self::Extractable => a.extractable.cmp(&b.extractable),
            Self::Imported => a.imported.cmp(&b.imported),
            Self::CreationDate => a.creation_date.cmp(&b.creation_date),
            Self::LastUpdateDate => a.last_update_date.cmp(&b.last_update_date),
            // Absent dates sort first ascending (last descending).
            Self::LastRotateDate => a.last_rotate_date.cmp(&b.last_rotate_date),
            Self::DeletionDate => a.deletion_date.cmp(&b.deletion_date),
            Self::ExpirationDate => a.expiration_date.cmp(&b.expiration_date),
        }
    }
}

/// One term of `sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    /// The property.
    pub field: SortField,
    /// `-` prefix.
    pub descending: bool,
}

/// Parses `sort`: `field[,field...]`, each optionally prefixed by `-`. Blank means none.
pub fn parse_sort(text: &str) -> Result<Vec<SortKey>, QueryError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<SortKey> = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let (descending, name) = match item.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, item.strip_prefix('+').unwrap_or(item)),
        };
        let Some(field) = SortField::parse(name) else {
            return err(format!(
                "sort: unknown property {item:?}; use id, state, extractable, imported, \
                 creationDate, lastUpdateDate, lastRotateDate, deletionDate or expirationDate"
            ));
        };
        if keys.iter().any(|k| k.field == field) {
            return err(format!("sort: {name:?} is given twice"));
        }
        keys.push(SortKey { field, descending });
    }
    Ok(keys)
}

/// Orders two keys by `keys`, then by id (the default order).
pub fn compare(keys: &[SortKey], a: &KeyRecord, b: &KeyRecord) -> Ordering {
    keys.iter()
        .map(|k| {
            let o = k.field.compare(a, b);
            if k.descending { o.reverse() } else { o }
        })
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.id.cmp(&b.id))
}

// ---------------------------------------------------------------------------------------------
// filter

/// A filterable date property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// `creationDate`.
    Creation,
    /// `deletionDate`.
    Deletion,
    /// `expirationDate`.
    Expiration,
    /// `lastRotateDate`.
    LastRotate,
    /// `lastUpdateDate`.
    LastUpdate,
}

impl DateField {
    fn of(self, r: &KeyRecord) -> Option<i64> {
        match self {
            Self::Creation => Some(r.creation_date),
            Self::Deletion => r.deletion_date,
            Self::Expiration => r.expiration_date,
            Self::LastRotate => r.last_rotate_date,
            Self::LastUpdate => Some(r.last_update_date),
        }
    }
}

/// A date comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOp {
    /// No operator.
    Eq,
    /// `lt:`.
    Lt,
    /// `lte:`.
    Lte,
    /// `gt:`.
    Gt,
    /// `gte:`.
    Gte,
}

/// One date term: `none` (absent) or a comparison with a time (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTerm {
    /// The property is absent.
    Absent,
    /// The property is present and compares so.
    Compare(DateOp, i64),
}

impl DateTerm {
    fn matches(self, value: Option<i64>) -> bool {
        match (self, value) {
            (Self::Absent, v) => v.is_none(),
            (Self::Compare(..), None) => false,
            (Self::Compare(op, t), Some(v)) => match op {
                DateOp::Eq => v == t,
                DateOp::Lt => v < t,
                DateOp::Lte => v <= t,
                DateOp::Gt => v > t,
                DateOp::Gte => v >= t,
            },
        }
    }
}

/// A parsed `filter` parameter. Terms are AND-ed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `state=` terms, intersected (`None`: not filtered on).
    pub states: Option<Vec<i64>>,
    /// `extractable=` terms; contradicting terms leave [`Filter::impossible`] set.
    pub extractable: Option<bool>,
    /// Contradicting `extractable` terms: nothing matches.
    pub impossible: bool,
    /// Date terms.
    pub dates: Vec<(DateField, DateTerm)>,
}

/// Splits on ASCII whitespace outside double quotes.
fn tokens(text: &str) -> Result<Vec<&str>, QueryError> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
            start.get_or_insert(i);
        } else if c.is_ascii_whitespace() && !quoted {
            if let Some(s) = start.take() {
                out.push(&text[s..i]);
            }
        } else {
            start.get_or_insert(i);
        }
    }
    if quoted {
        return err("filter: a double quote is not closed");
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    Ok(out)
}

fn parse_date_term(property: &str, value: &str) -> Result<DateTerm, QueryError> {
    let (op, value) = match value.split_once(':') {
        Some((op, rest)) if !op.starts_with('"') => {
            let op = match op.to_ascii_lowercase().as_str() {
                "lt" => DateOp::Lt,
                "lte" => DateOp::Lte,
                "gt" => DateOp::Gt,
                "gte" => DateOp::Gte,
                _ => {
                    return err(format!(
                        "filter: {property}: unknown operator {op:?}; use lt, lte, gt or gte"
                    ));
                }
            };
            (op, rest)
        }
        _ => (DateOp::Eq, value),
    };
    if value.eq_ignore_ascii_case("none") {
        if op != DateOp::Eq {
            return err(format!("filter: {property}: none takes no operator"));
        }
        return Ok(DateTerm::Absent);
    }
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return err(format!(
            "filter: {property}: the date must be in double quotes, or none"
        ));
    };
    let date = OffsetDateTime::parse(inner, &Rfc3339).map_err(|_| {
        QueryError(format!(
            "filter: {property}: {inner:?} is not an RFC 3339 date"
        ))
    })?;
    let ms = i64::try_from(date.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| QueryError(format!("filter: {property}: date out of range")))?;
    Ok(DateTerm::Compare(op, ms))
}

/// Parses a comma list of states (0 to 5), no blanks.
pub fn parse_states(text: &str) -> Result<Vec<i64>, QueryError> {
    text.split(',')
        .map(|s| match s.trim().parse::<i64>() {
            Ok(n @ 0..=5) => Ok(n),
            _ => err("state must be a comma-separated list of 0 to 5"),
        })
        .collect()
}

impl Filter {
    /// Parses `filter`. Blank means no filter.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let mut filter = Self::default();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for token in tokens(text)? {
            let Some((property, value)) = token.split_once('=') else {
                return err(format!("filter: {token:?} is not a property=value term"));
            };
            let lowered = property.to_ascii_lowercase();
            let count = counts.entry(lowered.clone()).or_default();
            *count += 1;
            if *count > MAX_TERMS_PER_PROPERTY {
                return err(format!(
                    "filter: at most {MAX_TERMS_PER_PROPERTY} terms per property ({property})"
                ));
            }
            let date_field = match lowered.as_str() {
                "creationdate" => Some(DateField::Creation),
                "deletiondate" => Some(DateField::Deletion),
                "expirationdate" => Some(DateField::Expiration),
                "lastrotatedate" => Some(DateField::LastRotate),
                "lastupdatedate" => Some(DateField::LastUpdate),
                _ => None,
            };
            if let Some(field) = date_field {
                filter
                    .dates
                    .push((field, parse_date_term(property, value)?));
                continue;
            }
            match lowered.as_str() {
                "extractable" => {
                    let v = if value.eq_ignore_ascii_case("true") {
                        true
                    } else if value.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return err("filter: extractable must be true or false");
                    };
                    match filter.extractable {
                        Some(prev) if prev != v => filter.impossible = true,
                        _ => filter.extractable = Some(v),
                    }
                }
                "state" => {
                    let states =
                        parse_states(value).map_err(|e| QueryError(format!("filter: {e}")))?;
                    filter.states = Some(match filter.states.take() {
                        None => states,
                        Some(prev) => prev.into_iter().filter(|s| states.contains(s)).collect(),
                    });
                }
                _ => {
                    return err(format!(
                        "filter: unknown property {property:?}; use creationDate, deletionDate, \
                         expirationDate, extractable, lastRotateDate, lastUpdateDate or state"
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// Whether the key passes every date term (state and extractable are applied by the store).
    pub fn matches_dates(&self, r: &KeyRecord) -> bool {
        self.dates
            .iter()
            .all(|(field, term)| term.matches(field.of(r)))
    }

    /// Whether the key passes every term.
    pub fn matches(&self, r: &KeyRecord) -> bool {
        !self.impossible
            && self.states.as_ref().is_none_or(|s| s.contains(&r.state))
            && self.extractable.is_none_or(|e| e == r.extractable)
            && self.matches_dates(r)
    }
}

// ---------------------------------------------------------------------------------------------
// applying them

/// `search`, `sort` and `filter` of one listing, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSpec {
    /// `search`.
    pub search: Option<Search>,
    /// `sort` (empty: by id).
    pub sort: Vec<SortKey>,
    /// `filter` (state and extractable terms are applied by the store).
    pub filter: Filter,
}

impl ListSpec {
    /// Parses the three parameters; absent or blank ones mean "none".
    pub fn parse(
        search: Option<&str>,
        sort: Option<&str>,
        filter: Option<&str>,
    ) -> Result<Self, QueryError> {
        let search = search
            .filter(|s| !s.trim().is_empty())
            .map(Search::parse)
            .transpose()?;
        Ok(Self {
            search,
            sort: parse_sort(sort.unwrap_or(""))?,
            filter: Filter::parse(filter.unwrap_or(""))?,
        })
    }

    /// Whether the store's own listing (state, extractable, ring, by id) answers it.
    pub fn is_plain(&self) -> bool {
        self.search.is_none()
            && self.sort.is_empty()
            && self.filter.dates.is_empty()
            && !self.filter.impossible
    }
}

/// Why a listing is refused after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// More than the search space limit to search, and no direct lookup hit.
    TooBroad(usize),
}

/// What a listing selects, before paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The matching keys in order (a direct lookup hit first).
    pub records: Vec<KeyRecord>,
    /// The search space exceeded the limit; only the direct lookup hit is returned.
    pub incomplete: bool,
}

/// Applies `spec` to `candidates` (already limited by state, extractable and ring). `aliases`
/// maps key ids to their aliases (needed only for a search); `direct` is the key a search's
/// direct lookup found, if it passes the same constraints.
pub fn select(
    candidates: Vec<KeyRecord>,
    aliases: &HashMap<String, Vec<String>>,
    direct: Option<KeyRecord>,
    spec: &ListSpec,
    space_limit: usize,
) -> Result<Selection, SelectError> {
    let mut records: Vec<KeyRecord> = candidates
        .into_iter()
        .filter(|r| spec.filter.matches(r))
        .collect();
    let direct = direct.filter(|r| spec.filter.matches(r));
    if let Some(search) = &spec.search {
        if records.len() > space_limit {
            return match direct {
                Some(hit) => Ok(Selection {
                    records: vec![hit],
                    incomplete: true,
                }),
                None => Err(SelectError::TooBroad(records.len())),
            };
        }
        let none = Vec::new();
        records.retain(|r| {
            direct.as_ref().is_some_and(|d| d.id == r.id)
                || search.matches(&r.name, aliases.get(&r.id).unwrap_or(&none))
        });
    }
    records.sort_by(|a, b| compare(&spec.sort, a, b));
    if let Some(hit) = direct {
        records.retain(|r| r.id != hit.id);
        records.insert(0, hit);
    }
    Ok(Selection {
        records,
        incomplete: false,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn record(id: &str, name: &str) -> KeyRecord {
        KeyRecord {
            id: id.to_owned(),
            instance_id: "i".into(),
            name: name.to_owned(),
            description: None,
            extractable: false,
            imported: false,
            state: 1,
            state_before_delete: None,
            key_ring_id: "default".into(),
            tags: Vec::new(),
            expiration_date: None,
            created_by: "u".into(),
            creation_date: 1000,
            last_update_date: 1000,
            last_rotate_date: None,
            deletion_date: None,
            deleted_by: None,
            rotation_enabled: None,
            rotation_interval: None,
            dual_auth_delete: false,
            deletion_auth_by: None,
            deletion_auth_date: None,
            current_version_id: "v".into(),
            revision: 1,
        }
    }

    fn ms(date: &str) -> i64 {
        i64::try_from(
            OffsetDateTime::parse(date, &Rfc3339)
                .unwrap()
                .unix_timestamp_nanos()
                / 1_000_000,
        )
        .unwrap()
    }

    #[test]
    fn search_prefixes() {
        let s = Search::parse("foo").unwrap();
        assert_eq!(s.query, "foo");
        assert_eq!(s.scopes, vec![Scope::Name, Scope::Alias]);
        assert!(!s.not && !s.exact);

        let s = Search::parse("not:exact:foobar").unwrap();
        assert!(s.not && s.exact);
        assert_eq!(s.query, "foobar");
        assert_eq!(s, Search::parse("exact:not:foobar").unwrap());

        let s = Search::parse("exact:escape:not:foobar").unwrap();
        assert!(s.exact && !s.not);
        assert_eq!(s.query, "not:foobar");

        let s = Search::parse("alias:not:x").unwrap();
        assert_eq!(s.scopes, vec![Scope::Alias]);
        assert!(s.not);
        let s = Search::parse("name:alias:x").unwrap();
        assert_eq!(s.scopes, vec![Scope::Name, Scope::Alias]);
        let s = Search::parse("NAME:x").unwrap();
        assert_eq!(s.scopes, vec![Scope::Name]);

        // An unknown prefix is text.
        let s = Search::parse("foo:bar").unwrap();
        assert_eq!(s.query, "foo:bar");
        let s = Search::parse("escape:").map(|s| s.query);
        assert!(s.is_err());
        assert!(Search::parse("not:").is_err());
        assert!(Search::parse("").is_err());
    }

    #[test]
    fn search_matching() {
        let aliases = vec!["Prod-Alias".to_owned()];
        let s = Search::parse("foobar").unwrap();
        assert!(s.matches("xFOOBARy", &[]));
        assert!(!s.matches("foo", &[]));
        assert!(Search::parse("prod").unwrap().matches("zzz", &aliases));
        assert!(!Search::parse("name:prod").unwrap().matches("zzz", &aliases));
        assert!(
            Search::parse("alias:prod")
                .unwrap()
                .matches("zzz", &aliases)
        );
        assert!(!Search::parse("alias:zzz").unwrap().matches("zzz", &aliases));
        let exact = Search::parse("exact:foobar").unwrap();
        assert!(exact.matches("FooBar", &[]));
        assert!(!exact.matches("xfoobar", &[]));
        let not_exact = Search::parse("not:exact:foobar").unwrap();
        assert!(not_exact.matches("xfoobar", &[]));
        assert!(!not_exact.matches("foobar", &[]));
        // not: inverts the whole match: no scope may match.
        let not = Search::parse("not:prod").unwrap();
        assert!(!not.matches("zzz", &aliases));
        assert!(not.matches("zzz", &[]));
        let escaped = Search::parse("escape:not:").unwrap();
        assert!(escaped.matches("a not: b", &[]));
        assert!(!escaped.matches("a not b", &[]));
    }

    #[test]
    fn search_lookup() {
        let id = "FADEDBEE-0000-4000-8000-1234567890AB";
        assert_eq!(
            Search::parse(id).unwrap().lookup(),
            Some(Lookup::Id(id.to_ascii_lowercase()))
        );
        // Without a scope, alias is one of the scopes.
        assert_eq!(
            Search::parse("foo").unwrap().lookup(),
            Some(Lookup::Alias("foo".into()))
        );
        assert_eq!(Search::parse("name:foo").unwrap().lookup(), None);
        assert_eq!(
            Search::parse("alias:exact:foo").unwrap().lookup(),
            Some(Lookup::Alias("foo".into()))
        );
        assert_eq!(Search::parse("not:alias:foo").unwrap().lookup(), None);
    }

    #[test]
    fn sort_parsing() {
        assert_eq!(parse_sort("").unwrap(), vec![]);
        assert_eq!(
            parse_sort("-creationDate,id").unwrap(),
            vec![
                SortKey {
                    field: SortField::CreationDate,
                    descending: true
                },
                SortKey {
                    field: SortField::Id,
                    descending: false
                },
            ]
        );
        for bad in ["name", "id,", ",id", "--id", "id,id", "-", "state,-state"] {
            assert!(parse_sort(bad).is_err(), "{bad}");
        }
        for field in [
            "id",
            "state",
            "extractable",
            "imported",
            "creationDate",
            "lastUpdateDate",
            "lastRotateDate",
            "deletionDate",
            "expirationDate",
        ] {
            assert_eq!(parse_sort(&format!("-{field}")).unwrap().len(), 1);
        }
    }

    #[test]
    fn sort_order() {
        let mut a = record("a", "a");
        let mut b = record("b", "b");
        let c = record("c", "c");
        a.state = 2;
        b.last_rotate_date = Some(5);
        let mut v = vec![c.clone(), b.clone(), a.clone()];
        v.sort_by(|x, y| compare(&[], x, y));
        assert_eq!(ids(&v), ["a", "b", "c"]);
        v.sort_by(|x, y| compare(&parse_sort("-state").unwrap(), x, y));
        assert_eq!(ids(&v), ["a", "b", "c"]);
        v.sort_by(|x, y| compare(&parse_sort("state,-id").unwrap(), x, y));
        assert_eq!(ids(&v), ["c", "b", "a"]);
        // Absent dates first ascending, last descending.
        v.sort_by(|x, y| compare(&parse_sort("lastRotateDate").unwrap(), x, y));
        assert_eq!(ids(&v), ["a", "c", "b"]);
        v.sort_by(|x, y| compare(&parse_sort("-lastRotateDate").unwrap(), x, y));
        assert_eq!(ids(&v), ["b", "a", "c"]);
    }

    fn ids(v: &[KeyRecord]) -> Vec<&str> {
        v.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn filter_parsing() {
        assert_eq!(Filter::parse("").unwrap(), Filter::default());
        assert_eq!(Filter::parse("   ").unwrap(), Filter::default());
        let f = Filter::parse(
            r#"lastRotateDate=gte:"2022-02-15T00:00:00Z"  lastRotateDate=lt:"2022-03-15T00:00:00Z" state=0,1,2,3,5 extractable=FALSE deletionDate=None"#,
        )
        .unwrap();
        assert_eq!(f.states, Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(f.extractable, Some(false));
        assert_eq!(
            f.dates,
            vec![
                (
                    DateField::LastRotate,
                    DateTerm::Compare(DateOp::Gte, ms("2022-02-15T00:00:00Z"))
                ),
                (
                    DateField::LastRotate,
                    DateTerm::Compare(DateOp::Lt, ms("2022-03-15T00:00:00Z"))
                ),
                (DateField::Deletion, DateTerm::Absent),
            ]
        );
        let f = Filter::parse(r#"creationDate="2022-02-15T00:00:00.123+01:00""#).unwrap();
        assert_eq!(
            f.dates,
            vec![(
                DateField::Creation,
                DateTerm::Compare(DateOp::Eq, ms("2022-02-15T00:00:00.123+01:00"))
            )]
        );
        let f = Filter::parse("state=1,2 state=2,3").unwrap();
        assert_eq!(f.states, Some(vec![2]));
        let f = Filter::parse("extractable=true extractable=false").unwrap();
        assert!(f.impossible);

        for bad in [
            "creationDate=2022-02-15T00:00:00Z",
            r#"creationDate="2022-02-15""#,
            r#"creationDate=eq:"2022-02-15T00:00:00Z""#,
            "creationDate=lt:none",
            r#"creationDate="2022-02-15T00:00:00Z"#,
            "creationDate=\"",
            "extractable=yes",
            "state=",
            "state=1, 2",
            "state=9",
            "name=foo",
            "state",
            "=1",
            "state=1 state=1 state=1 state=1",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert!(Filter::parse("state=1 state=1 state=1").is_ok());
    }

    #[test]
    fn filter_matching() {
        let mut r = record("a", "a");
        r.creation_date = ms("2022-02-20T00:00:00Z");
        let f = Filter::parse(
            r#"creationDate=gte:"2022-02-15T00:00:00Z" creationDate=lt:"2022-03-15T00:00:00Z""#,
        )
        .unwrap();
        assert!(f.matches(&r));
        let f = Filter::parse(r#"creationDate=gt:"2022-02-20T00:00:00Z""#).unwrap();
        assert!(!f.matches(&r));
        let f = Filter::parse(r#"creationDate=lte:"2022-02-20T00:00:00Z""#).unwrap();
        assert!(f.matches(&r));
        let f = Filter::parse(r#"creationDate="2022-02-20T00:00:00Z""#).unwrap();
        assert!(f.matches(&r));
        assert!(Filter::parse("lastRotateDate=none").unwrap().matches(&r));
        assert!(!Filter::parse("creationDate=none").unwrap().matches(&r));
        assert!(
            !Filter::parse(r#"lastRotateDate=gt:"2000-01-01T00:00:00Z""#)
                .unwrap()
                .matches(&r)
        );
        assert!(!Filter::parse("state=2").unwrap().matches(&r));
        assert!(Filter::parse("extractable=false").unwrap().matches(&r));
        assert!(
            !Filter::parse("extractable=false extractable=true")
                .unwrap()
                .matches(&r)
        );
    }

    #[test]
    fn selecting() {
        let uuid = "fadedbee-0000-4000-8000-1234567890ab";
        let keys = vec![
            record("c", "alpha-two"),
            record(uuid, "beta"),
            record("a", "alpha-one"),
        ];
        let mut aliases = HashMap::new();
        aliases.insert(uuid.to_owned(), vec!["alpha-alias".to_owned()]);
        let spec =
            |search: Option<&str>, sort: Option<&str>| ListSpec::parse(search, sort, None).unwrap();
        let got = select(keys.clone(), &aliases, None, &spec(Some("ALPHA"), None), 10).unwrap();
        assert_eq!(ids(&got.records), ["a", "c", uuid]);
        let got = select(
            keys.clone(),
            &aliases,
            None,
            &spec(Some("name:alpha"), Some("-id")),
            10,
        )
        .unwrap();
        assert_eq!(ids(&got.records), ["c", "a"]);
        // The direct hit comes first.
        let direct = keys.get(1).cloned();
        let got = select(
            keys.clone(),
            &aliases,
            direct.clone(),
            &spec(Some("alpha"), None),
            10,
        )
        .unwrap();
        assert_eq!(ids(&got.records), [uuid, "a", "c"]);
        assert!(!got.incomplete);
        // Too broad: the direct hit alone, or an error.
        let got = select(
            keys.clone(),
            &aliases,
            direct,
            &spec(Some("alpha"), None),
            2,
        )
        .unwrap();
        assert_eq!(ids(&got.records), [uuid]);
        assert!(got.incomplete);
        assert_eq!(
            select(keys.clone(), &aliases, None, &spec(Some("alpha"), None), 2),
            Err(SelectError::TooBroad(3))
        );
        // Without a search the limit does not apply.
        let got = select(keys, &aliases, None, &spec(None, Some("-id")), 2).unwrap();
        assert_eq!(ids(&got.records), [uuid, "c", "a"]);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".*") {
            let _ = Search::parse(&text);
            let _ = parse_sort(&text);
            let _ = Filter::parse(&text);
            let _ = parse_states(&text);
        }

        #[test]
        fn structured_inputs_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("not:".to_owned()), Just("exact:".to_owned()), Just("escape:".to_owned()),
                    Just("alias:".to_owned()), Just("name:".to_owned()), Just("\"".to_owned()),
                    Just("=".to_owned()), Just(" ".to_owned()), Just(",".to_owned()),
                    Just("-".to_owned()), Just("lte:".to_owned()), Just("none".to_owned()),
                    Just("creationDate".to_owned()), Just("state".to_owned()),
                    Just("2022-02-15T00:00:00Z".to_owned()), "[a-zé0-9:\"]{0,4}",
                ],
                0..12,
            )
        ) {
            let text = parts.concat();
            if let Ok(s) = Search::parse(&text) {
                let _ = s.matches(&text, std::slice::from_ref(&text));
                let _ = s.lookup();
            }
            let _ = parse_sort(&text);
            if let Ok(f) = Filter::parse(&text) {
                let _ = f.matches(&record("a", "b"));
            }
        }
    }
}
