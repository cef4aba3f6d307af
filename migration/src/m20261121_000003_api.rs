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
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

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

/// The listing and analytics indexes, by name.
fn indexes() -> Vec<(&'static str, IndexCreateStatement)> {
    vec![
        (
            "ix_memories_user_occurred_id",
            index(
                "ix_memories_user_occurred_id",
                Memories::Table,
                [Memories::UserId, Memories::OccurredAt, Memories::Id],
            ),
        ),
        (
            "ix_memories_occurred_id",
            index("ix_memories_occurred_id", Memories::Table, [Memories::OccurredAt, Memories::Id]),
        ),
        (
            "ix_memories_user_kind_occurred_id",
            index(
                "ix_memories_user_kind_occurred_id",
                Memories::Table,
                [Memories::UserId, Memories::Kind, Memories::OccurredAt, Memories::Id],
            ),
        ),
        (
            "ix_memories_kind_occurred_id",
            index(
                "ix_memories_kind_occurred_id",
                Memories::Table,
                [Memories::Kind, Memories::OccurredAt, Memories::Id],
            ),
        ),
        (
            "ix_interactions_occurred_id",
            index(
                "ix_interactions_occurred_id",
                Interactions::Table,
                [Interactions::OccurredAt, Interactions::Id],
            ),
        ),
        (
            "ix_interactions_direction_kind",
            index(
                "ix_interactions_direction_kind",
                Interactions::Table,
                [Interactions::Direction, Interactions::Kind],
            ),
        ),
        (
            "ix_interactions_user_direction_kind",
            index(
                "ix_interactions_user_direction_kind",
                Interactions::Table,
                [Interactions::UserId, Interactions::Direction, Interactions::Kind],
            ),
        ),
        (
            "ix_interactions_direction_created",
            index(
                "ix_interactions_direction_created",
                Interactions::Table,
                [Interactions::Direction, Interactions::CreatedAt],
            ),
        ),
        (
            "ix_interactions_user_direction_created",
            index(
                "ix_interactions_user_direction_created",
                Interactions::Table,
                [Interactions::UserId, Interactions::Direction, Interactions::CreatedAt],
            ),
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string(IdempotencyKeys::Key).primary_key())
                .col(string(IdempotencyKeys::RequestHash))
                // NULL while the first request is still running.
                .col(integer_null(IdempotencyKeys::Status))
                .col(text_null(IdempotencyKeys::Body))
                .col(ts(IdempotencyKeys::CreatedAt))
                .col(ts_null(IdempotencyKeys::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_idempotency_keys_created",
            IdempotencyKeys::Table,
            [IdempotencyKeys::CreatedAt],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemoryLabels::Table)
                .col(uuid(MemoryLabels::MemoryId))
                .col(uuid(MemoryLabels::UserId))
                .col(string(MemoryLabels::Label))
                .primary_key(Index::create().col(MemoryLabels::MemoryId).col(MemoryLabels::Label))
                .foreign_key(&mut cascade(
                    MemoryLabels::Table,
                    MemoryLabels::MemoryId,
                    Memories::Table,
                    Memories::Id,
                ))
                .foreign_key(&mut owned_by_user(MemoryLabels::Table, MemoryLabels::UserId))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_memory_labels_label", MemoryLabels::Table, [MemoryLabels::Label]))
            .await?;
        m.create_index(index(
            "ix_memory_labels_user_label",
            MemoryLabels::Table,
            [MemoryLabels::UserId, MemoryLabels::Label],
        ))
        .await?;

        for (_, index) in indexes() {
            m.create_index(index).await?;
        }

        let db = m.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(PG_LABELS_FUNCTION).await?;
                db.execute_unprepared(
                    "CREATE TRIGGER memories_labels_sync AFTER INSERT OR UPDATE OF labels ON memories \
                     FOR EACH ROW EXECUTE FUNCTION mnemo_sync_memory_labels()",
                )
                .await?;
                db.execute_unprepared(
                    "INSERT INTO memory_labels (memory_id, user_id, label) \
                     SELECT DISTINCT m.id, m.user_id, l FROM memories m, json_array_elements_text(m.labels) AS l \
                     WHERE json_typeof(m.labels) = 'array' AND l <> '' ON CONFLICT DO NOTHING",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                for sql in [
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
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS memories_labels_sync ON memories")
                    .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS mnemo_sync_memory_labels()").await?;
            }
            _ => {
                for sql in [
                    "DROP TRIGGER IF EXISTS memories_labels_ai",
                    "DROP TRIGGER IF EXISTS memories_labels_au",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        for (name, index) in indexes() {
            let table = if name.starts_with("ix_memories") { "memories" } else { "interactions" };
            drop(index);
            drop_index(m, name, Alias::new(table)).await?;
        }
        for table in [MemoryLabels::Table.into_iden(), IdempotencyKeys::Table.into_iden()] {
            drop_table(m, table).await?;
        }
        Ok(())
    }
}
