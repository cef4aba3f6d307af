//! `mcp_tokens`: per-user bearer tokens for the MCP server at `/mcp` (DESIGN §12). Only the
//! token's SHA-256 is stored; a revoked token keeps its row (`revoked_at`) for the record.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum McpTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            Table::create()
                .table(McpTokens::Table)
                .if_not_exists()
                .col(uuid_pk(McpTokens::Id))
                .col(uuid(McpTokens::UserId))
                .col(varchar(McpTokens::TokenHash, 64).unique_key())
                .col(ts(McpTokens::CreatedAt))
                .col(ts_null(McpTokens::RevokedAt))
                .foreign_key(&mut owned_by_user(McpTokens::Table, McpTokens::UserId)),
            [index("idx_mcp_tokens_user", [McpTokens::UserId])],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, McpTokens::Table).await
    }
}
