//! `arca resource`: instances through the Resource Controller API, in the spirit of
//! `ibmcloud resource`.

use arca_proto::resource_controller::{
    CreateResourceInstance, Reclamation, ResourceInstance, UpdateResourceInstance,
};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum ResourceCommand {
    /// Creates a service instance: NAME SERVICE (kms, secrets-manager) PLAN (standard, or a
    /// plan id).
    ServiceInstanceCreate(CreateArgs),
    /// Lists your account's service instances.
    ServiceInstances(ListArgs),
    /// Shows one service instance (name, GUID or CRN).
    ServiceInstance(InstanceArgs),
    /// Renames a service instance or changes its parameters (a secrets instance's root key).
    ServiceInstanceUpdate(UpdateArgs),
    /// Deletes a service instance: disabled at once, restorable until its reclamation.
    ServiceInstanceDelete(DeleteArgs),
    /// Lists the reclamations (deleted instances) of your account.
    Reclamations(ReclamationsArgs),
    /// Restores a deleted instance, whole.
    ReclamationRestore(ReclamationArgs),
    /// Reclaims a deleted instance now: crypto-shredded, irreversible.
    ReclamationDelete(ReclamationDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Name.
    name: String,
    /// Service: kms or secrets-manager.
    service: String,
    /// Plan: standard, or the plan id (arca-kms-standard, arca-secrets-manager-standard).
    plan: String,
    /// Parameters, a JSON object.
    #[arg(short = 'p', long)]
    parameters: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this service's instances (kms, secrets-manager).
    #[arg(long)]
    service: Option<String>,
    /// Only instances in this state: active (default) or pending_reclamation.
    #[arg(long)]
    state: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InstanceArgs {
    /// Name, GUID or CRN.
    instance: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Name, GUID or CRN.
    instance: String,
    /// New name.
    #[arg(short = 'n', long)]
    name: Option<String>,
    /// Parameters, a JSON object, e.g. '{"root_key_crn": "crn:..."}'.
    #[arg(short = 'p', long)]
    parameters: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Name, GUID or CRN.
    instance: String,
    /// Confirm: the instance stops serving at once.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReclamationsArgs {
    /// Only the reclamation of this instance (GUID or CRN).
    #[arg(long)]
    instance_id: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReclamationArgs {
    /// Reclamation id (the instance's GUID).
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReclamationDeleteArgs {
    /// Reclamation id (the instance's GUID).
    id: String,
    /// Confirm: everything the instance holds is destroyed for good.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn parse_parameters(p: Option<&str>) -> anyhow::Result<Option<Map<String, Value>>> {
    match p {
        None => Ok(None),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => anyhow::bail!("parameters must be a JSON object"),
            Err(e) => anyhow::bail!("parameters are not valid JSON: {e}"),
        },
    }
}

fn table(list: &[ResourceInstance]) {
    say(&format!(
        "{:<24}  {:<36}  {:<15}  {:<19}  CRN",
        "NAME", "GUID", "SERVICE", "STATE"
    ));
    for i in list {
        say(&format!(
            "{:<24}  {:<36}  {:<15}  {:<19}  {}",
            i.name, i.guid, i.resource_id, i.state, i.crn
        ));
    }
}

fn reclamation_table(list: &[Reclamation]) {
    say(&format!(
        "{:<36}  {:<10}  {:<20}  {:<20}  CRN",
        "ID", "STATE", "DELETED", "RECLAIMED AT"
    ));
    for r in list {
        say(&format!(
            "{:<36}  {:<10}  {:<20}  {:<20}  {}",
            r.id, r.state, r.created_at, r.target_time, r.entity_crn
        ));
    }
}

/// A CRN, or a GUID (8-4-4-4-12 hex digits): anything else is a name.
fn looks_like_id(s: &str) -> bool {
    let guid = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    s.starts_with("crn:") || guid
}

/// An instance by name (exactly one active or deleted instance with it), GUID or CRN.
async fn find(client: &arca_client::Client, instance: &str) -> anyhow::Result<ResourceInstance> {
    if looks_like_id(instance) {
        return Ok(client.rc_get_instance(instance).await?);
    }
    let mut found = Vec::new();
    for state in ["active", "pending_reclamation"] {
        found.extend(
            client
                .rc_list_instances(&[("name", instance), ("state", state)])
                .await?,
        );
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!("no service instance named {instance:?}"),
        n => anyhow::bail!("{n} service instances are named {instance:?}: give its GUID"),
    }
}

fn show_one(output: Format, i: &ResourceInstance) -> anyhow::Result<()> {
    if output == Format::Json {
        return print_json(i);
    }
    table(std::slice::from_ref(i));
    Ok(())
}

pub(crate) async fn run(cmd: ResourceCommand) -> anyhow::Result<()> {
    match cmd {
        ResourceCommand::ServiceInstanceCreate(args) => {
            let parameters = parse_parameters(args.parameters.as_deref())?;
            // Each service has one plan, `standard` (plan id `arca-<service>-standard`); the
            // server knows it by the service's name too.
            let plan = if args.plan == "standard"
                || args.plan == format!("arca-{}-standard", args.service)
            {
                args.service.clone()
            } else {
                anyhow::bail!(
                    "unknown plan {:?} for {:?}: the plan is standard",
                    args.plan,
                    args.service
                );
            };
            let req = CreateResourceInstance {
                name: args.name,
                resource_plan_id: plan,
                parameters,
                ..Default::default()
            };
            let created = args.connect.client()?.rc_create_instance(&req).await?;
            show_one(args.connect.output, &created)
        }
        ResourceCommand::ServiceInstances(args) => {
            let mut query = Vec::new();
            if let Some(s) = &args.service {
                query.push(("resource_id", s.as_str()));
            }
            if let Some(s) = &args.state {
                query.push(("state", s.as_str()));
            }
            let list = args.connect.client()?.rc_list_instances(&query).await?;
            if args.connect.output == Format::Json {
                return print_json(&list);
            }
            table(&list);
            Ok(())
        }
        ResourceCommand::ServiceInstance(args) => {
            let client = args.connect.client()?;
            let got = find(&client, &args.instance).await?;
            show_one(args.connect.output, &got)
        }
        ResourceCommand::ServiceInstanceUpdate(args) => {
            let parameters = parse_parameters(args.parameters.as_deref())?;
            if args.name.is_none() && parameters.is_none() {
                anyhow::bail!("nothing to update: give --name or --parameters");
            }
            let client = args.connect.client()?;
            let instance = find(&client, &args.instance).await?;
            let req = UpdateResourceInstance {
                name: args.name,
                parameters,
                ..Default::default()
            };
            let updated = client.rc_update_instance(&instance.guid, &req).await?;
            show_one(args.connect.output, &updated)
        }
        ResourceCommand::ServiceInstanceDelete(args) => {
            if !args.yes {
                anyhow::bail!(
                    "deleting disables {} at once (restorable until its reclamation): add --yes",
                    args.instance
                );
            }
            let client = args.connect.client()?;
            let instance = find(&client, &args.instance).await?;
            client.rc_delete_instance(&instance.guid).await?;
            let deleted = client.rc_get_instance(&instance.guid).await?;
            if args.connect.output == Format::Json {
                return print_json(&deleted);
            }
            say(&format!(
                "service instance {} deleted; restorable until {} (arca resource \
                 reclamation-restore {})",
                deleted.name,
                deleted.scheduled_reclaim_at.as_deref().unwrap_or("-"),
                deleted.guid
            ));
            Ok(())
        }
        ResourceCommand::Reclamations(args) => {
            let list = args
                .connect
                .client()?
                .rc_reclamations(args.instance_id.as_deref())
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&list);
            }
            reclamation_table(&list);
            Ok(())
        }
        ResourceCommand::ReclamationRestore(args) => {
            let r = args
                .connect
                .client()?
                .rc_reclamation_action(&args.id, "restore")
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&r);
            }
            say(&format!("service instance {} restored", r.entity_crn));
            Ok(())
        }
        ResourceCommand::ReclamationDelete(args) => {
            if !args.yes {
                anyhow::bail!(
                    "reclaiming destroys everything instance {} holds, for good: add --yes",
                    args.id
                );
            }
            let r = args
                .connect
                .client()?
                .rc_reclamation_action(&args.id, "reclaim")
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&r);
            }
            say(&format!("service instance {} reclaimed", r.entity_crn));
            Ok(())
        }
    }
}
