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
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use super::Range;
use crate::store::memory_embeddings as stored;

/// At most this many vectors are cached per process (~60 MB at 384 dimensions).
const CACHE_MAX_VECTORS: usize = 40_000;

pub use crate::store::memory_embeddings::{
    Pending, decode, encode, model_of, pending, pending_count, upsert,
};

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
    for v in stored::of_user(db, user_id, model, since).await? {
        into.put(v.memory_id, v.occurred_at, &v.vector);
    }
    Ok(())
}

/// The user's vectors of `model`, fresh as of this call.
async fn user_vectors(
    db: &DatabaseConnection,
    user_id: Uuid,
    model: &str,
) -> Result<Arc<UserVectors>, DbErr> {
    let (count, last) = stored::version(db, user_id, model).await?;
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
            (*id, crate::clients::models::embed::dot(row, query), vectors.at[i])
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)));
    Ok(out)
}
