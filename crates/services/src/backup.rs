//! Online backups of the whole store, sealed under the master key; their verification and
//! their restore into an empty store; and scheduled backups with retention.
//!
//! A backup is one consistent snapshot of every table ([`arca_store::BackupStore::export`])
//! written as encrypted frames ([`format`]) under a fresh data key wrapped by the master key.
//! It carries the seal record, so the same unseal shares (or HSM key) that unseal the
//! cluster open it, and nothing else does. The stored rows were ciphertext already (keys,
//! secrets); the frames hide the rest (names, labels, the audit trail).

pub mod format;
pub mod rows;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arca_crypto::AesKey256;
use arca_crypto::hash::Sha256;
use arca_crypto::stream::{PREFIX_LEN, StreamOpener, StreamSealer};
use arca_keystore::{Keystore, SealRecord};
use arca_store::backup::{ImportReport, RowSource, SnapshotInfo, SnapshotSink, Value};
use arca_store::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncRead, AsyncWriteExt as _};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::auth::Principal;
use crate::clock::Clock;
use crate::{ServiceError, ServiceResult};
use format::{BackupHeader, FrameReader};

/// Why a backup could not be written, read, verified or restored. Messages name what failed,
/// never a stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The file is not a whole, unchanged backup of this format.
    #[error("invalid backup: {0}")]
    Format(&'static str),
    /// A frame did not authenticate: the file was changed, or it was sealed under another
    /// master key.
    #[error("the backup does not open: it was changed, or it belongs to another root of trust")]
    Authentication,
    /// Reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The root of trust refused (sealed, or another master key).
    #[error(transparent)]
    Keystore(#[from] arca_keystore::KeystoreError),
    /// The crypto layer failed (randomness).
    #[error("crypto: {0}")]
    Crypto(arca_crypto::CryptoError),
    /// Whoever reads the backup went away.
    #[error("the backup's reader went away")]
    Closed,
}

impl From<BackupError> for ServiceError {
    fn from(err: BackupError) -> Self {
        match err {
            BackupError::Store(e) => e.into(),
            BackupError::Keystore(e) => e.into(),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Plaintext gathered before a frame is sealed.
const FRAME_TARGET: usize = 256 * 1024;

/// File names of scheduled backups: `arca-backup-<UTC time>.arcabk`.
const SCHEDULED_PREFIX: &str = "arca-backup-";
/// Extension of backup files.
pub const EXTENSION: &str = "arcabk";

/// Scheduled backups (`[backup]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// Where backups are written (on a cluster: a directory every node can write, or each
    /// leader writes its own).
    pub dir: PathBuf,
    /// Time between backups.
    pub interval: Duration,
    /// How many backups are kept; older ones are deleted after a new one is written.
    pub keep: usize,
}

/// Where frames go.
enum Out<'a> {
    Channel(&'a mpsc::Sender<Result<Vec<u8>, BackupError>>),
    File(&'a mut tokio::fs::File),
}

impl Out<'_> {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), BackupError> {
        match self {
            Self::Channel(tx) => tx.send(Ok(bytes)).await.map_err(|_| BackupError::Closed),
            Self::File(f) => Ok(f.write_all(&bytes).await?),
        }
    }
}

/// Encodes, seals and writes a snapshot as it is read.
struct SealingSink<'a> {
    out: Out<'a>,
    keystore: &'a dyn Keystore,
    created_at: OffsetDateTime,
    seal_record: Vec<u8>,
    sealer: Option<(StreamSealer, [u8; 32])>,
    buf: Zeroizing<Vec<u8>>,
    buf_rows: u32,
    hasher: Sha256,
    rows: u64,
    progress: &'a (dyn Fn(u64) + Send + Sync),
}

impl SealingSink<'_> {
    async fn emit(&mut self, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.hasher.update(&bytes);
        self.out.write(bytes).await
    }

    async fn flush(&mut self, last: bool) -> Result<(), BackupError> {
        let Some((sealer, digest)) = self.sealer.as_mut() else {
            return Err(BackupError::Format(
                "rows before the snapshot's description",
            ));
        };
        let flags = if last { format::LAST } else { 0 };
        let aad = format::frame_aad(digest, flags, self.buf_rows);
        let ct = sealer
            .seal_frame(&aad, &self.buf, last)
            .map_err(BackupError::Crypto)?;
        let frame = format::encode_frame(flags, self.buf_rows, &ct)?;
        self.buf.clear();
        self.rows += u64::from(self.buf_rows);
        self.buf_rows = 0;
        self.emit(frame).await?;
        (self.progress)(self.rows);
        Ok(())
    }

    async fn finish(mut self) -> Result<u64, BackupError> {
        self.flush(true).await?;
        let trailer = format::encode_trailer(&self.hasher.digest());
        self.out.write(trailer).await?;
        Ok(self.rows)
    }

    async fn begin_inner(&mut self, snapshot: &SnapshotInfo) -> Result<(), BackupError> {
        let key = AesKey256::generate().map_err(BackupError::Crypto)?;
        let (sealer, prefix) = StreamSealer::new(&key).map_err(BackupError::Crypto)?;
        let mut header = BackupHeader {
            format: format::FORMAT_VERSION,
            id: crate::ids::uuid().map_err(|_| BackupError::Format("no random id"))?,
            created_at: self
                .created_at
                .format(&Rfc3339)
                .map_err(|_| BackupError::Format("time"))?,
            backend: snapshot.backend.clone(),
            schema_version: snapshot.schema_version,
            total_rows: snapshot.total_rows(),
            seal_record: STANDARD.encode(&self.seal_record),
            wrapped_key: String::new(),
            nonce_prefix: STANDARD.encode(prefix),
        };
        let wrapped = self.keystore.wrap(&header.key_aad(), key.expose_secret())?;
        header.wrapped_key = STANDARD.encode(wrapped);
        let (bytes, digest) = format::encode_header(&header)?;
        self.sealer = Some((sealer, digest));
        self.emit(bytes).await?;
        rows::encode_snapshot(snapshot, &mut self.buf)
    }
}

