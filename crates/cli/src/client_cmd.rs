//! Client commands: instances and health.

use arca_proto::instance::{Instance, ServiceKind};
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

pub(crate) async fn run_instance(cmd: InstanceCommand) -> anyhow::Result<()> {
    match cmd {
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
