//! What the REST API needs from the schema:
//!
//! - `idempotency_keys`: one row per `Idempotency-Key` of `POST /memories`, inserted *first*
//!   (`ON CONFLICT DO NOTHING`), so two concurrent requests with one key can never both run;
//!   the first response is stored on the row and replayed to retries.
//! - `memory_labels`: the labels of `memories.labels` (a JSON array) as rows, kept in sync by
//!   triggers on both backends, so `top_labels` is a `GROUP BY` over an index instead of parsing
//!   every memory's JSON.
//! - Indexes for keyset listing (`occurred_at, id`) and the analytics aggregates, so both
//!   answer in milliseconds at 100,000 interactions (see `bench/api.sh`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Key,
    RequestHash,
    Status,
    Body,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum MemoryLabels {
    Table,
    MemoryId,
    UserId,
    Label,
}

#[derive(DeriveIden)]
enum Memories {
    Table,
    Id,
    UserId,
    Kind,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Interactions {
    Table,
    UserId,
    Direction,
    Kind,
    OccurredAt,
    CreatedAt,
    Id,
}

/// The listing and analytics indexes on `memories`.
fn memories_indexes() -> [IndexCreateStatement; 4] {
    [
        index(
            "ix_memories_user_occurred_id",
            [Memories::UserId, Memories::OccurredAt, Memories::Id],
        ),
        index("ix_memories_occurred_id", [Memories::OccurredAt, Memories::Id]),
        index(
            "ix_memories_user_kind_occurred_id",
            [Memories::UserId, Memories::Kind, Memories::OccurredAt, Memories::Id],
        ),
        index("ix_memories_kind_occurred_id", [Memories::Kind, Memories::OccurredAt, Memories::Id]),
    ]
}

/// The listing and analytics indexes on `interactions`.
fn interactions_indexes() -> [IndexCreateStatement; 5] {
    [
        index("ix_interactions_occurred_id", [Interactions::OccurredAt, Interactions::Id]),
        index("ix_interactions_direction_kind", [Interactions::Direction, Interactions::Kind]),
        index(
            "ix_interactions_user_direction_kind",
            [Interactions::UserId, Interactions::Direction, Interactions::Kind],
        ),
        index(
            "ix_interactions_direction_created",
            [Interactions::Direction, Interactions::CreatedAt],
        ),
        index(
            "ix_interactions_user_direction_created",
            [Interactions::UserId, Interactions::Direction, Interactions::CreatedAt],
        ),
    ]
}

const PG_LABELS_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION mnemo_sync_memory_labels() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM memory_labels WHERE memory_id = OLD.id;
    END IF;
    IF json_typeof(NEW.labels) = 'array' THEN
        INSERT INTO memory_labels (memory_id, user_id, label)
        SELECT DISTINCT NEW.id, NEW.user_id, l
        FROM json_array_elements_text(NEW.labels) AS l
        WHERE l <> ''
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"#;

/// PostgreSQL: `memory_labels` follows `memories.labels` through a trigger, and is filled from
/// the memories already there.
const PG_LABELS_SYNC: [&str; 3] = [
    PG_LABELS_FUNCTION,
    "CREATE TRIGGER memories_labels_sync AFTER INSERT OR UPDATE OF labels ON memories \
     FOR EACH ROW EXECUTE FUNCTION mnemo_sync_memory_labels()",
    "INSERT INTO memory_labels (memory_id, user_id, label) \
     SELECT DISTINCT m.id, m.user_id, l FROM memories m, json_array_elements_text(m.labels) AS l \
     WHERE json_typeof(m.labels) = 'array' AND l <> '' ON CONFLICT DO NOTHING",
];

/// [`PG_LABELS_SYNC`] for SQLite: a trigger for inserts, one for updates, and the backfill.
const SQLITE_LABELS_SYNC: [&str; 3] = [
    "CREATE TRIGGER memories_labels_ai AFTER INSERT ON memories WHEN json_valid(new.labels) BEGIN \
     INSERT OR IGNORE INTO memory_labels (memory_id, user_id, label) \
     SELECT new.id, new.user_id, value FROM json_each(new.labels) WHERE type = 'text' AND value <> ''; END",
    "CREATE TRIGGER memories_labels_au AFTER UPDATE OF labels ON memories BEGIN \
     DELETE FROM memory_labels WHERE memory_id = old.id; \
     INSERT OR IGNORE INTO memory_labels (memory_id, user_id, label) \
     SELECT new.id, new.user_id, value FROM json_each(CASE WHEN json_valid(new.labels) THEN new.labels ELSE '[]' END) \
     WHERE type = 'text' AND value <> ''; END",
    "INSERT OR IGNORE INTO memory_labels (memory_id, user_id, label) \
     SELECT m.id, m.user_id, j.value FROM memories m, json_each(m.labels) j \
     WHERE json_valid(m.labels) AND j.type = 'text' AND j.value <> ''",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string(IdempotencyKeys::Key).primary_key())
                .col(string(IdempotencyKeys::RequestHash))
                // NULL while the first request is still running.
                .col(integer_null(IdempotencyKeys::Status))
                .col(text_null(IdempotencyKeys::Body))
                .col(ts(IdempotencyKeys::CreatedAt))
                .col(ts_null(IdempotencyKeys::CompletedAt)),
            [index("ix_idempotency_keys_created", [IdempotencyKeys::CreatedAt])],
        )
        .await?;

        create_table(
            m,
            Table::create()
                .table(MemoryLabels::Table)
                .col(uuid(MemoryLabels::MemoryId))
                .col(uuid(MemoryLabels::UserId))
                .col(string(MemoryLabels::Label))
                .primary_key(Index::create().col(MemoryLabels::MemoryId).col(MemoryLabels::Label))
                .foreign_key(&mut owned_by_memory(MemoryLabels::Table, MemoryLabels::MemoryId))
                .foreign_key(&mut owned_by_user(MemoryLabels::Table, MemoryLabels::UserId)),
            [
                index("ix_memory_labels_label", [MemoryLabels::Label]),
                index("ix_memory_labels_user_label", [MemoryLabels::UserId, MemoryLabels::Label]),
            ],
        )
        .await?;

        create_indexes(m, Memories::Table, memories_indexes()).await?;
        create_indexes(m, Interactions::Table, interactions_indexes()).await?;

        match m.get_database_backend() {
            DbBackend::Postgres => execute(m, PG_LABELS_SYNC).await,
            DbBackend::Sqlite => execute(m, SQLITE_LABELS_SYNC).await,
            other => Err(unsupported(other)),
        }
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let triggers: &[&str] = match m.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS memories_labels_sync ON memories",
                "DROP FUNCTION IF EXISTS mnemo_sync_memory_labels()",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS memories_labels_ai",
                "DROP TRIGGER IF EXISTS memories_labels_au",
            ],
        };
        execute(m, triggers).await?;
        drop_indexes(m, Memories::Table, memories_indexes()).await?;
        drop_indexes(m, Interactions::Table, interactions_indexes()).await?;
        drop_tables(m, [MemoryLabels::Table.into_iden(), IdempotencyKeys::Table.into_iden()]).await
    }
}
