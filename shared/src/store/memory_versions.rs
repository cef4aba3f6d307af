//! `memory_versions`: the earlier texts of a corrected memory (DESIGN §12, replying with a
//! correction), and the correction itself: the old text kept as the next version, the new one
//! written, the old vector dropped, in the caller's transaction.
//!
//! Versions are numbered from 1 per memory; they go with their memory (`ON DELETE CASCADE`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::store::db::stmt;
use crate::store::entities::memory;

/// One earlier text of a memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// 1 for the original text, then one more per correction.
    pub version: i32,
    pub text: String,
    /// When a correction replaced it.
    pub replaced_at: DateTime<Utc>,
}

/// The memory's earlier texts, oldest first; empty when it was never corrected.
pub async fn of_memory(db: &impl ConnectionTrait, memory_id: Uuid) -> Result<Vec<Version>, DbErr> {
    db.query_all_raw(stmt(
        db,
        "SELECT version, text, replaced_at FROM memory_versions WHERE memory_id = $1 ORDER BY version",
        vec![memory_id.into()],
    ))
    .await?
    .iter()
    .map(|row| {
        Ok(Version {
            version: row.try_get("", "version")?,
            text: row.try_get("", "text")?,
            replaced_at: row.try_get("", "replaced_at")?,
        })
    })
    .collect()
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
