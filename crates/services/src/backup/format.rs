//! The backup file format (`ARCA-BK1`):
//!
//! ```text
//! "ARCA-BK1"                      magic, 8 bytes
//! u32 (big-endian)                header length (at most 64 KiB)
//! header                          JSON, BackupHeader
//! frames, each:
//!   u8                            flags: 1 on the last frame, 0 on the others
//!   u32                           rows in the frame (for progress; authenticated)
//!   u32                           ciphertext length (at most 16 MiB + tag)
//!   ciphertext                    STREAM frame (arca_crypto::stream), AAD below
//! "ARCA-END"                      after the last frame
//! SHA-256                         of every byte before "ARCA-END", 32 bytes
//! ```
//!
//! The frames' plaintexts, concatenated, are JSON lines: the snapshot's description, then one
//! array per row (see [`super::rows`]). Each frame's associated data is
//! `SHA-256(header) ‖ flags ‖ rows`, so a header cannot be swapped onto other frames and the
//! clear counts cannot be changed. The frame key is a fresh data key wrapped by the master key:
//! the file opens only with the unseal material. The trailing digest lets `backup verify`
//! find corruption and truncation without that material.

use arca_crypto::hash::Sha256;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt as _};

use super::BackupError;

/// First bytes of a backup file.
pub const MAGIC: &[u8; 8] = b"ARCA-BK1";
/// Marks the end of the frames.
pub const END_MAGIC: &[u8; 8] = b"ARCA-END";
/// Longest header accepted.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// Longest frame ciphertext accepted (a frame holds whole rows; rows are bounded by the API's
/// body limit, far below this).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024 + arca_crypto::aead::TAG_LEN;
/// This format's version, in the header.
pub const FORMAT_VERSION: u32 = 1;
/// Flag of the last frame.
pub const LAST: u8 = 1;

/// The clear header of a backup: what is needed to open it, and nothing about its content
/// beyond its size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackupHeader {
    /// [`FORMAT_VERSION`].
    pub format: u32,
    /// A random id, bound into the wrapped key's associated data.
    pub id: String,
    /// When the snapshot was taken (RFC 3339).
    pub created_at: String,
    /// The backend it was read from.
    pub backend: String,
    /// The schema version (last migration) of the store it was read from.
    pub schema_version: i64,
    /// Rows in the backup.
    pub total_rows: u64,
    /// The root of trust's seal record (base64): ciphertext and public parameters only, the
    /// same as in the database. A restore unseals with it.
    pub seal_record: String,
    /// The frame key, wrapped by the master key (base64).
    pub wrapped_key: String,
    /// The STREAM nonce prefix (base64, 7 bytes).
    pub nonce_prefix: String,
}

impl BackupHeader {
    /// Associated data of the wrapped frame key.
    pub fn key_aad(&self) -> Vec<u8> {
        format!("arca:backup:v1:{}", self.id).into_bytes()
    }
}

/// Associated data of one frame.
pub fn frame_aad(header_digest: &[u8; 32], flags: u8, rows: u32) -> [u8; 37] {
    let mut aad = [0u8; 37];
    aad[..32].copy_from_slice(header_digest);
    aad[32] = flags;
    aad[33..].copy_from_slice(&rows.to_be_bytes());
    aad
}

