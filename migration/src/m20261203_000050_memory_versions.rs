//! Forgetting or correcting a memory by replying to it (DESIGN §12).
//!
//! - `interactions.replied_to_sid`: Twilio's `OriginalRepliedMessageSid` on an inbound message
//!   that quotes another (one of the user's own, or one of our replies); NULL otherwise. It is
//!   looked up through the quoted message's `message_sid` (already unique), so it needs no
//!   index of its own.
//! - `memory_versions`: the earlier texts of a corrected memory, one row per correction,
//!   numbered from 1 per memory (`version`, unique with `memory_id`, which is also the index
//!   `GET /memories/{id}` reads them by). They go with their memory (`ON DELETE CASCADE`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Interactions {
    Table,
    RepliedToSid,
}

#[derive(DeriveIden)]
enum MemoryVersions {
    Table,
    Id,
    MemoryId,
    Version,
    Text,
    ReplacedAt,
}

#[derive(DeriveIden)]
enum Memories {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .add_column(
                    ColumnDef::new(Interactions::RepliedToSid)
                        .string_len(64)
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MemoryVersions::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(MemoryVersions::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(MemoryVersions::MemoryId).uuid().not_null())
                .col(ColumnDef::new(MemoryVersions::Version).integer().not_null())
                .col(ColumnDef::new(MemoryVersions::Text).text().not_null())
                .col(
                    ColumnDef::new(MemoryVersions::ReplacedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(MemoryVersions::Table, MemoryVersions::MemoryId)
                        .to(Memories::Table, Memories::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_memory_versions_memory_version")
                .table(MemoryVersions::Table)
                .col(MemoryVersions::MemoryId)
                .col(MemoryVersions::Version)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(MemoryVersions::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .drop_column(Interactions::RepliedToSid)
                .to_owned(),
        )
        .await
    }
}
