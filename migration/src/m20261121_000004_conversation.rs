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
        create_table(
            m,
            Table::create()
                .table(ConversationState::Table)
                .col(uuid_pk(ConversationState::UserId))
                // JSON array of memory ids, numbered from `shown_start`.
                .col(json(ConversationState::Shown))
                .col(integer(ConversationState::ShownStart).default(1))
                .col(string_null(ConversationState::ListKind))
                .col(ts_null(ConversationState::ListStart))
                .col(ts_null(ConversationState::ListEnd))
                .col(string_null(ConversationState::ListLabel))
                .col(ts_null(ConversationState::ListCursorAt))
                .col(uuid_null(ConversationState::ListCursorId))
                .col(uuid_null(ConversationState::LastInteractionId))
                .col(text_null(ConversationState::LastReply))
                .col(text_null(ConversationState::LastMediaUrl))
                .col(ts(ConversationState::UpdatedAt))
                .foreign_key(&mut owned_by_user(
                    ConversationState::Table,
                    ConversationState::UserId,
                )),
            [],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, ConversationState::Table).await
    }
}
