//! Per-user conversation state: what the last `/list`, `/search` or answer showed (so
//! `/forget <n>` knows what *n* is), where `/list more` continues, and the reply to the last
//! stateful command keyed by its interaction (so a retried job answers the same and never
//! pages or deletes twice).

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConversationState {
    Table,
    UserId,
    Shown,
    ShownStart,
    ListKind,
    ListStart,
    ListEnd,
    ListLabel,
    ListCursorAt,
    ListCursorId,
    LastInteractionId,
    LastReply,
    LastMediaUrl,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConversationState::Table)
                .col(uuid_pk(ConversationState::UserId))
                // JSON array of memory ids, numbered from `shown_start`.
                .col(ColumnDef::new(ConversationState::Shown).json().not_null())
                .col(
                    ColumnDef::new(ConversationState::ShownStart)
                        .integer()
                        .not_null()
                        .default(1),
                )
                .col(ColumnDef::new(ConversationState::ListKind).string().null())
                .col(ts_null(ConversationState::ListStart))
                .col(ts_null(ConversationState::ListEnd))
                .col(ColumnDef::new(ConversationState::ListLabel).string().null())
                .col(ts_null(ConversationState::ListCursorAt))
                .col(
                    ColumnDef::new(ConversationState::ListCursorId)
                        .uuid()
                        .null(),
                )
                .col(
                    ColumnDef::new(ConversationState::LastInteractionId)
                        .uuid()
                        .null(),
                )
                .col(ColumnDef::new(ConversationState::LastReply).text().null())
                .col(
                    ColumnDef::new(ConversationState::LastMediaUrl)
                        .text()
                        .null(),
                )
                .col(ts(ConversationState::UpdatedAt))
                .foreign_key(&mut cascade(
                    ConversationState::Table,
                    ConversationState::UserId,
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
                .table(ConversationState::Table)
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
