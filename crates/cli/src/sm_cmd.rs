//! `arca sm ...`: the Secrets Manager v2 API of one secrets instance, in the spirit of
//! `ibmcloud secrets-manager`. Secret data (payloads, kv data, usernames and passwords,
//! certificates and private keys) is printed only when asked for: with `-o json` (the API's
//! answer as is) or with `--show-data` on the commands that read a secret or a version. Tables
//! show metadata only, and nothing is logged.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use arca_client::sm::SmClient;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{ConnectArgs, Format, print_json, say};

mod cert_backup;
mod resources;
use resources::{
    ConfigActionArgs, ConfigCreateArgs, ConfigNameArgs, ConfigShowArgs, ConfigUpdateArgs,
    ConfigsArgs, GroupCreateArgs, GroupUpdateArgs, InstanceLocksArgs, LocksCreateArgs,
    LocksDeleteArgs, LocksListArgs, NotificationsRegisterArgs, RevokeArgs,
};

#[derive(Debug, Subcommand)]
pub(crate) enum SmCommand {
    /// Lists the secret groups.
    SecretGroups(SmConnectOnly),
    /// Creates a secret group.
    SecretGroupCreate(GroupCreateArgs),
    /// Shows a secret group.
    SecretGroup(IdArgs),
    /// Renames a secret group or changes its description.
    SecretGroupUpdate(GroupUpdateArgs),
    /// Deletes an empty secret group.
    SecretGroupDelete(IdArgs),
    /// Creates a secret (arbitrary, kv, username_password, imported_cert, private_cert).
    SecretCreate(Box<SecretCreateArgs>),
    /// Lists secrets (metadata only), following the pages.
    Secrets(SecretsArgs),
    /// Shows a secret: its metadata; its data with --show-data (or -o json).
    Secret(SecretShowArgs),
    /// Shows a secret's metadata (never its data).
    SecretMetadata(IdArgs),
    /// Changes a secret's name, description, labels, expiration or custom metadata.
    SecretUpdate(SecretUpdateArgs),
    /// Shows a secret found by group, type and name (data as for `secret`).
    SecretByName(ByNameArgs),
    /// Deletes a secret with all its versions (refused while a version is locked).
    SecretDelete(SecretDeleteArgs),
    /// Creates a new version of a secret (rotates it): new payload, data or password.
    SecretVersionCreate(VersionCreateArgs),
    /// Lists a secret's versions (metadata).
    SecretVersions(IdArgs),
    /// Shows one version (current, previous or a version id); its data with --show-data.
    SecretVersion(VersionShowArgs),
    /// Locks a secret's current version (or --version): its data cannot be deleted or
    /// rotated away while locked.
    SecretLocksCreate(LocksCreateArgs),
    /// Lists the locks of a secret (or of one version).
    SecretLocks(LocksListArgs),
    /// Removes locks of a secret (or of one version): the named ones, or all.
    SecretLocksDelete(LocksDeleteArgs),
    /// Lists the instance's locked secrets and their locks per version.
    InstanceLocks(InstanceLocksArgs),
    /// Lists the configurations (secrets engines: CAs, templates, DNS providers, ...).
    Configurations(ConfigsArgs),
    /// Shows a configuration (credentials hidden unless -o json).
    Configuration(ConfigShowArgs),
    /// Creates a configuration from its prototype (JSON with config_type).
    ConfigurationCreate(ConfigCreateArgs),
    /// Updates a configuration with a merge-patch (JSON).
    ConfigurationUpdate(ConfigUpdateArgs),
    /// Deletes a configuration.
    ConfigurationDelete(ConfigNameArgs),
    /// Runs a configuration action (JSON with action_type, e.g. rotate_crl, sign_intermediate).
    ConfigurationAction(ConfigActionArgs),
    /// Revokes the certificate of a private_cert secret (or of one version).
    CertificateRevoke(RevokeArgs),
    /// Backs up certificates: export them all into a passphrase-sealed bundle, import a
    /// bundle into another instance.
    #[command(subcommand)]
    Certificates(cert_backup::CertificatesCommand),
    /// Registers the instance with an Event Notifications instance.
    NotificationsRegister(NotificationsRegisterArgs),
    /// Shows the Event Notifications registration.
    Notifications(SmConnectOnly),
    /// Deletes the Event Notifications registration.
    NotificationsDelete(SmConnectOnly),
    /// Sends a test event to the registered Event Notifications instance.
    NotificationsTest(SmConnectOnly),
}

