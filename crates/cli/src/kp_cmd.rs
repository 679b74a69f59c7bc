//! `arca kp ...`: the Key Protect API, in the spirit of `ibmcloud kp`. Key material is printed
//! only where it is the point of the command (the data key of `wrap` when the service generated
//! it, the plaintext of `unwrap`, `key show --payload`).

use std::path::{Path, PathBuf};

use arca_client::kp::{Key, KeyFilter, KpClient, NewKey, b64_decode, b64_encode};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::{ConnectArgs, Format, print_json, say};

mod resources;
use resources::{
    AliasCommand, ImportTokenCommand, InstancePolicyCommand, KmipCommand, MoveArgs, PolicyCommand,
    RegistrationsArgs, RingCommand,
};

#[derive(Debug, Subcommand)]
pub(crate) enum KpCommand {
    /// Lists the keys of the instance.
    Keys(KeysArgs),
    /// Creates a root key (or a standard key with --standard).
    Create(CreateArgs),
    /// One key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Wraps a data key with a root key (generates a 32-byte one unless --plaintext-file).
    Wrap(WrapArgs),
    /// Unwraps a wrapped data key; prints the data key in base64.
    Unwrap(CiphertextArgs),
    /// Rewraps a wrapped data key with the root key's latest version.
    Rewrap(CiphertextArgs),
    /// Rotates a root key (imported keys: with new material from --import-file).
    Rotate(RotateArgs),
    /// Suspends an active key.
    Disable(IdArgs),
    /// Re-enables a suspended key.
    Enable(IdArgs),
    /// Deletes a key (restorable for 30 days).
    Delete(IdArgs),
    /// Restores a deleted key.
    Restore(IdArgs),
    /// Purges a deleted key (4 hours after deletion): its material is destroyed for good.
    Purge(IdArgs),
    /// First authorization to delete a key with a dual-authorization delete policy (7 days).
    SetForDeletion(IdArgs),
    /// Cancels the first authorization to delete a key.
    UnsetForDeletion(IdArgs),
    /// Lists the key rings of the instance.
    Rings(ConnectOnly),
    /// Creates or deletes a key ring.
    #[command(subcommand)]
    Ring(RingCommand),
    /// Creates or deletes a key alias.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// A key's policies: rotation and dual-authorization delete.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The instance's policies.
    #[command(subcommand)]
    InstancePolicy(InstancePolicyCommand),
    /// The instance's import token (for secure import).
    #[command(subcommand)]
    ImportToken(ImportTokenCommand),
    /// Lists the registrations of one key, or of all keys.
    Registrations(RegistrationsArgs),
    /// KMIP adapters and their client certificates.
    #[command(subcommand)]
    Kmip(KmipCommand),
}

/// Only the connection.
#[derive(Debug, Args)]
pub(crate) struct ConnectOnly {
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Shows a key's metadata (and a standard key's material with --payload).
    Show(ShowArgs),
    /// Lists a key's versions, newest first.
    Versions(IdArgs),
    /// Moves a key to another key ring.
    Move(MoveArgs),
}

