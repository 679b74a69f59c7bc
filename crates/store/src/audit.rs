//! Persistence of the audit trail: one append-only, hash-chained sequence of records shared by
//! every account and every node.
//!
//! # The chain
//!
//! Each record has a sequence number (1, 2, 3, ... with no gaps), the hash of the record before
//! it (`prev_hash`; zeros for the first), the hash of the previous record *of the same account*
//! (`account_prev_hash`; zeros for an account's first), and its own `hash`: SHA-256 over a
//! canonical encoding of all of that ([`AuditRecord::compute_hash`]). An edited record no longer
//! matches its hash; a removed or reordered one breaks the links. The second link makes an
//! account's slice of the chain verifiable on its own: an account sees only its records, whose
//! global neighbours belong to others.
//!
//! # Appending
//!
//! [`AuditStore::append_audit_events`] appends a batch in one transaction that reads and
//! advances a single head row (locked `FOR UPDATE` on PostgreSQL), so several nodes sharing a
//! database extend one chain without forks, and one commit (one fsync) serves many records.
//! The tables refuse `UPDATE` and `DELETE` (triggers): nothing in Arca rewrites the trail, and
//! the chain shows when someone with direct database access did.

use async_trait::async_trait;

use crate::StoreResult;

/// The hash of "no record": what the first record (of the chain, or of an account) links to.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Domain separation for the record hash (and a version for its encoding).
const HASH_DOMAIN: &[u8] = b"arca-audit-v1";

/// An audit event before it is appended (the store gives it its place in the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When, in Unix milliseconds.
    pub time: i64,
    /// The account the event belongs to (empty when unknown: an unauthenticated call).
    pub account_id: String,
    /// Who: a principal id, `anonymous`, or `system` for background work.
    pub initiator: String,
    /// What: a stable name such as `kms.keys.wrap` or `secrets-manager.secrets.create`.
    pub action: String,
    /// The instance acted on (empty when none).
    pub instance_id: String,
    /// The resource acted on: the request path (ids only, never a query or a body) or, for
    /// background work, the resource's ids.
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The HTTP status of the answer (background work: 200 done, 500 failed).
    pub reason_code: i64,
    /// The caller's correlation id, or one the server made.
    pub correlation_id: String,
    /// The caller's IP address (empty for background work).
    pub source_address: String,
}

/// A record of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event.
    pub event: NewAuditEvent,
    /// Hash of record `seq - 1` ([`GENESIS_HASH`] for the first).
    pub prev_hash: Vec<u8>,
    /// Hash of the account's previous record ([`GENESIS_HASH`] for its first).
    pub account_prev_hash: Vec<u8>,
    /// [`AuditRecord::compute_hash`] when it was appended.
    pub hash: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

impl AuditRecord {
    /// The canonical encoding hashed: a domain tag, then every field in a fixed order, integers
    /// as 8 big-endian bytes and text and hashes length-prefixed (4 big-endian bytes), so no two
    /// different records encode alike.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let e = &self.event;
        let mut out = Vec::with_capacity(256);
        put_bytes(&mut out, HASH_DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        put_bytes(&mut out, &self.prev_hash);
        put_bytes(&mut out, &self.account_prev_hash);
        out.extend_from_slice(&e.time.to_be_bytes());
        put_str(&mut out, &e.account_id);
        put_str(&mut out, &e.initiator);
        put_str(&mut out, &e.action);
        put_str(&mut out, &e.instance_id);
        put_str(&mut out, &e.target);
        put_str(&mut out, &e.outcome);
        out.extend_from_slice(&e.reason_code.to_be_bytes());
        put_str(&mut out, &e.correlation_id);
        put_str(&mut out, &e.source_address);
        out
    }

    /// SHA-256 of [`AuditRecord::canonical_bytes`]: what `hash` must be.
    pub fn compute_hash(&self) -> [u8; 32] {
        arca_crypto::hash::sha256(&self.canonical_bytes())
    }

    /// Places `event` after `prev` in the chain and computes its hash.
    pub fn chain(
        seq: i64,
        event: NewAuditEvent,
        prev_hash: Vec<u8>,
        account_prev_hash: Vec<u8>,
    ) -> Self {
        let mut record = Self {
            seq,
            event,
            prev_hash,
            account_prev_hash,
            hash: Vec::new(),
        };
        record.hash = record.compute_hash().to_vec();
        record
    }
}

/// Each account's last record of a batch: account id → (seq, hash).
pub(crate) type AccountHeads = std::collections::BTreeMap<String, (i64, Vec<u8>)>;

/// A batch of events chained after `head`: the records, and each account's last record of the
/// batch (seq, hash) for `audit_account_heads`. `account_heads` holds the last hash of every
/// account of the batch that has records already (the others start from [`GENESIS_HASH`]).
pub(crate) fn chain_batch(
    head: AuditHead,
    events: &[NewAuditEvent],
    mut account_heads: std::collections::HashMap<String, Vec<u8>>,
) -> (Vec<AuditRecord>, AccountHeads) {
    let AuditHead { mut seq, mut hash } = head;
    let mut records = Vec::with_capacity(events.len());
    let mut last = AccountHeads::new();
    for event in events {
        let account_prev = account_heads
            .get(&event.account_id)
            .cloned()
            .unwrap_or_else(|| GENESIS_HASH.to_vec());
        seq += 1;
        let record = AuditRecord::chain(seq, event.clone(), hash, account_prev);
        account_heads.insert(event.account_id.clone(), record.hash.clone());
        last.insert(event.account_id.clone(), (seq, record.hash.clone()));
        hash = record.hash.clone();
        records.push(record);
    }
    (records, last)
}

/// The end of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// The last record's seq (0: empty).
    pub seq: i64,
    /// Its hash ([`GENESIS_HASH`] when empty).
    pub hash: Vec<u8>,
}

/// Which records a listing returns, by seq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's records (`None`: every record, for whole-chain verification).
    pub account_id: Option<String>,
    /// Records after this seq.
    pub after_seq: i64,
    /// At most this many.
    pub limit: i64,
    /// Only this instance's.
    pub instance_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this initiator's.
    pub initiator: Option<String>,
}

/// Persistence of the audit trail. Same contract as [`crate::Store`].
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `events`, in order, in one transaction: each gets the next seq and is linked to
    /// the chain's head and its account's last record. Returns the new head.
    async fn append_audit_events(&self, events: &[NewAuditEvent]) -> StoreResult<AuditHead>;

    /// Records matching `query`, by seq.
    async fn list_audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    /// The head of the chain.
    async fn audit_head(&self) -> StoreResult<AuditHead>;

    /// Records a checkpoint; one for the same seq already there is kept (nodes may both
    /// attest the same head).
    async fn put_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> StoreResult<()>;

    /// Checkpoints after `after_seq`, by seq, at most `limit`.
    async fn list_audit_checkpoints(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditCheckpoint>>;
}

/// The chain's head at some moment, attested by a MAC that only the root of trust can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// The record's seq.
    pub seq: i64,
    /// Its hash.
    pub hash: Vec<u8>,
    /// The MAC over seq and hash.
    pub mac: Vec<u8>,
    /// When it was made, in Unix milliseconds.
    pub created_at: i64,
}
