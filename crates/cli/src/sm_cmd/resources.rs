//! `arca sm` beside secrets and their versions: secret groups, locks, configurations (secrets
//! engines), certificate revocation and the Event Notifications registration.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use super::{
    IdArgs, SmConnect, details, done, json_input, label, metadata_rows, parse_object, table, text,
};
use crate::{print_json, say};

#[derive(Debug, Args)]
pub(crate) struct GroupCreateArgs {
    /// The group's name (2 to 64 characters).
    name: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct GroupUpdateArgs {
    /// Group id.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
    /// New description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

/// What happens to the previous version's locks when the current version is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LockMode {
    /// Removes locks of the same names from the previous version.
    #[value(name = "remove_previous")]
    RemovePrevious,
    /// Also deletes the previous version's data if it is then unlocked.
    #[value(name = "remove_previous_and_delete")]
    RemovePreviousAndDelete,
}

impl LockMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::RemovePrevious => "remove_previous",
            Self::RemovePreviousAndDelete => "remove_previous_and_delete",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct LocksCreateArgs {
    /// Secret id.
    id: String,
    /// A lock, as NAME or NAME:DESCRIPTION (repeat for several).
    #[arg(long = "lock", required = true)]
    locks: Vec<String>,
    /// Attributes of the locks (a JSON object).
    #[arg(long)]
    attributes: Option<String>,
    /// The version to lock (`current`, `previous` or an id); the current one when absent.
    #[arg(long)]
    version: Option<String>,
    /// What happens to the previous version's locks of the same names.
    #[arg(long, value_enum)]
    mode: Option<LockMode>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct LocksListArgs {
    /// Secret id.
    id: String,
    /// Only the locks of this version (`current`, `previous` or an id).
    #[arg(long)]
    version: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct LocksDeleteArgs {
    /// Secret id.
    id: String,
    /// Only on this version (`current`, `previous` or an id).
    #[arg(long)]
    version: Option<String>,
    /// Only these locks (comma-separated); all when absent.
    #[arg(long, value_delimiter = ',')]
    name: Vec<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct InstanceLocksArgs {
    /// Only locks whose name contains this text.
    #[arg(long)]
    search: Option<String>,
    /// Only secrets of these groups (ids, comma-separated; `default`).
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigsArgs {
    /// Only configurations whose name or types contain this text.
    #[arg(long)]
    search: Option<String>,
    /// Only configurations of these secret types (comma-separated: private_cert, public_cert,
    /// iam_credentials, custom_credentials).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Sort field (config_type, secret_type, name); `-` in front for descending.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigShowArgs {
    /// Configuration name.
    name: String,
    /// The configuration type, when the name is used by configurations of several types.
    #[arg(long)]
    config_type: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigNameArgs {
    /// Configuration name.
    name: String,
    /// The configuration type, when the name is used by configurations of several types.
    #[arg(long)]
    config_type: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

/// A JSON body, inline or from a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct JsonBody {
    /// The JSON object.
    #[arg(long)]
    json: Option<String>,
    /// Reads the JSON object from this file (`-`: standard input).
    #[arg(long)]
    file: Option<PathBuf>,
}

impl JsonBody {
    fn object(&self) -> anyhow::Result<Map<String, Value>> {
        json_input(self.json.as_deref(), self.file.as_deref())
    }
}

#[derive(Debug, Args)]
pub(crate) struct ConfigCreateArgs {
    #[command(flatten)]
    body: JsonBody,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigUpdateArgs {
    /// Configuration name.
    name: String,
    /// The configuration type, when the name is used by configurations of several types.
    #[arg(long)]
    config_type: Option<String>,
    #[command(flatten)]
    body: JsonBody,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigActionArgs {
    /// Configuration name.
    name: String,
    /// The configuration type, when the name is used by configurations of several types.
    #[arg(long)]
    config_type: Option<String>,
    #[command(flatten)]
    body: JsonBody,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Secret id (a private_cert secret).
    id: String,
    /// Only this version's certificate (`current`, `previous` or an id).
    #[arg(long)]
    version: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct NotificationsRegisterArgs {
    /// The CRN of the Event Notifications instance.
    #[arg(long)]
    crn: String,
    /// The name this instance is known by as a source of events.
    #[arg(long)]
    source_name: String,
    /// Its description.
    #[arg(long)]
    source_description: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

const GROUP_ORDER: &[(&str, &str)] = &[
    ("id", "ID"),
    ("name", "Name"),
    ("description", "Description"),
    ("created_at", "Created"),
    ("created_by", "Created by"),
    ("updated_at", "Updated"),
];

const CONFIG_ORDER: &[(&str, &str)] = &[
    ("name", "Name"),
    ("config_type", "Config type"),
    ("secret_type", "Secret type"),
    ("status", "Status"),
    ("common_name", "Common name"),
    ("expiration_date", "Expiration"),
    ("created_at", "Created"),
    ("created_by", "Created by"),
    ("updated_at", "Updated"),
];

/// Configuration fields that hold credentials or private keys: hidden in tables.
fn sensitive(key: &str) -> bool {
    matches!(
        key,
        "api_key"
            | "cloud_internet_services_apikey"
            | "classic_infrastructure_password"
            | "lets_encrypt_private_key"
            | "private_key"
            | "password"
            | "credentials"
    )
}

/// A copy of `v` with credentials hidden and texts of several lines (PEM) shortened.
fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let shown = if sensitive(k) && !v.is_null() {
                        Value::String("<hidden; -o json shows it>".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) if s.contains('\n') => {
            Value::String(format!("<{} lines; -o json shows it>", s.lines().count()))
        }
        other => other.clone(),
    }
}

/// A configuration (or a configuration action's answer): JSON as answered, or a table with
/// credentials hidden.
fn print_config(v: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(v);
    }
    let shown = redact(v);
    let mut rows: Vec<(String, String)> = CONFIG_ORDER
        .iter()
        .filter(|(key, _)| shown.get(*key).is_some())
        .map(|(key, label)| ((*label).to_owned(), text(shown.get(*key))))
        .collect();
    if let Some(map) = shown.as_object() {
        let mut rest: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(k, _)| !CONFIG_ORDER.iter().any(|(key, _)| key == k))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(b.0));
        rows.extend(rest.into_iter().map(|(k, v)| (label(k), text(Some(v)))));
    }
    details(&rows);
    Ok(())
}

fn print_group(g: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(g);
    }
    details(&metadata_rows(g, GROUP_ORDER));
    Ok(())
}

pub(super) async fn groups(sm: &SmConnect) -> anyhow::Result<()> {
    let list = sm.sm()?.list_groups().await?;
    if sm.json() {
        return print_json(&list);
    }
    let items = list["secret_groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|g| {
            vec![
                text(g.get("id")),
                text(g.get("created_at")),
                text(g.get("name")),
                text(g.get("description")),
            ]
        })
        .collect();
    table(&["ID", "CREATED", "NAME", "DESCRIPTION"], &rows);
    Ok(())
}

pub(super) async fn group_create(args: &GroupCreateArgs) -> anyhow::Result<()> {
    let g = args
        .sm
        .sm()?
        .create_group(&args.name, args.description.as_deref())
        .await?;
    print_group(&g, args.sm.json())
}

pub(super) async fn group_show(args: &IdArgs) -> anyhow::Result<()> {
    let g = args.sm.sm()?.get_group(&args.id).await?;
    print_group(&g, args.sm.json())
}

pub(super) async fn group_update(args: &GroupUpdateArgs) -> anyhow::Result<()> {
    let mut patch = Map::new();
    if let Some(n) = &args.name {
        patch.insert("name".into(), n.clone().into());
    }
    if let Some(d) = &args.description {
        patch.insert("description".into(), d.clone().into());
    }
    if patch.is_empty() {
        anyhow::bail!("nothing to update: give --name or --description");
    }
    let g = args
        .sm
        .sm()?
        .update_group(&args.id, &Value::Object(patch))
        .await?;
    print_group(&g, args.sm.json())
}

/// One row per locked version of a `SecretLocks` answer.
fn secret_locks_rows(s: &Value) -> Vec<Vec<String>> {
    s["versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .map(|v| {
                    vec![
                        text(s.get("secret_id")),
                        text(s.get("secret_type")),
                        text(v.get("version_id")),
                        text(v.get("version_alias")),
                        text(v.get("locks")),
                        text(s.get("secret_name")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

const SECRET_LOCKS_HEADERS: &[&str] = &["SECRET", "TYPE", "VERSION", "ALIAS", "LOCKS", "NAME"];

fn print_secret_locks(s: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(s);
    }
    table(SECRET_LOCKS_HEADERS, &secret_locks_rows(s));
    Ok(())
}

pub(super) async fn locks_create(args: &LocksCreateArgs) -> anyhow::Result<()> {
    let attributes = args
        .attributes
        .as_deref()
        .map(|a| parse_object(a, "--attributes"))
        .transpose()?;
    let locks: Vec<Value> = args
        .locks
        .iter()
        .map(|spec| {
            let (name, description) = match spec.split_once(':') {
                Some((n, d)) => (n, Some(d)),
                None => (spec.as_str(), None),
            };
            let mut lock = json!({ "name": name });
            if let Some(d) = description {
                lock["description"] = Value::String(d.to_owned());
            }
            if let Some(a) = &attributes {
                lock["attributes"] = Value::Object(a.clone());
            }
            lock
        })
        .collect();
    let out = args
        .sm
        .sm()?
        .create_locks(
            &args.id,
            args.version.as_deref(),
            &Value::Array(locks),
            args.mode.map(LockMode::as_str),
        )
        .await?;
    print_secret_locks(&out, args.sm.json())
}

pub(super) async fn locks_list(args: &LocksListArgs) -> anyhow::Result<()> {
    let found = args
        .sm
        .sm()?
        .all_secret_locks(&args.id, args.version.as_deref())
        .await?;
    if args.sm.json() {
        let total = found.total_count.unwrap_or(found.items.len() as u64);
        return print_json(&json!({ "total_count": total, "locks": found.items }));
    }
    let rows: Vec<Vec<String>> = found
        .items
        .iter()
        .map(|l| {
            vec![
                text(l.get("name")),
                text(l.get("secret_version_id")),
                text(l.get("secret_version_alias")),
                text(l.get("created_at")),
                text(l.get("description")),
            ]
        })
        .collect();
    table(
        &["NAME", "VERSION", "ALIAS", "CREATED", "DESCRIPTION"],
        &rows,
    );
    Ok(())
}

pub(super) async fn locks_delete(args: &LocksDeleteArgs) -> anyhow::Result<()> {
    let names = args.name.join(",");
    let out = args
        .sm
        .sm()?
        .delete_locks(
            &args.id,
            args.version.as_deref(),
            (!names.is_empty()).then_some(names.as_str()),
        )
        .await?;
    print_secret_locks(&out, args.sm.json())
}

pub(super) async fn instance_locks(args: &InstanceLocksArgs) -> anyhow::Result<()> {
    let groups = args.groups.join(",");
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = &args.search {
        query.push(("search", s));
    }
    if !groups.is_empty() {
        query.push(("groups", &groups));
    }
    let found = args.sm.sm()?.all_instance_locks(&query).await?;
    if args.sm.json() {
        let total = found.total_count.unwrap_or(found.items.len() as u64);
        return print_json(&json!({ "total_count": total, "secrets_locks": found.items }));
    }
    let rows: Vec<Vec<String>> = found.items.iter().flat_map(secret_locks_rows).collect();
    table(SECRET_LOCKS_HEADERS, &rows);
    Ok(())
}

pub(super) async fn configs(args: &ConfigsArgs) -> anyhow::Result<()> {
    let types = args.types.join(",");
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = &args.search {
        query.push(("search", s));
    }
    if !types.is_empty() {
        query.push(("secret_types", &types));
    }
    if let Some(s) = &args.sort {
        query.push(("sort", s));
    }
    let found = args.sm.sm()?.all_configs(&query).await?;
    if args.sm.json() {
        let total = found.total_count.unwrap_or(found.items.len() as u64);
        return print_json(&json!({ "total_count": total, "configurations": found.items }));
    }
    let rows: Vec<Vec<String>> = found
        .items
        .iter()
        .map(|c| {
            vec![
                text(c.get("name")),
                text(c.get("config_type")),
                text(c.get("secret_type")),
                text(c.get("created_at")),
            ]
        })
        .collect();
    table(&["NAME", "CONFIG TYPE", "SECRET TYPE", "CREATED"], &rows);
    Ok(())
}

pub(super) async fn config_show(args: &ConfigShowArgs) -> anyhow::Result<()> {
    let c = args
        .sm
        .sm()?
        .get_config_as(&args.name, args.config_type.as_deref())
        .await?;
    print_config(&c, args.sm.json())
}

pub(super) async fn config_create(args: &ConfigCreateArgs) -> anyhow::Result<()> {
    let body = args.body.object()?;
    if !body.get("config_type").is_some_and(Value::is_string) {
        anyhow::bail!(
            "the configuration needs a config_type (e.g. private_cert_configuration_root_ca)"
        );
    }
    if !body.get("name").is_some_and(Value::is_string) {
        anyhow::bail!("the configuration needs a name");
    }
    let c = args.sm.sm()?.create_config(&Value::Object(body)).await?;
    print_config(&c, args.sm.json())
}

pub(super) async fn config_update(args: &ConfigUpdateArgs) -> anyhow::Result<()> {
    let patch = args.body.object()?;
    let c = args
        .sm
        .sm()?
        .update_config(
            &args.name,
            args.config_type.as_deref(),
            &Value::Object(patch),
        )
        .await?;
    print_config(&c, args.sm.json())
}

pub(super) async fn config_delete(args: &ConfigNameArgs) -> anyhow::Result<()> {
    args.sm
        .sm()?
        .delete_config_as(&args.name, args.config_type.as_deref())
        .await?;
    done(&args.sm, "Configuration", &args.name, "deleted")
}

pub(super) async fn config_action(args: &ConfigActionArgs) -> anyhow::Result<()> {
    let body = args.body.object()?;
    if !body.get("action_type").is_some_and(Value::is_string) {
        anyhow::bail!(
            "the action needs an action_type (e.g. private_cert_configuration_action_rotate_crl)"
        );
    }
    let out = args
        .sm
        .sm()?
        .config_action_as(
            &args.name,
            args.config_type.as_deref(),
            &Value::Object(body),
        )
        .await?;
    print_config(&out, args.sm.json())
}

pub(super) async fn revoke(args: &RevokeArgs) -> anyhow::Result<()> {
    let out = args
        .sm
        .sm()?
        .secret_action(
            &args.id,
            args.version.as_deref(),
            "private_cert_action_revoke_certificate",
        )
        .await?;
    if args.sm.json() {
        return print_json(&out);
    }
    let what = match &args.version {
        Some(v) => format!("Certificate of secret {} (version {v})", args.id),
        None => format!("Certificate of secret {}", args.id),
    };
    say(&format!(
        "{what} revoked (revocation time {})",
        text(out.get("revocation_time_seconds"))
    ));
    Ok(())
}

pub(super) async fn notifications_register(args: &NotificationsRegisterArgs) -> anyhow::Result<()> {
    let out = args
        .sm
        .sm()?
        .register_notifications(
            &args.crn,
            &args.source_name,
            args.source_description.as_deref(),
        )
        .await?;
    print_notifications(&out, args.sm.json())
}

pub(super) async fn notifications(sm: &SmConnect) -> anyhow::Result<()> {
    let out = sm.sm()?.get_notifications().await?;
    print_notifications(&out, sm.json())
}

fn print_notifications(v: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(v);
    }
    details(&[(
        "Event Notifications instance".into(),
        text(v.get("event_notifications_instance_crn")),
    )]);
    Ok(())
}
