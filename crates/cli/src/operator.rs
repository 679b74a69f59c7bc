//! `arca operator ...`: root-of-trust operations against a running server.

use std::io::{BufRead as _, IsTerminal as _};

use arca_proto::sys::{InitRequest, SealStatus};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// Creates the master key and prints the unseal shares and the admin API key, once.
    Init(InitArgs),
    /// Gives one unseal share (read from the terminal or standard input, never from arguments).
    Unseal(UnsealArgs),
    /// Drops the master key from memory (needs an admin API key).
    Seal(ConnectArgs),
    /// Shows whether the server is initialized and sealed.
    Status(ConnectArgs),
    /// Takes an online backup of the whole store through a server (needs an admin API key),
    /// sealed under the master key; `backup verify` checks a backup file.
    Backup(crate::backup_cmd::BackupArgs),
    /// Restores a backup into an empty database (the store of --config/--data), offline;
    /// needs the unseal material the backup was sealed under.
    Restore(crate::backup_cmd::RestoreArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Number of shares to create.
    #[arg(long, default_value_t = 5)]
    shares: u8,
    /// Shares needed to unseal.
    #[arg(long, default_value_t = 3)]
    threshold: u8,
    /// Name of the first account.
    #[arg(long, default_value = "default")]
    account_name: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UnsealArgs {
    /// Retry the automatic unseal of an HSM keystore instead of giving a share.
    #[arg(long)]
    auto: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn print_status(s: &SealStatus, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return print_json(s);
    }
    say(&format!("Keystore:     {}", s.keystore));
    say(&format!("Initialized:  {}", s.initialized));
    say(&format!("Sealed:       {}", s.sealed));
    if s.keystore == "shamir" && s.initialized {
        say(&format!("Threshold:    {} of {}", s.threshold, s.shares));
        if s.sealed {
            say(&format!("Progress:     {}/{}", s.progress, s.threshold));
        }
    }
    Ok(())
}

pub(crate) fn read_share() -> anyhow::Result<Zeroizing<String>> {
    let share = if std::io::stdin().is_terminal() {
        Zeroizing::new(rpassword::prompt_password("Unseal share: ")?)
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let trimmed = Zeroizing::new(share.trim().to_owned());
    if trimmed.is_empty() {
        anyhow::bail!("no share given");
    }
    Ok(trimmed)
}

pub(crate) async fn run(cmd: OperatorCommand) -> anyhow::Result<()> {
    match cmd {
        OperatorCommand::Init(args) => {
            let client = args.connect.client()?;
            let out = client
                .init(&InitRequest {
                    shares: Some(args.shares),
                    threshold: Some(args.threshold),
                    account_name: Some(args.account_name),
                })
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&out);
            }
            for (i, share) in out.shares.iter().enumerate() {
                say(&format!("Unseal share {}: {share}", i + 1));
            }
            say(&format!("Account id:    {}", out.account_id));
            say(&format!("Admin API key: {}", out.api_key));
            say("");
            if out.shares.is_empty() {
                say("The HSM holds the master key's sealing key: the server unseals itself.");
            } else {
                say(&format!(
                    "Keep the shares apart. After every restart, {} of them unseal the server \
                     (`arca operator unseal`). They are not stored anywhere and are not shown again.",
                    out.threshold
                ));
            }
            Ok(())
        }
        OperatorCommand::Unseal(args) => {
            let client = args.connect.client()?;
            let status = if args.auto {
                client.unseal(None).await?
            } else {
                let share = read_share()?;
                client.unseal(Some(share.as_str())).await?
            };
            print_status(&status, args.connect.output)
        }
        OperatorCommand::Seal(connect) => {
            let status = connect.client()?.seal().await?;
            print_status(&status, connect.output)
        }
        OperatorCommand::Status(connect) => {
            let status = connect.client()?.seal_status().await?;
            print_status(&status, connect.output)
        }
        OperatorCommand::Backup(args) => crate::backup_cmd::run_backup(args).await,
        OperatorCommand::Restore(args) => crate::backup_cmd::run_restore(args).await,
    }
}
