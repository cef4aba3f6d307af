//! Dead letters: inbound `interactions` whose processing ended `failed`, listed and retried by
//! an operator. A retry resets the row to `received`; the caller enqueues a fresh job.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::store::db::exec;
use crate::store::entities::interaction;

/// Failed inbound messages, most recently failed first, at most `limit`.
pub async fn failed(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<interaction::Model>, DbErr> {
    interaction::Entity::find()
        .filter(interaction::Column::Direction.eq(interaction::Direction::Inbound))
        .filter(interaction::Column::Status.eq(interaction::MessageStatus::Failed))
        .order_by_desc(interaction::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// The interaction with this id, whatever its direction and status.
pub async fn find(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<interaction::Model>, DbErr> {
    interaction::Entity::find_by_id(id).one(db).await
}

/// Puts a failed inbound message back to `received` with its attempts reset; `false` when it
/// was not `failed` (retried concurrently). Its reply, if Twilio refused it (no SID), goes back
/// to `sending` so the job sends it again; one Twilio accepted is left alone.
pub async fn retry(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "UPDATE interactions SET status = 'received', error = NULL, locked_until = NULL, \
             attempts = 0, updated_at = $2 WHERE id = $1 AND status = 'failed'",
        vec![id.into(), now.into()],
    )
    .await?;
    if res.rows_affected() != 1 {
        return Ok(false);
    }
    exec(
        db,
        "UPDATE interactions SET status = 'sending', error = NULL, error_code = NULL, \
         updated_at = $2 WHERE reply_to = $1 AND purpose = 'reply' AND status = 'failed' \
         AND message_sid IS NULL",
        vec![id.into(), now.into()],
    )
    .await?;
    Ok(true)
}
