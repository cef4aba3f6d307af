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

use crate::ddl::*;

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let replied_to = varchar_null(Interactions::RepliedToSid, 64);
        add_column(m, Interactions::Table, replied_to).await?;
        create_table(
            m,
            Table::create()
                .table(MemoryVersions::Table)
                .if_not_exists()
                .col(uuid_pk(MemoryVersions::Id))
                .col(uuid(MemoryVersions::MemoryId))
                .col(integer(MemoryVersions::Version))
                .col(text(MemoryVersions::Text))
                .col(ts(MemoryVersions::ReplacedAt))
                .foreign_key(&mut owned_by_memory(MemoryVersions::Table, MemoryVersions::MemoryId)),
            [unique_index(
                "idx_memory_versions_memory_version",
                [MemoryVersions::MemoryId, MemoryVersions::Version],
            )],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, MemoryVersions::Table).await?;
        drop_column(m, Interactions::Table, Interactions::RepliedToSid).await
    }
}
