//! [`InstanceUpdateStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, db};
use crate::StoreResult;
use crate::instance_updates::InstanceUpdateStore;

#[async_trait]
impl InstanceUpdateStore for SqliteStore {
    async fn rename_instance(
        &self,
        instance_id: &str,
        name: &str,
        updated_at: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE instances SET name = ?, updated_at = ? WHERE id = ? AND state = 'active'",
        )
        .bind(name)
        .bind(updated_at)
        .bind(instance_id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn instance_updated_at(&self, instance_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT updated_at FROM instances WHERE id = ?")
            .bind(instance_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        match row {
            Some(r) => r.try_get::<Option<i64>, _>(0).map_err(db),
            None => Ok(None),
        }
    }
}