/// Carries a [`BackupError`] through the store's sink interface and back.
fn through_store(err: BackupError) -> StoreError {
    match err {
        BackupError::Store(e) => e,
        BackupError::Closed => StoreError::Backup("the backup's reader went away"),
        _ => StoreError::Backup("the backup could not be written"),
    }
}

#[async_trait]
impl SnapshotSink for SealingSink<'_> {
    async fn begin(&mut self, snapshot: &SnapshotInfo) -> StoreResult<()> {
        self.begin_inner(snapshot).await.map_err(|e| {
            tracing::warn!(error = %e, "backup: cannot start");
            through_store(e)
        })
    }

    async fn row(&mut self, _table: usize, values: Vec<Value>) -> StoreResult<()> {
        rows::encode_row(&values, &mut self.buf).map_err(through_store)?;
        self.buf_rows += 1;
        if self.buf.len() >= FRAME_TARGET {
            self.flush(false).await.map_err(|e| {
                tracing::warn!(error = %e, "backup: cannot write");
                through_store(e)
            })?;
        }
        Ok(())
    }
}

/// A backup being produced, chunk by chunk, for an HTTP response.
#[derive(Debug)]
pub struct BackupStream {
    rx: mpsc::Receiver<Result<Vec<u8>, BackupError>>,
    /// The file name to offer (`arca-backup-<time>.arcabk`).
    pub file_name: String,
}

impl BackupStream {
    /// The next chunk of the file; `None` at the end. An error means the file is incomplete
    /// (whoever receives it must discard it; its missing trailer also says so).
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, BackupError>> {
        self.rx.recv().await
    }
}

/// Takes backups.
#[derive(Debug, Clone)]
pub struct BackupService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    schedule: Option<BackupSchedule>,
}

/// The time stamp in a scheduled backup's file name (UTC, to the second).
const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

fn file_name(at: OffsetDateTime) -> String {
    // Formatting a UTC time with a fixed, valid description cannot fail; the fallback is
    // never used.
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .unwrap_or_default();
    format!("{SCHEDULED_PREFIX}{stamp}.{EXTENSION}")
}

/// The time in a scheduled backup's file name.
fn time_of(name: &str) -> Option<OffsetDateTime> {
    let stamp = name
        .strip_prefix(SCHEDULED_PREFIX)?
        .strip_suffix(&format!(".{EXTENSION}"))?;
    time::PrimitiveDateTime::parse(stamp, STAMP)
        .ok()
        .map(|t| t.assume_utc())
}

