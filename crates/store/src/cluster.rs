//! What nodes sharing one database need from it: a feed of the changes other nodes commit (so
//! caches stay coherent) and a leader election for the background jobs.
//!
//! SQLite serves one node, which is always the leader and has no one to hear from. PostgreSQL
//! announces every committed change of a cached row through a trigger (`NOTIFY arca_changes`,
//! transactional: sent at commit, never for a rolled-back change), and elects the leader with a
//! session-level advisory lock, which PostgreSQL releases as soon as the leader's connection
//! ends (a killed node's socket is closed by its kernel).

use async_trait::async_trait;

use crate::StoreResult;

/// A committed change of a row that nodes cache: the table and the id the caches are keyed by
/// (see the `0016_change_notifications` migration for which column each table announces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The table (`kp_keys`, `instances`, ...).
    pub table: String,
    /// The announced id (a key id, an instance id, a principal id, ...).
    pub id: String,
}

impl Change {
    /// Parses a notification payload (`<table>:<id>`).
    pub fn parse(payload: &str) -> Option<Self> {
        let (table, id) = payload.split_once(':')?;
        Some(Self {
            table: table.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// What a change feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A change committed by some node (this one included).
    Changed(Change),
    /// Changes may have been missed (the feed's connection was lost and is being re-made):
    /// everything cached must be dropped.
    Resync,
}

/// The changes committed by every node, in commit order.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next event.
    async fn next(&mut self) -> StoreResult<FeedEvent>;
}

/// The leadership of the background jobs, held until dropped (or until its connection ends).
#[async_trait]
pub trait Leadership: Send {
    /// Whether this node still leads: its lock's connection is alive. A node that lost it must
    /// stop running jobs at once, since another node may take over.
    async fn still_leading(&mut self) -> bool;
}

/// Coordination of the nodes sharing the store.
#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// Subscribes to committed changes; `None` when the backend serves a single node.
    async fn watch_changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>>;

    /// Tries to become the leader of the background jobs. `Some` when this node now leads
    /// (always, for a single-node backend); `None` when another node does.
    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Leadership>>>;
}

/// The leadership of the only node of a single-node backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoleNode;

#[async_trait]
impl Leadership for SoleNode {
    async fn still_leading(&mut self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            Change::parse("kp_keys:0b7c"),
            Some(Change {
                table: "kp_keys".into(),
                id: "0b7c".into()
            })
        );
        assert_eq!(Change::parse("instances:").unwrap().id, "");
        assert_eq!(Change::parse("garbage"), None);
    }
}
