//! `memory_versions`: the earlier texts of a corrected memory (DESIGN §12, replying with a
//! correction), and the correction itself: the old text kept as the next version, the new one
//! written, the old vector dropped, in the caller's transaction.
//!
//! Versions are numbered from 1 per memory; they go with their memory (`ON DELETE CASCADE`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};
use uuid::Uuid;

use crate::store::db::{all_as, grouped, stmt};
use crate::store::entities::memory;

/// One earlier text of a memory.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Version {
    /// 1 for the original text, then one more per correction.
    pub version: i32,
    pub text: String,
    /// When a correction replaced it.
    pub replaced_at: DateTime<Utc>,
}

/// The memory's earlier texts, oldest first; empty when it was never corrected.
pub async fn of_memory(db: &impl ConnectionTrait, memory_id: Uuid) -> Result<Vec<Version>, DbErr> {
    all_as(
        db,
        "SELECT version, text, replaced_at FROM memory_versions WHERE memory_id = $1 ORDER BY version",
        vec![memory_id.into()],
    )
    .await
}

/// One earlier text and the memory it belongs to.
#[derive(FromQueryResult)]
struct VersionOf {
    memory_id: Uuid,
    #[sea_orm(nested)]
    version: Version,
}

/// The earlier texts of each of `ids` that has any, oldest first (one query: an export page).
pub async fn of_memories(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Version>>, DbErr> {
    let sql = "SELECT memory_id, version, text, replaced_at FROM memory_versions \
               WHERE memory_id IN ({ids}) ORDER BY memory_id, version";
    grouped(db, sql, ids, |row: VersionOf| (row.memory_id, row.version)).await
}

/// Writes an imported memory's earlier texts, numbered from 1 in the order given.
pub async fn insert_imported(
    db: &impl ConnectionTrait,
    memory_id: Uuid,
    versions: &[(String, DateTime<Utc>)],
) -> Result<(), DbErr> {
    for (n, (text, replaced_at)) in versions.iter().enumerate() {
        db.execute_raw(stmt(
            db,
            "INSERT INTO memory_versions (id, memory_id, version, text, replaced_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                Uuid::now_v7().into(),
                memory_id.into(),
                (n as i32 + 1).into(),
                text.clone().into(),
                (*replaced_at).into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Replaces the memory's text with `new_text`, keeping the text it has now as its next version
/// and dropping its vector (made again from the new text by the engine, or the backfill).
/// Run it in a transaction. False, with nothing written, when the memory is gone or its text is
/// no longer `mem.text` (changed since it was read).
pub async fn correct(
    db: &impl ConnectionTrait,
    mem: &memory::Model,
    new_text: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = db
        .execute_raw(stmt(
            db,
            "UPDATE memories SET text = $3 WHERE id = $1 AND text = $2",
            vec![mem.id.into(), mem.text.clone().into(), new_text.into()],
        ))
        .await?
        .rows_affected();
    if updated != 1 {
        return Ok(false);
    }
    db.execute_raw(stmt(
        db,
        "INSERT INTO memory_versions (id, memory_id, version, text, replaced_at) \
         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4 FROM memory_versions WHERE memory_id = $2",
        vec![
            Uuid::now_v7().into(),
            mem.id.into(),
            mem.text.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    db.execute_raw(stmt(
        db,
        "DELETE FROM memory_embeddings WHERE memory_id = $1",
        vec![mem.id.into()],
    ))
    .await?;
    Ok(true)
}
