//! `arca operator backup | backup verify | restore`.
//!
//! A backup is taken online by the server (`POST /v1/sys/backup`) and written here as it
//! arrives; verifying and restoring run here, offline, against the files and the database:
//! they need the unseal material (shares on standard input, or the HSM named by the config)
//! because a backup opens only with the master key.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use arca_keystore::{Keystore, KeystoreKind, SealRecord, UnsealInput};
use arca_server::{Config, config::Overrides};
use arca_services::backup::{self, VerifyReport};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use tokio::io::{AsyncWriteExt as _, BufReader};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BackupArgs {
    #[command(subcommand)]
    action: Option<BackupAction>,
    /// Where to write the backup (refused if it exists, unless --force).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BackupAction {
    /// Checks a backup file: framing, row counts and checksum; with --decrypt, also opens every
    /// frame with the master key (unseal material needed) and decodes every row.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The backup file.
    #[arg(long)]
    file: PathBuf,
    /// Open every frame (needs the shares on standard input, or --config for an HSM).
    #[arg(long)]
    decrypt: bool,
    #[command(flatten)]
    storage: StorageArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Debug, Args)]
pub(crate) struct StorageArgs {
    /// The server's configuration file (its store and keystore are used).
    #[arg(long, env = "ARCA_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory (overrides the file's `data_dir`; the SQLite store lives there).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    output: Format,
}

fn bar(total: u64, what: &str) -> ProgressBar {
    crate::progress_bar(total, what, "rows")
}

async fn open_file(
    path: &Path,
) -> anyhow::Result<backup::format::FrameReader<BufReader<tokio::fs::File>>> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(backup::open(BufReader::with_capacity(256 * 1024, file)).await?)
}

/// A keystore of the backup's kind, loaded with its seal record and unsealed: Shamir shares
/// from the terminal or standard input (one per line), or the HSM of the configuration.
async fn unsealed_keystore(
    record: SealRecord,
    storage: &StorageArgs,
) -> anyhow::Result<std::sync::Arc<dyn Keystore>> {
    let keystore_config = match (&record, &storage.config) {
        (SealRecord::Shamir { .. }, _) => arca_server::KeystoreConfig::Shamir,
        (SealRecord::Pkcs11 { .. }, Some(_)) => load_storage(storage)?.2,
        (SealRecord::Pkcs11 { .. }, None) => anyhow::bail!(
            "this backup's master key is sealed by an HSM: give --config with its [keystore.pkcs11] settings"
        ),
    };
    let keystore = arca_server::open_keystore(&keystore_config);
    keystore.load(record)?;
    if keystore.kind() == KeystoreKind::Pkcs11 {
        keystore.unseal(UnsealInput::Auto)?;
    }
    while keystore.status().sealed {
        let s = keystore.status();
        // On stderr: standard output carries only the result (JSON for scripts).
        eprintln!(
            "Unseal share {} of {} (the cluster's shares open its backups):",
            s.progress + 1,
            s.threshold
        );
        let share = crate::operator::read_share()?;
        keystore.unseal(UnsealInput::Share(&share))?;
    }
    Ok(keystore)
}

fn load_storage(
    storage: &StorageArgs,
) -> anyhow::Result<(
    PathBuf,
    arca_server::StoreConfig,
    arca_server::KeystoreConfig,
)> {
    Ok(Config::load_storage(
        storage.config.as_deref(),
        &Overrides {
            data_dir: storage.data.clone(),
            ..Overrides::default()
        },
    )?)
}

fn print_report(report: &VerifyReport, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return print_json(&serde_json::json!({
            "id": report.header.id,
            "created_at": report.header.created_at,
            "backend": report.header.backend,
            "schema_version": report.header.schema_version,
            "frames": report.frames,
            "rows": report.rows,
            "bytes": report.bytes,
            "decrypted": report.tables.is_some(),
            "tables": report.tables.as_ref().map(|t| t.iter().map(|(n, r)| serde_json::json!({"name": n, "rows": r})).collect::<Vec<_>>()),
        }));
    }
    say(&format!("Backup:         {}", report.header.id));
    say(&format!("Taken at:       {}", report.header.created_at));
    say(&format!(
        "From:           {} store, schema {}",
        report.header.backend, report.header.schema_version
    ));
    say(&format!(
        "Content:        {} rows in {} frames, {} bytes",
        report.rows, report.frames, report.bytes
    ));
    match &report.tables {
        Some(tables) => {
            say("Checked:        checksum, framing, every frame opened, every row decoded");
            for (name, rows) in tables.iter().filter(|(_, r)| *r > 0) {
                say(&format!("  {name:<32} {rows:>10}"));
            }
        }
        None => say(
            "Checked:        checksum, framing and row counts (frames not opened: add --decrypt)",
        ),
    }
    Ok(())
}

