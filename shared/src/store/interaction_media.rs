//! `interaction_media`: the attachments of messages, with the stored object each points at.

use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Value};
use uuid::Uuid;

use crate::store::db::stmt;

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
    let placeholders: Vec<String> = (1..=interaction_ids.len())
        .map(|i| format!("${i}"))
        .collect();
    let sql = format!(
        "SELECT im.interaction_id, im.position, im.content_type AS link_type, mo.sha256, \
         mo.content_type AS object_type, mo.size_bytes \
         FROM interaction_media im LEFT JOIN media_objects mo ON mo.id = im.media_object_id \
         WHERE im.interaction_id IN ({}) ORDER BY im.interaction_id, im.position",
        placeholders.join(", ")
    );
    let values: Vec<Value> = interaction_ids.iter().map(|id| (*id).into()).collect();
    Attachment::find_by_statement(stmt(db, &sql, values))
        .all(db)
        .await
}
