//! `interactions`: the messages of both directions as the API and the console read them, and
//! the inbound rows a REST submission records (the webhook's own insert is `db.rs`'s).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Value};
use uuid::Uuid;

use crate::store::db::stmt;
use crate::store::entities::interaction;

/// The latest interactions, newest first (`occurred_at`, then id): one user's, or everyone's.
pub async fn recent(
    db: &impl ConnectionTrait,
    user_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<interaction::Model>, DbErr> {
    let (sql, values): (&str, Vec<Value>) = match user_id {
        Some(id) => (
            "SELECT * FROM interactions WHERE user_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2",
            vec![id.into(), limit.into()],
        ),
        None => (
            "SELECT * FROM interactions ORDER BY occurred_at DESC, id DESC LIMIT $1",
            vec![limit.into()],
        ),
    };
    interaction::Entity::find()
        .from_raw_sql(stmt(db, sql, values))
        .all(db)
        .await
}

/// One user's newest interactions, newest first (`occurred_at`, then id), at most `limit`;
/// only those recorded after `after` when given (the console's polling).
pub async fn conversation(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    after: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<interaction::Model>, DbErr> {
    let (sql, values): (String, Vec<Value>) = match after {
        Some(t) => (
            format!(
                "SELECT * FROM interactions WHERE user_id = $1 AND created_at > $2 \
                 ORDER BY occurred_at DESC, id DESC LIMIT {limit}"
            ),
            vec![user_id.into(), t.into()],
        ),
        None => (
            format!(
                "SELECT * FROM interactions WHERE user_id = $1 \
                 ORDER BY occurred_at DESC, id DESC LIMIT {limit}"
            ),
            vec![user_id.into()],
        ),
    };
    interaction::Entity::find()
        .from_raw_sql(stmt(db, &sql, values))
        .all(db)
        .await
}

/// Those of `ids` that belong to the user, in no particular order.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<interaction::Model>, DbErr> {
    interaction::Entity::find()
        .filter(interaction::Column::Id.is_in(ids))
        .filter(interaction::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// An inbound message submitted through the REST API (`message_sid` = `api:<id>`), recorded
/// like a WhatsApp message: `raw` holds the Twilio-shaped parameters.
#[derive(Debug, Clone)]
pub struct ApiInbound {
    pub id: Uuid,
    pub user_id: Uuid,
    pub message_sid: String,
    /// `text`, `image`, `audio`, …
    pub kind: String,
    pub body: String,
    pub raw: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// Recorded at (`created_at`, `updated_at`).
    pub now: DateTime<Utc>,
}

/// Records a text submission already `processed` (its memory is written in the same
/// transaction, see `memories::create_text`); `kind` is `text` whatever `msg.kind` says.
pub async fn record_processed_text(
    db: &impl ConnectionTrait,
    msg: &ApiInbound,
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, \
         occurred_at, created_at, updated_at, processed_at) \
         VALUES ($1, $2, $3, 'inbound', 'text', $4, 'processed', 0, $5, $6, $7, $7, $7)",
        vec![
            msg.id.into(),
            msg.user_id.into(),
            msg.message_sid.clone().into(),
            msg.body.clone().into(),
            Value::Json(Some(Box::new(msg.raw.clone()))),
            msg.occurred_at.into(),
            msg.now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records a media submission as `received`, for the worker to process like a WhatsApp message.
pub async fn record_received(db: &impl ConnectionTrait, msg: &ApiInbound) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, \
         occurred_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'inbound', $4, $5, 'received', 0, $6, $7, $8, $8)",
        vec![
            msg.id.into(),
            msg.user_id.into(),
            msg.message_sid.clone().into(),
            msg.kind.clone().into(),
            msg.body.clone().into(),
            Value::Json(Some(Box::new(msg.raw.clone()))),
            msg.occurred_at.into(),
            msg.now.into(),
        ],
    ))
    .await?;
    Ok(())
}
