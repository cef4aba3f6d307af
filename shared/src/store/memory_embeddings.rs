//! `memory_embeddings`: one vector per memory (little-endian f32, with the model that made it
//! and when). The scoring and the per-process cache are `memory::vectors`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Value};
use uuid::Uuid;

use crate::store::db::{all_as, exec, row, rows, run, value};

/// A vector as stored: little-endian f32s.
pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector back as f32s.
pub fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The model the memory's stored vector was made with, if it has one.
pub async fn model_of(db: &impl ConnectionTrait, memory_id: Uuid) -> Result<Option<String>, DbErr> {
    let sql = "SELECT model FROM memory_embeddings WHERE memory_id = $1";
    value(db, sql, vec![memory_id.into()]).await
}

/// Stores (or replaces) a memory's vector.
pub async fn upsert(
    db: &impl ConnectionTrait,
    memory_id: Uuid,
    user_id: Uuid,
    model: &str,
    vector: &[f32],
) -> Result<(), DbErr> {
    run(
        db,
        "INSERT INTO memory_embeddings (memory_id, user_id, model, dim, vector, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (memory_id) DO UPDATE SET model = excluded.model, dim = excluded.dim, \
         vector = excluded.vector, updated_at = excluded.updated_at",
        vec![
            memory_id.into(),
            user_id.into(),
            model.into(),
            (vector.len() as i32).into(),
            encode(vector).into(),
            Utc::now().into(),
        ],
    )
    .await
}

/// Drops the memory's vector (its text changed; a new one is made from the new text).
pub async fn remove(db: &impl ConnectionTrait, memory_id: Uuid) -> Result<(), DbErr> {
    exec(db, "DELETE FROM memory_embeddings WHERE memory_id = $1", vec![memory_id.into()]).await?;
    Ok(())
}

/// A memory still to embed with the current model.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Pending {
    pub memory_id: Uuid,
    pub user_id: Uuid,
    pub text: String,
}

/// Memories without a vector of `model` (none yet, or one of another model), newest first.
pub async fn pending(
    db: &impl ConnectionTrait,
    model: &str,
    limit: u64,
) -> Result<Vec<Pending>, DbErr> {
    all_as(
        db,
        "SELECT m.id AS memory_id, m.user_id, m.text FROM memories m \
             LEFT JOIN memory_embeddings e ON e.memory_id = m.id \
             WHERE e.memory_id IS NULL OR e.model <> $1 \
             ORDER BY m.created_at DESC LIMIT $2",
        vec![model.into(), (limit as i64).into()],
    )
    .await
}

/// How many memories still lack a vector of `model`.
pub async fn pending_count(db: &impl ConnectionTrait, model: &str) -> Result<i64, DbErr> {
    let sql = "SELECT COUNT(*) FROM memories m \
               LEFT JOIN memory_embeddings e ON e.memory_id = m.id \
               WHERE e.memory_id IS NULL OR e.model <> $1";
    Ok(value(db, sql, vec![model.into()]).await?.unwrap_or(0))
}

/// How many vectors of `model` the user has, and when the newest was written: a cache of
/// them is fresh while both are unchanged.
pub async fn version(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    model: &str,
) -> Result<(i64, Option<DateTime<Utc>>), DbErr> {
    let row = row(
        db,
        "SELECT COUNT(*) AS n, MAX(updated_at) AS last FROM memory_embeddings \
             WHERE user_id = $1 AND model = $2",
        vec![user_id.into(), model.into()],
    )
    .await?;
    Ok(match row {
        Some(r) => (r.try_get("", "n")?, r.try_get("", "last").ok().flatten()),
        None => (0, None),
    })
}

/// One stored vector with its memory's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub memory_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub vector: Vec<f32>,
}

/// The user's vectors of `model`; only those written since `since` when given.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    model: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Stored>, DbErr> {
    let rows = rows(
        db,
        "SELECT e.memory_id, m.occurred_at, e.vector FROM memory_embeddings e \
             JOIN memories m ON m.id = e.memory_id \
             WHERE e.user_id = $1 AND e.model = $2 AND ($3 IS NULL OR e.updated_at >= $3)",
        vec![user_id.into(), model.into(), Value::ChronoDateTimeUtc(since)],
    )
    .await?;
    rows.into_iter()
        .map(|r| {
            let bytes: Vec<u8> = r.try_get("", "vector")?;
            Ok(Stored {
                memory_id: r.try_get("", "memory_id")?,
                occurred_at: r.try_get("", "occurred_at")?,
                vector: decode(&bytes),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v = vec![0.25f32, -1.5, 3.0e-7, f32::MAX];
        assert_eq!(decode(&encode(&v)), v);
        assert_eq!(encode(&v).len(), 16);
    }
}
