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
        create_table(
            m,
            Table::create()
                .table(Confirmations::Table)
                .if_not_exists()
                .col(uuid_pk(Confirmations::UserId))
                .col(varchar(Confirmations::Action, 32))
                .col(ts(Confirmations::RequestedAt))
                .foreign_key(&mut owned_by_user(Confirmations::Table, Confirmations::UserId)),
            [],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, Confirmations::Table).await
    }
}
