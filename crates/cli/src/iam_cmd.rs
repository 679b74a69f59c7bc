//! `arca iam ...`: users, service IDs, API keys, role grants and service-to-service
//! authorizations of your account.

use clap::{Args, Subcommand, ValueEnum};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Users and service IDs.
    #[command(subcommand)]
    Principal(PrincipalCommand),
    /// API keys (shown once, at creation).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Roles on instances: Reader, ReaderPlus, Writer, Manager, KeyPurge.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Authorizes a service instance (e.g. secrets-manager) to use one key, or all keys, of a
    /// key-service instance.
    #[command(name = "authorization-create")]
    AuthorizationCreate {
        /// The instance that is authorized (secrets-manager or kms).
        #[arg(long = "source-instance")]
        source_instance: String,
        /// The key-service instance whose keys it may use.
        #[arg(long = "target-instance")]
        target_instance: String,
        /// One key (id or alias) of the target; all its keys when absent.
        #[arg(long)]
        key: Option<String>,
        /// Reader, ReaderPlus, Writer or Manager.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Lists the account's service-to-service authorizations.
    Authorizations(ConnectArgs),
    /// Deletes a service-to-service authorization: it stops working at once.
    #[command(name = "authorization-delete")]
    AuthorizationDelete(IdArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    User,
    ServiceId,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PrincipalCommand {
    /// Creates a user or service ID.
    Create {
        /// Which kind.
        #[arg(long, value_enum, default_value_t = Kind::ServiceId)]
        kind: Kind,
        /// Display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Lists the account's principals.
    List(ConnectArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Creates an API key for a principal and prints it once.
    Create {
        /// Whose key.
        #[arg(long)]
        principal_id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Lists a principal's API keys (never the keys themselves).
    List {
        /// Whose keys.
        #[arg(long)]
        principal_id: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Deletes an API key: it stops working at once.
    Delete(IdArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum GrantCommand {
    /// Grants a role on an instance.
    Add {
        /// Who.
        #[arg(long)]
        principal_id: String,
        /// Which instance.
        #[arg(long)]
        instance_id: String,
        /// Reader, ReaderPlus, Writer, Manager or KeyPurge.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Lists the account's grants.
    List(ConnectArgs),
    /// Revokes a grant.
    Remove(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The id.
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) async fn run(cmd: IamCommand) -> anyhow::Result<()> {
    match cmd {
        IamCommand::Principal(PrincipalCommand::Create {
            kind,
            name,
            connect,
        }) => {
            let kind = match kind {
                Kind::User => "user",
                Kind::ServiceId => "service_id",
            };
            let p = connect.client()?.create_principal(kind, &name).await?;
            if connect.output == Format::Json {
                return print_json(&p);
            }
            say(&format!("{}  {}  {}", p.id, p.kind, p.name));
            Ok(())
        }
        IamCommand::Principal(PrincipalCommand::List(connect)) => {
            let list = connect.client()?.list_principals().await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            say(&format!(
                "{:<50}  {:<10}  {:<5}  NAME",
                "ID", "KIND", "ADMIN"
            ));
            for p in list {
                say(&format!(
                    "{:<50}  {:<10}  {:<5}  {}",
                    p.id, p.kind, p.is_admin, p.name
                ));
            }
            Ok(())
        }
        IamCommand::ApiKey(ApiKeyCommand::Create {
            principal_id,
            name,
            connect,
        }) => {
            let created = connect
                .client()?
                .create_api_key(&principal_id, &name)
                .await?;
            if connect.output == Format::Json {
                return print_json(&created);
            }
            say(&format!("API key id: {}", created.key.id));
            say(&format!("API key:    {}", created.api_key));
            say("Keep it now: it is stored only as a digest and not shown again.");
            Ok(())
        }
        IamCommand::ApiKey(ApiKeyCommand::List {
            principal_id,
            connect,
        }) => {
            let list = connect.client()?.list_api_keys(&principal_id).await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            say(&format!("{:<45}  {:<25}  NAME", "ID", "CREATED"));
            for k in list {
                say(&format!("{:<45}  {:<25}  {}", k.id, k.created_at, k.name));
            }
            Ok(())
        }
        IamCommand::ApiKey(ApiKeyCommand::Delete(args)) => {
            args.connect.client()?.delete_api_key(&args.id).await?;
            say(&format!("deleted {}", args.id));
            Ok(())
        }
        IamCommand::Grant(GrantCommand::Add {
            principal_id,
            instance_id,
            role,
            connect,
        }) => {
            let g = connect
                .client()?
                .create_grant(&principal_id, &instance_id, &role)
                .await?;
            if connect.output == Format::Json {
                return print_json(&g);
            }
            say(&format!(
                "{}  {} on {} to {}",
                g.id, g.role, g.instance_id, g.principal_id
            ));
            Ok(())
        }
        IamCommand::Grant(GrantCommand::List(connect)) => {
            let list = connect.client()?.list_grants().await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            say(&format!(
                "{:<44}  {:<10}  {:<36}  PRINCIPAL",
                "ID", "ROLE", "INSTANCE"
            ));
            for g in list {
                say(&format!(
                    "{:<44}  {:<10}  {:<36}  {}",
                    g.id, g.role, g.instance_id, g.principal_id
                ));
            }
            Ok(())
        }
        IamCommand::Grant(GrantCommand::Remove(args)) => {
            args.connect.client()?.delete_grant(&args.id).await?;
            say(&format!("revoked {}", args.id));
            Ok(())
        }
        IamCommand::AuthorizationCreate {
            source_instance,
            target_instance,
            key,
            role,
            connect,
        } => {
            let a = connect
                .client()?
                .create_authorization(&source_instance, &target_instance, key.as_deref(), &role)
                .await?;
            if connect.output == Format::Json {
                return print_json(&a);
            }
            say(&format!(
                "{}  {} {} may use {} of kms {} as {}",
                a.id,
                a.source_service_name,
                a.source_service_instance_id,
                a.target_key_id
                    .as_deref()
                    .map_or_else(|| "all keys".to_owned(), |k| format!("key {k}")),
                a.target_service_instance_id,
                a.role
            ));
            Ok(())
        }
        IamCommand::Authorizations(connect) => {
            let list = connect.client()?.list_authorizations().await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            say(&format!(
                "{:<50}  {:<10}  {:<15}  {:<36}  {:<36}  KEY",
                "ID", "ROLE", "SOURCE SERVICE", "SOURCE INSTANCE", "TARGET INSTANCE"
            ));
            for a in list {
                say(&format!(
                    "{:<50}  {:<10}  {:<15}  {:<36}  {:<36}  {}",
                    a.id,
                    a.role,
                    a.source_service_name,
                    a.source_service_instance_id,
                    a.target_service_instance_id,
                    a.target_key_id.as_deref().unwrap_or("*")
                ));
            }
            Ok(())
        }
        IamCommand::AuthorizationDelete(args) => {
            args.connect
                .client()?
                .delete_authorization(&args.id)
                .await?;
            say(&format!("deleted {}", args.id));
            Ok(())
        }
    }
}
