//! Full-text search covers a memory's labels as well as its text, so "work stuff since
//! November 9" finds the notes labelled `work` whose text never says so. SQLite: the FTS5
//! table gets a `labels` column (the JSON array's words) and is rebuilt; PostgreSQL: the
//! generated `search` vector is recomputed over text and labels, and its indexes rebuilt.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl::{execute, unsupported};

#[derive(DeriveMigrationName)]
pub struct Migration;

const FTS_TOKENIZE: &str = "tokenize='porter unicode61 remove_diacritics 2'";

/// The SQLite FTS5 table and its triggers over `columns` (`text` or `text, labels`).
fn sqlite_fts(columns: &[&str]) -> Vec<String> {
    let cols = columns.join(", ");
    let new: Vec<String> = columns.iter().map(|c| format!("new.{c}")).collect();
    let old: Vec<String> = columns.iter().map(|c| format!("old.{c}")).collect();
    let (new, old) = (new.join(", "), old.join(", "));
    vec![
        "DROP TRIGGER IF EXISTS memories_fts_ai".into(),
        "DROP TRIGGER IF EXISTS memories_fts_ad".into(),
        "DROP TRIGGER IF EXISTS memories_fts_au".into(),
        "DROP TABLE IF EXISTS memories_fts".into(),
        format!(
            "CREATE VIRTUAL TABLE memories_fts USING fts5({cols}, content='memories', content_rowid='rowid', {FTS_TOKENIZE})"
        ),
        format!(
            "CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN INSERT INTO memories_fts(rowid, {cols}) VALUES (new.rowid, {new}); END"
        ),
        format!(
            "CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old}); END"
        ),
        format!(
            "CREATE TRIGGER memories_fts_au AFTER UPDATE OF {cols} ON memories BEGIN INSERT INTO memories_fts(memories_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old}); INSERT INTO memories_fts(rowid, {cols}) VALUES (new.rowid, {new}); END"
        ),
        "INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')".into(),
    ]
}

/// The PostgreSQL `search` column over `source` and its two indexes (the per-user one only
/// where `btree_gin` is installed, as in `m20261203_000002`).
fn postgres_search(source: &str) -> Vec<String> {
    vec![
        "DROP INDEX IF EXISTS idx_memories_user_search".into(),
        "DROP INDEX IF EXISTS ix_memories_search".into(),
        "ALTER TABLE memories DROP COLUMN IF EXISTS search".into(),
        format!(
            "ALTER TABLE memories ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', {source})) STORED"
        ),
        "CREATE INDEX ix_memories_search ON memories USING GIN (search)".into(),
        "DO $$ BEGIN
           IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
             CREATE INDEX IF NOT EXISTS idx_memories_user_search ON memories USING gin (user_id, search);
           END IF;
         END $$"
            .into(),
    ]
}

async fn run(m: &SchemaManager<'_>, with_labels: bool) -> Result<(), DbErr> {
    let statements = match m.get_database_backend() {
        DbBackend::Sqlite if with_labels => sqlite_fts(&["text", "labels"]),
        DbBackend::Sqlite => sqlite_fts(&["text"]),
        DbBackend::Postgres if with_labels => {
            postgres_search("text || ' ' || coalesce(labels::text, '')")
        }
        DbBackend::Postgres => postgres_search("text"),
        other => return Err(unsupported(other)),
    };
    execute(m, statements).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, true).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, false).await
    }
}
