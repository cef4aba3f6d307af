//! Dedup figures from `media_objects`: unique objects, references, bytes stored and bytes
//! saved (what storing every reference separately would have cost on top).

use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use crate::store::db::row;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MediaStats {
    pub unique_objects: i64,
    pub references: i64,
    pub bytes_stored: i64,
    pub bytes_saved: i64,
}

/// Across all users, or only the objects one user's messages reference (`user_id`); per user,
/// `references` and `bytes_saved` count that user's messages only.
pub async fn media_stats(
    db: &impl ConnectionTrait,
    user_id: Option<uuid::Uuid>,
) -> Result<MediaStats, DbErr> {
    let (sql, values) = match user_id {
        None => (
            "SELECT COUNT(*), CAST(COALESCE(SUM(ref_count), 0) AS BIGINT), \
             CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT), \
             CAST(COALESCE(SUM(size_bytes * CASE WHEN ref_count > 1 THEN ref_count - 1 ELSE 0 END), 0) AS BIGINT) \
             FROM media_objects",
            vec![],
        ),
        Some(u) => (
            "SELECT COUNT(*), CAST(COALESCE(SUM(refs), 0) AS BIGINT), \
             CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT), \
             CAST(COALESCE(SUM(size_bytes * (refs - 1)), 0) AS BIGINT) FROM ( \
               SELECT mo.id, mo.size_bytes, COUNT(*) AS refs FROM interaction_media im \
               JOIN interactions i ON i.id = im.interaction_id \
               JOIN media_objects mo ON mo.id = im.media_object_id \
               WHERE i.user_id = $1 GROUP BY mo.id, mo.size_bytes) per_object",
            vec![u.into()],
        ),
    };
    let row = row(db, sql, values).await?;
    let Some(row) = row else {
        return Ok(MediaStats::default());
    };
    // SUM over BIGINT is NUMERIC on PostgreSQL, hence the casts above.
    let get = |i: usize| row.try_get_by_index::<i64>(i);
    Ok(MediaStats {
        unique_objects: get(0)?,
        references: get(1)?,
        bytes_stored: get(2)?,
        bytes_saved: get(3)?,
    })
}
