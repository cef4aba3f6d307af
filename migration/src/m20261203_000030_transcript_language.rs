//! `interactions.transcript_language`: the language of a voice note's transcript (ISO 639-1,
//! e.g. `en`), detected by a multilingual Whisper model or `en` for an English-only one;
//! NULL when not transcribed or when the transcription API does not say.

use sea_orm_migration::prelude::*;

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
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .add_column(
                    ColumnDef::new(Interactions::TranscriptLanguage)
                        .string_len(16)
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Interactions::Table)
                .drop_column(Interactions::TranscriptLanguage)
                .to_owned(),
        )
        .await
    }
}