/// The server and the key-service instance.
#[derive(Debug, Args)]
pub(crate) struct KpConnect {
    /// The key-service instance (sent as Bluemix-Instance).
    #[arg(long, env = "ARCA_KMS_INSTANCE")]
    instance_id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl KpConnect {
    fn kp(&self) -> anyhow::Result<KpClient> {
        Ok(self.connect.client()?.kp(&self.instance_id))
    }

    fn json(&self) -> bool {
        self.connect.output == Format::Json
    }
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// Only keys in these states (comma-separated: 0 pre-active, 1 active, 2 suspended,
    /// 3 deactivated, 5 destroyed); default all but destroyed.
    #[arg(long, value_delimiter = ',')]
    state: Vec<i64>,
    /// Only standard keys.
    #[arg(long, conflicts_with = "root")]
    extractable: bool,
    /// Only root keys.
    #[arg(long)]
    root: bool,
    /// Page size.
    #[arg(long)]
    limit: Option<i64>,
    /// Page start.
    #[arg(long)]
    offset: Option<i64>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Key name.
    name: String,
    /// A standard key (its material can be read back) instead of a root key.
    #[arg(long)]
    standard: bool,
    /// Imports the key material from this file (raw bytes; root keys: 16, 24 or 32 bytes).
    #[arg(long)]
    import_file: Option<PathBuf>,
    /// Imports the root key material from this file (16, 24 or 32 raw bytes) through the
    /// instance's import token: encrypted to its public key, with its nonce (uses up one
    /// retrieval of the token).
    #[arg(long, conflicts_with_all = ["import_file", "standard"])]
    secure_import_file: Option<PathBuf>,
    /// Expiration date (RFC 3339).
    #[arg(long)]
    expiration: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// Key id.
    id: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Key id.
    id: String,
    /// Also prints a standard key's material (base64).
    #[arg(long)]
    payload: bool,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct WrapArgs {
    /// Root key id.
    id: String,
    /// The data key to wrap (raw bytes); a 32-byte one is generated and printed otherwise.
    #[arg(long)]
    plaintext_file: Option<PathBuf>,
    /// Additional authenticated data (repeat for several items; order matters).
    #[arg(long)]
    aad: Vec<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct CiphertextArgs {
    /// Root key id.
    id: String,
    /// The wrapped data key (base64).
    #[arg(long)]
    ciphertext: String,
    /// Additional authenticated data, as given to wrap.
    #[arg(long)]
    aad: Vec<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// Root key id.
    id: String,
    /// New key material for an imported key (raw bytes: 16, 24 or 32).
    #[arg(long)]
    import_file: Option<PathBuf>,
    /// New key material, sent through the instance's import token (secure import).
    #[arg(long, conflicts_with = "import_file")]
    secure_import_file: Option<PathBuf>,
    #[command(flatten)]
    kp: KpConnect,
}

fn read_secret(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

fn state_name(state: i64) -> &'static str {
    match state {
        0 => "pre-active",
        1 => "active",
        2 => "suspended",
        3 => "deactivated",
        5 => "destroyed",
        _ => "unknown",
    }
}

fn key_type(key: &Key) -> &'static str {
    if key.extractable { "standard" } else { "root" }
}

fn keys_table(keys: &[Key]) {
    say(&format!(
        "{:<36}  {:<8}  {:<11}  {:<36}  {:<20}  NAME",
        "ID", "TYPE", "STATE", "VERSION", "CREATED"
    ));
    for k in keys {
        say(&format!(
            "{:<36}  {:<8}  {:<11}  {:<36}  {:<20}  {}",
            k.id,
            key_type(k),
            state_name(k.state),
            k.key_version.id,
            k.creation_date,
            k.name
        ));
    }
}

fn key_details(key: &Key) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let rows = [
        ("ID", key.id.clone()),
        ("Name", key.name.clone()),
        ("Type", key_type(key).into()),
        (
            "State",
            format!("{} ({})", key.state, state_name(key.state)),
        ),
        ("Imported", key.imported.to_string()),
        ("Version", key.key_version.id.clone()),
        ("Description", opt(&key.description)),
        ("Expiration", opt(&key.expiration_date)),
        ("Created", key.creation_date.clone()),
        ("Last rotated", opt(&key.last_rotate_date)),
        ("Deleted", key.deleted.to_string()),
        ("CRN", key.crn.clone()),
    ];
    for (name, value) in rows {
        say(&format!("{name:<13} {value}"));
    }
}

/// Prints a key's metadata; the material only when `with_payload`.
fn print_key(key: &Key, json: bool, with_payload: bool) -> anyhow::Result<()> {
    let shown = if with_payload {
        key.clone()
    } else {
        key.without_payload()
    };
    if json {
        return print_json(&shown);
    }
    key_details(&shown);
    if let Some(p) = &shown.payload {
        let text = Zeroizing::new(b64_encode(p));
        say(&format!("{:<13} {}", "Payload", text.as_str()));
    }
    Ok(())
}

fn decode_ciphertext(text: &str) -> anyhow::Result<Vec<u8>> {
    b64_decode(text).map_err(|_| anyhow::anyhow!("--ciphertext is not valid base64"))
}

pub(crate) async fn run(cmd: KpCommand) -> anyhow::Result<()> {
    match cmd {
        KpCommand::Keys(args) => {
            let filter = KeyFilter {
                state: (!args.state.is_empty()).then(|| args.state.clone()),
                extractable: if args.extractable {
                    Some(true)
                } else if args.root {
                    Some(false)
                } else {
                    None
                },
                limit: args.limit,
                offset: args.offset,
            };
            let keys = args.kp.kp()?.list_keys(&filter).await?;
            if args.kp.json() {
                return print_json(&keys);
            }
            keys_table(&keys);
            Ok(())
        }
        KpCommand::Create(args) => {
            let mut new = if args.standard {
                NewKey::standard(&args.name)
            } else {
                NewKey::root(&args.name)
            };
            if let Some(path) = &args.import_file {
                new.payload = Some(read_secret(path)?);
            }
            new.expiration_date = args.expiration.clone();
            new.description = args.description.clone();
            let kp = args.kp.kp()?;
            let key = match &args.secure_import_file {
                Some(path) => {
                    let material = read_secret(path)?;
                    let token = kp.get_import_token().await?;
                    kp.create_key_secure(&new, &token, &material).await?
                }
                None => kp.create_key(&new).await?,
            };
            // A standard key's material comes back; it is not printed (`key show --payload`).
            print_key(&key, args.kp.json(), false)
        }
        KpCommand::Key(KeyCommand::Show(args)) => {
            let kp = args.kp.kp()?;
            let key = if args.payload {
                kp.get_key(&args.id).await?
            } else {
                kp.get_key_metadata(&args.id).await?
            };
            print_key(&key, args.kp.json(), args.payload)
        }
        KpCommand::Key(KeyCommand::Versions(args)) => {
            let versions = args.kp.kp()?.key_versions(&args.id).await?;
            if args.kp.json() {
                return print_json(&versions);
            }
            say(&format!("{:<36}  CREATED", "VERSION"));
            for v in &versions.versions {
                say(&format!(
                    "{:<36}  {}",
                    v.id,
                    v.creation_date.as_deref().unwrap_or("-")
                ));
            }
            if let Some(total) = versions.total_count {
                say(&format!("{total} version(s)"));
            }
            Ok(())
        }
        KpCommand::Wrap(args) => {
            let plaintext = args
                .plaintext_file
                .as_deref()
                .map(read_secret)
                .transpose()?;
            let wrapped = args
                .kp
                .kp()?
                .wrap(
                    &args.id,
                    plaintext.as_ref().map(|p| p.as_slice()),
                    &args.aad,
                )
                .await?;
            if args.kp.json() {
                return print_json(&wrapped);
            }
            say(&format!("Ciphertext   {}", b64_encode(&wrapped.ciphertext)));
            say(&format!("Key version  {}", wrapped.key_version.id));
            if let Some(p) = &wrapped.plaintext {
                let text = Zeroizing::new(b64_encode(p));
                say(&format!("Plaintext    {}", text.as_str()));
            }
            Ok(())
        }
        KpCommand::Unwrap(args) => {
            let ciphertext = decode_ciphertext(&args.ciphertext)?;
            let out = args
                .kp
                .kp()?
                .unwrap(&args.id, &ciphertext, &args.aad)
                .await?;
            if args.kp.json() {
                return print_json(&out);
            }
            let text = Zeroizing::new(b64_encode(out.data_key()));
            say(&format!("Plaintext    {}", text.as_str()));
            say(&format!("Key version  {}", out.key_version.id));
            if let (Some(c), Some(v)) = (&out.ciphertext, &out.rewrapped_key_version) {
                say(&format!(
                    "Rewrapped    {} (version {})",
                    b64_encode(c),
                    v.id
                ));
            }
            Ok(())
        }
        KpCommand::Rewrap(args) => {
            let ciphertext = decode_ciphertext(&args.ciphertext)?;
            let out = args
                .kp
                .kp()?
                .rewrap(&args.id, &ciphertext, &args.aad)
                .await?;
            if args.kp.json() {
                return print_json(&out);
            }
            say(&format!("Ciphertext   {}", b64_encode(&out.ciphertext)));
            say(&format!("Key version  {}", out.key_version.id));
            say(&format!("Rewrapped by {}", out.rewrapped_key_version.id));
            Ok(())
        }
        KpCommand::Rotate(args) => {
            let payload = args.import_file.as_deref().map(read_secret).transpose()?;
            let kp = args.kp.kp()?;
            if let Some(path) = &args.secure_import_file {
                let material = read_secret(path)?;
                let token = kp.get_import_token().await?;
                kp.rotate_secure(&args.id, &token, &material).await?;
            } else {
                kp.rotate(&args.id, payload.as_ref().map(|p| p.as_slice()))
                    .await?;
            }
            let key = kp.get_key_metadata(&args.id).await?;
            if args.kp.json() {
                return print_json(&key);
            }
            say(&format!(
                "Rotated key {}: version {}",
                key.id, key.key_version.id
            ));
            Ok(())
        }
        KpCommand::Disable(args) => {
            args.kp.kp()?.disable(&args.id).await?;
            done(&args, "disabled")
        }
        KpCommand::Enable(args) => {
            args.kp.kp()?.enable(&args.id).await?;
            done(&args, "enabled")
        }
        KpCommand::Delete(args) => {
            let key = args.kp.kp()?.delete_key(&args.id, true).await?;
            match key {
                Some(key) => print_key(&key, args.kp.json(), false),
                None => done(&args, "deleted"),
            }
        }
        KpCommand::Restore(args) => {
            let key = args.kp.kp()?.restore_key(&args.id).await?;
            print_key(&key, args.kp.json(), false)
        }
        KpCommand::Purge(args) => {
            args.kp.kp()?.purge_key(&args.id).await?;
            done(&args, "purged: its material is destroyed")
        }
        KpCommand::SetForDeletion(args) => {
            args.kp.kp()?.set_key_for_deletion(&args.id).await?;
            done(&args, "set for deletion: another user can now delete it")
        }
        KpCommand::UnsetForDeletion(args) => {
            args.kp.kp()?.unset_key_for_deletion(&args.id).await?;
            done(&args, "unset for deletion")
        }
        KpCommand::Key(KeyCommand::Move(args)) => resources::move_key(args).await,
        KpCommand::Rings(args) => resources::rings(args).await,
        KpCommand::Ring(cmd) => resources::ring(cmd).await,
        KpCommand::Alias(cmd) => resources::alias(cmd).await,
        KpCommand::Policy(cmd) => resources::policy(cmd).await,
        KpCommand::InstancePolicy(cmd) => resources::instance_policy(cmd).await,
        KpCommand::ImportToken(cmd) => resources::import_token(cmd).await,
        KpCommand::Registrations(args) => resources::registrations(args).await,
        KpCommand::Kmip(cmd) => resources::kmip(cmd).await,
    }
}

fn done(args: &IdArgs, what: &str) -> anyhow::Result<()> {
    if args.kp.json() {
        return print_json(&serde_json::json!({ "id": args.id, "result": what }));
    }
    say(&format!("Key {} {what}", args.id));
    Ok(())
}
