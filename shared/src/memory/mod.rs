//! Memory engines behind one interface: the **local** engine (full-text search in our own
//! database: SQLite FTS5 or PostgreSQL tsvector) and **Mem0** (platform v3 API, semantic).
//!
//! Our `memories` table is always written first and is the source of truth for listing,
//! time filters and analytics; an engine only indexes and ranks. Search results are memory ids
//! of ours, already restricted to one user and, when given, to a time range — the range is
//! applied before ranking (never top-k first and filter after).

pub mod local;
pub mod mem0;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, IntoActiveModel,
};
use uuid::Uuid;

use crate::entities::memory;
use crate::error::PipelineError;
use crate::external::ExternalError;
use mem0::{AddOutcome, AddRequest, Mem0Client};

/// A ranked match: one of our memories.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub memory_id: Uuid,
    pub score: f64,
}

/// A half-open UTC range `[start, end)`.
pub type Range = (DateTime<Utc>, DateTime<Utc>);

#[derive(Clone)]
pub enum MemoryEngine {
    Local,
    Mem0(Mem0Client),
}

impl MemoryEngine {
    pub fn name(&self) -> &'static str {
        match self {
            MemoryEngine::Local => "local",
            MemoryEngine::Mem0(_) => "mem0",
        }
    }

    /// Makes sure the engine holds this memory. Idempotent and resumable: a recorded Mem0
    /// event is polled again rather than re-added, and before adding, Mem0 is asked for an
    /// earlier memory of the same interaction.
    pub async fn index(
        &self,
        db: &DatabaseConnection,
        mem: &memory::Model,
        image_data_url: Option<String>,
    ) -> Result<(), PipelineError> {
        let client = match self {
            // The FTS index is maintained by the database itself (trigger / generated column).
            MemoryEngine::Local => return Ok(()),
            MemoryEngine::Mem0(c) => c,
        };
        if mem.mem0_id.is_some() {
            return Ok(());
        }
        let user_id = mem.user_id.to_string();
        let interaction_id = mem
            .interaction_id
            .map(|i| i.to_string())
            .unwrap_or_default();

        let found = if let Some(event_id) = &mem.mem0_event_id {
            client.wait_event(event_id).await?
        } else {
            let earlier = if interaction_id.is_empty() {
                Vec::new()
            } else {
                client
                    .find_by_interaction(&user_id, &interaction_id)
                    .await?
            };
            if !earlier.is_empty() {
                earlier
            } else {
                let mut req = AddRequest::new(
                    user_id.clone(),
                    interaction_id.clone(),
                    mem.kind.clone(),
                    mem.text.clone(),
                    mem.occurred_at,
                )
                .with_metadata("memory_id", serde_json::json!(mem.id.to_string()));
                if let Some(url) = image_data_url {
                    req = req.with_image(url);
                }
                match client.add(&req).await? {
                    AddOutcome::Done { memories } => memories,
                    AddOutcome::Pending { event_id } => {
                        // Record the event first: a retry resumes polling it.
                        let mut am = mem.clone().into_active_model();
                        am.mem0_event_id = Set(Some(event_id.clone()));
                        am.update(db).await?;
                        client.wait_event(&event_id).await?
                    }
                }
            }
        };
        if let Some(first) = found.first() {
            let mut am = memory::Entity::find_by_id(mem.id)
                .one(db)
                .await?
                .ok_or_else(|| PipelineError::Permanent("memory vanished".into()))?
                .into_active_model();
            am.mem0_id = Set(Some(first.id.clone()));
            am.update(db).await?;
        }
        Ok(())
    }

    /// The user's best matches for `query`, limited to `range` when given.
    pub async fn search(
        &self,
        db: &DatabaseConnection,
        user_id: Uuid,
        query: &str,
        range: Option<Range>,
        limit: u64,
    ) -> Result<Vec<Hit>, PipelineError> {
        match self {
            MemoryEngine::Local => Ok(local::search(db, user_id, query, range, limit).await?),
            MemoryEngine::Mem0(client) => {
                let hits = client
                    .search(
                        &user_id.to_string(),
                        query,
                        range,
                        (limit * 3).clamp(10, 100) as u32,
                    )
                    .await?;
                local::join_mem0_hits(db, user_id, range, hits, limit).await
            }
        }
    }

    /// Removes the memory from the engine (our row is deleted by the caller).
    pub async fn forget(&self, mem: &memory::Model) -> Result<(), ExternalError> {
        match (self, &mem.mem0_id) {
            (MemoryEngine::Mem0(client), Some(id)) => client.delete(id).await,
            _ => Ok(()),
        }
    }
}
