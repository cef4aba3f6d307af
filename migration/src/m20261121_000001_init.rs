//! Users, interactions (inbound and outbound), media, memories and reminders.
//!
//! Every time is UTC. IDs are UUIDv7 made by the application. Deleting a user cascades to
//! everything of theirs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid_pk(Users::Id))
                .col(
                    ColumnDef::new(Users::Phone)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Users::WaId).string().null())
                .col(ColumnDef::new(Users::DisplayName).string().null())
                .col(ColumnDef::new(Users::Timezone).string().not_null())
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .col(ts_null(Users::LastInboundAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Interactions::Table)
                .col(uuid_pk(Interactions::Id))
                .col(ColumnDef::new(Interactions::UserId).uuid().not_null())
                // Twilio's MessageSid: unique for inbound (idempotency) and for sent replies.
                .col(
                    ColumnDef::new(Interactions::MessageSid)
                        .string()
                        .null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Interactions::Direction).string().not_null())
                .col(ColumnDef::new(Interactions::Kind).string().not_null())
                .col(ColumnDef::new(Interactions::Body).text().not_null())
                .col(ColumnDef::new(Interactions::Transcript).text().null())
                .col(ColumnDef::new(Interactions::Status).string().not_null())
                .col(ColumnDef::new(Interactions::Error).text().null())
                .col(ColumnDef::new(Interactions::ErrorCode).string().null())
                .col(
                    ColumnDef::new(Interactions::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ts_null(Interactions::LockedUntil))
                .col(ColumnDef::new(Interactions::ReplyTo).uuid().null())
                .col(ColumnDef::new(Interactions::Purpose).string().null())
                .col(ColumnDef::new(Interactions::MediaUrl).text().null())
                .col(ColumnDef::new(Interactions::Raw).json().null())
                .col(ts(Interactions::OccurredAt))
                .col(ts(Interactions::CreatedAt))
                .col(ts(Interactions::UpdatedAt))
                .col(ts_null(Interactions::ProcessedAt))
                .foreign_key(&mut cascade(
                    Interactions::Table,
                    Interactions::UserId,
                    Users::Table,
                    Users::Id,
                ))
                .foreign_key(&mut cascade(
                    Interactions::Table,
                    Interactions::ReplyTo,
                    Interactions::Table,
                    Interactions::Id,
                ))
                .to_owned(),
        )
        .await?;
        // At most one reply per interaction and purpose.
        m.create_index(unique_index(
            "ux_interactions_reply",
            Interactions::Table,
            [Interactions::ReplyTo, Interactions::Purpose],
        ))
        .await?;
        m.create_index(index(
            "ix_interactions_user_occurred",
            Interactions::Table,
            [Interactions::UserId, Interactions::OccurredAt],
        ))
        .await?;
        // The sweeper's scan: unfinished inbound work by age.
        m.create_index(index(
            "ix_interactions_status_updated",
            Interactions::Table,
            [Interactions::Status, Interactions::UpdatedAt],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MediaObjects::Table)
                .col(uuid_pk(MediaObjects::Id))
                .col(
                    ColumnDef::new(MediaObjects::Sha256)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(MediaObjects::SizeBytes)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MediaObjects::ContentType)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(MediaObjects::StorageKey).string().not_null())
                .col(
                    ColumnDef::new(MediaObjects::RefCount)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(MediaObjects::Phash).string().null())
                .col(ts(MediaObjects::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(InteractionMedia::Table)
                .col(uuid_pk(InteractionMedia::Id))
                .col(
                    ColumnDef::new(InteractionMedia::InteractionId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(InteractionMedia::MediaObjectId)
                        .uuid()
                        .null(),
                )
                .col(
                    ColumnDef::new(InteractionMedia::Position)
                        .integer()
                        .not_null(),
                )
                .col(ColumnDef::new(InteractionMedia::SourceUrl).text().null())
                .col(
                    ColumnDef::new(InteractionMedia::ContentType)
                        .string()
                        .null(),
                )
                .col(ColumnDef::new(InteractionMedia::DuplicateOf).uuid().null())
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
                )
                .to_owned(),
        )
        .await?;
        m.create_index(unique_index(
            "ux_interaction_media_position",
            InteractionMedia::Table,
            [InteractionMedia::InteractionId, InteractionMedia::Position],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Memories::Table)
                .col(uuid_pk(Memories::Id))
                .col(ColumnDef::new(Memories::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(Memories::InteractionId)
                        .uuid()
                        .null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Memories::Kind).string().not_null())
                .col(ColumnDef::new(Memories::Text).text().not_null())
                .col(ColumnDef::new(Memories::Labels).json().not_null())
                .col(ts(Memories::OccurredAt))
                .col(ts(Memories::CreatedAt))
                .col(ColumnDef::new(Memories::Engine).string().not_null())
                .col(
                    ColumnDef::new(Memories::Mem0Id)
                        .string()
                        .null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Memories::Mem0EventId).string().null())
                .foreign_key(&mut cascade(
                    Memories::Table,
                    Memories::UserId,
                    Users::Table,
                    Users::Id,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(Memories::Table, Memories::InteractionId)
                        .to(Interactions::Table, Interactions::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_memories_user_occurred",
            Memories::Table,
            [Memories::UserId, Memories::OccurredAt],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Reminders::Table)
                .col(uuid_pk(Reminders::Id))
                .col(ColumnDef::new(Reminders::UserId).uuid().not_null())
                .col(ColumnDef::new(Reminders::Text).text().not_null())
                .col(ts(Reminders::DueAt))
                .col(ColumnDef::new(Reminders::Timezone).string().not_null())
                .col(ColumnDef::new(Reminders::Recurrence).string().null())
                .col(ColumnDef::new(Reminders::Status).string().not_null())
                .col(ColumnDef::new(Reminders::SourceInteractionId).uuid().null())
                .col(ts_null(Reminders::SentAt))
                .col(ColumnDef::new(Reminders::Error).text().null())
                .col(ts(Reminders::CreatedAt))
                .col(ts(Reminders::UpdatedAt))
                .foreign_key(&mut cascade(
                    Reminders::Table,
                    Reminders::UserId,
                    Users::Table,
                    Users::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_reminders_status_due",
            Reminders::Table,
            [Reminders::Status, Reminders::DueAt],
        ))
        .await?;

        // Full-text search for the local memory engine.
        let db = m.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                for sql in [
                    "CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
                    "CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END",
                    "CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END",
                    "CREATE TRIGGER memories_fts_au AFTER UPDATE OF text ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            DbBackend::Postgres => {
                for sql in [
                    "ALTER TABLE memories ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
                    "CREATE INDEX ix_memories_search ON memories USING GIN (search)",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            other => return Err(unsupported(other)),
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            for sql in [
                "DROP TRIGGER IF EXISTS memories_fts_ai",
                "DROP TRIGGER IF EXISTS memories_fts_ad",
                "DROP TRIGGER IF EXISTS memories_fts_au",
                "DROP TABLE IF EXISTS memories_fts",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        for table in [
            Reminders::Table.into_iden(),
            Memories::Table.into_iden(),
            InteractionMedia::Table.into_iden(),
            MediaObjects::Table.into_iden(),
            Interactions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
