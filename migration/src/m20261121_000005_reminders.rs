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
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Reminders::Table)
                .add_column(
                    ColumnDef::new(Reminders::LockedUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Reminders::Table)
                .add_column(
                    ColumnDef::new(Reminders::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(unique_index(
            "ux_reminders_source_interaction",
            Reminders::Table,
            [Reminders::SourceInteractionId],
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .add_column(ColumnDef::new(Interactions::ReminderId).uuid().null())
                .to_owned(),
        )
        .await?;
        m.create_index(unique_index(
            "ux_interactions_reminder_occurrence",
            Interactions::Table,
            [Interactions::ReminderId, Interactions::Purpose],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ux_interactions_reminder_occurrence")
                .table(Interactions::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .drop_column(Interactions::ReminderId)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ux_reminders_source_interaction")
                .table(Reminders::Table)
                .to_owned(),
        )
        .await?;
        for col in [Reminders::Attempts, Reminders::LockedUntil] {
            m.alter_table(
                Table::alter()
                    .table(Reminders::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
