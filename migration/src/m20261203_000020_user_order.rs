//! Per-user order (DESIGN §7): a worker claims a message only when no earlier message of the
//! same user is unfinished. A partial index over the unfinished inbound rows keeps that check
//! (and "the user's next waiting message") a short index scan however long the history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on SQLite and PostgreSQL (both have partial indexes).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS ix_interactions_unfinished_user \
                 ON interactions (user_id, created_at, id) \
                 WHERE direction = 'inbound' AND status IN ('received', 'processing')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_interactions_unfinished_user")
            .await?;
        Ok(())
    }
}
