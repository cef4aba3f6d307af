//! mnemo's schema as sea-orm-migration migrations. They run unchanged on SQLite (the embedded
//! default) and PostgreSQL (production); the few backend-specific parts (full-text search) branch
//! on the connection's backend inside the migration.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    DatabaseConnection, DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

mod ddl;
mod m20261121_000001_init;
mod m20261121_000003_api;
mod m20261121_000004_conversation;
mod m20261121_000005_reminders;
mod m20261121_000006_welcome;
mod m20261203_000001_embeddings;
mod m20261203_000002_memory_search_index;
mod m20261203_000020_user_order;
mod m20261203_000030_transcript_language;
mod m20261203_000040_confirmations;
mod m20261203_000041_mcp_tokens;
mod m20261203_000050_memory_versions;
mod m20261203_000060_labels_search;
pub mod seed;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_init::Migration),
            Box::new(m20261121_000003_api::Migration),
            Box::new(m20261121_000004_conversation::Migration),
            Box::new(m20261121_000005_reminders::Migration),
            Box::new(m20261121_000006_welcome::Migration),
            Box::new(m20261203_000001_embeddings::Migration),
            Box::new(m20261203_000002_memory_search_index::Migration),
            Box::new(m20261203_000020_user_order::Migration),
            Box::new(m20261203_000030_transcript_language::Migration),
            Box::new(m20261203_000040_confirmations::Migration),
            Box::new(m20261203_000041_mcp_tokens::Migration),
            Box::new(m20261203_000050_memory_versions::Migration),
            Box::new(m20261203_000060_labels_search::Migration),
        ]
    }
}

/// Applies all pending migrations.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    up(db, None).await
}

/// Applies the pending migrations (all, or the next `steps`).
///
/// On SQLite they run in one `IMMEDIATE` transaction, so on one connection of the pool: all or
/// none of them apply, and processes that start at once on one file take turns.
/// sea-orm-migration wraps a migration in a transaction only on PostgreSQL; on SQLite it hands
/// each statement to whichever pooled connection is free. A connection that last read the
/// schema before another one dropped a trigger still sees it in its cache, and `CREATE TRIGGER`
/// then fails with "trigger memories_fts_ai already exists" (seen once in CI on a fresh
/// database). PostgreSQL keeps one transaction per migration.
pub async fn up(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    migrate(db, Direction::Up, steps).await
}

/// Rolls back the last `steps` applied migrations (all with `None`); on SQLite in one
/// transaction, as [`up`] applies them.
pub async fn down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    migrate(db, Direction::Down, steps).await
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

async fn migrate(
    db: &DatabaseConnection,
    direction: Direction,
    steps: Option<u32>,
) -> Result<(), DbErr> {
    async fn on<'c>(
        c: impl IntoSchemaManagerConnection<'c>,
        direction: Direction,
        steps: Option<u32>,
    ) -> Result<(), DbErr> {
        match direction {
            Direction::Up => Migrator::up(c, steps).await,
            Direction::Down => Migrator::down(c, steps).await,
        }
    }
    if db.get_database_backend() != DbBackend::Sqlite {
        return on(db, direction, steps).await;
    }
    // IMMEDIATE takes the write lock at BEGIN: a second process migrating the same file waits
    // for it (the busy timeout) and then finds nothing pending. A deferred transaction would
    // read first, and its upgrade to a writer would fail at once with "database is locked".
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(immediate).await?;
    on(&txn, direction, steps).await?;
    txn.commit().await
}
