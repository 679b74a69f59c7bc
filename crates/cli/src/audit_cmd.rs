//! `arca audit`: list an account's audit records, export them (JSON lines with their hashes),
//! and verify the chain — the live one on the server, or an export offline.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use arca_client::audit::AuditFilter;
use arca_proto::audit::{AuditEvent, EXPORT_FORMAT, ExportHeader};
use arca_services::audit::{ChainVerifier, Scope};
use arca_store::audit::{AuditRecord, GENESIS_HASH, NewAuditEvent};
use clap::{Args, Subcommand};

use crate::{ConnectArgs, Format, print_json, say};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Lists your account's audit records, oldest first (account administrators).
    List(ListArgs),
    /// Writes every record of your account, with its hashes, to a file (JSON lines).
    Export(ExportArgs),
    /// Verifies the chain: the server's whole stored chain, or an export file offline (exits
    /// nonzero, naming the first bad record, when it does not verify).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Records after this seq.
    #[arg(long)]
    after_seq: Option<i64>,
    /// At most this many (1 to 1000; 100 by default).
    #[arg(long)]
    limit: Option<i64>,
    /// Only this instance's records.
    #[arg(long)]
    instance_id: Option<String>,
    /// Only this action (e.g. kms.keys.wrap).
    #[arg(long)]
    action: Option<String>,
    /// Only this initiator's records (a principal id, `anonymous` or `system`).
    #[arg(long)]
    initiator: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The file to write (replaced if it exists).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// An export to verify offline, instead of asking the server.
    #[arg(long)]
    file: Option<PathBuf>,
}

fn time_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn table(events: &[AuditEvent]) {
    say(&format!(
        "{:>6}  {:<24}  {:<36}  {:<36}  {:<7}  {:>4}  TARGET",
        "SEQ", "TIME", "INITIATOR", "ACTION", "OUTCOME", "CODE"
    ));
    for e in events {
        say(&format!(
            "{:>6}  {:<24}  {:<36}  {:<36}  {:<7}  {:>4}  {}",
            e.seq,
            time_text(e.time_ms),
            e.initiator,
            e.action,
            e.outcome,
            e.reason_code,
            e.target
        ));
    }
}

pub(crate) async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List(args) => {
            let page = args
                .connect
                .client()?
                .audit_events(&AuditFilter {
                    after_seq: args.after_seq,
                    limit: args.limit,
                    instance_id: args.instance_id,
                    action: args.action,
                    initiator: args.initiator,
                })
                .await?;
            if args.connect.output == Format::Json {
                return print_json(&page);
            }
            table(&page.events);
            if let Some(next) = page.next_after_seq {
                say(&format!("(more: --after-seq {next})"));
            }
            Ok(())
        }
        AuditCommand::Export(args) => export(args).await,
        AuditCommand::Verify(args) => match &args.file {
            Some(file) => verify_file(file, args.connect.output),
            None => verify_live(&args.connect).await,
        },
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let events = args.connect.client()?.audit_events_all().await?;
    let account_id = events
        .first()
        .map(|e| e.account_id.clone())
        .unwrap_or_default();
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        account_id,
        records: events.len() as u64,
        last_seq: events.last().map_or(0, |e| e.seq),
        last_hash: events
            .last()
            .map_or_else(|| hex::encode(GENESIS_HASH), |e| e.hash.clone()),
    };
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for e in &events {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    say(&format!(
        "exported {} records (up to seq {}, hash {}) to {}",
        header.records,
        header.last_seq,
        header.last_hash,
        args.out.display()
    ));
    Ok(())
}

async fn verify_live(connect: &ConnectArgs) -> anyhow::Result<()> {
    let v = connect.client()?.audit_verify().await?;
    if connect.output == Format::Json {
        print_json(&v)?;
    }
    match (v.ok, v.bad_seq, &v.problem) {
        (true, _, _) => {
            if connect.output == Format::Text {
                say(&format!(
                    "audit chain verified: {} records, head seq {}, hash {}; {} checkpoints of \
                     the root of trust match it (the last at seq {})",
                    v.records, v.last_seq, v.last_hash, v.checkpoints, v.last_checkpoint_seq
                ));
            }
            Ok(())
        }
        (false, seq, problem) => bail!(
            "audit chain does NOT verify: first bad record seq {}: {}",
            seq.unwrap_or(0),
            problem.as_deref().unwrap_or("unknown problem")
        ),
    }
}

fn hash_of(hex_text: &str, seq: i64, what: &str) -> anyhow::Result<Vec<u8>> {
    match hex::decode(hex_text) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => bail!("audit export does NOT verify: record seq {seq}: its {what} is not a hash"),
    }
}

fn to_record(e: AuditEvent) -> anyhow::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: e.seq,
        prev_hash: hash_of(&e.prev_hash, e.seq, "prev_hash")?,
        account_prev_hash: hash_of(&e.account_prev_hash, e.seq, "account_prev_hash")?,
        hash: hash_of(&e.hash, e.seq, "hash")?,
        event: NewAuditEvent {
            time: e.time_ms,
            account_id: e.account_id,
            initiator: e.initiator,
            action: e.action,
            instance_id: e.instance_id,
            target: e.target,
            outcome: e.outcome,
            reason_code: e.reason_code,
            correlation_id: e.correlation_id,
            source_address: e.source_address,
        },
    })
}

/// Verifies an export: its header, every record's hash, the account links between neighbours,
/// that it starts at the account's first record and ends where its header says.
fn verify_file(path: &std::path::Path, output: Format) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header: ExportHeader = match lines.next() {
        Some(line) => serde_json::from_str(&line?)
            .context("audit export does NOT verify: its first line is not an export header")?,
        None => bail!("audit export does NOT verify: the file is empty"),
    };
    if header.format != EXPORT_FORMAT {
        bail!(
            "audit export does NOT verify: unknown format {:?}",
            header.format
        );
    }
    let mut verifier = ChainVerifier::new(Scope::Account, true);
    for (n, line) in lines.enumerate() {
        let line = line?;
        let event: AuditEvent = serde_json::from_str(&line).with_context(|| {
            format!(
                "audit export does NOT verify: line {} is not an audit record",
                n + 2
            )
        })?;
        if event.account_id != header.account_id {
            bail!(
                "audit export does NOT verify: record seq {}: it belongs to another account",
                event.seq
            );
        }
        if let Err(fault) = verifier.push(&to_record(event)?) {
            bail!("audit export does NOT verify: {fault}");
        }
    }
    let last_hash = hash_of(&header.last_hash, header.last_seq, "header's last_hash")?;
    if let Err(fault) = verifier.check_end(header.last_seq, &last_hash) {
        bail!("audit export does NOT verify: {fault}");
    }
    let report = verifier.report(None);
    if report.records != header.records {
        bail!(
            "audit export does NOT verify: {} records, the header says {}",
            report.records,
            header.records
        );
    }
    if output == Format::Json {
        return print_json(&serde_json::json!({
            "ok": true,
            "records": report.records,
            "last_seq": report.last_seq,
            "last_hash": hex::encode(&report.last_hash),
        }));
    }
    say(&format!(
        "audit export verified: {} records, up to seq {}, hash {}",
        report.records,
        report.last_seq,
        hex::encode(&report.last_hash)
    ));
    Ok(())
}
