//! The audit trail: every API call and every background change becomes a record of one
//! append-only, hash-chained sequence (see [`arca_store::audit`] for the chain itself).
//!
//! # Spool and policy
//!
//! Records go to a bounded in-memory spool (a tokio channel, [`AuditSettings::spool_capacity`]
//! records) that one writer task drains in batches: one transaction, one commit (one fsync) for
//! up to [`AuditSettings::batch_max`] records. A request takes its place in the spool *before*
//! it runs ([`AuditService::reserve`]); when the spool is full (the database is slow, down or
//! full) the request is refused with 503 and never runs, so nothing is done that cannot be
//! recorded. Refusals and the backlog are logged and shown by `/health/ready` (503 while the
//! spool is full or the writer is failing), so a stalled sink is never silent.
//!
//! # What is durable before the answer
//!
//! A request that may change state is answered only once its record is committed
//! ([`AuditPermit::submit_durable`]): batching makes that cheap (group commit), and an
//! acknowledged change always has its record. Reads, and the data-plane key actions that change
//! nothing (wrap, unwrap, rewrap), are answered without waiting (fire-and-forget): the hot path
//! gets no database round trip, and a crash can lose at most the read records still in the
//! spool. A failed append is retried, with backoff, until it succeeds: the writer never drops
//! a record; meanwhile the spool fills and new requests are refused. If a commit takes longer
//! than [`AuditSettings::commit_wait`] the caller gets 503 (its change was made and its record
//! stays queued, but the change is not acknowledged).
//!
//! Background work records its changes with initiator `system` ([`AuditService::record_system`]);
//! it waits for space in the spool (backpressure) rather than being refused.
//!
//! # Tampering
//!
//! [`ChainVerifier`] checks every record's hash and links; it names the first bad seq. It
//! detects any edited, removed or reordered record. It cannot detect a wholesale rewrite of the
//! chain (every hash recomputed) by someone with write access to the database: compare the
//! head ([`AuditService::verify`] reports it) with one kept elsewhere (an export, a log line).
//! A MAC over checkpoints with a key from the root of trust would close that gap; it is not
//! built yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arca_keystore::Keystore;
use arca_store::Store;
use arca_store::audit::{
    AuditCheckpoint, AuditHead, AuditQuery, AuditRecord, GENESIS_HASH, NewAuditEvent,
};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Principal;
use crate::clock::{Clock, to_millis};
use crate::{ServiceError, ServiceResult};

/// The initiator recorded for background work.
pub const SYSTEM: &str = "system";
/// The initiator recorded when the caller was not authenticated.
pub const ANONYMOUS: &str = "anonymous";

/// Purpose of the checkpoint MAC key (derived from the master key).
const CHECKPOINT_PURPOSE: &[u8] = b"arca/audit-checkpoint/v1";
/// A node attests the head it appended at most this often (and on every flush).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// What a checkpoint's MAC covers: the seq (big-endian) and the hash.
fn checkpoint_message(seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + hash.len());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// Most records one listing returns.
pub const MAX_PAGE: i64 = 1_000;
/// Records per page when none is asked.
pub const DEFAULT_PAGE: i64 = 100;

/// Spool and batch sizes.
#[derive(Debug, Clone, Copy)]
pub struct AuditSettings {
    /// Records the spool holds before requests are refused.
    pub spool_capacity: usize,
    /// Most records appended in one transaction.
    pub batch_max: usize,
    /// Longest a state-changing request waits for its record to be committed.
    pub commit_wait: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            spool_capacity: 10_000,
            batch_max: 512,
            commit_wait: Duration::from_secs(10),
        }
    }
}

enum Spooled {
    Event(Box<NewAuditEvent>, Option<oneshot::Sender<()>>),
    /// Answered once everything spooled before it is committed.
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Stats {
    committed: AtomicU64,
    refused: AtomicU64,
    failed_appends: AtomicU64,
    failing: AtomicBool,
}

/// The spool's state, for health and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditStatus {
    /// Records waiting in the spool.
    pub backlog: usize,
    /// What the spool holds at most.
    pub capacity: usize,
    /// Records committed since start.
    pub committed: u64,
    /// Requests refused since start because the spool was full.
    pub refused: u64,
    /// Failed append attempts since start (each is retried).
    pub failed_appends: u64,
    /// Whether the last append attempt failed.
    pub failing: bool,
}

