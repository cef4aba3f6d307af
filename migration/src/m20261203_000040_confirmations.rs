//! `confirmations`: an action waiting for the user's YES (`/forget all`, DESIGN §12), one per
//! user; it counts only within a few minutes of `requested_at`.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Confirmations {
    Table,
    UserId,
    Action,
    RequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Confirmations::Table)
                .if_not_exists()
                .col(uuid_pk(Confirmations::UserId))
                .col(
                    ColumnDef::new(Confirmations::Action)
                        .string_len(32)
                        .not_null(),
                )
                .col(ts(Confirmations::RequestedAt))
                .foreign_key(&mut cascade(
                    Confirmations::Table,
                    Confirmations::UserId,
                    Users::Table,
                    Users::Id,
                ))
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
