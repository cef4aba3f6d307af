//! `confirmations`: one action per user waiting for their YES (`/forget all`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::store::db::{exec, run, value};

/// The action `/forget all` asks to confirm.
pub const FORGET_ALL: &str = "forget_all";

/// Records (or renews) that `action` waits for the user's YES since `at`.
pub async fn request(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    action: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "INSERT INTO confirmations (user_id, action, requested_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET action = excluded.action, requested_at = excluded.requested_at",
        vec![user_id.into(), action.into(), at.into()],
    )
    .await
}

/// The action waiting for the user's YES and when it was asked for.
pub async fn pending(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<(String, DateTime<Utc>)>, DbErr> {
    value::<(String, DateTime<Utc>)>(
        db,
        "SELECT action, requested_at FROM confirmations WHERE user_id = $1",
        vec![user_id.into()],
    )
    .await
}

/// Drops whatever waited for the user's answer.
pub async fn clear(db: &impl ConnectionTrait, user_id: Uuid) -> Result<(), DbErr> {
    exec(db, "DELETE FROM confirmations WHERE user_id = $1", vec![user_id.into()]).await?;
    Ok(())
}