impl BackupService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        schedule: Option<BackupSchedule>,
    ) -> Self {
        Self {
            store,
            keystore,
            clock,
            schedule,
        }
    }

    async fn seal_record(&self) -> ServiceResult<Vec<u8>> {
        self.store
            .seal_record()
            .await?
            .ok_or(ServiceError::NotInitialized)
    }

    fn check_ready(&self) -> ServiceResult<()> {
        let status = self.keystore.status();
        if !status.initialized {
            return Err(ServiceError::NotInitialized);
        }
        if status.sealed {
            return Err(ServiceError::Sealed);
        }
        Ok(())
    }

    /// Starts a backup for an administrator, streamed as it is read (the snapshot stays
    /// consistent however long the reader takes).
    pub async fn stream(&self, principal: &Principal) -> ServiceResult<BackupStream> {
        principal.require_admin()?;
        self.check_ready()?;
        let seal_record = self.seal_record().await?;
        let (tx, rx) = mpsc::channel(4);
        let me = self.clone();
        let created_at = self.clock.now();
        tokio::spawn(async move {
            let outcome = me
                .write(Out::Channel(&tx), seal_record, created_at, &|_| {})
                .await;
            match outcome {
                Ok(rows) => tracing::info!(rows, "backup streamed"),
                Err(e) => {
                    tracing::warn!(error = %e, "backup stream failed");
                    let _ = tx.send(Err(e)).await;
                }
            }
        });
        tracing::info!(principal = %principal.id, "backup started");
        Ok(BackupStream {
            rx,
            file_name: file_name(created_at),
        })
    }

    async fn write(
        &self,
        out: Out<'_>,
        seal_record: Vec<u8>,
        created_at: OffsetDateTime,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, BackupError> {
        let mut sink = SealingSink {
            out,
            keystore: self.keystore.as_ref(),
            created_at,
            seal_record,
            sealer: None,
            buf: Zeroizing::new(Vec::with_capacity(FRAME_TARGET + 4096)),
            buf_rows: 0,
            hasher: Sha256::default(),
            rows: 0,
            progress,
        };
        self.store.export(&mut sink).await?;
        sink.finish().await
    }

    /// Writes a backup into `dir` (created if missing) as `arca-backup-<time>.arcabk`: to a
    /// temporary name, synced, then renamed, so a file with the final name is always whole.
    /// Returns its path and its rows.
    pub async fn write_to_dir(&self, dir: &Path) -> ServiceResult<(PathBuf, u64)> {
        self.check_ready()?;
        let seal_record = self.seal_record().await?;
        let created_at = self.clock.now();
        let io = |e: std::io::Error| ServiceError::from(BackupError::Io(e));
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let name = file_name(created_at);
        let path = dir.join(&name);
        let partial = dir.join(format!(".{name}.partial"));
        let mut file = tokio::fs::File::create(&partial).await.map_err(io)?;
        let written = self
            .write(Out::File(&mut file), seal_record, created_at, &|_| {})
            .await;
        let rows = match written {
            Ok(rows) => rows,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e.into());
            }
        };
        file.sync_all().await.map_err(io)?;
        drop(file);
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        // The rename itself is durable only once the directory is synced.
        tokio::fs::File::open(dir)
            .await
            .map_err(io)?
            .sync_all()
            .await
            .map_err(io)?;
        Ok((path, rows))
    }

    /// The scheduled backup, when one is due: if the newest backup in the directory is older
    /// than the interval (by the time in its name), writes a new one, then deletes the oldest
    /// beyond the number kept. Runs on the jobs' leader.
    pub async fn run_due_work_now(&self) -> ServiceResult<Option<PathBuf>> {
        let Some(schedule) = &self.schedule else {
            return Ok(None);
        };
        if self.keystore.status().sealed {
            return Ok(None);
        }
        let now = self.clock.now();
        let existing = scheduled_backups(&schedule.dir).await?;
        let due = existing.last().is_none_or(|(at, _)| {
            now - *at >= time::Duration::try_from(schedule.interval).unwrap_or(time::Duration::DAY)
        });
        if !due {
            return Ok(None);
        }
        let (path, rows) = self.write_to_dir(&schedule.dir).await?;
        tracing::info!(path = %path.display(), rows, "scheduled backup written");
        let all = scheduled_backups(&schedule.dir).await?;
        let excess = all.len().saturating_sub(schedule.keep.max(1));
        for (_, old) in all.into_iter().take(excess) {
            match tokio::fs::remove_file(&old).await {
                Ok(()) => tracing::info!(path = %old.display(), "old backup deleted (retention)"),
                Err(e) => {
                    tracing::warn!(path = %old.display(), error = %e, "cannot delete old backup")
                }
            }
        }
        Ok(Some(path))
    }
}