impl AuditStatus {
    /// Whether the trail keeps up: room in the spool and the writer not failing.
    pub fn healthy(&self) -> bool {
        self.backlog < self.capacity && !self.failing
    }
}

/// The audit trail: the spool, its writer, and reading and verifying the chain.
#[derive(Clone)]
pub struct AuditService {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    spool: mpsc::Sender<Spooled>,
    stats: Arc<Stats>,
    settings: AuditSettings,
}

impl std::fmt::Debug for AuditService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A place in the spool, taken before a request runs; used once to submit its record.
#[derive(Debug)]
pub struct AuditPermit {
    permit: mpsc::OwnedPermit<Spooled>,
    commit_wait: Duration,
}

impl AuditPermit {
    /// Submits the record without waiting for it to be committed (reads).
    pub fn submit(self, event: NewAuditEvent) {
        self.permit.send(Spooled::Event(Box::new(event), None));
    }

    /// Submits the record and waits until it is committed (state-changing requests).
    /// [`ServiceError::AuditUnavailable`] if that takes longer than the commit wait.
    pub async fn submit_durable(self, event: NewAuditEvent) -> ServiceResult<()> {
        let (done, committed) = oneshot::channel();
        self.permit
            .send(Spooled::Event(Box::new(event), Some(done)));
        match tokio::time::timeout(self.commit_wait, committed).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ServiceError::AuditUnavailable(
                "the audit writer stopped; the change was made but its record is not committed",
            )),
            Err(_) => {
                tracing::error!("an audit record was not committed in time; answering 503");
                Err(ServiceError::AuditUnavailable(
                    "the audit trail is not keeping up: the change was made, its record is \
                     queued; check before retrying",
                ))
            }
        }
    }
}

