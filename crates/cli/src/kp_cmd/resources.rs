//! `arca kp` beside keys and their actions: key rings, aliases, key and instance policies, the
//! import token, registrations and KMIP adapters with their client certificates.

use std::path::PathBuf;

use arca_client::kp::{
    InstancePolicy, InstancePolicyInput, KeyCreateImportAccess, KeyPolicies, KmipAdapter,
    KmipCertificate, NewKmipAdapter, RotationPolicy, b64_encode,
};
use clap::{Args, Subcommand, ValueEnum};

use super::{ConnectOnly, KpConnect, print_key};
use crate::{print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum RingCommand {
    /// Creates a key ring.
    Create(RingArgs),
    /// Deletes a key ring (--force: also when it holds only destroyed keys).
    Delete(RingDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RingArgs {
    /// Key ring id (2 to 100 characters: letters, digits, `-`).
    id: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct RingDeleteArgs {
    /// Key ring id.
    id: String,
    /// Deletes the ring even if it holds destroyed keys (they move to `default`).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// Key id.
    id: String,
    /// The key ring to move it to.
    #[arg(long)]
    ring: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AliasCommand {
    /// Gives a key an alias (at most 5 per key, unique in the instance).
    Create(AliasArgs),
    /// Removes an alias (the key stays).
    Delete(AliasArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AliasArgs {
    /// Key id.
    id: String,
    /// The alias (2 to 90 characters: letters, digits, `_`, `-`).
    alias: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Shows a key's rotation and dual-authorization delete policies.
    Show(PolicyShowArgs),
    /// Sets a key's rotation policy and/or turns on dual-authorization delete.
    Set(PolicySetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PolicyShowArgs {
    /// Key id.
    id: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct PolicySetArgs {
    /// Key id.
    id: String,
    /// Rotates the key automatically every N months (1 to 12).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=12))]
    rotation_months: Option<i64>,
    /// Turns automatic rotation off.
    #[arg(long, conflicts_with = "rotation_months")]
    no_rotation: bool,
    /// Turns dual-authorization delete on (cannot be turned off again).
    #[arg(long)]
    dual_auth: bool,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum InstancePolicyCommand {
    /// Shows the instance's policies.
    Show(InstancePolicyShowArgs),
    /// Sets one or more instance policies (each flag is one policy).
    Set(InstancePolicySetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InstancePolicyShowArgs {
    /// Only this policy type (allowedNetwork, dualAuthDelete, allowedIP,
    /// keyCreateImportAccess, metrics, rotation).
    #[arg(long)]
    policy: Option<String>,
    #[command(flatten)]
    kp: KpConnect,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// The allowedNetwork policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Network {
    /// Public and private endpoints.
    PublicAndPrivate,
    /// Private endpoints only.
    PrivateOnly,
    /// The policy off.
    Off,
}

#[derive(Debug, Args)]
pub(crate) struct InstancePolicySetArgs {
    /// allowedNetwork.
    #[arg(long, value_enum)]
    allowed_network: Option<Network>,
    /// dualAuthDelete for keys created from now on.
    #[arg(long, value_enum)]
    dual_auth_delete: Option<Switch>,
    /// rotation: keys created from now on rotate every N months (1 to 12).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=12))]
    rotation_months: Option<i64>,
    /// rotation off.
    #[arg(long, conflicts_with = "rotation_months")]
    no_rotation: bool,
    /// keyCreateImportAccess (on: see --deny and --enforce-token).
    #[arg(long, value_enum)]
    key_create_import_access: Option<Switch>,
    /// With keyCreateImportAccess on: what to forbid (comma-separated: create_root_key,
    /// create_standard_key, import_root_key, import_standard_key).
    #[arg(long, value_delimiter = ',', requires = "key_create_import_access")]
    deny: Vec<String>,
    /// With keyCreateImportAccess on: root keys may be imported only through an import token.
    #[arg(long, requires = "key_create_import_access")]
    enforce_token: bool,
    /// metrics.
    #[arg(long, value_enum)]
    metrics: Option<Switch>,
    /// allowedIP: the CIDRs allowed (comma-separated).
    #[arg(long, value_delimiter = ',')]
    allowed_ip: Vec<String>,
    /// allowedIP off.
    #[arg(long, conflicts_with = "allowed_ip")]
    no_allowed_ip: bool,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportTokenCommand {
    /// Creates the instance's import token (replacing any previous one).
    Create(ImportTokenCreateArgs),
    /// Retrieves the import token: its public key (PEM) and nonce (uses up one retrieval).
    Show(ConnectOnly),
}

#[derive(Debug, Args)]
pub(crate) struct ImportTokenCreateArgs {
    /// Lifetime in seconds (300 to 86400; default 600).
    #[arg(long)]
    expiration: Option<i64>,
    /// How many times it may be retrieved.
    #[arg(long)]
    max_retrievals: Option<i64>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct RegistrationsArgs {
    /// Only the registrations of this key.
    id: Option<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KmipCommand {
    /// Lists the KMIP adapters.
    Adapters(AdaptersArgs),
    /// One KMIP adapter.
    #[command(subcommand)]
    Adapter(AdapterCommand),
    /// The client certificates of an adapter.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Debug, Args)]
pub(crate) struct AdaptersArgs {
    /// Only the adapters of this root key.
    #[arg(long)]
    crk_id: Option<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdapterCommand {
    /// Creates a KMIP adapter (profile native_1.0) on a root key.
    Create(AdapterCreateArgs),
    /// Shows an adapter (id or name).
    Show(AdapterArgs),
    /// Deletes an adapter and its certificates.
    Delete(AdapterArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AdapterCreateArgs {
    /// The root key protecting the adapter's objects.
    #[arg(long)]
    crk_id: String,
    /// Name (generated otherwise).
    #[arg(long)]
    name: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Allows a root key with an expiration date.
    #[arg(long)]
    allow_expiring_key: bool,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct AdapterArgs {
    /// Adapter id or name.
    adapter: String,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Adds a client certificate (PEM file) to an adapter.
    Add(CertAddArgs),
    /// Lists an adapter's client certificates.
    List(AdapterArgs),
    /// Shows a client certificate with its PEM (id or name).
    Show(CertArgs),
    /// Deletes a client certificate.
    Delete(CertArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CertAddArgs {
    /// Adapter id or name.
    adapter: String,
    /// The certificate (PEM).
    #[arg(long)]
    file: PathBuf,
    /// Name (generated otherwise).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    kp: KpConnect,
}

#[derive(Debug, Args)]
pub(crate) struct CertArgs {
    /// Adapter id or name.
    adapter: String,
    /// Certificate id or name.
    cert: String,
    #[command(flatten)]
    kp: KpConnect,
}

fn dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// Prints `{what, result}` as JSON or one sentence.
fn result(kp: &KpConnect, json: serde_json::Value, sentence: &str) -> anyhow::Result<()> {
    if kp.json() {
        return print_json(&json);
    }
    say(sentence);
    Ok(())
}

pub(crate) async fn move_key(args: MoveArgs) -> anyhow::Result<()> {
    let key = args.kp.kp()?.move_key(&args.id, &args.ring).await?;
    if args.kp.json() {
        return print_key(&key, true, false);
    }
    say(&format!(
        "Key {} moved to key ring {}",
        key.id, key.key_ring_id
    ));
    Ok(())
}

pub(crate) async fn rings(args: ConnectOnly) -> anyhow::Result<()> {
    let rings = args.kp.kp()?.list_key_rings().await?;
    if args.kp.json() {
        return print_json(&rings);
    }
    say(&format!("{:<36}  {:<24}  CREATED BY", "ID", "CREATED"));
    for r in &rings {
        say(&format!(
            "{:<36}  {:<24}  {}",
            r.id,
            dash(&r.creation_date),
            dash(&r.created_by)
        ));
    }
    Ok(())
}

pub(crate) async fn ring(cmd: RingCommand) -> anyhow::Result<()> {
    match cmd {
        RingCommand::Create(args) => {
            let ring = args.kp.kp()?.create_key_ring(&args.id).await?;
            if args.kp.json() {
                return print_json(&ring);
            }
            say(&format!("Key ring {} created", ring.id));
            Ok(())
        }
        RingCommand::Delete(args) => {
            args.kp.kp()?.delete_key_ring(&args.id, args.force).await?;
            result(
                &args.kp,
                serde_json::json!({"id": args.id, "result": "deleted"}),
                &format!("Key ring {} deleted", args.id),
            )
        }
    }
}

pub(crate) async fn alias(cmd: AliasCommand) -> anyhow::Result<()> {
    match cmd {
        AliasCommand::Create(args) => {
            let alias = args.kp.kp()?.create_alias(&args.id, &args.alias).await?;
            if args.kp.json() {
                return print_json(&alias);
            }
            say(&format!(
                "Alias {} created for key {}",
                alias.alias, alias.key_id
            ));
            Ok(())
        }
        AliasCommand::Delete(args) => {
            args.kp.kp()?.delete_alias(&args.id, &args.alias).await?;
            result(
                &args.kp,
                serde_json::json!({"id": args.id, "alias": args.alias, "result": "deleted"}),
                &format!("Alias {} of key {} deleted", args.alias, args.id),
            )
        }
    }
}

fn print_key_policies(p: &KeyPolicies, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(p);
    }
    let rotation = match p.rotation {
        Some(RotationPolicy {
            enabled: true,
            interval_month,
        }) => format!(
            "every {} month(s)",
            interval_month.map_or_else(|| "?".into(), |m| m.to_string())
        ),
        Some(_) => "off".into(),
        None => "-".into(),
    };
    let dual = match &p.dual_auth_delete {
        Some(d) if d.enabled => "on".to_owned(),
        Some(_) => "off".to_owned(),
        None => "-".to_owned(),
    };
    say(&format!("{:<17} {}", "Key", p.id));
    say(&format!("{:<17} {rotation}", "Rotation"));
    say(&format!("{:<17} {dual}", "Dual-auth delete"));
    say(&format!(
        "{:<17} {}",
        "Last updated",
        dash(&p.last_update_date)
    ));
    Ok(())
}

pub(crate) async fn policy(cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Show(args) => {
            let p = args.kp.kp()?.get_key_policies(&args.id).await?;
            print_key_policies(&p, args.kp.json())
        }
        PolicyCommand::Set(args) => {
            let rotation = if args.no_rotation {
                Some(RotationPolicy {
                    enabled: false,
                    interval_month: None,
                })
            } else {
                args.rotation_months.map(|m| RotationPolicy {
                    enabled: true,
                    interval_month: Some(m),
                })
            };
            let dual = args.dual_auth.then_some(true);
            if rotation.is_none() && dual.is_none() {
                anyhow::bail!(
                    "nothing to set: give --rotation-months, --no-rotation or --dual-auth"
                );
            }
            let kp = args.kp.kp()?;
            kp.set_key_policies(&args.id, rotation, dual).await?;
            let p = kp.get_key_policies(&args.id).await?;
            print_key_policies(&p, args.kp.json())
        }
    }
}

fn attributes_text(p: &InstancePolicy) -> String {
    match &p.policy_data.attributes {
        Some(attrs) if !attrs.is_empty() => attrs
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "-".into(),
    }
}

fn instance_inputs(args: &InstancePolicySetArgs) -> anyhow::Result<Vec<InstancePolicyInput>> {
    let mut out = Vec::new();
    match args.allowed_network {
        Some(Network::PublicAndPrivate) => {
            out.push(InstancePolicyInput::allowed_network("public-and-private"));
        }
        Some(Network::PrivateOnly) => {
            out.push(InstancePolicyInput::allowed_network("private-only"))
        }
        Some(Network::Off) => out.push(InstancePolicyInput::disabled("allowedNetwork")),
        None => {}
    }
    match args.dual_auth_delete {
        Some(Switch::On) => out.push(InstancePolicyInput::enabled("dualAuthDelete", None)),
        Some(Switch::Off) => out.push(InstancePolicyInput::disabled("dualAuthDelete")),
        None => {}
    }
    if let Some(months) = args.rotation_months {
        out.push(InstancePolicyInput::rotation(months));
    } else if args.no_rotation {
        out.push(InstancePolicyInput::disabled("rotation"));
    }
    match args.key_create_import_access {
        Some(Switch::On) => {
            let mut access = KeyCreateImportAccess {
                enforce_token: args.enforce_token,
                ..KeyCreateImportAccess::default()
            };
            for item in &args.deny {
                match item.trim() {
                    "create_root_key" => access.create_root_key = false,
                    "create_standard_key" => access.create_standard_key = false,
                    "import_root_key" => access.import_root_key = false,
                    "import_standard_key" => access.import_standard_key = false,
                    other => anyhow::bail!(
                        "--deny {other:?}: expected create_root_key, create_standard_key, \
                         import_root_key or import_standard_key"
                    ),
                }
            }
            out.push(InstancePolicyInput::key_create_import_access(&access));
        }
        Some(Switch::Off) => {
            if args.enforce_token || !args.deny.is_empty() {
                anyhow::bail!("--deny and --enforce-token need --key-create-import-access on");
            }
            out.push(InstancePolicyInput::disabled("keyCreateImportAccess"));
        }
        None => {}
    }
    match args.metrics {
        Some(Switch::On) => out.push(InstancePolicyInput::enabled("metrics", None)),
        Some(Switch::Off) => out.push(InstancePolicyInput::disabled("metrics")),
        None => {}
    }
    if !args.allowed_ip.is_empty() {
        out.push(InstancePolicyInput::allowed_ip(&args.allowed_ip));
    } else if args.no_allowed_ip {
        out.push(InstancePolicyInput::disabled("allowedIP"));
    }
    if out.is_empty() {
        anyhow::bail!("nothing to set: give at least one policy flag (see --help)");
    }
    Ok(out)
}

fn print_instance_policies(policies: &[InstancePolicy], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&policies);
    }
    say(&format!(
        "{:<22}  {:<8}  {:<24}  ATTRIBUTES",
        "POLICY", "ENABLED", "LAST UPDATED"
    ));
    for p in policies {
        say(&format!(
            "{:<22}  {:<8}  {:<24}  {}",
            p.policy_type,
            p.policy_data.enabled,
            dash(&p.last_updated),
            attributes_text(p)
        ));
    }
    Ok(())
}

pub(crate) async fn instance_policy(cmd: InstancePolicyCommand) -> anyhow::Result<()> {
    match cmd {
        InstancePolicyCommand::Show(args) => {
            let policies = args
                .kp
                .kp()?
                .get_instance_policies(args.policy.as_deref())
                .await?;
            print_instance_policies(&policies, args.kp.json())
        }
        InstancePolicyCommand::Set(args) => {
            let inputs = instance_inputs(&args)?;
            let kp = args.kp.kp()?;
            kp.set_instance_policies(&inputs).await?;
            let set: Vec<&str> = inputs.iter().map(|i| i.policy_type.as_str()).collect();
            let policies: Vec<InstancePolicy> = kp
                .get_instance_policies(None)
                .await?
                .into_iter()
                .filter(|p| set.contains(&p.policy_type.as_str()))
                .collect();
            print_instance_policies(&policies, args.kp.json())
        }
    }
}

pub(crate) async fn import_token(cmd: ImportTokenCommand) -> anyhow::Result<()> {
    match cmd {
        ImportTokenCommand::Create(args) => {
            let token = args
                .kp
                .kp()?
                .create_import_token(args.expiration, args.max_retrievals)
                .await?;
            if args.kp.json() {
                return print_json(&token);
            }
            say(&format!("{:<21} {}", "ID", dash(&token.id)));
            say(&format!("{:<21} {}", "Created", token.creation_date));
            say(&format!("{:<21} {}", "Expires", token.expiration_date));
            say(&format!(
                "{:<21} {}/{}",
                "Retrievals left", token.remaining_retrievals, token.max_allowed_retrievals
            ));
            Ok(())
        }
        ImportTokenCommand::Show(args) => {
            let got = args.kp.kp()?.get_import_token().await?;
            if args.kp.json() {
                return print_json(&got);
            }
            let t = &got.token;
            say(&format!("{:<21} {}", "ID", dash(&t.id)));
            say(&format!("{:<21} {}", "Created", t.creation_date));
            say(&format!("{:<21} {}", "Expires", t.expiration_date));
            say(&format!(
                "{:<21} {}/{}",
                "Retrievals left", t.remaining_retrievals, t.max_allowed_retrievals
            ));
            say(&format!("{:<21} {}", "Nonce", b64_encode(&got.nonce)));
            say("Public key:");
            say(got.public_key_pem.trim_end());
            Ok(())
        }
    }
}

pub(crate) async fn registrations(args: RegistrationsArgs) -> anyhow::Result<()> {
    let regs = args.kp.kp()?.list_registrations(args.id.as_deref()).await?;
    if args.kp.json() {
        return print_json(&regs);
    }
    say(&format!(
        "{:<36}  {:<7}  {:<24}  RESOURCE CRN",
        "KEY", "PREVENT", "CREATED"
    ));
    for r in &regs.registrations {
        say(&format!(
            "{:<36}  {:<7}  {:<24}  {}",
            r.key_id,
            r.prevent_key_deletion,
            dash(&r.creation_date),
            r.resource_crn
        ));
    }
    say(&format!(
        "{} registration(s)",
        regs.total_count
            .unwrap_or_else(|| i64::try_from(regs.registrations.len()).unwrap_or(i64::MAX))
    ));
    Ok(())
}

fn adapters_table(adapters: &[KmipAdapter]) {
    say(&format!(
        "{:<36}  {:<24}  {:<36}  CREATED",
        "ID", "NAME", "ROOT KEY"
    ));
    for a in adapters {
        say(&format!(
            "{:<36}  {:<24}  {:<36}  {}",
            a.id,
            a.name,
            a.profile_data.as_ref().map_or("-", |p| p.crk_id.as_str()),
            dash(&a.created_at)
        ));
    }
}

fn adapter_details(a: &KmipAdapter) {
    let rows = [
        ("ID", a.id.as_str()),
        ("Name", a.name.as_str()),
        ("Description", a.description.as_deref().unwrap_or("-")),
        ("Profile", a.profile.as_str()),
        (
            "Root key",
            a.profile_data.as_ref().map_or("-", |p| p.crk_id.as_str()),
        ),
        ("Created", dash(&a.created_at)),
        ("Created by", dash(&a.created_by)),
        ("Updated", dash(&a.updated_at)),
    ];
    for (name, value) in rows {
        say(&format!("{name:<12} {value}"));
    }
}

fn certificate_details(c: &KmipCertificate) {
    say(&format!("{:<11} {}", "ID", c.id));
    say(&format!("{:<11} {}", "Name", c.name));
    say(&format!("{:<11} {}", "Created", dash(&c.created_at)));
    say(&format!("{:<11} {}", "Created by", dash(&c.created_by)));
    if let Some(pem) = &c.certificate {
        say(pem.trim_end());
    }
}

pub(crate) async fn kmip(cmd: KmipCommand) -> anyhow::Result<()> {
    match cmd {
        KmipCommand::Adapters(args) => {
            let adapters = args
                .kp
                .kp()?
                .list_kmip_adapters(args.crk_id.as_deref())
                .await?;
            if args.kp.json() {
                return print_json(&adapters);
            }
            adapters_table(&adapters);
            Ok(())
        }
        KmipCommand::Adapter(AdapterCommand::Create(args)) => {
            let new = NewKmipAdapter {
                name: args.name.clone(),
                description: args.description.clone(),
                crk_id: args.crk_id.clone(),
                allow_expiring_key: args.allow_expiring_key,
            };
            let adapter = args.kp.kp()?.create_kmip_adapter(&new).await?;
            if args.kp.json() {
                return print_json(&adapter);
            }
            adapter_details(&adapter);
            Ok(())
        }
        KmipCommand::Adapter(AdapterCommand::Show(args)) => {
            let adapter = args.kp.kp()?.get_kmip_adapter(&args.adapter).await?;
            if args.kp.json() {
                return print_json(&adapter);
            }
            adapter_details(&adapter);
            Ok(())
        }
        KmipCommand::Adapter(AdapterCommand::Delete(args)) => {
            args.kp.kp()?.delete_kmip_adapter(&args.adapter).await?;
            result(
                &args.kp,
                serde_json::json!({"id": args.adapter, "result": "deleted"}),
                &format!("KMIP adapter {} deleted", args.adapter),
            )
        }
        KmipCommand::Cert(CertCommand::Add(args)) => {
            let pem = std::fs::read_to_string(&args.file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
            let cert = args
                .kp
                .kp()?
                .add_kmip_certificate(&args.adapter, &pem, args.name.as_deref())
                .await?;
            if args.kp.json() {
                return print_json(&cert);
            }
            certificate_details(&KmipCertificate {
                certificate: None,
                ..cert
            });
            Ok(())
        }
        KmipCommand::Cert(CertCommand::List(args)) => {
            let certs = args.kp.kp()?.list_kmip_certificates(&args.adapter).await?;
            if args.kp.json() {
                return print_json(&certs);
            }
            say(&format!("{:<36}  {:<24}  CREATED", "ID", "NAME"));
            for c in &certs {
                say(&format!(
                    "{:<36}  {:<24}  {}",
                    c.id,
                    c.name,
                    dash(&c.created_at)
                ));
            }
            Ok(())
        }
        KmipCommand::Cert(CertCommand::Show(args)) => {
            let cert = args
                .kp
                .kp()?
                .get_kmip_certificate(&args.adapter, &args.cert)
                .await?;
            if args.kp.json() {
                return print_json(&cert);
            }
            certificate_details(&cert);
            Ok(())
        }
        KmipCommand::Cert(CertCommand::Delete(args)) => {
            args.kp
                .kp()?
                .delete_kmip_certificate(&args.adapter, &args.cert)
                .await?;
            result(
                &args.kp,
                serde_json::json!({"adapter": args.adapter, "id": args.cert, "result": "deleted"}),
                &format!(
                    "Certificate {} of adapter {} deleted",
                    args.cert, args.adapter
                ),
            )
        }
    }
}
