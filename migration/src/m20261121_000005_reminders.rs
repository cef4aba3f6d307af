//! Reminders that are delivered exactly once, and delivery tracking for outbound messages.
//!
//! - `reminders.locked_until`: the scheduler's claim on a due reminder (status `sending`); an
//!   expired claim (worker killed) is taken over by the next scan.
//! - `reminders.attempts`: sends tried for the current occurrence.
//! - `reminders.source_interaction_id` unique: a retried chat job creates its reminder once.
//! - `interactions.reminder_id` + `purpose` unique: one outbound message per reminder
//!   occurrence (`purpose` = `reminder:<due_at>`), recorded before it is sent.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reminders {
    Table,
    LockedUntil,
    Attempts,
    SourceInteractionId,
}

#[derive(DeriveIden)]
enum Interactions {
    Table,
    ReminderId,
    Purpose,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, Reminders::Table, ts_null(Reminders::LockedUntil)).await?;
        add_column(m, Reminders::Table, integer(Reminders::Attempts).default(0)).await?;
        let source =
            unique_index("ux_reminders_source_interaction", [Reminders::SourceInteractionId]);
        create_indexes(m, Reminders::Table, [source]).await?;
        add_column(m, Interactions::Table, uuid_null(Interactions::ReminderId)).await?;
        let occurrence = unique_index(
            "ux_interactions_reminder_occurrence",
            [Interactions::ReminderId, Interactions::Purpose],
        );
        create_indexes(m, Interactions::Table, [occurrence]).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_index(m, "ux_interactions_reminder_occurrence", Interactions::Table).await?;
        drop_column(m, Interactions::Table, Interactions::ReminderId).await?;
        drop_index(m, "ux_reminders_source_interaction", Reminders::Table).await?;
        for col in [Reminders::Attempts, Reminders::LockedUntil] {
            drop_column(m, Reminders::Table, col).await?;
        }
        Ok(())
    }
}
