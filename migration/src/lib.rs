//! mnemo's schema as sea-orm-migration migrations. They run unchanged on SQLite (the embedded
//! default) and PostgreSQL (production); the few backend-specific parts (full-text search) branch
//! on the connection's backend inside the migration.

pub use sea_orm_migration::prelude::*;

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
pub async fn migrate_up(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
