//! `confirmations`: an action waiting for the user's YES (`/forget all`, DESIGN §12), one per
//! user; it counts only within a few minutes of `requested_at`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Confirmations {
    Table,
    UserId,
    Action,
    RequestedAt,
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
                .table(Confirmations::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Confirmations::UserId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Confirmations::Action)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Confirmations::RequestedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Confirmations::Table, Confirmations::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Confirmations::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