async fn take(args: BackupArgs) -> anyhow::Result<()> {
    let Some(out) = args.out else {
        anyhow::bail!("give --out FILE (or `arca operator backup verify --file FILE`)");
    };
    if out.exists() && !args.force {
        anyhow::bail!("{} exists (use --force to replace it)", out.display());
    }
    let client = args.connect.client()?;
    let started = Instant::now();
    let mut download = client.backup().await?;
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let (std_file, tmp_path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(std_file);
    // The bytes also go through the reader as they arrive: it drives the progress bar and
    // checks the file is whole (trailer and checksum) before it gets its name.
    let (mut pipe_in, pipe_out) = tokio::io::duplex(1024 * 1024);
    let checker = tokio::spawn(async move {
        let reader = backup::open(pipe_out).await?;
        let total = reader.header().total_rows;
        let bar = bar(total, "Backing up");
        let report = backup::verify_structure(reader, &|rows| bar.set_position(rows)).await;
        bar.finish_and_clear();
        report
    });
    let mut bytes = 0u64;
    while let Some(chunk) = download.chunk().await? {
        bytes += chunk.len() as u64;
        file.write_all(&chunk).await?;
        if pipe_in.write_all(&chunk).await.is_err() {
            // The checker stopped: its error says why.
            break;
        }
    }
    drop(pipe_in);
    let report = checker
        .await
        .context("the backup checker stopped")?
        .context("the downloaded backup is incomplete or damaged; nothing was written")?;
    file.sync_all().await?;
    drop(file);
    tmp_path
        .persist(&out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if args.connect.output == Format::Json {
        return print_json(&serde_json::json!({
            "file": out, "id": report.header.id, "rows": report.rows, "bytes": bytes, "seconds": secs,
        }));
    }
    say(&format!(
        "Backup {} written to {}: {} rows, {} bytes, in {secs:.1} s.",
        report.header.id,
        out.display(),
        report.rows,
        bytes
    ));
    say("It opens only with this cluster's unseal material (shares or HSM key).");
    Ok(())
}

async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let reader = open_file(&args.file).await?;
    let total = reader.header().total_rows;
    let report = if args.decrypt {
        let record = backup::seal_record_of(reader.header())?;
        let keystore = unsealed_keystore(record, &args.storage).await?;
        let bar = bar(total, "Verifying");
        let out =
            backup::verify_contents(reader, keystore.as_ref(), &|rows| bar.set_position(rows))
                .await;
        bar.finish_and_clear();
        keystore.seal();
        out?
    } else {
        let bar = bar(total, "Verifying");
        let out = backup::verify_structure(reader, &|rows| bar.set_position(rows)).await;
        bar.finish_and_clear();
        out?
    };
    print_report(&report, args.output)
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let (data_dir, store_config, _) = load_storage(&args.storage)?;
    let reader = open_file(&args.file).await?;
    let header = reader.header().clone();
    eprintln!(
        "Restoring backup {} taken at {} ({} rows from a {} store).",
        header.id, header.created_at, header.total_rows, header.backend
    );
    let record = backup::seal_record_of(&header)?;
    let keystore = unsealed_keystore(record, &args.storage).await?;
    let store = arca_server::open_store(&data_dir, &store_config).await?;
    let started = Instant::now();
    let bar = bar(header.total_rows, "Restoring");
    let outcome = backup::restore(reader, keystore.as_ref(), &*store, &|rows| {
        bar.set_position(rows);
    })
    .await;
    bar.finish_and_clear();
    keystore.seal();
    store.close().await;
    let report = outcome?;
    let secs = started.elapsed().as_secs_f64();
    if args.output == Format::Json {
        return print_json(&serde_json::json!({
            "id": header.id, "tables": report.tables, "rows": report.rows, "seconds": secs,
        }));
    }
    say(&format!(
        "Restored {} rows into {} tables in {secs:.1} s. Start the nodes on this database and \
         unseal them with the same shares (or HSM).",
        report.rows, report.tables
    ));
    Ok(())
}

/// `arca operator backup [verify]`.
pub(crate) async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    match args.action {
        Some(BackupAction::Verify(v)) => verify(v).await,
        None => take(args).await,
    }
}

/// `arca operator restore`.
pub(crate) async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    restore(args).await
}
