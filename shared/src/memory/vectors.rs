//! Memory vectors: one per memory in `memory_embeddings` (little-endian f32, with the model
//! that made it), scored exactly over one user's vectors.
//!
//! One person's memories are thousands, not millions, so an exact scan beats an approximate
//! index and keeps the time filter exact. The scan runs over a per-process cache of each
//! recently searched user's vectors (a contiguous f32 matrix). Before every search one indexed
//! query (`COUNT`, `MAX(updated_at)`) checks the cache against the table, so vectors written by
//! any process (workers, backfill, deletes) are seen at once: new rows are loaded
//! incrementally, anything else reloads that user.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};
use uuid::Uuid;

use super::Range;
use crate::store::db::stmt;

/// At most this many vectors are cached per process (~60 MB at 384 dimensions).
const CACHE_MAX_VECTORS: usize = 40_000;

pub fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The model the memory's stored vector was made with, if it has one.
pub async fn model_of(db: &DatabaseConnection, memory_id: Uuid) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT model FROM memory_embeddings WHERE memory_id = $1",
            vec![memory_id.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "model")).transpose()
}

/// Stores (or replaces) a memory's vector.
pub async fn upsert(
    db: &DatabaseConnection,
    memory_id: Uuid,
    user_id: Uuid,
    model: &str,
    vector: &[f32],
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
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
    ))
    .await?;
    Ok(())
}

/// A memory still to embed with the current model.
#[derive(Debug, Clone)]
pub struct Pending {
    pub memory_id: Uuid,
    pub user_id: Uuid,
    pub text: String,
}

/// Memories without a vector of `model` (none yet, or one of another model), newest first.
pub async fn pending(
    db: &DatabaseConnection,
    model: &str,
    limit: u64,
) -> Result<Vec<Pending>, DbErr> {
    let rows = db
        .query_all_raw(stmt(
            db,
            "SELECT m.id, m.user_id, m.text FROM memories m \
             LEFT JOIN memory_embeddings e ON e.memory_id = m.id \
             WHERE e.memory_id IS NULL OR e.model <> $1 \
             ORDER BY m.created_at DESC LIMIT $2",
            vec![model.into(), (limit as i64).into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Pending {
                memory_id: r.try_get("", "id")?,
                user_id: r.try_get("", "user_id")?,
                text: r.try_get("", "text")?,
            })
        })
        .collect()
}

