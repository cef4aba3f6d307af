//! `interaction_media`: the attachments of messages, with the stored object each points at
//! (linked once, counted once) and the earlier photo a new one nearly duplicates.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, TransactionTrait, Value,
};
use uuid::Uuid;

use crate::store::db::{all_as, exec, placeholders, run, value};
use crate::store::entities::interaction_media;

/// One attachment and, once the worker stored its bytes, its object.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Attachment {
    pub interaction_id: Uuid,
    /// The attachment's position in its message.
    pub position: i32,
    /// The content type the message announced.
    pub link_type: Option<String>,
    /// The stored object's SHA-256 (hex); `None` until it is stored.
    pub sha256: Option<String>,
    /// The stored object's content type.
    pub object_type: Option<String>,
    pub size_bytes: Option<i64>,
}

/// The attachments of these interactions, by interaction, then position. One query.
pub async fn of_interactions(
    db: &impl ConnectionTrait,
    interaction_ids: &[Uuid],
) -> Result<Vec<Attachment>, DbErr> {
    if interaction_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT im.interaction_id, im.position, im.content_type AS link_type, mo.sha256, \
         mo.content_type AS object_type, mo.size_bytes \
         FROM interaction_media im LEFT JOIN media_objects mo ON mo.id = im.media_object_id \
         WHERE im.interaction_id IN ({}) ORDER BY im.interaction_id, im.position",
        placeholders(1, interaction_ids.len())
    );
    let values: Vec<Value> = interaction_ids.iter().map(|id| (*id).into()).collect();
    all_as(db, &sql, values).await
}

/// The link row of attachment `position` of an interaction, created once (with no object
/// yet) and returned (None only if it is not visible yet).
pub async fn ensure_link(
    db: &impl ConnectionTrait,
    interaction_id: Uuid,
    position: i32,
    source_url: &str,
    content_type: &str,
    now: DateTime<Utc>,
) -> Result<Option<interaction_media::Model>, DbErr> {
    exec(
        db,
        "INSERT INTO interaction_media (id, interaction_id, media_object_id, position, source_url, content_type, created_at) \
         VALUES ($1, $2, NULL, $3, $4, $5, $6) ON CONFLICT (interaction_id, position) DO NOTHING",
        vec![
            Uuid::now_v7().into(),
            interaction_id.into(),
            position.into(),
            source_url.into(),
            content_type.into(),
            now.into(),
        ],
    )
    .await?;
    interaction_media::Entity::find()
        .filter(interaction_media::Column::InteractionId.eq(interaction_id))
        .filter(interaction_media::Column::Position.eq(position))
        .one(db)
        .await
}

/// Points an empty link at the object and counts the reference, in one transaction: true
/// when this call made the link (a link already made is left as it is).
pub async fn link_object(
    db: &DatabaseConnection,
    link_id: Uuid,
    object_id: Uuid,
    content_type: &str,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let set = exec(
        &txn,
        "UPDATE interaction_media SET media_object_id = $2, content_type = $3 \
             WHERE id = $1 AND media_object_id IS NULL",
        vec![link_id.into(), object_id.into(), content_type.into()],
    )
    .await?;
    let linked = set.rows_affected() == 1;
    if linked {
        exec(
            &txn,
            "UPDATE media_objects SET ref_count = ref_count + 1 WHERE id = $1",
            vec![object_id.into()],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(linked)
}

/// An earlier photo of a user, for near-duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct EarlierPhoto {
    pub link_id: Uuid,
    pub phash: String,
    pub occurred_at: DateTime<Utc>,
}

/// The user's photos with a perceptual hash from messages before `before` (the message
/// `interaction_id`, at `occurred_at`), newest first, at most 2,000.
pub async fn earlier_photos(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    interaction_id: Uuid,
    occurred_at: DateTime<Utc>,
) -> Result<Vec<EarlierPhoto>, DbErr> {
    all_as::<EarlierPhoto>(
        db,
        "SELECT im.id AS link_id, mo.phash AS phash, i.occurred_at AS occurred_at \
         FROM interaction_media im \
         JOIN interactions i ON i.id = im.interaction_id \
         JOIN media_objects mo ON mo.id = im.media_object_id \
         WHERE i.user_id = $1 AND im.interaction_id <> $2 AND mo.phash IS NOT NULL \
         AND (i.occurred_at < $3 OR (i.occurred_at = $3 AND i.id < $2)) \
         ORDER BY i.occurred_at DESC LIMIT 2000",
        vec![user_id.into(), interaction_id.into(), occurred_at.into()],
    )
    .await
}

/// When the message carrying this link was sent.
pub async fn occurred_at(
    db: &impl ConnectionTrait,
    link_id: Uuid,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    value::<DateTime<Utc>>(
        db,
        "SELECT i.occurred_at AS occurred_at FROM interaction_media im \
             JOIN interactions i ON i.id = im.interaction_id WHERE im.id = $1",
        vec![link_id.into()],
    )
    .await
}

/// Marks the link a near-duplicate of the earlier link `of`, once.
pub async fn mark_duplicate(
    db: &impl ConnectionTrait,
    link_id: Uuid,
    of: Uuid,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE interaction_media SET duplicate_of = $2 WHERE id = $1 AND duplicate_of IS NULL",
        vec![link_id.into(), of.into()],
    )
    .await
}