/// The server and the secrets instance.
#[derive(Debug, Args)]
pub(crate) struct SmConnect {
    /// The secrets-manager instance.
    #[arg(
        long = "instance-id",
        visible_alias = "instance",
        env = "ARCA_SM_INSTANCE"
    )]
    instance_id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl SmConnect {
    fn sm(&self) -> anyhow::Result<SmClient> {
        Ok(self.connect.client()?.sm(&self.instance_id))
    }

    fn json(&self) -> bool {
        self.connect.output == Format::Json
    }
}

/// Only the connection.
#[derive(Debug, Args)]
pub(crate) struct SmConnectOnly {
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The id (of the secret or secret group).
    id: String,
    #[command(flatten)]
    sm: SmConnect,
}

/// The secret types whose data this server stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SecretType {
    /// A text payload.
    #[value(name = "arbitrary")]
    Arbitrary,
    /// A JSON object.
    #[value(name = "kv")]
    Kv,
    /// A username and a password (generated when not given).
    #[value(name = "username_password")]
    UsernamePassword,
    /// A certificate with its private key and intermediates (PEM).
    #[value(name = "imported_cert")]
    ImportedCert,
    /// A certificate issued by the instance's private CA (through a template).
    #[value(name = "private_cert")]
    PrivateCert,
}

impl SecretType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Arbitrary => "arbitrary",
            Self::Kv => "kv",
            Self::UsernamePassword => "username_password",
            Self::ImportedCert => "imported_cert",
            Self::PrivateCert => "private_cert",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        <Self as ValueEnum>::from_str(s, false).ok()
    }
}

