//! Voice notes kept untranscribed (their memory's text is a marker such as "voice note (not
//! transcribed)"), for the transcript backfill: which are waiting, and settling one — its
//! transcript, its memory's new text and the end of its stale vector, in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, TransactionTrait};
use uuid::Uuid;

use crate::store::db::{all_as, exec};
use crate::store::{interactions, memory_embeddings};

/// One stored voice note whose memory still holds the marker text.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Waiting {
    /// The inbound interaction.
    pub id: Uuid,
    pub memory_id: Uuid,
    pub storage_key: String,
    pub content_type: String,
}

/// Finished inbounds with a stored audio attachment, no transcript, and a memory whose text
/// is `marker`: oldest first, one entry per interaction (its first audio), at most `limit`
/// rows read.
pub async fn waiting(
    db: &impl ConnectionTrait,
    marker: &str,
    limit: u64,
) -> Result<Vec<Waiting>, DbErr> {
    let rows = all_as::<Waiting>(
        db,
        "SELECT i.id AS id, m.id AS memory_id, mo.storage_key AS storage_key, \
         mo.content_type AS content_type \
         FROM interactions i \
         JOIN memories m ON m.interaction_id = i.id \
         JOIN interaction_media im ON im.interaction_id = i.id \
         JOIN media_objects mo ON mo.id = im.media_object_id \
         WHERE i.direction = 'inbound' AND i.transcript IS NULL AND m.text = $1 \
         AND i.status IN ('processed', 'failed') AND mo.content_type LIKE 'audio/%' \
         ORDER BY i.occurred_at, im.position LIMIT $2",
        vec![marker.into(), (limit as i64).into()],
    )
    .await?;
    let mut out: Vec<Waiting> = Vec::with_capacity(rows.len());
    for w in rows {
        if !out.iter().any(|x| x.id == w.id) {
            out.push(w);
        }
    }
    Ok(out)
}

/// How a waiting note ends.
#[derive(Debug, Clone, Copy)]
pub struct Settled<'a> {
    /// The transcript and its language, when there are words.
    pub transcript: Option<(&'a str, Option<&'a str>)>,
    /// The memory's new text (the transcript, or why there is none).
    pub memory_text: &'a str,
}

/// Records how a waiting note ended, in one transaction: false when someone else settled it
/// first (its memory no longer holds `marker`).
pub async fn settle(
    db: &DatabaseConnection,
    note: &Waiting,
    marker: &str,
    settled: Settled<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    if let Some((text, language)) = settled.transcript {
        interactions::record_transcript(&txn, note.id, text, language, now).await?;
    }
    memory_embeddings::remove(&txn, note.memory_id).await?;
    let res = exec(
        &txn,
        "UPDATE memories SET text = $2 WHERE id = $1 AND text = $3",
        vec![note.memory_id.into(), settled.memory_text.into(), marker.into()],
    )
    .await?;
    txn.commit().await?;
    Ok(res.rows_affected() == 1)
}