impl AuditService {
    /// Starts the writer on the current tokio runtime. Without one (a synchronous caller) no
    /// writer runs and every request is refused: nothing goes unaudited.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        settings: AuditSettings,
    ) -> Self {
        let (spool, drain) = mpsc::channel(settings.spool_capacity.max(1));
        let stats = Arc::new(Stats::default());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(run_writer(
                    Writer {
                        store: store.clone(),
                        keystore: keystore.clone(),
                        clock: clock.clone(),
                        stats: stats.clone(),
                        batch_max: settings.batch_max.max(1),
                    },
                    drain,
                ));
            }
            Err(_) => tracing::error!("no async runtime: the audit writer cannot start"),
        }
        Self {
            store,
            keystore,
            clock,
            spool,
            stats,
            settings,
        }
    }

    /// Takes a place in the spool for one record, or refuses ([`ServiceError::AuditUnavailable`])
    /// when the spool is full: the caller must then not do what it was asked.
    pub fn reserve(&self) -> ServiceResult<AuditPermit> {
        match self.spool.clone().try_reserve_owned() {
            Ok(permit) => Ok(AuditPermit {
                permit,
                commit_wait: self.settings.commit_wait,
            }),
            Err(_) => {
                let before = self.stats.refused.fetch_add(1, Ordering::Relaxed);
                // 1st, 2nd, 4th, 8th... refusal: visible, without flooding the log.
                if before == 0 || (before + 1).is_power_of_two() {
                    tracing::warn!(
                        refused = before + 1,
                        capacity = self.settings.spool_capacity,
                        "audit spool full: refusing requests until the trail catches up"
                    );
                }
                Err(ServiceError::AuditUnavailable(
                    "the audit trail cannot keep up; the request was not run: retry later",
                ))
            }
        }
    }

    /// Now, in Unix milliseconds (the time a record carries).
    pub fn now_millis(&self) -> i64 {
        to_millis(self.clock.now())
    }

    /// Records a change made by background work (initiator `system`), waiting for room in the
    /// spool if it is full, then for the commit (up to the commit wait).
    pub async fn record_system(
        &self,
        account_id: &str,
        instance_id: &str,
        action: &str,
        target: String,
        outcome: &ServiceResult<()>,
    ) {
        let event = NewAuditEvent {
            time: self.now_millis(),
            account_id: account_id.to_owned(),
            initiator: SYSTEM.to_owned(),
            action: action.to_owned(),
            instance_id: instance_id.to_owned(),
            target,
            outcome: if outcome.is_ok() {
                "success"
            } else {
                "failure"
            }
            .to_owned(),
            reason_code: if outcome.is_ok() { 200 } else { 500 },
            correlation_id: crate::ids::uuid().unwrap_or_default(),
            source_address: String::new(),
        };
        // Background work is not on a hot path: it waits for the commit, so a record of its
        // change is durable before the work goes on.
        let (done, committed) = oneshot::channel();
        if self
            .spool
            .send(Spooled::Event(Box::new(event), Some(done)))
            .await
            .is_err()
        {
            tracing::error!(
                action,
                instance_id,
                "the audit writer stopped: a background change is unrecorded"
            );
            return;
        }
        if tokio::time::timeout(self.settings.commit_wait, committed)
            .await
            .is_err()
        {
            tracing::warn!(
                action,
                instance_id,
                "the record of a background change is still queued"
            );
        }
    }

    /// Waits until every record spooled so far is committed (shutdown).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.spool.send(Spooled::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// The spool's state.
    pub fn status(&self) -> AuditStatus {
        AuditStatus {
            backlog: self.settings.spool_capacity.max(1) - self.spool.capacity(),
            capacity: self.settings.spool_capacity.max(1),
            committed: self.stats.committed.load(Ordering::Relaxed),
            refused: self.stats.refused.load(Ordering::Relaxed),
            failed_appends: self.stats.failed_appends.load(Ordering::Relaxed),
            failing: self.stats.failing.load(Ordering::Relaxed),
        }
    }

    /// The records of the admin's account after `after_seq` (at most `limit`, 1 to
    /// [`MAX_PAGE`]), optionally only one instance's, action's or initiator's. Account
    /// administrators only.
    pub async fn list(
        &self,
        admin: &Principal,
        mut query: AuditQuery,
    ) -> ServiceResult<Vec<AuditRecord>> {
        admin.require_admin()?;
        if query.limit == 0 {
            query.limit = DEFAULT_PAGE;
        }
        if !(1..=MAX_PAGE).contains(&query.limit) || query.after_seq < 0 {
            return Err(ServiceError::InvalidInput(format!(
                "limit must be 1 to {MAX_PAGE} and after_seq not negative"
            )));
        }
        query.account_id = Some(admin.account_id.clone());
        Ok(self.store.list_audit_events(&query).await?)
    }

    /// Verifies the whole stored chain from its first record to its head. Account
    /// administrators only (the report names seqs and hashes, never another account's records).
    pub async fn verify(&self, admin: &Principal) -> ServiceResult<ChainReport> {
        admin.require_admin()?;
        let head = self.store.audit_head().await?;
        let mut verifier = ChainVerifier::new(Scope::Chain, true);
        let mut checkpoints = CheckpointWalk::new(self.store.clone(), self.keystore.clone());
        let mut after_seq = 0;
        loop {
            let page = self
                .store
                .list_audit_events(&AuditQuery {
                    after_seq,
                    limit: MAX_PAGE,
                    ..Default::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            after_seq = last.seq;
            // Appends committed while this walk runs lie past the head read first: the walk
            // verifies the chain up to that head and leaves them to the next verification.
            for r in page.iter().take_while(|r| r.seq <= head.seq) {
                if let Err(fault) = verifier.push(r) {
                    return Ok(checkpoints.report(verifier.report(Some(fault))));
                }
                if let Err(fault) = checkpoints.check(r).await? {
                    return Ok(checkpoints.report(verifier.report(Some(fault))));
                }
            }
            if after_seq >= head.seq {
                break;
            }
        }
        let fault = verifier.check_end(head.seq, &head.hash).err();
        Ok(checkpoints.report(verifier.report(fault)))
    }
}

/// Walks the checkpoints beside the records, in seq order: each must name a record's hash and
/// carry a MAC the root of trust made. A chain rewritten with every hash recomputed (by someone
/// with write access to the database but not the unseal material) verifies as a chain, but not
/// against its checkpoints.
struct CheckpointWalk {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    page: std::collections::VecDeque<AuditCheckpoint>,
    after_seq: i64,
    exhausted: bool,
    checked: u64,
    last_seq: i64,
}

impl CheckpointWalk {
    fn new(store: Arc<dyn Store>, keystore: Arc<dyn Keystore>) -> Self {
        Self {
            store,
            keystore,
            page: Default::default(),
            after_seq: 0,
            exhausted: false,
            checked: 0,
            last_seq: 0,
        }
    }

    async fn peek(&mut self) -> ServiceResult<Option<&AuditCheckpoint>> {
        if self.page.is_empty() && !self.exhausted {
            let next = self
                .store
                .list_audit_checkpoints(self.after_seq, MAX_PAGE)
                .await?;
            self.exhausted = next.len() < usize::try_from(MAX_PAGE).unwrap_or(usize::MAX);
            if let Some(last) = next.last() {
                self.after_seq = last.seq;
            }
            self.page.extend(next);
        }
        Ok(self.page.front())
    }

    /// Checks the checkpoint at `r.seq`, if there is one. The outer error is a failure to
    /// check (store, sealed); the inner one a fault of the trail.
    async fn check(&mut self, r: &AuditRecord) -> ServiceResult<Result<(), ChainFault>> {
        // Checkpoints past the head read first are left for the next verification; one before
        // this record cannot remain (every record before it was checked).
        let cp = loop {
            match self.peek().await? {
                None => return Ok(Ok(())),
                Some(cp) if cp.seq > r.seq => return Ok(Ok(())),
                Some(cp) if cp.seq < r.seq => {
                    self.page.pop_front();
                }
                Some(cp) => break cp.clone(),
            }
        };
        let expected = self
            .keystore
            .mac(CHECKPOINT_PURPOSE, &checkpoint_message(cp.seq, &cp.hash))?;
        let fault = if !arca_crypto::hash::ct_eq(&expected, &cp.mac) {
            Some("its checkpoint's MAC is not the root of trust's: the checkpoint was forged")
        } else if !arca_crypto::hash::ct_eq(&cp.hash, &r.hash) {
            Some(
                "it differs from the record its checkpoint attested: the chain was rewritten \
                 from here or before",
            )
        } else {
            None
        };
        self.page.pop_front();
        if let Some(problem) = fault {
            return Ok(Err(ChainFault {
                seq: r.seq,
                problem: problem.to_owned(),
            }));
        }
        self.checked += 1;
        self.last_seq = r.seq;
        Ok(Ok(()))
    }

    fn report(&self, mut report: ChainReport) -> ChainReport {
        report.checkpoints = self.checked;
        report.last_checkpoint_seq = self.last_seq;
        report
    }
}

/// What the writer needs.
struct Writer {
    store: Arc<dyn Store>,
    keystore: Arc<dyn Keystore>,
    clock: Arc<dyn Clock>,
    stats: Arc<Stats>,
    batch_max: usize,
}

impl Writer {
    /// Attests `head` with a checkpoint, when the root of trust is unsealed. A failure is
    /// logged: the next checkpoint covers these records too.
    async fn checkpoint(&self, head: &AuditHead) {
        let mac = match self.keystore.mac(
            CHECKPOINT_PURPOSE,
            &checkpoint_message(head.seq, &head.hash),
        ) {
            Ok(mac) => mac,
            Err(_) => return, // sealed: the records stay unattested until the next checkpoint
        };
        let checkpoint = AuditCheckpoint {
            seq: head.seq,
            hash: head.hash.clone(),
            mac: mac.to_vec(),
            created_at: to_millis(self.clock.now()),
        };
        if let Err(e) = self.store.put_audit_checkpoint(&checkpoint).await {
            tracing::warn!(error = %e, seq = head.seq, "cannot write an audit checkpoint");
        }
    }
}

/// Drains the spool in batches until every sender is gone; attests the head it reached with a
/// checkpoint at most every [`CHECKPOINT_EVERY`], and on every flush.
async fn run_writer(writer: Writer, mut drain: mpsc::Receiver<Spooled>) {
    let mut events = Vec::with_capacity(writer.batch_max);
    let mut waiters = Vec::new();
    let mut unattested: Option<AuditHead> = None;
    let mut last_checkpoint: Option<tokio::time::Instant> = None;
    loop {
        // With records not yet attested, wait at most CHECKPOINT_EVERY for more: an idle node
        // attests its last records within about a second.
        let first = if unattested.is_some() {
            match tokio::time::timeout(CHECKPOINT_EVERY, drain.recv()).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(_) => {
                    if let Some(head) = unattested.take() {
                        writer.checkpoint(&head).await;
                        last_checkpoint = Some(tokio::time::Instant::now());
                    }
                    continue;
                }
            }
        } else {
            match drain.recv().await {
                Some(item) => item,
                None => break,
            }
        };
        let mut next = Some(first);
        let mut flush = false;
        while let Some(item) = next.take() {
            match item {
                Spooled::Event(event, waiter) => {
                    events.push(*event);
                    waiters.extend(waiter);
                }
                Spooled::Flush(waiter) => {
                    flush = true;
                    waiters.push(waiter);
                }
            }
            if events.len() < writer.batch_max {
                next = drain.try_recv().ok();
            }
        }
        let mut backoff = Duration::from_millis(50);
        while !events.is_empty() {
            match writer.store.append_audit_events(&events).await {
                Ok(head) => {
                    writer
                        .stats
                        .committed
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                    if writer.stats.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("audit appends succeed again");
                    }
                    events.clear();
                    unattested = Some(head);
                }
                Err(e) => {
                    writer.stats.failed_appends.fetch_add(1, Ordering::Relaxed);
                    writer.stats.failing.store(true, Ordering::Relaxed);
                    tracing::error!(error = %e, pending = events.len(), "appending audit records failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        let due = flush || last_checkpoint.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
        if due && let Some(head) = unattested.take() {
            writer.checkpoint(&head).await;
            last_checkpoint = Some(tokio::time::Instant::now());
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
    if let Some(head) = unattested.take() {
        writer.checkpoint(&head).await;
    }
}

/// What a verified chain (or slice of it) covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole chain: consecutive seqs from 1.
    Chain,
    /// One account's records, linked by their account link.
    Account,
}

/// Why verification failed, and at which record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFault {
    /// The first bad seq (for a missing end: the last good one).
    pub seq: i64,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for ChainFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record seq {}: {}", self.seq, self.problem)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked.
    pub records: u64,
    /// The last record checked (0: none).
    pub last_seq: i64,
    /// Its hash.
    pub last_hash: Vec<u8>,
    /// The first fault, if any: the chain does not verify.
    pub fault: Option<ChainFault>,
    /// Checkpoints checked against the chain (whole-chain verification on a server only).
    pub checkpoints: u64,
    /// The last checkpoint's seq (0: none): records after it are not yet attested.
    pub last_checkpoint_seq: i64,
}

/// Checks records one at a time, in the order given: each record's hash, the links between
/// neighbours, and (when `from_start`) that nothing before the first is missing.
///
/// Two neighbours `a`, `b` must link: in the whole chain `b.seq = a.seq + 1` and
/// `b.prev_hash = a.hash`; in an account's slice both are of the account and
/// `b.account_prev_hash = a.hash`. An edited record fails its own hash; a removed one leaves a
/// pair that does not link; of two swapped ones, the first out of place does not link (or goes
/// backwards in seq).
#[derive(Debug)]
pub struct ChainVerifier {
    scope: Scope,
    from_start: bool,
    last: Option<(i64, Vec<u8>, String)>,
    records: u64,
}

impl ChainVerifier {
    /// A verifier of `scope`; `from_start`: the records must begin at the chain's (or the
    /// account's) first record.
    pub fn new(scope: Scope, from_start: bool) -> Self {
        Self {
            scope,
            from_start,
            last: None,
            records: 0,
        }
    }

    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainFault> {
        let fault = |problem: &str| ChainFault {
            seq: r.seq,
            problem: problem.to_owned(),
        };
        if r.hash.len() != 32 || !arca_crypto::hash::ct_eq(&r.hash, &r.compute_hash()) {
            return Err(fault(
                "its content does not match its hash (the record was edited)",
            ));
        }
        match &self.last {
            None if self.from_start => {
                let starts = match self.scope {
                    Scope::Chain => r.seq == 1 && r.prev_hash == GENESIS_HASH,
                    Scope::Account => r.account_prev_hash == GENESIS_HASH,
                };
                if !starts {
                    return Err(fault(
                        "it is not the first record: the records before it are missing",
                    ));
                }
            }
            None => {}
            Some((seq, hash, account)) => {
                if r.seq <= *seq {
                    return Err(fault(&format!(
                        "it comes after seq {seq}: the records are out of order"
                    )));
                }
                let linked = match self.scope {
                    Scope::Chain => r.seq == seq + 1 && r.prev_hash == *hash,
                    Scope::Account => {
                        r.event.account_id == *account && r.account_prev_hash == *hash
                    }
                };
                if !linked {
                    return Err(fault(&format!(
                        "it does not link to the record before it (seq {seq}): a record between \
                         them was removed or changed"
                    )));
                }
            }
        }
        self.last = Some((r.seq, r.hash.clone(), r.event.account_id.clone()));
        self.records += 1;
        Ok(())
    }

    /// Checks that the last record pushed is the expected end (`seq` 0: no records).
    pub fn check_end(&self, seq: i64, hash: &[u8]) -> Result<(), ChainFault> {
        let (last_seq, last_hash) = match &self.last {
            Some((s, h, _)) => (*s, h.as_slice()),
            None => (0, GENESIS_HASH.as_slice()),
        };
        if last_seq != seq || last_hash != hash {
            return Err(ChainFault {
                seq: last_seq,
                problem: format!(
                    "the records end at seq {last_seq}, the head is seq {seq}: records at the \
                     end were removed or the head was changed"
                ),
            });
        }
        Ok(())
    }

    /// The report so far, with `fault` if one was found.
    pub fn report(&self, fault: Option<ChainFault>) -> ChainReport {
        let (last_seq, last_hash) = match &self.last {
            Some((s, h, _)) => (*s, h.clone()),
            None => (0, GENESIS_HASH.to_vec()),
        };
        ChainReport {
            checkpoints: 0,
            last_checkpoint_seq: 0,
            records: self.records,
            last_seq,
            last_hash,
            fault,
        }
    }
}

/// Groups records by account and verifies each account's slice on its own (a test helper for
/// callers that hold a whole chain; also what an account's export must pass).
pub fn verify_accounts(records: &[AuditRecord]) -> Result<(), ChainFault> {
    let mut by_account: HashMap<&str, Vec<&AuditRecord>> = HashMap::new();
    for r in records {
        by_account.entry(&r.event.account_id).or_default().push(r);
    }
    for slice in by_account.values() {
        let mut v = ChainVerifier::new(Scope::Account, true);
        for r in slice {
            v.push(r)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(account: &str, n: i64) -> NewAuditEvent {
        NewAuditEvent {
            time: 1_700_000_000_000 + n,
            account_id: account.to_owned(),
            initiator: "user-1".into(),
            action: "kms.keys.wrap".into(),
            instance_id: "i1".into(),
            target: format!("/api/v2/keys/k{n}/actions/wrap"),
            outcome: "success".into(),
            reason_code: 200,
            correlation_id: format!("c{n}"),
            source_address: "10.0.0.1".into(),
        }
    }

    /// A chain as the store builds it: `accounts[i]` is the account of record i + 1.
    fn chain(accounts: &[&str]) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        let mut heads: HashMap<String, Vec<u8>> = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            let seq = i64::try_from(i).unwrap() + 1;
            let prev = out
                .last()
                .map_or_else(|| GENESIS_HASH.to_vec(), |r| r.hash.clone());
            let account_prev = heads
                .get(*a)
                .cloned()
                .unwrap_or_else(|| GENESIS_HASH.to_vec());
            let r = AuditRecord::chain(seq, event(a, seq), prev, account_prev);
            heads.insert((*a).to_owned(), r.hash.clone());
            out.push(r);
        }
        out
    }

    fn verify(records: &[AuditRecord], scope: Scope) -> Result<(), ChainFault> {
        let mut v = ChainVerifier::new(scope, true);
        for r in records {
            v.push(r)?;
        }
        Ok(())
    }

    fn slice(records: &[AuditRecord], account: &str) -> Vec<AuditRecord> {
        records
            .iter()
            .filter(|r| r.event.account_id == account)
            .cloned()
            .collect()
    }

    #[test]
    fn an_untouched_chain_and_its_account_slices_verify() {
        let records = chain(&["a", "b", "a", "a", "b", "c"]);
        verify(&records, Scope::Chain).unwrap();
        for account in ["a", "b", "c"] {
            verify(&slice(&records, account), Scope::Account).unwrap();
        }
        verify_accounts(&records).unwrap();
        let mut v = ChainVerifier::new(Scope::Chain, true);
        for r in &records {
            v.push(r).unwrap();
        }
        v.check_end(6, &records[5].hash).unwrap();
        assert_eq!(v.check_end(7, &records[5].hash).unwrap_err().seq, 6);
    }

    #[test]
    fn an_edited_record_fails_its_hash() {
        let mut records = chain(&["a", "b", "a", "a"]);
        records[2].event.outcome = "failure".into();
        let fault = verify(&records, Scope::Chain).unwrap_err();
        assert_eq!(fault.seq, 3);
        assert!(fault.problem.contains("edited"), "{fault}");
        let fault = verify(&slice(&records, "a"), Scope::Account).unwrap_err();
        assert_eq!(fault.seq, 3);
        // Every field counts, the seq and the links too.
        let mut records = chain(&["a", "a"]);
        records[1].seq = 7;
        assert_eq!(verify(&records, Scope::Chain).unwrap_err().seq, 7);
    }

    #[test]
    fn a_removed_record_breaks_the_link() {
        // b's record between two of a's: the chain no longer links, though a's records do.
        let records3 = chain(&["a", "b", "a"]);
        let mut removed3 = records3.clone();
        removed3.remove(1);
        assert_eq!(verify(&removed3, Scope::Chain).unwrap_err().seq, 3);
        let records = chain(&["a", "b", "a", "a", "b"]);
        let mut removed = records.clone();
        removed.remove(2);
        let fault = verify(&removed, Scope::Chain).unwrap_err();
        assert_eq!(fault.seq, 4);
        assert!(fault.problem.contains("removed"), "{fault}");
        // From an account's slice: a's second record gone.
        let mut a = slice(&records, "a");
        a.remove(1);
        assert_eq!(verify(&a, Scope::Account).unwrap_err().seq, 4);
        // The first record gone: the start is missing.
        let fault = verify(&records[1..], Scope::Chain).unwrap_err();
        assert_eq!(fault.seq, 2);
        assert_eq!(
            verify(&slice(&records, "a")[1..], Scope::Account)
                .unwrap_err()
                .seq,
            3
        );
    }

    #[test]
    fn reordered_records_are_out_of_order() {
        let records = chain(&["a", "a", "a", "a"]);
        let mut swapped = records.clone();
        swapped.swap(1, 2);
        // [1, 3, 2, 4]: 3 is the first out of place.
        let fault = verify(&swapped, Scope::Chain).unwrap_err();
        assert_eq!(fault.seq, 3);
        assert_eq!(verify(&swapped, Scope::Account).unwrap_err().seq, 3);
        // The first two swapped: [2, 1, ...] does not start the chain.
        let mut swapped = records.clone();
        swapped.swap(0, 1);
        assert_eq!(verify(&swapped, Scope::Chain).unwrap_err().seq, 2);
        // A record moved back past its neighbour goes backwards in seq.
        let mut v = ChainVerifier::new(Scope::Chain, true);
        v.push(&records[0]).unwrap();
        v.push(&records[1]).unwrap();
        let fault = v.push(&records[0]).unwrap_err();
        assert!(fault.problem.contains("order"), "{fault}");
    }

    #[test]
    fn a_rehashed_record_still_breaks_the_next_link() {
        // Edited and its own hash recomputed: the record after it no longer links.
        let mut records = chain(&["a", "b", "a", "b"]);
        records[1].event.target = "/elsewhere".into();
        records[1].hash = records[1].compute_hash().to_vec();
        assert_eq!(verify(&records, Scope::Chain).unwrap_err().seq, 3);
    }

    proptest! {
        /// Any edit, removal or swap anywhere in any chain is detected, at or before the
        /// record it touched.
        #[test]
        fn tampering_is_always_detected(
            accounts in proptest::collection::vec(0u8..3, 2..24),
            pick in any::<prop::sample::Index>(),
            how in 0u8..3,
        ) {
            let names: Vec<&str> = accounts.iter().map(|a| ["a", "b", "c"][usize::from(*a)]).collect();
            let mut records = chain(&names);
            let i = pick.index(records.len() - 1);
            match how {
                0 => records[i].event.reason_code += 1,
                1 => { records.remove(i); }
                _ => records.swap(i, i + 1),
            }
            prop_assert!(verify(&records, Scope::Chain).is_err());
        }

        /// The same for an account's slice.
        #[test]
        fn tampering_with_an_account_slice_is_always_detected(
            accounts in proptest::collection::vec(0u8..2, 4..24),
            pick in any::<prop::sample::Index>(),
            how in 0u8..3,
        ) {
            let names: Vec<&str> = accounts.iter().map(|a| ["a", "b"][usize::from(*a)]).collect();
            let records = chain(&names);
            let mut a = slice(&records, "a");
            prop_assume!(a.len() >= 2);
            let i = pick.index(a.len() - 1);
            match how {
                0 => a[i].event.initiator.push('x'),
                1 => { a.remove(i); }
                _ => a.swap(i, i + 1),
            }
            // Removing the last record is caught by the end check (the export's header).
            let end = records.iter().rev().find(|r| r.event.account_id == "a").unwrap();
            let mut v = ChainVerifier::new(Scope::Account, true);
            let pushed = a.iter().try_for_each(|r| v.push(r));
            prop_assert!(pushed.is_err() || v.check_end(end.seq, &end.hash).is_err());
        }
    }

    #[tokio::test]
    async fn a_full_spool_refuses_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            arca_store::SqliteStore::open(&dir.path().join("a.db"))
                .await
                .unwrap(),
        );
        let clock = Arc::new(crate::SystemClock);
        let audit = AuditService::new(
            store.clone(),
            Arc::new(arca_keystore::ShamirKeystore::new()),
            clock,
            AuditSettings {
                spool_capacity: 2,
                ..Default::default()
            },
        );
        let (p1, p2) = (audit.reserve().unwrap(), audit.reserve().unwrap());
        assert!(matches!(
            audit.reserve(),
            Err(ServiceError::AuditUnavailable(_))
        ));
        let s = audit.status();
        assert_eq!((s.backlog, s.refused, s.healthy()), (2, 1, false));
        p1.submit_durable(event("a", 1)).await.unwrap();
        p2.submit(event("a", 2));
        audit.flush().await;
        assert!(audit.status().healthy());
        assert_eq!(audit.status().committed, 2);
        let stored = store
            .list_audit_events(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        verify(&stored, Scope::Chain).unwrap();
    }
}
