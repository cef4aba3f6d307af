//! `users.welcomed_at`: when the user got the one-time welcome. Claimed with a conditional
//! UPDATE before the first reply is written, so two first messages processed at the same
//! moment welcome the user once. Users who already have a reply count as welcomed.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    WelcomedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, Users::Table, ts_null(Users::WelcomedAt)).await?;
        m.get_connection()
            .execute_unprepared(
                "UPDATE users SET welcomed_at = created_at WHERE EXISTS \
                 (SELECT 1 FROM interactions i WHERE i.user_id = users.id AND i.direction = 'outbound')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_column(m, Users::Table, Users::WelcomedAt).await
    }
}