/// How many memories still lack a vector of `model`.
pub async fn pending_count(db: &DatabaseConnection, model: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT COUNT(*) AS n FROM memories m \
             LEFT JOIN memory_embeddings e ON e.memory_id = m.id \
             WHERE e.memory_id IS NULL OR e.model <> $1",
            vec![model.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// One user's vectors of one model, as a matrix.
struct UserVectors {
    count: i64,
    last: Option<DateTime<Utc>>,
    dim: usize,
    ids: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    data: Vec<f32>,
    index: HashMap<Uuid, usize>,
    used: Instant,
}

impl UserVectors {
    fn empty() -> Self {
        UserVectors {
            count: 0,
            last: None,
            dim: 0,
            ids: Vec::new(),
            at: Vec::new(),
            data: Vec::new(),
            index: HashMap::new(),
            used: Instant::now(),
        }
    }

    fn put(&mut self, id: Uuid, at: DateTime<Utc>, v: &[f32]) {
        if self.dim == 0 {
            self.dim = v.len();
        }
        if v.len() != self.dim {
            return;
        }
        match self.index.get(&id) {
            Some(&i) => {
                self.at[i] = at;
                self.data[i * self.dim..(i + 1) * self.dim].copy_from_slice(v);
            }
            None => {
                self.index.insert(id, self.ids.len());
                self.ids.push(id);
                self.at.push(at);
                self.data.extend_from_slice(v);
            }
        }
    }
}

type Key = (Uuid, String);
static CACHE: LazyLock<Mutex<HashMap<Key, Arc<UserVectors>>>> = LazyLock::new(Default::default);

async fn load_rows(
    db: &DatabaseConnection,
    user_id: Uuid,
    model: &str,
    since: Option<DateTime<Utc>>,
    into: &mut UserVectors,
) -> Result<(), DbErr> {
    let rows = db
        .query_all_raw(stmt(
            db,
            "SELECT e.memory_id, m.occurred_at, e.vector FROM memory_embeddings e \
             JOIN memories m ON m.id = e.memory_id \
             WHERE e.user_id = $1 AND e.model = $2 AND ($3 IS NULL OR e.updated_at >= $3)",
            vec![
                user_id.into(),
                model.into(),
                Value::ChronoDateTimeUtc(since),
            ],
        ))
        .await?;
    for r in rows {
        let id: Uuid = r.try_get("", "memory_id")?;
        let at: DateTime<Utc> = r.try_get("", "occurred_at")?;
        let bytes: Vec<u8> = r.try_get("", "vector")?;
        into.put(id, at, &decode(&bytes));
    }
    Ok(())
}

/// The user's vectors of `model`, fresh as of this call.
async fn user_vectors(
    db: &DatabaseConnection,
    user_id: Uuid,
    model: &str,
) -> Result<Arc<UserVectors>, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT COUNT(*) AS n, MAX(updated_at) AS last FROM memory_embeddings \
             WHERE user_id = $1 AND model = $2",
            vec![user_id.into(), model.into()],
        ))
        .await?;
    let (count, last): (i64, Option<DateTime<Utc>>) = match row {
        Some(r) => (r.try_get("", "n")?, r.try_get("", "last").ok().flatten()),
        None => (0, None),
    };
    let key = (user_id, model.to_string());
    let cached = CACHE.lock().expect("vector cache").get(&key).cloned();
    if let Some(c) = &cached
        && c.count == count
        && c.last == last
    {
        return Ok(c.clone());
    }
    let mut fresh = UserVectors::empty();
    let mut incremental = false;
    if let Some(c) = &cached
        && count > c.count
        && c.last.is_some()
    {
        // Only new rows: copy the matrix and add what changed since the last load.
        fresh.dim = c.dim;
        fresh.ids = c.ids.clone();
        fresh.at = c.at.clone();
        fresh.data = c.data.clone();
        fresh.index = c.index.clone();
        load_rows(db, user_id, model, c.last, &mut fresh).await?;
        incremental = fresh.ids.len() as i64 == count;
    }
    if !incremental {
        fresh = UserVectors::empty();
        load_rows(db, user_id, model, None, &mut fresh).await?;
    }
    fresh.count = count;
    fresh.last = last;
    let fresh = Arc::new(fresh);
    let mut cache = CACHE.lock().expect("vector cache");
    cache.insert(key, fresh.clone());
    // Evict the least recently used users beyond the cap.
    let mut total: usize = cache.values().map(|u| u.ids.len()).sum();
    while total > CACHE_MAX_VECTORS && cache.len() > 1 {
        let Some(oldest) = cache
            .iter()
            .filter(|(_, u)| !Arc::ptr_eq(u, &fresh))
            .min_by_key(|(_, u)| u.used)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        if let Some(u) = cache.remove(&oldest) {
            total -= u.ids.len();
        }
    }
    Ok(fresh)
}

/// Cosine similarity of `query` with every vector of the user's memories inside `range`,
/// best first.
pub async fn score(
    db: &DatabaseConnection,
    user_id: Uuid,
    model: &str,
    query: &[f32],
    range: Option<Range>,
) -> Result<Vec<(Uuid, f32, DateTime<Utc>)>, DbErr> {
    let vectors = user_vectors(db, user_id, model).await?;
    let dim = vectors.dim;
    if dim == 0 || dim != query.len() {
        return Ok(Vec::new());
    }
    let mut out: Vec<(Uuid, f32, DateTime<Utc>)> = vectors
        .ids
        .iter()
        .enumerate()
        .filter(|(i, _)| match range {
            Some((s, e)) => vectors.at[*i] >= s && vectors.at[*i] < e,
            None => true,
        })
        .map(|(i, id)| {
            let row = &vectors.data[i * dim..(i + 1) * dim];
            (
                *id,
                crate::clients::models::embed::dot(row, query),
                vectors.at[i],
            )
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)));
    Ok(out)
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
