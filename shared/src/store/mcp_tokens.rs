//! `mcp_tokens`: bearer tokens that let an AI assistant reach one user's memories over MCP.
//!
//! A token is `mnemo_` + 32 random bytes in hex, shown once; only its SHA-256 is stored, so a
//! leaked database does not leak working tokens. A token names exactly one user.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::db::{exec, value};

/// What every token starts with (lets secret scanners recognise one).
pub const PREFIX: &str = "mnemo_";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a new token for the user; returns it (the only time it exists in clear).
pub async fn issue(db: &impl ConnectionTrait, user_id: Uuid) -> Result<String, DbErr> {
    let token = format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    exec(
        db,
        "INSERT INTO mcp_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        vec![Uuid::now_v7().into(), user_id.into(), hash(&token).into(), Utc::now().into()],
    )
    .await?;
    Ok(token)
}

/// The user a live (not revoked) token belongs to.
pub async fn user_of(db: &impl ConnectionTrait, token: &str) -> Result<Option<Uuid>, DbErr> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    value::<Uuid>(
        db,
        "SELECT user_id FROM mcp_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        vec![hash(token).into()],
    )
    .await
}

/// Revokes every live token of the user; returns how many.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    Ok(exec(
        db,
        "UPDATE mcp_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        vec![user_id.into(), Utc::now().into()],
    )
    .await?
    .rows_affected())
}
