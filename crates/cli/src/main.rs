//! `arca`: the server and the command-line client.

mod audit_cmd;
mod backup_cmd;
mod client_cmd;
mod events_cmd;
mod iam_cmd;
mod kp_cmd;
mod operator;
mod resource_cmd;
mod server_cmd;
mod sm_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

// mimalloc rather than glibc's malloc: a profile of the wrap hot path under load (perf, 64
// connections) spent about a fifth of the server's CPU in malloc, free and their consolidation;
// mimalloc's per-thread free lists take most of that away. Secrets never rely on the allocator:
// they are zeroized on drop.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arca: a self-hosted key management and secrets service.
#[derive(Debug, Parser)]
#[command(name = "arca", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Server(server_cmd::ServerArgs),
    /// Root-of-trust and operator tasks: init, unseal, seal, status, backup, restore.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Service instances (tenants).
    #[command(subcommand)]
    Instance(client_cmd::InstanceCommand),
    /// Service instances through the Resource Controller API (as `ibmcloud resource`).
    #[command(subcommand)]
    Resource(resource_cmd::ResourceCommand),
    /// Shows the server's health.
    Health(ConnectArgs),
    /// Users, service IDs, API keys and role grants of your account.
    #[command(subcommand)]
    Iam(iam_cmd::IamCommand),
    /// The Key Protect API: keys, wrap, unwrap, rotate (instance from --instance-id or
    /// ARCA_KMS_INSTANCE).
    #[command(subcommand)]
    Kp(kp_cmd::KpCommand),
    /// The Secrets Manager API: secret groups, secrets, versions, locks, configurations
    /// (instance from --instance-id or ARCA_SM_INSTANCE).
    #[command(subcommand)]
    Sm(sm_cmd::SmCommand),
    /// Lifecycle events: callback registrations of an instance, test sends, the delivery log.
    #[command(subcommand)]
    Events(events_cmd::EventsCommand),
    /// The audit trail of your account: list, export, verify.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
}

/// How to reach a server.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    /// Server URL, e.g. https://127.0.0.1:8200.
    #[arg(
        long,
        env = "ARCA_URL",
        global = true,
        default_value = "https://127.0.0.1:8200"
    )]
    pub(crate) url: String,
    /// CA certificate (PEM) to trust for the server; the system's roots otherwise.
    #[arg(long, env = "ARCA_CACERT", global = true)]
    pub(crate) cacert: Option<PathBuf>,
    /// API key. Prefer the environment variable: flags show up in process listings.
    #[arg(long, env = "ARCA_API_KEY", global = true, hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text, alias = "format")]
    pub(crate) output: Format,
}

/// Human tables or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable.
    Text,
    /// JSON, for scripts.
    Json,
}

impl ConnectArgs {
    pub(crate) fn client(&self) -> anyhow::Result<arca_client::Client> {
        let ca = match &self.cacert {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read CA file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(arca_client::Client::new(
            &self.url,
            ca.as_deref(),
            self.api_key.clone(),
        )?)
    }
}

/// Prints a value as pretty JSON.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    #[allow(clippy::print_stdout)] // a CLI's output
    {
        println!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}

/// A progress bar on stderr counting `unit` (hidden when stderr is not a terminal, e.g. in
/// scripts).
pub(crate) fn progress_bar(total: u64, what: &str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}})");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Prints a line of human output.
#[allow(clippy::print_stdout)] // a CLI's output
pub(crate) fn say(line: &str) {
    println!("{line}");
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Headroom for deep request futures in unoptimized builds (tokio's default is 2 MiB).
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One TLS provider for the whole process, stated rather than guessed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => server_cmd::run(args).await,
            Command::Operator(cmd) => operator::run(cmd).await,
            Command::Instance(cmd) => client_cmd::run_instance(cmd).await,
            Command::Resource(cmd) => resource_cmd::run(cmd).await,
            Command::Health(connect) => client_cmd::health(&connect).await,
            Command::Kp(cmd) => kp_cmd::run(cmd).await,
            Command::Iam(cmd) => iam_cmd::run(cmd).await,
            Command::Sm(cmd) => sm_cmd::run(cmd).await,
            Command::Events(cmd) => events_cmd::run(cmd).await,
            Command::Audit(cmd) => audit_cmd::run(cmd).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
