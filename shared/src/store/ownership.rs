//! Owning one's memories (DESIGN §12), the queries: a user's memories page by page for the
//! export, imported memories written once each, and forgetting everything of a user's.
//!
//! Everything here is keyed by one user id, so one user's rows are never read or changed for
//! another.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, TransactionTrait, Value,
};
use serde_json::json;
use uuid::Uuid;

use crate::store::db::{all_as, grouped, stmt, value, values};
use crate::store::entities::{interaction, memory};
use crate::store::memories;

/// A stored attachment of a memory's source message.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StoredMedia {
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
}

/// One memory with what it came from, as the export writes it.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub memory: memory::Model,
    pub source: Option<interaction::Model>,
    pub media: Vec<StoredMedia>,
    /// Earlier texts (corrections), oldest first.
    pub versions: Vec<crate::store::memory_versions::Version>,
}

/// The user's memories after `after` (`(occurred_at, id)`), oldest first, at most `limit`.
/// Four queries, whatever the page size.
pub async fn export_page(
    db: &DatabaseConnection,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<ExportRow>, DbErr> {
    let (sql, values): (&str, Vec<Value>) = match after {
        Some((at, id)) => (
            "SELECT * FROM memories WHERE user_id = $1 AND (occurred_at, id) > ($2, $3) \
             ORDER BY occurred_at, id LIMIT $4",
            vec![user_id.into(), at.into(), id.into(), (limit as i64).into()],
        ),
        None => (
            "SELECT * FROM memories WHERE user_id = $1 ORDER BY occurred_at, id LIMIT $2",
            vec![user_id.into(), (limit as i64).into()],
        ),
    };
    let memories = memory::Entity::find().from_raw_sql(stmt(db, sql, values)).all(db).await?;
    let ids: Vec<Uuid> = memories.iter().filter_map(|m| m.interaction_id).collect();
    let mut sources: HashMap<Uuid, interaction::Model> = if ids.is_empty() {
        HashMap::new()
    } else {
        interaction::Entity::find()
            .filter(interaction::Column::Id.is_in(ids.clone()))
            .filter(interaction::Column::UserId.eq(user_id))
            .all(db)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect()
    };
    let mut media = media_by_interaction(db, &ids).await?;
    let memory_ids: Vec<Uuid> = memories.iter().map(|m| m.id).collect();
    let mut versions = crate::store::memory_versions::of_memories(db, &memory_ids).await?;
    Ok(memories
        .into_iter()
        .map(|m| {
            let source = m.interaction_id.and_then(|i| sources.remove(&i));
            let media = m.interaction_id.and_then(|i| media.remove(&i)).unwrap_or_default();
            let versions = versions.remove(&m.id).unwrap_or_default();
            ExportRow { memory: m, source, media, versions }
        })
        .collect())
}

async fn media_by_interaction(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StoredMedia>>, DbErr> {
    let sql = "SELECT im.interaction_id, mo.sha256, mo.content_type, mo.size_bytes, mo.storage_key \
               FROM interaction_media im JOIN media_objects mo ON mo.id = im.media_object_id \
               WHERE im.interaction_id IN ({ids}) ORDER BY im.interaction_id, im.position";
    grouped(db, sql, ids, |row: MediaOf| (row.interaction_id, row.media)).await
}

/// A stored attachment and the message it is attached to.
#[derive(FromQueryResult)]
struct MediaOf {
    interaction_id: Uuid,
    #[sea_orm(nested)]
    media: StoredMedia,
}

/// Every distinct stored object attached to one of the user's memories, by hash.
pub async fn export_media(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<Vec<StoredMedia>, DbErr> {
    all_as(
        db,
        "SELECT DISTINCT mo.sha256, mo.content_type, mo.size_bytes, mo.storage_key \
         FROM memories m \
         JOIN interaction_media im ON im.interaction_id = m.interaction_id \
         JOIN media_objects mo ON mo.id = im.media_object_id \
         WHERE m.user_id = $1 ORDER BY mo.sha256",
        vec![user_id.into()],
    )
    .await
}

/// One memory of an archive, ready to be written.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// The memory's id in the archive; with the user it makes the import's key.
    pub original_id: Uuid,
    pub kind: String,
    pub text: String,
    pub labels: Vec<String>,
    pub occurred_at: DateTime<Utc>,
    /// The source message's body and transcript, when the archive has them.
    pub body: Option<String>,
    pub transcript: Option<String>,
    /// Attachments already in the media store.
    pub media: Vec<StoredMedia>,
    /// Earlier texts (corrections), oldest first, with when each was replaced.
    pub versions: Vec<(String, DateTime<Utc>)>,
}

/// The source message id an imported memory gets: importing the same archive again for the
/// same user finds it and writes nothing.
pub fn import_sid(user_id: Uuid, original_id: Uuid) -> String {
    format!("import:{}:{}", user_id.simple(), original_id.simple())
}

/// Writes the items that are not there yet, all in one transaction (nothing on error).
/// Returns the new memory ids and how many items were already there. An item whose original
/// memory is this user's (an archive of the same database) counts as already there.
pub async fn import(
    db: &DatabaseConnection,
    user_id: Uuid,
    items: &[ImportItem],
    engine: &str,
) -> Result<(Vec<Uuid>, u64), DbErr> {
    let txn = crate::store::db::begin_for_user(db, user_id).await?;
    let now = Utc::now();
    let mut created = Vec::new();
    let mut skipped = 0;
    for item in items {
        let own = txn
            .query_one_raw(stmt(
                &txn,
                "SELECT 1 AS one FROM memories WHERE id = $1 AND user_id = $2",
                vec![item.original_id.into(), user_id.into()],
            ))
            .await?;
        if own.is_some() {
            skipped += 1;
            continue;
        }
        let sid = import_sid(user_id, item.original_id);
        let body = item.body.clone().unwrap_or_else(|| item.text.clone());
        // An earlier import's message stays after `/forget all` (emptied): it is reused.
        let earlier = txn
            .query_one_raw(stmt(
                &txn,
                "SELECT i.id AS id, (SELECT COUNT(*) FROM memories m WHERE m.interaction_id = i.id) AS n \
                 FROM interactions i WHERE i.message_sid = $1 AND i.user_id = $2",
                vec![sid.clone().into(), user_id.into()],
            ))
            .await?;
        let interaction_id = match earlier {
            Some(row) if row.try_get::<i64>("", "n")? > 0 => {
                skipped += 1;
                continue;
            }
            Some(row) => {
                let id: Uuid = row.try_get("", "id")?;
                txn.execute_raw(stmt(
                    &txn,
                    "UPDATE interactions SET kind = $2, body = $3, transcript = $4, updated_at = $5 WHERE id = $1",
                    vec![
                        id.into(),
                        item.kind.clone().into(),
                        body.into(),
                        item.transcript.clone().into(),
                        now.into(),
                    ],
                ))
                .await?;
                id
            }
            None => {
                let id = Uuid::now_v7();
                let inserted = txn
                    .execute_raw(stmt(
                        &txn,
                        "INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, transcript, \
                         status, attempts, raw, occurred_at, created_at, updated_at, processed_at) \
                         VALUES ($1, $2, $3, 'inbound', $4, $5, $6, 'processed', 0, $7, $8, $9, $9, $9) \
                         ON CONFLICT (message_sid) DO NOTHING",
                        vec![
                            id.into(),
                            user_id.into(),
                            sid.into(),
                            item.kind.clone().into(),
                            body.into(),
                            item.transcript.clone().into(),
                            Value::Json(Some(Box::new(
                                json!({"source": "import", "memory_id": item.original_id}),
                            ))),
                            item.occurred_at.into(),
                            now.into(),
                        ],
                    ))
                    .await?
                    .rows_affected();
                if inserted == 0 {
                    skipped += 1;
                    continue;
                }
                id
            }
        };
        let memory_id = Uuid::now_v7();
        txn.execute_raw(stmt(
            &txn,
            "INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                memory_id.into(),
                user_id.into(),
                interaction_id.into(),
                item.kind.clone().into(),
                item.text.clone().into(),
                Value::Json(Some(Box::new(json!(item.labels)))),
                item.occurred_at.into(),
                now.into(),
                engine.into(),
            ],
        ))
        .await?;
        crate::store::memory_versions::insert_imported(&txn, memory_id, &item.versions).await?;
        for (position, m) in item.media.iter().enumerate() {
            txn.execute_raw(stmt(
                &txn,
                "INSERT INTO media_objects (id, sha256, size_bytes, content_type, storage_key, ref_count, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (sha256) DO NOTHING",
                vec![
                    Uuid::now_v7().into(),
                    m.sha256.clone().into(),
                    m.size_bytes.into(),
                    m.content_type.clone().into(),
                    m.storage_key.clone().into(),
                    now.into(),
                ],
            ))
            .await?;
            let object = txn
                .query_one_raw(stmt(
                    &txn,
                    "SELECT id FROM media_objects WHERE sha256 = $1",
                    vec![m.sha256.clone().into()],
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("media object vanished".into()))?;
            let object_id: Uuid = object.try_get("", "id")?;
            txn.execute_raw(stmt(
                &txn,
                "INSERT INTO interaction_media (id, interaction_id, media_object_id, position, content_type, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    Uuid::now_v7().into(),
                    interaction_id.into(),
                    object_id.into(),
                    (position as i32).into(),
                    m.content_type.clone().into(),
                    now.into(),
                ],
            ))
            .await?;
            txn.execute_raw(stmt(
                &txn,
                "UPDATE media_objects SET ref_count = ref_count + 1 WHERE id = $1",
                vec![object_id.into()],
            ))
            .await?;
        }
        created.push(memory_id);
    }
    txn.commit().await?;
    Ok((created, skipped))
}

/// What forgetting everything removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub memories: u64,
    pub reminders: u64,
    /// Attachment references dropped (each lowered its object's count by one).
    pub media_references: u64,
    /// Storage keys of the objects no one references any more: their rows are gone, the
    /// caller removes the bytes from the store.
    pub orphaned_keys: Vec<String>,
}

