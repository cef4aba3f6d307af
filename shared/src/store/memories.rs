//! `memories`: what the REST API reads (by id, by ids, keyset pages with filters), deletes,
//! and writes for a text note submitted through it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait, Value,
};
use uuid::Uuid;

use crate::store::db::{one_as, stmt};
use crate::store::entities::memory;
use crate::store::interactions::{self, ApiInbound};

/// The memory with this id; when `owner` is given, only if it belongs to that user.
pub async fn find(
    db: &impl ConnectionTrait,
    id: Uuid,
    owner: Option<Uuid>,
) -> Result<Option<memory::Model>, DbErr> {
    let mut q = memory::Entity::find_by_id(id);
    if let Some(user_id) = owner {
        q = q.filter(memory::Column::UserId.eq(user_id));
    }
    q.one(db).await
}

/// Those of `ids` that belong to the user, in no particular order.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<memory::Model>, DbErr> {
    memory::Entity::find()
        .filter(memory::Column::Id.is_in(ids))
        .filter(memory::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// What a page of memories is limited to; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub user_id: Option<Uuid>,
    /// `text`, `image`, `audio`, …
    pub kind: Option<String>,
    /// `occurred_at` in `[start, end)`.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The keyset cursor: the `(occurred_at, id)` of the previous page's last memory.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl Filter {
    /// Only the user's memories, optionally of one kind and inside `[start, end)`; no cursor.
    pub fn of_user(
        user_id: Uuid,
        kind: Option<&str>,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Self {
        Filter { user_id: Some(user_id), kind: kind.map(str::to_string), range, after: None }
    }
}

/// Memories newest first (`occurred_at`, then id), at most `limit`, within `filter`.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<memory::Model>, DbErr> {
    let mut sql = String::from("SELECT * FROM memories WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    // Appends a clause whose `?N` are its own values, renumbered after those already bound.
    let mut bind = |sql: &mut String, clause: &str, v: Vec<Value>| {
        let mut clause = clause.to_string();
        for (i, value) in v.into_iter().enumerate() {
            values.push(value);
            clause = clause.replace(&format!("?{i}"), &format!("${}", values.len()));
        }
        sql.push_str(&clause);
    };
    if let Some(user_id) = filter.user_id {
        bind(&mut sql, " AND user_id = ?0", vec![user_id.into()]);
    }
    if let Some(k) = filter.kind.as_deref() {
        bind(&mut sql, " AND kind = ?0", vec![k.into()]);
    }
    if let Some((start, end)) = filter.range {
        bind(
            &mut sql,
            " AND occurred_at >= ?0 AND occurred_at < ?1",
            vec![start.into(), end.into()],
        );
    }
    if let Some((at, id)) = filter.after {
        bind(&mut sql, " AND (occurred_at, id) < (?0, ?1)", vec![at.into(), id.into()]);
    }
    bind(&mut sql, " ORDER BY occurred_at DESC, id DESC LIMIT ?0", vec![limit.into()]);
    memory::Entity::find().from_raw_sql(stmt(db, &sql, values)).all(db).await
}

/// Deletes the memory (its source interaction stays).
pub async fn remove(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    memory::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// The memory made from an inbound message, created once: the insert returns the new row, and
/// a repeated job (the row exists: unique per interaction) reads the one made before.
#[allow(clippy::too_many_arguments)]
pub async fn create_for_interaction(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    interaction_id: Uuid,
    kind: &str,
    text: &str,
    labels: serde_json::Value,
    occurred_at: DateTime<Utc>,
    engine: &str,
) -> Result<Option<memory::Model>, DbErr> {
    let made = one_as::<memory::Model>(
        db,
        "INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (interaction_id) DO NOTHING RETURNING *",
        vec![
            Uuid::now_v7().into(),
            user_id.into(),
            interaction_id.into(),
            kind.into(),
            text.into(),
            Value::Json(Some(Box::new(labels))),
            occurred_at.into(),
            Utc::now().into(),
            engine.into(),
        ],
    )
    .await?;
    if made.is_some() {
        return Ok(made);
    }
    memory::Entity::find().filter(memory::Column::InteractionId.eq(interaction_id)).one(db).await
}

/// Records the Mem0 id of an indexed memory (one statement: no read first).
pub async fn set_mem0_id(db: &impl ConnectionTrait, id: Uuid, mem0_id: &str) -> Result<(), DbErr> {
    set_text_column(db, id, memory::Column::Mem0Id, mem0_id).await
}

/// Records the Mem0 event an add is pending on, so a retry polls it instead of adding again.
pub async fn set_mem0_event_id(
    db: &impl ConnectionTrait,
    id: Uuid,
    event_id: &str,
) -> Result<(), DbErr> {
    set_text_column(db, id, memory::Column::Mem0EventId, event_id).await
}

async fn set_text_column(
    db: &impl ConnectionTrait,
    id: Uuid,
    column: memory::Column,
    value: &str,
) -> Result<(), DbErr> {
    memory::Entity::update_many()
        .col_expr(column, sea_orm::sea_query::Expr::value(value.to_string()))
        .filter(memory::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A text memory submitted through the REST API.
#[derive(Debug, Clone)]
pub struct NewTextMemory {
    pub id: Uuid,
    pub labels: Vec<String>,
    /// The memory engine that indexes it (`memories.engine`).
    pub engine: String,
}

/// Writes a text note in ONE transaction: its source interaction (already `processed`, see
/// [`interactions::record_processed_text`]) and the memory, whose text, user and times are the
/// source's.
pub async fn create_text(
    db: &DatabaseConnection,
    source: &ApiInbound,
    new: &NewTextMemory,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    interactions::record_processed_text(&txn, source).await?;
    txn.execute_raw(stmt(
        &txn,
        "INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine) \
         VALUES ($1, $2, $3, 'text', $4, $5, $6, $7, $8)",
        vec![
            new.id.into(),
            source.user_id.into(),
            source.id.into(),
            source.body.clone().into(),
            Value::Json(Some(Box::new(serde_json::json!(new.labels)))),
            source.occurred_at.into(),
            source.now.into(),
            new.engine.clone().into(),
        ],
    ))
    .await?;
    txn.commit().await
}

/// The memory a message of the user's replies to, by the quoted message's SID
/// (`OriginalRepliedMessageSid`): the memory made from that message when it is one of the
/// user's own, or from the message our reply answered when it is one of ours (the confirmation
/// of a new memory carries its Twilio SID). `None` when the quoted message is not this user's,
/// is not known, or holds no memory (a question, a command, a reminder, or one forgotten).
pub async fn replied_to(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    quoted_sid: &str,
) -> Result<Option<memory::Model>, DbErr> {
    use crate::store::entities::interaction::{self, Direction};
    let Some(quoted) = interaction::Entity::find()
        .filter(interaction::Column::MessageSid.eq(quoted_sid))
        .filter(interaction::Column::UserId.eq(user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let source = match quoted.direction {
        Direction::Inbound => Some(quoted.id),
        // Only a reply answers a message; a reminder or an apology holds no memory.
        _ if quoted.purpose.as_deref() == Some("reply") => quoted.reply_to,
        _ => None,
    };
    let Some(source) = source else {
        return Ok(None);
    };
    memory::Entity::find()
        .filter(memory::Column::InteractionId.eq(source))
        .filter(memory::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// Forgets one memory of the user's, in the caller's transaction: the memory (its vector and
/// earlier versions go with it) and the attachment links of the message it came from, each
/// lowering its object's count; objects no one references any more are deleted and their
/// storage keys returned for the caller to remove from the store once committed. The message
/// row itself stays. `None` when the memory is not the user's or already gone.
pub async fn forget_one(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    memory_id: Uuid,
) -> Result<Option<crate::store::ownership::Forgotten>, DbErr> {
    let Some(mem) = find(db, memory_id, Some(user_id)).await? else {
        return Ok(None);
    };
    db.execute_raw(stmt(
        db,
        "DELETE FROM memory_embeddings WHERE memory_id = $1",
        vec![mem.id.into()],
    ))
    .await?;
    let deleted = db
        .execute_raw(stmt(
            db,
            "DELETE FROM memories WHERE id = $1 AND user_id = $2",
            vec![mem.id.into(), user_id.into()],
        ))
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(None);
    }
    let mut media_references = 0;
    let mut orphaned_keys = Vec::new();
    if let Some(source) = mem.interaction_id {
        let links = db
            .query_all_raw(stmt(
                db,
                "SELECT media_object_id AS id FROM interaction_media \
                 WHERE interaction_id = $1 AND media_object_id IS NOT NULL",
                vec![source.into()],
            ))
            .await?;
        for link in &links {
            let object: Uuid = link.try_get("", "id")?;
            db.execute_raw(stmt(
                db,
                "UPDATE media_objects SET ref_count = ref_count - 1 WHERE id = $1",
                vec![object.into()],
            ))
            .await?;
        }
        media_references = links.len() as u64;
        db.execute_raw(stmt(
            db,
            "DELETE FROM interaction_media WHERE interaction_id = $1",
            vec![source.into()],
        ))
        .await?;
        for link in &links {
            let object: Uuid = link.try_get("", "id")?;
            let gone = db
                .query_one_raw(stmt(
                    db,
                    "DELETE FROM media_objects WHERE id = $1 AND ref_count <= 0 RETURNING storage_key",
                    vec![object.into()],
                ))
                .await?;
            if let Some(row) = gone {
                orphaned_keys.push(row.try_get("", "storage_key")?);
            }
        }
    }
    Ok(Some(crate::store::ownership::Forgotten {
        memories: deleted,
        reminders: 0,
        media_references,
        orphaned_keys,
    }))
}
