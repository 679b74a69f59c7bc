//! [`ClusterStore`] on PostgreSQL: LISTEN on `arca_changes` (fed by the triggers of migration
//! 0016) and a session-level advisory lock for the jobs' leader.

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgListener};

use super::{PostgresStore, db};
use crate::StoreResult;
use crate::cluster::{Change, ChangeFeed, ClusterStore, FeedEvent, Leadership};

/// The notification channel the triggers announce on.
const CHANNEL: &str = "arca_changes";
/// The advisory lock the jobs' leader holds ("ARCAJOBS" in ASCII).
const JOBS_LOCK: i64 = 0x4152_4341_4A4F_4253;

struct PgChangeFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> StoreResult<FeedEvent> {
        // `None`: the connection was lost; the listener re-connects and LISTENs again on the
        // next call, and whatever was committed in between was not heard. A payload that is not
        // ours (someone NOTIFYing on the channel by hand) is treated the same way: be safe.
        Ok(match self.listener.try_recv().await.map_err(db)? {
            Some(n) => Change::parse(n.payload()).map_or(FeedEvent::Resync, FeedEvent::Changed),
            None => FeedEvent::Resync,
        })
    }
}

/// The leader's own connection (outside the pool): the lock lives as long as it does.
struct PgLeadership {
    conn: PgConnection,
}

#[async_trait]
impl Leadership for PgLeadership {
    async fn still_leading(&mut self) -> bool {
        // The lock belongs to this session: if the session is alive, it still holds it.
        self.conn.ping().await.is_ok()
    }
}

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn watch_changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        let mut listener = PgListener::connect_with(&self.pool).await.map_err(db)?;
        // Re-connect at once after a loss, so the gap in which changes go unheard is short.
        listener.eager_reconnect(true);
        listener.listen(CHANNEL).await.map_err(db)?;
        Ok(Some(Box::new(PgChangeFeed { listener })))
    }

    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Leadership>>> {
        let mut conn = self.pool.acquire().await.map_err(db)?.detach();
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(JOBS_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(db)?;
        if got {
            Ok(Some(Box::new(PgLeadership { conn })))
        } else {
            // Another session leads; this connection is closed on drop.
            Ok(None)
        }
    }
}
