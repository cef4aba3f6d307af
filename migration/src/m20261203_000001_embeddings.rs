//! `memory_embeddings`: one sentence vector per memory, for recall by meaning (DESIGN §11).
//!
//! The vector is stored as little-endian `f32`s (`dim` of them) with the model that made it, so
//! a change of `EMBED_MODEL` is detected row by row and re-embedded by the backfill. Scoring is
//! an exact scan over one user's vectors (see `mnemo_shared::memory::vectors`), so no vector
//! extension is needed on either database.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MemoryEmbeddings {
    Table,
    MemoryId,
    UserId,
    Model,
    Dim,
    Vector,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            Table::create()
                .table(MemoryEmbeddings::Table)
                .if_not_exists()
                .col(uuid_pk(MemoryEmbeddings::MemoryId))
                .col(uuid(MemoryEmbeddings::UserId))
                .col(string(MemoryEmbeddings::Model))
                .col(integer(MemoryEmbeddings::Dim))
                .col(blob(MemoryEmbeddings::Vector))
                .col(ts(MemoryEmbeddings::UpdatedAt))
                .foreign_key(&mut owned_by_memory(
                    MemoryEmbeddings::Table,
                    MemoryEmbeddings::MemoryId,
                ))
                .foreign_key(&mut owned_by_user(MemoryEmbeddings::Table, MemoryEmbeddings::UserId)),
            [index(
                "idx_memory_embeddings_user_model",
                [MemoryEmbeddings::UserId, MemoryEmbeddings::Model, MemoryEmbeddings::UpdatedAt],
            )],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MemoryEmbeddings::Table).to_owned()).await
    }
}