/// Scheduled backups in `dir`, oldest first.
async fn scheduled_backups(dir: &Path) -> ServiceResult<Vec<(OffsetDateTime, PathBuf)>> {
    let mut out = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(BackupError::Io(e).into()),
    };
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| ServiceError::from(BackupError::Io(e)))?
    {
        if let Some(at) = entry.file_name().to_str().and_then(time_of) {
            out.push((at, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What a backup holds, as far as it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Its header.
    pub header: BackupHeader,
    /// Frames read.
    pub frames: u64,
    /// Rows read.
    pub rows: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Per table, name and rows, when the frames were opened (with the unseal material).
    pub tables: Option<Vec<(String, u64)>>,
}

/// Reads the header of a backup (to learn which root of trust opens it).
pub async fn open<R: AsyncRead + Unpin + Send>(input: R) -> Result<FrameReader<R>, BackupError> {
    FrameReader::open(input).await
}

/// The seal record a backup carries, to load into a keystore before unsealing it.
pub fn seal_record_of(header: &BackupHeader) -> Result<SealRecord, BackupError> {
    let bytes = STANDARD
        .decode(&header.seal_record)
        .map_err(|_| BackupError::Format("malformed seal record"))?;
    Ok(SealRecord::from_bytes(&bytes)?)
}

/// Checks a backup's framing, row counts and checksum, without the unseal material.
pub async fn verify_structure<R: AsyncRead + Unpin + Send>(
    mut reader: FrameReader<R>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<VerifyReport, BackupError> {
    while reader.next_frame().await?.is_some() {
        progress(reader.progress().0);
    }
    let (rows, frames, bytes) = reader.progress();
    Ok(VerifyReport {
        header: reader.header().clone(),
        frames,
        rows,
        bytes,
        tables: None,
    })
}

/// Opens every frame with the master key of an unsealed `keystore` and decodes every row,
/// writing nothing.
pub async fn verify_contents<R: AsyncRead + Unpin + Send>(
    reader: FrameReader<R>,
    keystore: &dyn Keystore,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<VerifyReport, BackupError> {
    let header = reader.header().clone();
    let mut rows = RowReader::new(reader, keystore, progress)?;
    let info = rows.snapshot().await?;
    let mut counts = vec![0u64; info.tables.len()];
    while let Some((table, _)) = rows.next().await? {
        if let Some(c) = counts.get_mut(table) {
            *c += 1;
        }
    }
    if counts.iter().zip(&info.tables).any(|(c, t)| *c != t.rows) {
        return Err(BackupError::Format(
            "a table's rows differ from its announced count",
        ));
    }
    let (total, frames, bytes) = rows.frames.progress();
    Ok(VerifyReport {
        header,
        frames,
        rows: total,
        bytes,
        tables: Some(
            info.tables
                .iter()
                .map(|t| (t.name.clone(), t.rows))
                .collect(),
        ),
    })
}

/// Restores a backup into an empty `store` in one transaction, with the master key of an
/// unsealed `keystore` (loaded with the backup's own seal record). Nothing is committed
/// unless every frame opened, every row was written and the file's checksum held.
pub async fn restore<R: AsyncRead + Unpin + Send>(
    reader: FrameReader<R>,
    keystore: &dyn Keystore,
    store: &dyn Store,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<ImportReport, BackupError> {
    let mut rows = RowReader::new(reader, keystore, progress)?;
    let info = rows.snapshot().await?;
    let report = store.import(&info, &mut rows).await;
    match report {
        Ok(r) => Ok(r),
        // The reader's own error is more telling than the store's "could not read".
        Err(e) => Err(rows.failure.take().unwrap_or(BackupError::Store(e))),
    }
}

/// Opens frames and splits them into rows.
struct RowReader<'a, R> {
    frames: FrameReader<R>,
    opener: StreamOpener,
    digest: [u8; 32],
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    info: Option<SnapshotInfo>,
    table: usize,
    left_in_table: u64,
    failure: Option<BackupError>,
    progress: &'a (dyn Fn(u64) + Send + Sync),
}

impl<'a, R: AsyncRead + Unpin + Send> RowReader<'a, R> {
    fn new(
        frames: FrameReader<R>,
        keystore: &dyn Keystore,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    ) -> Result<Self, BackupError> {
        let header = frames.header();
        let wrapped = STANDARD
            .decode(&header.wrapped_key)
            .map_err(|_| BackupError::Format("malformed wrapped key"))?;
        let key = keystore
            .unwrap(&header.key_aad(), &wrapped)
            .map_err(|_| BackupError::Authentication)?;
        let key = AesKey256::from_slice(&key).map_err(|_| BackupError::Authentication)?;
        let prefix: [u8; PREFIX_LEN] = STANDARD
            .decode(&header.nonce_prefix)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(BackupError::Format("malformed nonce prefix"))?;
        let opener = StreamOpener::new(&key, &prefix).map_err(BackupError::Crypto)?;
        let digest = *frames.header_digest();
        Ok(Self {
            frames,
            opener,
            digest,
            buf: Zeroizing::new(Vec::new()),
            pos: 0,
            info: None,
            table: 0,
            left_in_table: 0,
            failure: None,
            progress,
        })
    }

    /// The next line of the plaintext, or `None` at the end of the (verified) stream.
    async fn line(&mut self) -> Result<Option<Vec<u8>>, BackupError> {
        loop {
            if let Some(n) = self.buf[self.pos..].iter().position(|b| *b == b'\n') {
                let line = self.buf[self.pos..self.pos + n].to_vec();
                self.pos += n + 1;
                return Ok(Some(line));
            }
            if self.opener.is_finished() {
                if self.pos != self.buf.len() {
                    return Err(BackupError::Format("the last row is cut off"));
                }
                // Reads past the trailer: checks nothing follows it.
                if self.frames.next_frame().await?.is_some() {
                    return Err(BackupError::Format("a frame after the last one"));
                }
                return Ok(None);
            }
            let Some(frame) = self.frames.next_frame().await? else {
                return Err(BackupError::Format("the backup ends before its last frame"));
            };
            let aad = format::frame_aad(&self.digest, frame.flags, frame.rows);
            let plain = self
                .opener
                .open_frame(&aad, &frame.ciphertext, frame.last)
                .map_err(|_| BackupError::Authentication)?;
            self.buf.drain(..self.pos);
            self.pos = 0;
            self.buf.extend_from_slice(&plain);
            (self.progress)(self.frames.progress().0);
        }
    }

    async fn snapshot(&mut self) -> Result<SnapshotInfo, BackupError> {
        let line = self
            .line()
            .await?
            .ok_or(BackupError::Format("no snapshot description"))?;
        let info = rows::decode_snapshot(&line)?;
        let header = self.frames.header();
        if info.schema_version != header.schema_version
            || info.backend != header.backend
            || info.total_rows() != header.total_rows
        {
            return Err(BackupError::Format("the header does not match the content"));
        }
        self.left_in_table = info.tables.first().map_or(0, |t| t.rows);
        self.info = Some(info.clone());
        Ok(info)
    }

    async fn next(&mut self) -> Result<Option<(usize, Vec<Value>)>, BackupError> {
        let Some(line) = self.line().await? else {
            return Ok(None);
        };
        let info = self.info.as_ref().ok_or(BackupError::Format(
            "rows before the snapshot's description",
        ))?;
        while self.left_in_table == 0 {
            self.table += 1;
            let t = info
                .tables
                .get(self.table)
                .ok_or(BackupError::Format("more rows than announced"))?;
            self.left_in_table = t.rows;
        }
        self.left_in_table -= 1;
        let columns = &info.tables[self.table].columns;
        Ok(Some((self.table, rows::decode_row(&line, columns)?)))
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send> RowSource for RowReader<'_, R> {
    async fn next_row(&mut self) -> StoreResult<Option<(usize, Vec<Value>)>> {
        match self.next().await {
            Ok(row) => Ok(row),
            Err(e) => {
                let out = StoreError::Backup("the backup could not be read");
                self.failure = Some(e);
                Err(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scheduled_names_carry_their_time() {
        let at = time::macros::datetime!(2026-11-23 05:07:09 UTC);
        let name = file_name(at);
        assert_eq!(name, "arca-backup-20261123T050709Z.arcabk");
        assert_eq!(time_of(&name), Some(at));
        assert_eq!(time_of("arca-backup-x.arcabk"), None);
        assert_eq!(
            time_of(".arca-backup-20261123T050709Z.arcabk.partial"),
            None
        );
    }
}
