//! Client commands: instances and health.

use arca_proto::instance::{Instance, Reclamation, RootKeyStatus, ServiceKind};
use clap::{Args, Subcommand, ValueEnum};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum InstanceCommand {
    /// Creates an instance in your account.
    Create(CreateArgs),
    /// Lists your account's instances.
    List(ConnectArgs),
    /// Shows one instance.
    Get(GetArgs),
    /// Deletes an instance: disabled at once, restorable during the reclamation period, then
    /// crypto-shredded. A key-service instance must hold no keys that are not deleted.
    Delete(GetArgs),
    /// Lists the deleted instances of your account and when they will be reclaimed.
    Reclamations(ConnectArgs),
    /// Restores a deleted instance, whole.
    Restore(GetArgs),
    /// Reclaims a deleted instance now: crypto-shredded, irreversible.
    Reclaim(ReclaimArgs),
    /// Shows a secrets instance's root key and the progress of moving its data keys to it.
    RootKey(GetArgs),
    /// Sets a secrets instance's root key to a customer root key (or back to provider-managed)
    /// and re-encrypts its data keys, showing progress.
    RootKeySet(RootKeySetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReclaimArgs {
    /// Instance id.
    id: String,
    /// Confirm: everything the instance holds is destroyed for good.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RootKeySetArgs {
    /// Secrets instance id.
    id: String,
    /// CRN of a root key of a key-service instance of your account (authorize the secrets
    /// instance on it first: `arca iam authorization-create ... --role Reader`).
    #[arg(
        long,
        conflicts_with = "provider_managed",
        required_unless_present = "provider_managed"
    )]
    crn: Option<String>,
    /// Go back to the provider-managed instance key.
    #[arg(long)]
    provider_managed: bool,
    /// Return at once instead of re-encrypting now (the server's background jobs finish it).
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Service {
    Kms,
    SecretsManager,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Display name.
    #[arg(long)]
    name: String,
    /// Which service.
    #[arg(long, value_enum, default_value_t = Service::Kms)]
    service: Service,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Instance id.
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn table(instances: &[Instance]) {
    say(&format!(
        "{:<36}  {:<15}  {:<8}  {:<20}  NAME",
        "ID", "SERVICE", "STATE", "CREATED"
    ));
    for i in instances {
        say(&format!(
            "{:<36}  {:<15}  {:<8}  {:<20}  {}",
            i.id,
            i.service.as_str(),
            i.state,
            i.created_at,
            i.name
        ));
    }
}

fn root_key_line(s: &RootKeyStatus) -> String {
    format!(
        "root key: {}; data keys: {} of {} under it",
        s.root_key_crn
            .as_deref()
            .unwrap_or("provider-managed (instance key)"),
        s.data_keys_total - s.data_keys_pending,
        s.data_keys_total
    )
}

/// Drives re-encryption batch by batch until every data key is under the root key, showing
/// progress on stderr. Resumable: running it again continues where it stopped.
async fn reencrypt_all(
    client: &arca_client::Client,
    id: &str,
    quiet: bool,
) -> anyhow::Result<RootKeyStatus> {
    let mut status = client.root_key_status(id).await?;
    let mut stalled = 0;
    while status.data_keys_pending > 0 {
        let before = status.data_keys_pending;
        status = client.reencrypt(id).await?;
        if !quiet {
            let done = status.data_keys_total - status.data_keys_pending;
            let pct = if status.data_keys_total > 0 {
                done * 100 / status.data_keys_total
            } else {
                100
            };
            let filled = usize::try_from(pct / 5).unwrap_or(0);
            #[allow(clippy::print_stderr)] // progress, not output
            {
                eprint!(
                    "\rre-encrypting data keys [{}{}] {done}/{} ({pct}%)",
                    "#".repeat(filled),
                    ".".repeat(20 - filled.min(20)),
                    status.data_keys_total
                );
            }
        }
        stalled = if status.data_keys_pending >= before {
            stalled + 1
        } else {
            0
        };
        if stalled >= 3 {
            anyhow::bail!("re-encryption makes no progress; see the server log");
        }
    }
    if !quiet {
        #[allow(clippy::print_stderr)]
        {
            eprintln!();
        }
    }
    Ok(status)
}

fn reclamation_table(list: &[Reclamation]) {
    say(&format!(
        "{:<36}  {:<15}  {:<20}  {:<20}  NAME",
        "INSTANCE", "SERVICE", "DELETED", "RECLAIMED AT"
    ));
    for r in list {
        say(&format!(
            "{:<36}  {:<15}  {:<20}  {:<20}  {}",
            r.instance.id,
            r.instance.service.as_str(),
            r.deleted_at,
            r.reclaim_at,
            r.instance.name
        ));
    }
}

pub(crate) async fn run_instance(cmd: InstanceCommand) -> anyhow::Result<()> {
    match cmd {
        InstanceCommand::Delete(args) => {
            let r = args.connect.client()?.delete_instance(&args.id).await?;
            if args.connect.output == Format::Json {
                return print_json(&r);
            }
            say(&format!(
                "instance {} deleted; restorable until {} (arca instance restore {})",
                r.instance.id, r.reclaim_at, r.instance.id
            ));
            Ok(())
        }
        InstanceCommand::Reclamations(connect) => {
            let list = connect.client()?.list_reclamations().await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            reclamation_table(&list);
            Ok(())
        }
        InstanceCommand::Restore(args) => {
            let instance = args.connect.client()?.restore_instance(&args.id).await?;
            if args.connect.output == Format::Json {
                return print_json(&instance);
            }
            table(std::slice::from_ref(&instance));
            Ok(())
        }
        InstanceCommand::Reclaim(args) => {
            if !args.yes {
                anyhow::bail!(
                    "reclaiming destroys everything instance {} holds, for good: add --yes",
                    args.id
                );
            }
            args.connect.client()?.reclaim_instance(&args.id).await?;
            say(&format!("instance {} reclaimed", args.id));
            Ok(())
        }
        InstanceCommand::RootKey(args) => {
            let status = args.connect.client()?.root_key_status(&args.id).await?;
            if args.connect.output == Format::Json {
                return print_json(&status);
            }
            say(&root_key_line(&status));
            Ok(())
        }
        InstanceCommand::RootKeySet(args) => {
            let client = args.connect.client()?;
            let crn = if args.provider_managed {
                None
            } else {
                args.crn.as_deref()
            };
            let mut status = client.set_root_key(&args.id, crn).await?;
            let json = args.connect.output == Format::Json;
            if !args.no_wait {
                status = reencrypt_all(&client, &args.id, json).await?;
            }
            if json {
                return print_json(&status);
            }
            say(&root_key_line(&status));
            Ok(())
        }
        InstanceCommand::Create(args) => {
            let service = match args.service {
                Service::Kms => ServiceKind::Kms,
                Service::SecretsManager => ServiceKind::SecretsManager,
            };
            let created = args
                .connect
                .client()?
                .create_instance(&args.name, service)
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&created);
            }
            table(std::slice::from_ref(&created));
            Ok(())
        }
        InstanceCommand::List(connect) => {
            let list = connect.client()?.list_instances().await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            table(&list);
            Ok(())
        }
        InstanceCommand::Get(args) => {
            let got = args.connect.client()?.get_instance(&args.id).await?;
            if args.connect.output == Format::Json {
                return print_json(&got);
            }
            table(std::slice::from_ref(&got));
            Ok(())
        }
    }
}

pub(crate) async fn health(connect: &ConnectArgs) -> anyhow::Result<()> {
    let (ready, health) = connect.client()?.ready().await?;
    if connect.output == Format::Json {
        return print_json(&health);
    }
    say(&format!(
        "{} (initialized: {}, sealed: {}, keystore: {}, version {})",
        health.status, health.initialized, health.sealed, health.keystore, health.version
    ));
    if !ready {
        anyhow::bail!("not ready");
    }
    Ok(())
}
