//! The embedding backfill: memories stored before a model was ready, and every memory after
//! `EMBED_MODEL` changes, get a vector of the current model. Resumable by construction (it
//! asks the database what is missing), rate-bounded (small batches with a pause between), and
//! behind new messages on the inference pool. Progress: `mnemo_embeddings_pending` and
//! `mnemo_embeddings_backfilled_total` in `/metrics`.

use std::future::Future;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tracing::{info, warn};

use mnemo_shared::clients::models::ModelState;
use mnemo_shared::memory::{MemoryEngine, vectors};

/// Memories embedded per batch.
pub const BATCH: u64 = 8;
/// Pause between batches (at most ~40 memories/s per process).
pub const PAUSE: Duration = Duration::from_millis(200);
/// How often an idle backfill looks again.
pub const IDLE: Duration = Duration::from_secs(5);

/// One batch: embeds up to [`BATCH`] pending memories. Returns how many were done (0: none
/// pending or no model ready).
pub async fn step(db: &DatabaseConnection, engine: &MemoryEngine) -> Result<usize, String> {
    let Some(model) = engine.vector_model() else {
        return Ok(0);
    };
    if engine.embeddings.state() != ModelState::Ready {
        return Ok(0);
    }
    let batch = vectors::pending(db, &model, BATCH).await.map_err(|e| e.to_string())?;
    if batch.is_empty() {
        return Ok(0);
    }
    let texts = batch.iter().map(|p| p.text.clone()).collect();
    let Some(vecs) = engine.embeddings.passages(texts).await.map_err(|e| e.to_string())? else {
        return Ok(0);
    };
    for (p, v) in batch.iter().zip(vecs) {
        vectors::upsert(db, p.memory_id, p.user_id, &model, &v).await.map_err(|e| e.to_string())?;
    }
    metrics::counter!("mnemo_embeddings_backfilled_total").increment(batch.len() as u64);
    Ok(batch.len())
}

/// Runs until `stop` resolves.
pub async fn run(db: DatabaseConnection, engine: MemoryEngine, stop: impl Future<Output = ()>) {
    let Some(model) = engine.vector_model() else {
        return;
    };
    tokio::pin!(stop);
    let mut announced = false;
    loop {
        let pause = match step(&db, &engine).await {
            Ok(0) => {
                if let Ok(n) = vectors::pending_count(&db, &model).await {
                    metrics::gauge!("mnemo_embeddings_pending").set(n as f64);
                }
                if announced {
                    info!(model = %model, "embedding backfill caught up");
                    announced = false;
                }
                IDLE
            }
            Ok(n) => {
                if !announced {
                    info!(model = %model, "embedding backfill: giving vectors to stored memories");
                    announced = true;
                }
                metrics::gauge!("mnemo_embeddings_pending").decrement(n as f64);
                PAUSE
            }
            Err(e) => {
                warn!(error = %e, "embedding backfill failed; retrying");
                IDLE
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
