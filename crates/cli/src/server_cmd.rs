//! `arca server`.

use std::path::PathBuf;

use arca_server::config::{Config, DEFAULT_LISTEN, Overrides};
use arca_server::dev::{DevOptions, start_dev};
use clap::{Args, ValueEnum};
use tokio::signal::unix::{SignalKind, signal};

use crate::say;

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Dev mode: no configuration, embedded database, auto-unseal, self-signed TLS, writes
    /// DATA/dev.json. Not for production.
    #[arg(long)]
    dev: bool,
    /// Configuration file (TOML).
    #[arg(long, short = 'c', env = "ARCA_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long)]
    listen: Option<String>,
    /// Data directory (dev mode default: ./arca-dev).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}

pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let server = if args.dev {
        if args.config.is_some() {
            anyhow::bail!("--dev takes no configuration file");
        }
        let listen = args.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let options = DevOptions {
            listen: listen
                .parse()
                .map_err(|_| anyhow::anyhow!("--listen {listen:?} is not an IP:port address"))?,
            data_dir: args.data.unwrap_or_else(|| PathBuf::from("arca-dev")),
        };
        let (server, info) = start_dev(&options).await?;
        let dev_json = options
            .data_dir
            .canonicalize()
            .unwrap_or(options.data_dir.clone())
            .join("dev.json");
        say(&format!("Arca dev server listening on {}", info.url));
        say("Dev mode: auto-unsealed from a key file; not for production.");
        say(&format!("Connection details: {}", dev_json.display()));
        say(&format!(
            "  export ARCA_URL={} ARCA_CACERT={} ARCA_API_KEY=$(jq -r .api_key {})",
            info.url,
            info.ca_cert,
            dev_json.display()
        ));
        server
    } else {
        let config = Config::load(
            args.config.as_deref(),
            &Overrides {
                listen: args.listen,
                data_dir: args.data,
            },
        )?;
        let server = arca_server::start(&config).await?;
        let status = server.assembled().arca.system.status();
        say(&format!(
            "Arca listening on https://{} ({} keystore, {})",
            server.local_addr(),
            status.kind.as_str(),
            if !status.initialized {
                "not initialized: run `arca operator init`"
            } else if status.sealed {
                "sealed: run `arca operator unseal`"
            } else {
                "unsealed"
            }
        ));
        server
    };
    wait_for_shutdown().await?;
    server.shutdown().await;
    Ok(())
}