/// The data of a new secret or version.
#[derive(Debug, Args)]
pub(crate) struct DataInput {
    /// arbitrary: the payload (text). Prefer --payload-file: arguments show in process lists.
    #[arg(long, conflicts_with = "payload_file")]
    payload: Option<String>,
    /// arbitrary: reads the payload from this file (`-`: standard input); UTF-8 text.
    #[arg(long)]
    payload_file: Option<PathBuf>,
    /// kv: the data, a JSON object.
    #[arg(long, conflicts_with = "data_file")]
    data: Option<String>,
    /// kv: reads the data (a JSON object) from this file (`-`: standard input).
    #[arg(long)]
    data_file: Option<PathBuf>,
    /// username_password: the password (generated by the server when absent).
    #[arg(long, conflicts_with = "password_file")]
    password: Option<String>,
    /// username_password: reads the password from this file (first line; `-`: standard input).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// imported_cert: the certificate (PEM file).
    #[arg(long)]
    certificate_file: Option<PathBuf>,
    /// imported_cert: its private key (PEM file).
    #[arg(long)]
    private_key_file: Option<PathBuf>,
    /// imported_cert: the intermediate certificates (PEM file).
    #[arg(long)]
    intermediate_file: Option<PathBuf>,
    /// Custom metadata of the secret (a JSON object).
    #[arg(long)]
    custom_metadata: Option<String>,
    /// Custom metadata of the version (a JSON object).
    #[arg(long)]
    version_custom_metadata: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SecretCreateArgs {
    /// The secret type.
    #[arg(long = "type", value_enum)]
    secret_type: SecretType,
    /// The secret's name (unique per type in the instance).
    #[arg(long)]
    name: String,
    /// The secret group (id or name); `default` when absent.
    #[arg(long)]
    group: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Labels (comma-separated).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Expiration date (RFC 3339; arbitrary and username_password).
    #[arg(long)]
    expiration: Option<String>,
    /// username_password: the username.
    #[arg(long)]
    username: Option<String>,
    /// private_cert: the certificate template (configuration name).
    #[arg(long)]
    template: Option<String>,
    /// private_cert: the common name.
    #[arg(long)]
    common_name: Option<String>,
    /// private_cert: DNS alternative names (comma-separated).
    #[arg(long, value_delimiter = ',')]
    alt_names: Vec<String>,
    /// private_cert: validity, e.g. 10h, 30d, 3600 (seconds).
    #[arg(long)]
    ttl: Option<String>,
    #[command(flatten)]
    input: DataInput,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct SecretsArgs {
    /// Only secrets whose id, name, description, labels or type contain this text.
    #[arg(long)]
    search: Option<String>,
    /// Only secrets of these groups (ids or names, comma-separated; `default`).
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Only secrets of these types (comma-separated).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Only secrets carrying all these labels (comma-separated).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Sort field (id, created_at, updated_at, retrieved_at, expiration_date, secret_type,
    /// name); `-` in front for descending.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// At most this many secrets (all when absent).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Skips this many secrets.
    #[arg(long)]
    offset: Option<u64>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct SecretShowArgs {
    /// Secret id.
    id: String,
    /// Also prints the secret's data (payload, kv data, username and password, certificate and
    /// private key).
    #[arg(long)]
    show_data: bool,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct SecretUpdateArgs {
    /// Secret id.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
    /// New description.
    #[arg(long)]
    description: Option<String>,
    /// New labels (comma-separated; `--labels ''` removes them all).
    #[arg(long, value_delimiter = ',', num_args = 0..=1)]
    labels: Option<Vec<String>>,
    /// New expiration date (RFC 3339).
    #[arg(long, conflicts_with = "no_expiration")]
    expiration: Option<String>,
    /// Removes the expiration date.
    #[arg(long)]
    no_expiration: bool,
    /// New custom metadata (a JSON object).
    #[arg(long)]
    custom_metadata: Option<String>,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ByNameArgs {
    /// The secret's name.
    name: String,
    /// Its group (name or id; `default`).
    #[arg(long, default_value = "default")]
    group: String,
    /// Its type.
    #[arg(long = "type")]
    secret_type: String,
    /// Also prints the secret's data.
    #[arg(long)]
    show_data: bool,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct SecretDeleteArgs {
    /// Secret id.
    id: String,
    /// force_delete (custom_credentials: delete even if the credentials cannot be deleted).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct VersionCreateArgs {
    /// Secret id.
    id: String,
    #[command(flatten)]
    input: DataInput,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct VersionShowArgs {
    /// Secret id.
    id: String,
    /// `current`, `previous` or a version id.
    version: String,
    /// Also prints the version's data.
    #[arg(long)]
    show_data: bool,
    #[command(flatten)]
    sm: SmConnect,
}

/// Response fields that carry secret data: shown only on request.
const DATA_FIELDS: &[&str] = &[
    "payload",
    "data",
    "username",
    "password",
    "certificate",
    "intermediate",
    "private_key",
    "csr",
    "issuing_ca",
    "ca_chain",
    "api_key",
    "credentials",
    "credentials_content",
];

/// Metadata fields shown first, in this order (the others follow by name).
const SECRET_ORDER: &[(&str, &str)] = &[
    ("id", "ID"),
    ("name", "Name"),
    ("secret_type", "Type"),
    ("secret_group_id", "Group"),
    ("state_description", "State"),
    ("description", "Description"),
    ("labels", "Labels"),
    ("versions_total", "Versions"),
    ("locks_total", "Locks"),
    ("expiration_date", "Expiration"),
    ("created_at", "Created"),
    ("created_by", "Created by"),
    ("updated_at", "Updated"),
    ("retrieved_at", "Retrieved"),
    ("downloaded", "Downloaded"),
    ("crn", "CRN"),
];

const VERSION_ORDER: &[(&str, &str)] = &[
    ("id", "Version"),
    ("alias", "Alias"),
    ("secret_id", "Secret"),
    ("secret_name", "Name"),
    ("secret_type", "Type"),
    ("secret_group_id", "Group"),
    ("payload_available", "Data available"),
    ("expiration_date", "Expiration"),
    ("created_at", "Created"),
    ("created_by", "Created by"),
    ("downloaded", "Downloaded"),
    ("auto_rotated", "Auto rotated"),
];

/// A value as one line of text: strings as they are, lists joined with `,`, objects as JSON,
/// `-` for nothing.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) if s.is_empty() => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "-".into(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Prints rows under headers, columns as wide as their widest cell (the last one unpadded).
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        say(out.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints `label value` rows, labels aligned.
fn details(rows: &[(String, String)]) {
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in rows {
        say(&format!("{label:<width$}  {value}"));
    }
}

/// Fields not shown in tables because another one says the same (`state_description`).
const REDUNDANT: &[&str] = &["state"];

/// A field name as a label: `custom_metadata` → `Custom metadata`.
fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The metadata rows of an object: the `order` fields first, then the others by name; data
/// fields never.
fn metadata_rows(obj: &Value, order: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = order
        .iter()
        .filter(|(key, _)| obj.get(*key).is_some())
        .map(|(key, label)| ((*label).to_owned(), text(obj.get(*key))))
        .collect();
    if let Some(map) = obj.as_object() {
        let mut rest: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(k, _)| {
                !DATA_FIELDS.contains(&k.as_str())
                    && !REDUNDANT.contains(&k.as_str())
                    && !order.iter().any(|(key, _)| key == k)
            })
            .collect();
        rest.sort_by(|a, b| a.0.cmp(b.0));
        rows.extend(rest.into_iter().map(|(k, v)| (label(k), text(Some(v)))));
    }
    rows
}

/// Prints the data fields of a secret or version: one-line values beside their name, texts of
/// several lines (PEM) and objects below it.
fn print_data(obj: &Value) {
    for key in DATA_FIELDS {
        let Some(v) = obj.get(*key) else { continue };
        match v {
            Value::Null => {}
            Value::String(s) if !s.contains('\n') => say(&format!("{key}: {s}")),
            Value::String(s) => {
                say(&format!("{key}:"));
                say(s.trim_end());
            }
            Value::Array(items) if items.iter().all(Value::is_string) => {
                say(&format!("{key}:"));
                for item in items.iter().filter_map(Value::as_str) {
                    say(item.trim_end());
                }
            }
            other => {
                let pretty = Zeroizing::new(
                    serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
                );
                say(&format!("{key}:"));
                say(pretty.as_str());
            }
        }
    }
}

/// A secret (or version): JSON as answered, or its metadata and, when `with_data`, its data.
fn print_secret(
    obj: &Value,
    order: &[(&str, &str)],
    json_out: bool,
    with_data: bool,
) -> anyhow::Result<()> {
    if json_out {
        return print_json(obj);
    }
    details(&metadata_rows(obj, order));
    if with_data {
        say("");
        print_data(obj);
    }
    Ok(())
}

/// Reads a file as UTF-8 text (`-`: standard input); the text is zeroized when dropped.
fn read_text(path: &Path, flag: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::new());
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read {flag} from standard input: {e}"))?;
    } else {
        *bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {flag} {}: {e}", path.display()))?;
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => anyhow::bail!("{flag} {} is not UTF-8 text", path.display()),
    }
}

/// Parses JSON given to `flag` (the parser's position only: the text itself is never echoed).
fn parse_json(text: &str, flag: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{flag} is not valid JSON: {e}"))
}

/// Parses a JSON object given to `flag`.
fn parse_object(text: &str, flag: &str) -> anyhow::Result<Map<String, Value>> {
    match parse_json(text, flag)? {
        Value::Object(m) => Ok(m),
        _ => anyhow::bail!("{flag} must be a JSON object"),
    }
}

/// JSON from `--json TEXT` or `--file F` (one of them).
fn json_input(inline: Option<&str>, file: Option<&Path>) -> anyhow::Result<Map<String, Value>> {
    match (inline, file) {
        (Some(t), _) => parse_object(t, "--json"),
        (None, Some(path)) => parse_object(&read_text(path, "--file")?, "--file"),
        (None, None) => anyhow::bail!("give the JSON with --json or --file"),
    }
}

impl DataInput {
    /// The flags given, each with the secret types it applies to.
    fn given(&self) -> Vec<(&'static str, &'static [SecretType])> {
        use SecretType::{Arbitrary, ImportedCert, Kv, UsernamePassword};
        let flags: [(&'static str, bool, &'static [SecretType]); 9] = [
            ("--payload", self.payload.is_some(), &[Arbitrary]),
            ("--payload-file", self.payload_file.is_some(), &[Arbitrary]),
            ("--data", self.data.is_some(), &[Kv]),
            ("--data-file", self.data_file.is_some(), &[Kv]),
            ("--password", self.password.is_some(), &[UsernamePassword]),
            (
                "--password-file",
                self.password_file.is_some(),
                &[UsernamePassword],
            ),
            (
                "--certificate-file",
                self.certificate_file.is_some(),
                &[ImportedCert],
            ),
            (
                "--private-key-file",
                self.private_key_file.is_some(),
                &[ImportedCert],
            ),
            (
                "--intermediate-file",
                self.intermediate_file.is_some(),
                &[ImportedCert],
            ),
        ];
        flags
            .into_iter()
            .filter(|(_, given, _)| *given)
            .map(|(flag, _, types)| (flag, types))
            .collect()
    }

    /// Refuses flags that do not apply to `secret_type`.
    fn check(&self, secret_type: SecretType) -> anyhow::Result<()> {
        for (flag, types) in self.given() {
            if !types.contains(&secret_type) {
                anyhow::bail!(
                    "{flag} does not apply to {} secrets (it is for {})",
                    secret_type.as_str(),
                    types
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Ok(())
    }

    /// Adds the data fields and custom metadata to `body`. A payload (arbitrary) and data (kv)
    /// are always required, a certificate (imported_cert) when `creating`.
    fn fill(
        &self,
        secret_type: SecretType,
        body: &mut Map<String, Value>,
        creating: bool,
    ) -> anyhow::Result<()> {
        self.check(secret_type)?;
        let payload = match (&self.payload, &self.payload_file) {
            (Some(p), _) => Some(Zeroizing::new(p.clone())),
            (None, Some(path)) => Some(read_text(path, "--payload-file")?),
            (None, None) => None,
        };
        if let Some(p) = payload {
            body.insert("payload".into(), Value::String(p.to_string()));
        } else if secret_type == SecretType::Arbitrary {
            anyhow::bail!("an arbitrary secret needs --payload or --payload-file");
        }
        let data = match (&self.data, &self.data_file) {
            (Some(d), _) => Some(parse_object(d, "--data")?),
            (None, Some(path)) => Some(parse_object(
                &read_text(path, "--data-file")?,
                "--data-file",
            )?),
            (None, None) => None,
        };
        match data {
            Some(d) if d.is_empty() => anyhow::bail!("the kv data needs at least one key"),
            Some(d) => {
                body.insert("data".into(), Value::Object(d));
            }
            None if secret_type == SecretType::Kv => {
                anyhow::bail!("a kv secret needs --data or --data-file (a JSON object)")
            }
            None => {}
        }
        let password = match (&self.password, &self.password_file) {
            (Some(p), _) => Some(Zeroizing::new(p.clone())),
            (None, Some(path)) => {
                let text = read_text(path, "--password-file")?;
                Some(Zeroizing::new(
                    text.lines().next().unwrap_or_default().to_owned(),
                ))
            }
            (None, None) => None,
        };
        if let Some(p) = password {
            body.insert("password".into(), Value::String(p.to_string()));
        }
        let pems = [
            ("certificate", &self.certificate_file, "--certificate-file"),
            ("private_key", &self.private_key_file, "--private-key-file"),
            (
                "intermediate",
                &self.intermediate_file,
                "--intermediate-file",
            ),
        ];
        for (field, path, flag) in pems {
            if let Some(path) = path {
                let pem = read_text(path, flag)?;
                body.insert(field.into(), Value::String(pem.to_string()));
            }
        }
        if creating && secret_type == SecretType::ImportedCert && !body.contains_key("certificate")
        {
            anyhow::bail!("an imported_cert secret needs --certificate-file");
        }
        for (field, value, flag) in [
            (
                "custom_metadata",
                &self.custom_metadata,
                "--custom-metadata",
            ),
            (
                "version_custom_metadata",
                &self.version_custom_metadata,
                "--version-custom-metadata",
            ),
        ] {
            if let Some(text) = value {
                body.insert(field.into(), Value::Object(parse_object(text, flag)?));
            }
        }
        Ok(())
    }
}

/// A group given by id or name, as `(id, name)`; `default` is the default group. Unknown
/// values are passed on as they are, for the server to judge.
async fn resolve_group(sm: &SmClient, group: &str) -> anyhow::Result<(String, String)> {
    if group == "default" {
        return Ok(("default".into(), "default".into()));
    }
    let list = sm.list_groups().await?;
    let groups = list["secret_groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = groups
        .iter()
        .find(|g| g["id"] == group)
        .or_else(|| groups.iter().find(|g| g["name"] == group));
    Ok(match found {
        Some(g) => (text(g.get("id")), text(g.get("name"))),
        None => (group.to_owned(), group.to_owned()),
    })
}

/// Says that something was done (JSON: `{"id", "result"}`).
fn done(sm: &SmConnect, what: &str, id: &str, result: &str) -> anyhow::Result<()> {
    if sm.json() {
        return print_json(&json!({ "id": id, "result": result }));
    }
    say(&format!("{what} {id} {result}"));
    Ok(())
}

async fn secret_create(args: &SecretCreateArgs) -> anyhow::Result<()> {
    let t = args.secret_type;
    let mut body = Map::new();
    body.insert("secret_type".into(), t.as_str().into());
    body.insert("name".into(), args.name.clone().into());
    if let Some(d) = &args.description {
        body.insert("description".into(), d.clone().into());
    }
    let labels: Vec<&String> = args.labels.iter().filter(|l| !l.is_empty()).collect();
    if !labels.is_empty() {
        body.insert("labels".into(), json!(labels));
    }
    if let Some(e) = &args.expiration {
        if !matches!(t, SecretType::Arbitrary | SecretType::UsernamePassword) {
            anyhow::bail!("--expiration applies to arbitrary and username_password secrets");
        }
        body.insert("expiration_date".into(), e.clone().into());
    }
    match (&args.username, t) {
        (Some(u), SecretType::UsernamePassword) => {
            body.insert("username".into(), u.clone().into());
        }
        (None, SecretType::UsernamePassword) => {
            anyhow::bail!("a username_password secret needs --username")
        }
        (Some(_), _) => anyhow::bail!("--username applies to username_password secrets"),
        (None, _) => {}
    }
    let cert_flags = args.template.is_some()
        || args.common_name.is_some()
        || args.ttl.is_some()
        || !args.alt_names.is_empty();
    if t == SecretType::PrivateCert {
        let (Some(template), Some(cn)) = (&args.template, &args.common_name) else {
            anyhow::bail!("a private_cert secret needs --template and --common-name");
        };
        body.insert("certificate_template".into(), template.clone().into());
        body.insert("common_name".into(), cn.clone().into());
        if let Some(ttl) = &args.ttl {
            body.insert("ttl".into(), ttl.clone().into());
        }
        if !args.alt_names.is_empty() {
            body.insert("alt_names".into(), json!(args.alt_names));
        }
    } else if cert_flags {
        anyhow::bail!(
            "--template, --common-name, --alt-names and --ttl apply to private_cert secrets"
        );
    }
    args.input.fill(t, &mut body, true)?;
    let sm = args.sm.sm()?;
    if let Some(g) = &args.group {
        let (id, _) = resolve_group(&sm, g).await?;
        body.insert("secret_group_id".into(), id.into());
    }
    let secret = sm.create_secret(&Value::Object(body)).await?;
    if args.sm.json() {
        return print_json(&secret);
    }
    details(&metadata_rows(&secret, SECRET_ORDER));
    if t == SecretType::UsernamePassword && args.input.password.is_none() {
        say("");
        say(&format!(
            "A password was generated: `arca sm secret {} --show-data` prints it.",
            text(secret.get("id"))
        ));
    }
    Ok(())
}

async fn secrets(args: &SecretsArgs) -> anyhow::Result<()> {
    let sm = args.sm.sm()?;
    let mut groups = Vec::new();
    for g in &args.groups {
        groups.push(resolve_group(&sm, g).await?.0);
    }
    let joined = [
        ("groups", groups.join(",")),
        ("secret_types", args.types.join(",")),
        ("match_all_labels", args.labels.join(",")),
    ];
    let mut query: Vec<(&str, String)> =
        joined.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    if let Some(s) = &args.search {
        query.push(("search", s.clone()));
    }
    if let Some(s) = &args.sort {
        query.push(("sort", s.clone()));
    }
    if let Some(o) = args.offset {
        query.push(("offset", o.to_string()));
    }
    let max = args.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    if let Some(l) = args.limit {
        query.push(("limit", l.min(1000).to_string()));
    }
    let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let found = sm.collect_pages(&["secrets"], &q, "secrets", max).await?;
    let total = found.total_count.unwrap_or(found.items.len() as u64);
    if args.sm.json() {
        return print_json(&json!({ "total_count": total, "secrets": found.items }));
    }
    let rows: Vec<Vec<String>> = found
        .items
        .iter()
        .map(|s| {
            [
                "id",
                "secret_type",
                "state_description",
                "secret_group_id",
                "versions_total",
                "locks_total",
                "updated_at",
                "name",
            ]
            .iter()
            .map(|k| text(s.get(*k)))
            .collect()
        })
        .collect();
    table(
        &[
            "ID", "TYPE", "STATE", "GROUP", "VERSIONS", "LOCKS", "UPDATED", "NAME",
        ],
        &rows,
    );
    let shown = found.items.len() as u64;
    if shown == total {
        say(&format!("{shown} secret(s)"));
    } else {
        say(&format!("{shown} of {total} secret(s)"));
    }
    Ok(())
}

async fn secret_update(args: &SecretUpdateArgs) -> anyhow::Result<()> {
    let mut patch = Map::new();
    if let Some(n) = &args.name {
        patch.insert("name".into(), n.clone().into());
    }
    if let Some(d) = &args.description {
        patch.insert("description".into(), d.clone().into());
    }
    if let Some(labels) = &args.labels {
        let labels: Vec<&String> = labels.iter().filter(|l| !l.is_empty()).collect();
        patch.insert("labels".into(), json!(labels));
    }
    if let Some(e) = &args.expiration {
        patch.insert("expiration_date".into(), e.clone().into());
    }
    if args.no_expiration {
        patch.insert("expiration_date".into(), Value::Null);
    }
    if let Some(m) = &args.custom_metadata {
        patch.insert(
            "custom_metadata".into(),
            Value::Object(parse_object(m, "--custom-metadata")?),
        );
    }
    if patch.is_empty() {
        anyhow::bail!(
            "nothing to update: give --name, --description, --labels, --expiration, \
             --no-expiration or --custom-metadata"
        );
    }
    let meta = args
        .sm
        .sm()?
        .update_secret_metadata(&args.id, &Value::Object(patch))
        .await?;
    print_secret(&meta, SECRET_ORDER, args.sm.json(), false)
}

async fn version_create(args: &VersionCreateArgs) -> anyhow::Result<()> {
    let sm = args.sm.sm()?;
    let meta = sm.secret_metadata(&args.id).await?;
    let type_name = text(meta.get("secret_type"));
    let mut body = Map::new();
    match SecretType::parse(&type_name) {
        Some(t) => args.input.fill(t, &mut body, false)?,
        None => {
            if !args.input.given().is_empty() {
                anyhow::bail!("{type_name} secrets take no data flags: rotate them without any");
            }
        }
    }
    let version = sm.create_version(&args.id, &Value::Object(body)).await?;
    if args.sm.json() {
        return print_json(&version);
    }
    details(&metadata_rows(&version, VERSION_ORDER));
    if type_name == "username_password" && args.input.password.is_none() {
        say("");
        say(&format!(
            "A password was generated: `arca sm secret {} --show-data` prints it.",
            args.id
        ));
    }
    Ok(())
}

async fn versions(args: &IdArgs) -> anyhow::Result<()> {
    let list = args.sm.sm()?.list_versions(&args.id).await?;
    if args.sm.json() {
        return print_json(&list);
    }
    let items = list["versions"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|v| {
            vec![
                text(v.get("id")),
                text(v.get("alias")),
                text(v.get("payload_available")),
                text(v.get("created_at")),
                text(v.get("expiration_date")),
            ]
        })
        .collect();
    table(
        &[
            "VERSION",
            "ALIAS",
            "DATA AVAILABLE",
            "CREATED",
            "EXPIRATION",
        ],
        &rows,
    );
    Ok(())
}

pub(crate) async fn run(cmd: SmCommand) -> anyhow::Result<()> {
    match cmd {
        SmCommand::SecretCreate(args) => secret_create(&args).await,
        SmCommand::Secrets(args) => secrets(&args).await,
        SmCommand::Secret(args) => {
            let sm = args.sm.sm()?;
            // Without data to show, only the metadata is fetched: reading the data marks the
            // secret as downloaded.
            let with_data = args.show_data || args.sm.json();
            let secret = if with_data {
                sm.get_secret(&args.id).await?
            } else {
                sm.secret_metadata(&args.id).await?
            };
            print_secret(&secret, SECRET_ORDER, args.sm.json(), args.show_data)
        }
        SmCommand::SecretMetadata(args) => {
            let meta = args.sm.sm()?.secret_metadata(&args.id).await?;
            print_secret(&meta, SECRET_ORDER, args.sm.json(), false)
        }
        SmCommand::SecretUpdate(args) => secret_update(&args).await,
        SmCommand::SecretByName(args) => {
            let sm = args.sm.sm()?;
            let (_, group) = resolve_group(&sm, &args.group).await?;
            let secret = sm
                .get_secret_by_name(&group, &args.secret_type, &args.name)
                .await?;
            print_secret(&secret, SECRET_ORDER, args.sm.json(), args.show_data)
        }
        SmCommand::SecretDelete(args) => {
            args.sm
                .sm()?
                .delete_secret_forced(&args.id, args.force)
                .await?;
            done(&args.sm, "Secret", &args.id, "deleted")
        }
        SmCommand::SecretVersionCreate(args) => version_create(&args).await,
        SmCommand::SecretVersions(args) => versions(&args).await,
        SmCommand::SecretVersion(args) => {
            let sm = args.sm.sm()?;
            let with_data = args.show_data || args.sm.json();
            let version = if with_data {
                sm.get_version(&args.id, &args.version).await?
            } else {
                sm.version_metadata(&args.id, &args.version).await?
            };
            print_secret(&version, VERSION_ORDER, args.sm.json(), args.show_data)
        }
        SmCommand::SecretGroups(args) => resources::groups(&args.sm).await,
        SmCommand::SecretGroupCreate(args) => resources::group_create(&args).await,
        SmCommand::SecretGroup(args) => resources::group_show(&args).await,
        SmCommand::SecretGroupUpdate(args) => resources::group_update(&args).await,
        SmCommand::SecretGroupDelete(args) => {
            args.sm.sm()?.delete_group(&args.id).await?;
            done(&args.sm, "Secret group", &args.id, "deleted")
        }
        SmCommand::SecretLocksCreate(args) => resources::locks_create(&args).await,
        SmCommand::SecretLocks(args) => resources::locks_list(&args).await,
        SmCommand::SecretLocksDelete(args) => resources::locks_delete(&args).await,
        SmCommand::InstanceLocks(args) => resources::instance_locks(&args).await,
        SmCommand::Configurations(args) => resources::configs(&args).await,
        SmCommand::Configuration(args) => resources::config_show(&args).await,
        SmCommand::ConfigurationCreate(args) => resources::config_create(&args).await,
        SmCommand::ConfigurationUpdate(args) => resources::config_update(&args).await,
        SmCommand::ConfigurationDelete(args) => resources::config_delete(&args).await,
        SmCommand::ConfigurationAction(args) => resources::config_action(&args).await,
        SmCommand::CertificateRevoke(args) => resources::revoke(&args).await,
        SmCommand::Certificates(cmd) => cert_backup::run(cmd).await,
        SmCommand::NotificationsRegister(args) => resources::notifications_register(&args).await,
        SmCommand::Notifications(args) => resources::notifications(&args.sm).await,
        SmCommand::NotificationsDelete(args) => {
            args.sm.sm()?.delete_notifications().await?;
            if args.sm.json() {
                return print_json(&json!({ "result": "deleted" }));
            }
            say("Event Notifications registration deleted");
            Ok(())
        }
        SmCommand::NotificationsTest(args) => {
            args.sm.sm()?.test_notifications().await?;
            if args.sm.json() {
                return print_json(&json!({ "result": "sent" }));
            }
            say("Test event sent");
            Ok(())
        }
    }
}
