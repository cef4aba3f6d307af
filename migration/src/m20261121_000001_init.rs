//! Users, interactions (inbound and outbound), media, memories and reminders.
//!
//! Every time is UTC. IDs are UUIDv7 made by the application. Deleting a user cascades to
//! everything of theirs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Phone,
    WaId,
    DisplayName,
    Timezone,
    CreatedAt,
    UpdatedAt,
    LastInboundAt,
}

#[derive(DeriveIden)]
enum Interactions {
    Table,
    Id,
    UserId,
    MessageSid,
    Direction,
    Kind,
    Body,
    Transcript,
    Status,
    Error,
    ErrorCode,
    Attempts,
    LockedUntil,
    ReplyTo,
    Purpose,
    MediaUrl,
    Raw,
    OccurredAt,
    CreatedAt,
    UpdatedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum MediaObjects {
    Table,
    Id,
    Sha256,
    SizeBytes,
    ContentType,
    StorageKey,
    RefCount,
    Phash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InteractionMedia {
    Table,
    Id,
    InteractionId,
    MediaObjectId,
    Position,
    SourceUrl,
    ContentType,
    DuplicateOf,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memories {
    Table,
    Id,
    UserId,
    InteractionId,
    Kind,
    Text,
    Labels,
    OccurredAt,
    CreatedAt,
    Engine,
    Mem0Id,
    Mem0EventId,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    Id,
    UserId,
    Text,
    DueAt,
    Timezone,
    Recurrence,
    Status,
    SourceInteractionId,
    SentAt,
    Error,
    CreatedAt,
    UpdatedAt,
}

/// SQLite full text: an FTS5 table over `memories.text`, kept in step by triggers.
const SQLITE_FTS: [&str; 4] = [
    "CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END",
    "CREATE TRIGGER memories_fts_au AFTER UPDATE OF text ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END",
];

/// [`SQLITE_FTS`] undone.
const SQLITE_FTS_DROP: [&str; 4] = [
    "DROP TRIGGER IF EXISTS memories_fts_ai",
    "DROP TRIGGER IF EXISTS memories_fts_ad",
    "DROP TRIGGER IF EXISTS memories_fts_au",
    "DROP TABLE IF EXISTS memories_fts",
];

/// PostgreSQL full text: a generated `tsvector` over `memories.text` and its GIN index (both go
/// with the table).
const POSTGRES_FTS: [&str; 2] = [
    "ALTER TABLE memories ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX ix_memories_search ON memories USING GIN (search)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            Table::create()
                .table(Users::Table)
                .col(uuid_pk(Users::Id))
                .col(string(Users::Phone).unique_key())
                .col(string_null(Users::WaId))
                .col(string_null(Users::DisplayName))
                .col(string(Users::Timezone))
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .col(ts_null(Users::LastInboundAt)),
            [],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(Interactions::Table)
                .col(uuid_pk(Interactions::Id))
                .col(uuid(Interactions::UserId))
                // Twilio's MessageSid: unique for inbound (idempotency) and for sent replies.
                .col(string_null(Interactions::MessageSid).unique_key())
                .col(string(Interactions::Direction))
                .col(string(Interactions::Kind))
                .col(text(Interactions::Body))
                .col(text_null(Interactions::Transcript))
                .col(string(Interactions::Status))
                .col(text_null(Interactions::Error))
                .col(string_null(Interactions::ErrorCode))
                .col(integer(Interactions::Attempts).default(0))
                .col(ts_null(Interactions::LockedUntil))
                .col(uuid_null(Interactions::ReplyTo))
                .col(string_null(Interactions::Purpose))
                .col(text_null(Interactions::MediaUrl))
                .col(json_null(Interactions::Raw))
                .col(ts(Interactions::OccurredAt))
                .col(ts(Interactions::CreatedAt))
                .col(ts(Interactions::UpdatedAt))
                .col(ts_null(Interactions::ProcessedAt))
                .foreign_key(&mut owned_by_user(Interactions::Table, Interactions::UserId))
                .foreign_key(&mut cascade(
                    Interactions::Table,
                    Interactions::ReplyTo,
                    Interactions::Table,
                    Interactions::Id,
                )),
            [
                // At most one reply per interaction and purpose.
                unique_index(
                    "ux_interactions_reply",
                    [Interactions::ReplyTo, Interactions::Purpose],
                ),
                index(
                    "ix_interactions_user_occurred",
                    [Interactions::UserId, Interactions::OccurredAt],
                ),
                // The sweeper's scan: unfinished inbound work by age.
                index(
                    "ix_interactions_status_updated",
                    [Interactions::Status, Interactions::UpdatedAt],
                ),
            ],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(MediaObjects::Table)
                .col(uuid_pk(MediaObjects::Id))
                .col(string(MediaObjects::Sha256).unique_key())
                .col(big_integer(MediaObjects::SizeBytes))
                .col(string(MediaObjects::ContentType))
                .col(string(MediaObjects::StorageKey))
                .col(big_integer(MediaObjects::RefCount).default(0))
                .col(string_null(MediaObjects::Phash))
                .col(ts(MediaObjects::CreatedAt)),
            [],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(InteractionMedia::Table)
                .col(uuid_pk(InteractionMedia::Id))
                .col(uuid(InteractionMedia::InteractionId))
                .col(uuid_null(InteractionMedia::MediaObjectId))
                .col(integer(InteractionMedia::Position))
                .col(text_null(InteractionMedia::SourceUrl))
                .col(string_null(InteractionMedia::ContentType))
                .col(uuid_null(InteractionMedia::DuplicateOf))
                .col(ts(InteractionMedia::CreatedAt))
                .foreign_key(&mut cascade(
                    InteractionMedia::Table,
                    InteractionMedia::InteractionId,
                    Interactions::Table,
                    Interactions::Id,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(InteractionMedia::Table, InteractionMedia::MediaObjectId)
                        .to(MediaObjects::Table, MediaObjects::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                ),
            [unique_index(
                "ux_interaction_media_position",
                [InteractionMedia::InteractionId, InteractionMedia::Position],
            )],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(Memories::Table)
                .col(uuid_pk(Memories::Id))
                .col(uuid(Memories::UserId))
                .col(uuid_null(Memories::InteractionId).unique_key())
                .col(string(Memories::Kind))
                .col(text(Memories::Text))
                .col(json(Memories::Labels))
                .col(ts(Memories::OccurredAt))
                .col(ts(Memories::CreatedAt))
                .col(string(Memories::Engine))
                .col(string_null(Memories::Mem0Id).unique_key())
                .col(string_null(Memories::Mem0EventId))
                .foreign_key(&mut owned_by_user(Memories::Table, Memories::UserId))
                .foreign_key(
                    ForeignKey::create()
                        .from(Memories::Table, Memories::InteractionId)
                        .to(Interactions::Table, Interactions::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                ),
            [index("ix_memories_user_occurred", [Memories::UserId, Memories::OccurredAt])],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(Reminders::Table)
                .col(uuid_pk(Reminders::Id))
                .col(uuid(Reminders::UserId))
                .col(text(Reminders::Text))
                .col(ts(Reminders::DueAt))
                .col(string(Reminders::Timezone))
                .col(string_null(Reminders::Recurrence))
                .col(string(Reminders::Status))
                .col(uuid_null(Reminders::SourceInteractionId))
                .col(ts_null(Reminders::SentAt))
                .col(text_null(Reminders::Error))
                .col(ts(Reminders::CreatedAt))
                .col(ts(Reminders::UpdatedAt))
                .foreign_key(&mut owned_by_user(Reminders::Table, Reminders::UserId)),
            [index("ix_reminders_status_due", [Reminders::Status, Reminders::DueAt])],
        )
        .await?;

        // Full-text search for the local memory engine.
        match m.get_database_backend() {
            DbBackend::Sqlite => execute(m, SQLITE_FTS).await,
            DbBackend::Postgres => execute(m, POSTGRES_FTS).await,
            other => Err(unsupported(other)),
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Sqlite {
            execute(m, SQLITE_FTS_DROP).await?;
        }
        let tables = [
            Reminders::Table.into_iden(),
            Memories::Table.into_iden(),
            InteractionMedia::Table.into_iden(),
            MediaObjects::Table.into_iden(),
            Interactions::Table.into_iden(),
            Users::Table.into_iden(),
        ];
        drop_tables(m, tables).await
    }
}
