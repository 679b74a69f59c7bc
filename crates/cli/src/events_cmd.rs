//! `arca events ...`: callback registrations of an instance and their delivery log.

use arca_client::events::DeliveryFilter;
use arca_proto::events::{CreateEventRegistration, EventDelivery};
use clap::{Args, Subcommand};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Registers a callback URL; prints its signing secret once.
    #[command(name = "registration-create")]
    RegistrationCreate {
        /// The instance.
        #[arg(long)]
        instance_id: String,
        /// The callback URL (https://; http:// only to a loopback host). (`--url` is the
        /// server's.)
        #[arg(long)]
        callback_url: String,
        /// An event type to receive (repeat, or comma-separated); all when absent.
        #[arg(long = "event-type", value_delimiter = ',')]
        event_types: Vec<String>,
        /// The signing secret (16 to 256 characters) from this environment variable; the
        /// server makes one when absent.
        #[arg(long)]
        secret_env: Option<String>,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Lists an instance's callback registrations.
    Registrations(InstanceArgs),
    /// Deletes a callback registration.
    #[command(name = "registration-delete")]
    RegistrationDelete(RegistrationArgs),
    /// Sends a signed `arca.test` event to a registration now and shows the outcome.
    Test(RegistrationArgs),
    /// The delivery log of an instance, newest first.
    Deliveries {
        /// The instance.
        #[arg(long)]
        instance_id: String,
        /// Only this registration's deliveries.
        #[arg(long)]
        registration_id: Option<String>,
        /// Only in this state: pending, delivered or failed.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<i64>,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct InstanceArgs {
    /// The instance.
    #[arg(long)]
    instance_id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RegistrationArgs {
    /// The instance.
    #[arg(long)]
    instance_id: String,
    /// The registration id.
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn delivery_table(list: &[EventDelivery]) {
    say(&format!(
        "{:<36}  {:<22}  {:<9}  {:>8}  {:<6}  {:<25}  ERROR",
        "ID", "TYPE", "STATE", "ATTEMPTS", "STATUS", "CREATED"
    ));
    for d in list {
        say(&format!(
            "{:<36}  {:<22}  {:<9}  {:>8}  {:<6}  {:<25}  {}",
            d.id,
            d.event_type,
            d.state,
            d.attempts,
            d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            d.created_at,
            d.last_error.as_deref().unwrap_or("")
        ));
    }
}

pub(crate) async fn run(cmd: EventsCommand) -> anyhow::Result<()> {
    match cmd {
        EventsCommand::RegistrationCreate {
            instance_id,
            callback_url,
            event_types,
            secret_env,
            connect,
        } => {
            let secret =
                match secret_env {
                    Some(var) => Some(std::env::var(&var).map_err(|_| {
                        anyhow::anyhow!("the environment variable {var} is not set")
                    })?),
                    None => None,
                };
            let req = CreateEventRegistration {
                url: callback_url,
                event_types,
                secret,
            };
            let created = connect
                .client()?
                .create_event_registration(&instance_id, &req)
                .await?;
            if connect.output == Format::Json {
                return print_json(&created);
            }
            let r = &created.registration;
            say(&format!("registration id: {}", r.id));
            say(&format!("url:             {}", r.url));
            say(&format!(
                "event types:     {}",
                if r.event_types.is_empty() {
                    "all".to_owned()
                } else {
                    r.event_types.join(",")
                }
            ));
            say(&format!("signing secret:  {}", created.secret));
            say("Keep the secret now: it is stored encrypted and not shown again.");
            Ok(())
        }
        EventsCommand::Registrations(args) => {
            let list = args
                .connect
                .client()?
                .event_registrations(&args.instance_id)
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&list);
            }
            say(&format!(
                "{:<36}  {:<25}  {:<30}  URL",
                "ID", "CREATED", "TYPES"
            ));
            for r in list {
                let types = if r.event_types.is_empty() {
                    "all".to_owned()
                } else {
                    r.event_types.join(",")
                };
                say(&format!(
                    "{:<36}  {:<25}  {:<30}  {}",
                    r.id, r.created_at, types, r.url
                ));
            }
            Ok(())
        }
        EventsCommand::RegistrationDelete(args) => {
            args.connect
                .client()?
                .delete_event_registration(&args.instance_id, &args.id)
                .await?;
            say(&format!("deleted {}", args.id));
            Ok(())
        }
        EventsCommand::Test(args) => {
            let d = args
                .connect
                .client()?
                .test_event_registration(&args.instance_id, &args.id)
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&d);
            }
            delivery_table(std::slice::from_ref(&d));
            Ok(())
        }
        EventsCommand::Deliveries {
            instance_id,
            registration_id,
            state,
            limit,
            connect,
        } => {
            let filter = DeliveryFilter {
                registration_id,
                state,
                limit,
            };
            let list = connect
                .client()?
                .event_deliveries(&instance_id, &filter)
                .await?;
            if connect.output == Format::Json {
                return print_json(&list);
            }
            delivery_table(&list);
            Ok(())
        }
    }
}