/// The bytes that start a file: magic, length, header.
pub fn encode_header(header: &BackupHeader) -> Result<(Vec<u8>, [u8; 32]), BackupError> {
    let json =
        serde_json::to_vec(header).map_err(|_| BackupError::Format("cannot encode header"))?;
    let len = u32::try_from(json.len()).map_err(|_| BackupError::Format("header too long"))?;
    let mut out = Vec::with_capacity(12 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    Ok((out, arca_crypto::hash::sha256(&json)))
}

/// The bytes of one frame.
pub fn encode_frame(flags: u8, rows: u32, ciphertext: &[u8]) -> Result<Vec<u8>, BackupError> {
    let len = u32::try_from(ciphertext.len())
        .ok()
        .filter(|l| *l as usize <= MAX_FRAME_LEN)
        .ok_or(BackupError::Format("frame too long"))?;
    let mut out = Vec::with_capacity(9 + ciphertext.len());
    out.push(flags);
    out.extend_from_slice(&rows.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(ciphertext);
    Ok(out)
}

/// One frame as read, not yet opened.
#[derive(Debug)]
pub struct Frame {
    /// Whether it is the last.
    pub last: bool,
    /// Its flags byte.
    pub flags: u8,
    /// Rows it holds (as its clear count says; authenticated when opened).
    pub rows: u32,
    /// Its ciphertext.
    pub ciphertext: Vec<u8>,
}

/// Reads a backup's framing: the header, then frame after frame, then the trailer, whose
/// digest it checks. Knows no key: what it checks is that the file is whole and unchanged
/// since it was written (as far as a digest stored in the file can tell; the frames' tags,
/// checked on restore, tell the rest).
#[derive(Debug)]
pub struct FrameReader<R> {
    input: R,
    header: BackupHeader,
    header_digest: [u8; 32],
    hasher: Sha256,
    done: bool,
    rows: u64,
    frames: u64,
    bytes: u64,
}

async fn read_exact<R: AsyncRead + Unpin>(
    input: &mut R,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), BackupError> {
    match input.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(BackupError::Format(what)),
        Err(e) => Err(BackupError::Io(e)),
    }
}

impl<R: AsyncRead + Unpin + Send> FrameReader<R> {
    /// Reads and checks the magic and the header.
    pub async fn open(mut input: R) -> Result<Self, BackupError> {
        let mut hasher = Sha256::default();
        let mut magic = [0u8; 8];
        read_exact(&mut input, &mut magic, "not an Arca backup (too short)").await?;
        if &magic != MAGIC {
            return Err(BackupError::Format("not an Arca backup (bad magic)"));
        }
        let mut len = [0u8; 4];
        read_exact(&mut input, &mut len, "truncated header").await?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_HEADER_LEN {
            return Err(BackupError::Format("header too long"));
        }
        let mut json = vec![0u8; n];
        read_exact(&mut input, &mut json, "truncated header").await?;
        let header: BackupHeader =
            serde_json::from_slice(&json).map_err(|_| BackupError::Format("malformed header"))?;
        if header.format != FORMAT_VERSION {
            return Err(BackupError::Format("unknown backup format version"));
        }
        hasher.update(&magic);
        hasher.update(&len);
        hasher.update(&json);
        Ok(Self {
            input,
            header_digest: arca_crypto::hash::sha256(&json),
            header,
            hasher,
            done: false,
            rows: 0,
            frames: 0,
            bytes: 12 + n as u64,
        })
    }

    /// The header.
    pub fn header(&self) -> &BackupHeader {
        &self.header
    }

    /// SHA-256 of the header's JSON (bound into every frame).
    pub fn header_digest(&self) -> &[u8; 32] {
        &self.header_digest
    }

    /// Rows, frames and bytes read so far.
    pub fn progress(&self) -> (u64, u64, u64) {
        (self.rows, self.frames, self.bytes)
    }

    /// The next frame, or `None` once the trailer was read and checked and nothing follows it.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, BackupError> {
        if self.done {
            return Ok(None);
        }
        let mut head = [0u8; 9];
        read_exact(
            &mut self.input,
            &mut head,
            "truncated: the backup ends before its last frame",
        )
        .await?;
        let flags = head[0];
        if flags & !LAST != 0 {
            return Err(BackupError::Format("unknown frame flags"));
        }
        let rows = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        let len = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(BackupError::Format("frame too long"));
        }
        let mut ciphertext = vec![0u8; len];
        read_exact(&mut self.input, &mut ciphertext, "truncated frame").await?;
        self.hasher.update(&head);
        self.hasher.update(&ciphertext);
        self.frames += 1;
        self.rows += u64::from(rows);
        self.bytes += 9 + len as u64;
        let last = flags & LAST != 0;
        if last {
            self.read_trailer().await?;
        }
        Ok(Some(Frame {
            last,
            flags,
            rows,
            ciphertext,
        }))
    }

    async fn read_trailer(&mut self) -> Result<(), BackupError> {
        let expected = self.hasher.digest();
        let mut trailer = [0u8; 40];
        read_exact(&mut self.input, &mut trailer, "truncated: no end marker").await?;
        if &trailer[..8] != END_MAGIC {
            return Err(BackupError::Format("no end marker after the last frame"));
        }
        if !arca_crypto::hash::ct_eq(&trailer[8..], &expected) {
            return Err(BackupError::Format(
                "checksum mismatch: the file was changed or damaged",
            ));
        }
        let mut extra = [0u8; 1];
        match self.input.read(&mut extra).await {
            Ok(0) => {}
            Ok(_) => return Err(BackupError::Format("data after the end marker")),
            Err(e) => return Err(BackupError::Io(e)),
        }
        if self.rows != self.header.total_rows {
            return Err(BackupError::Format(
                "the frames' row counts differ from the header's",
            ));
        }
        self.bytes += 40;
        self.done = true;
        Ok(())
    }
}

/// The trailer after the last frame, given the digest of everything before it.
pub fn encode_trailer(digest: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(END_MAGIC);
    out.extend_from_slice(digest);
    out
}
