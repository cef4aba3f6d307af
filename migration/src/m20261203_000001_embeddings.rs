//! `memory_embeddings`: one sentence vector per memory, for recall by meaning (DESIGN §11).
//!
//! The vector is stored as little-endian `f32`s (`dim` of them) with the model that made it, so
//! a change of `EMBED_MODEL` is detected row by row and re-embedded by the backfill. Scoring is
//! an exact scan over one user's vectors (see `mnemo_shared::memory::vectors`), so no vector
//! extension is needed on either database.

use sea_orm_migration::prelude::*;

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

#[derive(DeriveIden)]
enum Memories {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MemoryEmbeddings::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(MemoryEmbeddings::MemoryId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(MemoryEmbeddings::UserId).uuid().not_null())
                .col(ColumnDef::new(MemoryEmbeddings::Model).string().not_null())
                .col(ColumnDef::new(MemoryEmbeddings::Dim).integer().not_null())
                .col(ColumnDef::new(MemoryEmbeddings::Vector).blob().not_null())
                .col(
                    ColumnDef::new(MemoryEmbeddings::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(MemoryEmbeddings::Table, MemoryEmbeddings::MemoryId)
                        .to(Memories::Table, Memories::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(MemoryEmbeddings::Table, MemoryEmbeddings::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_memory_embeddings_user_model")
                .table(MemoryEmbeddings::Table)
                .col(MemoryEmbeddings::UserId)
                .col(MemoryEmbeddings::Model)
                .col(MemoryEmbeddings::UpdatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MemoryEmbeddings::Table).to_owned())
            .await
    }
}