/// The user's memories that the semantic engine (Mem0) holds: forget them there first.
pub async fn engine_held(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<Vec<memory::Model>, DbErr> {
    memory::Entity::find()
        .filter(memory::Column::UserId.eq(user_id))
        .filter(memory::Column::Mem0Id.is_not_null())
        .all(db)
        .await
}

/// Deletes everything of the user's content in one transaction: memories (and their vectors),
/// reminders, attachment links (lowering each object's count), conversation state, and the
/// text of their messages. The message rows stay, emptied, so analytics keep their counts; the
/// user stays (they may go on talking to mnemo). Objects whose count reaches 0 are deleted.
pub async fn forget_everything(db: &DatabaseConnection, user_id: Uuid) -> Result<Forgotten, DbErr> {
    let txn = crate::store::db::begin_for_user(db, user_id).await?;
    let uid = || -> Vec<Value> { vec![user_id.into()] };
    let objects: Vec<Uuid> = values(
        &txn,
        "SELECT DISTINCT im.media_object_id FROM interaction_media im \
         JOIN interactions i ON i.id = im.interaction_id \
         WHERE i.user_id = $1 AND im.media_object_id IS NOT NULL",
        uid(),
    )
    .await?;
    let refs: i64 = value(
        &txn,
        "SELECT COUNT(*) FROM interaction_media im JOIN interactions i ON i.id = im.interaction_id \
         WHERE i.user_id = $1 AND im.media_object_id IS NOT NULL",
        uid(),
    )
    .await?
    .unwrap_or(0);
    txn.execute_raw(stmt(
        &txn,
        "UPDATE media_objects SET ref_count = ref_count - (SELECT COUNT(*) FROM interaction_media im \
         JOIN interactions i ON i.id = im.interaction_id \
         WHERE i.user_id = $1 AND im.media_object_id = media_objects.id) \
         WHERE id IN (SELECT im.media_object_id FROM interaction_media im \
         JOIN interactions i ON i.id = im.interaction_id WHERE i.user_id = $1)",
        uid(),
    ))
    .await?;
    txn.execute_raw(stmt(
        &txn,
        "DELETE FROM interaction_media WHERE interaction_id IN (SELECT id FROM interactions WHERE user_id = $1)",
        uid(),
    ))
    .await?;
    txn.execute_raw(stmt(&txn, "DELETE FROM memory_embeddings WHERE user_id = $1", uid())).await?;
    let memories = txn
        .execute_raw(stmt(&txn, "DELETE FROM memories WHERE user_id = $1", uid()))
        .await?
        .rows_affected();
    txn.execute_raw(stmt(
        &txn,
        "UPDATE interactions SET reminder_id = NULL WHERE user_id = $1 AND reminder_id IS NOT NULL",
        uid(),
    ))
    .await?;
    let reminders = txn
        .execute_raw(stmt(&txn, "DELETE FROM reminders WHERE user_id = $1", uid()))
        .await?
        .rows_affected();
    txn.execute_raw(stmt(&txn, "DELETE FROM conversation_state WHERE user_id = $1", uid())).await?;
    txn.execute_raw(stmt(
        &txn,
        "UPDATE interactions SET body = '', transcript = NULL, raw = NULL, media_url = NULL, error = NULL \
         WHERE user_id = $1",
        uid(),
    ))
    .await?;
    let mut orphaned_keys = Vec::new();
    for id in objects {
        let gone = txn
            .query_one_raw(stmt(
                &txn,
                "SELECT storage_key FROM media_objects WHERE id = $1 AND ref_count <= 0",
                vec![id.into()],
            ))
            .await?;
        if let Some(row) = gone {
            txn.execute_raw(stmt(
                &txn,
                "DELETE FROM media_objects WHERE id = $1 AND ref_count <= 0",
                vec![id.into()],
            ))
            .await?;
            orphaned_keys.push(row.try_get("", "storage_key")?);
        }
    }
    txn.commit().await?;
    Ok(Forgotten { memories, reminders, media_references: refs as u64, orphaned_keys })
}

/// A text memory added by the user through another channel (`source`: `mcp`), with its own
/// inbound message row so it lists, exports and forgets like any other.
pub async fn add_text(
    db: &DatabaseConnection,
    user_id: Uuid,
    text: &str,
    labels: &[String],
    engine: &str,
    source: &str,
) -> Result<memory::Model, DbErr> {
    let now = Utc::now();
    let interaction_id = Uuid::now_v7();
    let memory_id = Uuid::now_v7();
    let txn = db.begin().await?;
    txn.execute_raw(stmt(
        &txn,
        "INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, \
         occurred_at, created_at, updated_at, processed_at) \
         VALUES ($1, $2, $3, 'inbound', 'text', $4, 'processed', 0, $5, $6, $6, $6, $6)",
        vec![
            interaction_id.into(),
            user_id.into(),
            format!("{source}:{interaction_id}").into(),
            text.into(),
            Value::Json(Some(Box::new(json!({"source": source})))),
            now.into(),
        ],
    ))
    .await?;
    txn.execute_raw(stmt(
        &txn,
        "INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine) \
         VALUES ($1, $2, $3, 'text', $4, $5, $6, $6, $7)",
        vec![
            memory_id.into(),
            user_id.into(),
            interaction_id.into(),
            text.into(),
            Value::Json(Some(Box::new(json!(labels)))),
            now.into(),
            engine.into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    memory::Entity::find_by_id(memory_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("memory vanished".into()))
}

/// The user's memories, newest first, optionally of one kind and inside `[start, end)`.
pub async fn list(
    db: &DatabaseConnection,
    user_id: Uuid,
    kind: Option<&str>,
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    limit: u64,
) -> Result<Vec<memory::Model>, DbErr> {
    let filter = memories::Filter::of_user(user_id, kind, range);
    memories::page(db, &filter, i64::try_from(limit).unwrap_or(i64::MAX)).await
}

/// These memories, if they are the user's (any other id is left out).
pub async fn owned(
    db: &DatabaseConnection,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<memory::Model>, DbErr> {
    memories::of_user(db, user_id, ids).await
}

/// Deletes one of the user's memories with its vector and attachment references, in one
/// transaction (see [`crate::store::memories::forget_one`]); None if it was not theirs or is
/// already gone. The caller removes the orphaned objects' bytes from the media store.
pub async fn delete_memory(
    db: &DatabaseConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<Forgotten>, DbErr> {
    let txn = crate::store::db::begin_for_user(db, user_id).await?;
    let done = memories::forget_one(&txn, user_id, id).await?;
    txn.commit().await?;
    Ok(done)
}

/// The user with this (normalised) phone number, created with `timezone` if unknown: an
/// archive can be imported into a database that has never heard from them.
pub async fn ensure_user(
    db: &DatabaseConnection,
    phone: &str,
    timezone: &str,
    display_name: Option<&str>,
) -> Result<Uuid, DbErr> {
    let now = Utc::now();
    db.execute_raw(stmt(
        db,
        "INSERT INTO users (id, phone, display_name, timezone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (phone) DO NOTHING",
        vec![
            Uuid::now_v7().into(),
            phone.into(),
            display_name.map(str::to_string).into(),
            timezone.into(),
            now.into(),
        ],
    ))
    .await?;
    let row = db
        .query_one_raw(stmt(db, "SELECT id FROM users WHERE phone = $1", vec![phone.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("user {phone}")))?;
    row.try_get("", "id")
}
