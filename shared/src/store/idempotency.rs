//! `idempotency_keys`: one row per `Idempotency-Key` of `POST /memories`, inserted *first*
//! (`ON CONFLICT DO NOTHING`) so two concurrent requests with one key never both run. The
//! protocol (replay, mismatch, take-over of an abandoned key) is the ingress's; these are its
//! statements.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Value};

use crate::store::db::{exec, one_as, run};

/// A key's row as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StoredKey {
    /// The fingerprint of the first request's body.
    pub request_hash: String,
    /// The first request's HTTP status, once it completed.
    pub status: Option<i32>,
    /// The first request's response body, once it completed.
    pub body: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Forgets every key created before `cutoff`.
pub async fn purge_before(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let res =
        exec(db, "DELETE FROM idempotency_keys WHERE created_at < $1", vec![cutoff.into()]).await?;
    Ok(res.rows_affected())
}

/// Inserts the key unless it exists: `true` when this call inserted it (and so owns it).
pub async fn reserve(
    db: &impl ConnectionTrait,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        vec![key.into(), request_hash.into(), now.into()],
    )
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The key's row, if it exists.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<StoredKey>, DbErr> {
    one_as::<StoredKey>(
        db,
        "SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE key = $1",
        vec![key.into()],
    )
    .await
}

/// Takes over a key left in progress (no response) since `seen_created_at`, restarting its
/// clock at `now`: `true` when this call took it (nobody else did in between).
pub async fn take_over(
    db: &impl ConnectionTrait,
    key: &str,
    seen_created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "UPDATE idempotency_keys SET created_at = $2 \
             WHERE key = $1 AND status IS NULL AND created_at = $3",
        vec![key.into(), now.into(), seen_created_at.into()],
    )
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Stores the response the key's request produced.
pub async fn complete(
    db: &impl ConnectionTrait,
    key: &str,
    status: u16,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE idempotency_keys SET status = $2, body = $3, completed_at = $4 WHERE key = $1",
        vec![key.into(), Value::Int(Some(status as i32)), body.into(), now.into()],
    )
    .await
}

/// Forgets a key still in progress (its request failed and created nothing).
pub async fn release(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    exec(db, "DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL", vec![key.into()])
        .await?;
    Ok(())
}
