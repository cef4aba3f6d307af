//! `interactions.transcript_language`: the language of a voice note's transcript (ISO 639-1,
//! e.g. `en`), detected by a multilingual Whisper model or `en` for an English-only one;
//! NULL when not transcribed or when the transcription API does not say.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Interactions {
    Table,
    TranscriptLanguage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let language = varchar_null(Interactions::TranscriptLanguage, 16);
        add_column(m, Interactions::Table, language).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_column(m, Interactions::Table, Interactions::TranscriptLanguage).await
    }
}
