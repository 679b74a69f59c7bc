//! `arca sm certificates export|import`: certificate backup bundles between instances (the
//! bundle itself is made and opened by [`arca_client::cert_bundle`], on this side).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use arca_client::cert_bundle::{CertificateBundle, ImportReport};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use serde_json::json;
use zeroize::Zeroizing;

use super::SmConnect;
use crate::{print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum CertificatesCommand {
    /// Exports every certificate of the instance (with chain and private key) into one file
    /// sealed under a passphrase.
    Export(ExportArgs),
    /// Imports a bundle made by `export` into this instance, as imported_cert secrets.
    Import(ImportArgs),
}

/// Where the passphrase comes from (else: `ARCA_BUNDLE_PASSPHRASE`, else a prompt).
#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// A file whose first line is the passphrase.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The bundle file to write (created with mode 0600; an existing file is not overwritten
    /// without --force).
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    #[command(flatten)]
    sm: SmConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The bundle file to read.
    #[arg(long, short = 'f')]
    file: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    #[command(flatten)]
    sm: SmConnect,
}

fn read_passphrase(args: &PassphraseArgs, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    let raw = if let Some(path) = &args.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        );
        Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
    } else if let Ok(p) = std::env::var("ARCA_BUNDLE_PASSPHRASE") {
        Zeroizing::new(p)
    } else if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password("Bundle passphrase: ")?);
        if confirm {
            let again = Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ")?);
            if *first != *again {
                anyhow::bail!("the passphrases differ");
            }
        }
        first
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    if raw.is_empty() {
        anyhow::bail!("no passphrase given");
    }
    Ok(raw)
}

fn bar(what: &str) -> ProgressBar {
    crate::progress_bar(0, what, "certificates")
}

fn progress(bar: &ProgressBar) -> impl FnMut(usize, usize) + '_ {
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }
}

/// Writes the file so that it is complete or absent (temporary file, fsync, rename), readable
/// by its owner only.
fn write_private(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        anyhow::bail!("{} exists (use --force to replace it)", path.display());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn export(args: &ExportArgs) -> anyhow::Result<()> {
    if args.file.exists() && !args.force {
        anyhow::bail!("{} exists (use --force to replace it)", args.file.display());
    }
    let passphrase = read_passphrase(&args.passphrase, true)?;
    let sm = args.sm.sm()?;
    let bar = bar("Exporting");
    let bundle = sm.export_certificates(progress(&bar)).await;
    bar.finish_and_clear();
    let bundle = bundle?;
    let count = bundle.certificates.len();
    let with_keys = bundle
        .certificates
        .iter()
        .filter(|c| c.private_key.is_some())
        .count();
    // Argon2id is CPU-bound by design: off the async workers.
    let sealed = tokio::task::spawn_blocking(move || bundle.seal(&passphrase)).await??;
    write_private(&args.file, &sealed, args.force)?;
    if args.sm.json() {
        return print_json(&json!({
            "file": args.file.display().to_string(),
            "certificates": count,
            "private_keys": with_keys,
        }));
    }
    say(&format!(
        "Exported {count} certificates ({with_keys} with private keys) to {}",
        args.file.display()
    ));
    Ok(())
}

fn print_report(report: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&json!({
            "created": report.created,
            "new_versions": report.new_versions,
            "unchanged": report.unchanged,
            "failed": report.failed.iter().map(|(name, why)| json!({ "name": name, "reason": why })).collect::<Vec<_>>(),
        }));
    }
    say(&format!(
        "Imported: {} created, {} new versions, {} unchanged, {} failed",
        report.created.len(),
        report.new_versions.len(),
        report.unchanged.len(),
        report.failed.len()
    ));
    for (name, why) in &report.failed {
        say(&format!("  failed {name}: {why}"));
    }
    Ok(())
}

async fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let sealed = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let passphrase = read_passphrase(&args.passphrase, false)?;
    let bundle = tokio::task::spawn_blocking(move || CertificateBundle::open(&sealed, &passphrase))
        .await??;
    let sm = args.sm.sm()?;
    let bar = bar("Importing");
    let report = sm.import_certificates(&bundle, progress(&bar)).await;
    bar.finish_and_clear();
    let report = report?;
    print_report(&report, args.sm.json())?;
    if !report.failed.is_empty() {
        anyhow::bail!("{} certificates were not imported", report.failed.len());
    }
    Ok(())
}

pub(crate) async fn run(cmd: CertificatesCommand) -> anyhow::Result<()> {
    match cmd {
        CertificatesCommand::Export(args) => export(&args).await,
        CertificatesCommand::Import(args) => import(&args).await,
    }
}
