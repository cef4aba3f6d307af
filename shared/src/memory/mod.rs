//! Recall behind one interface: a **full-text** leg in our own database (SQLite FTS5 or
//! PostgreSQL tsvector) and a **semantic** leg — Mem0 (platform v3 API) when configured, else
//! our own sentence vectors (local model or an `/embeddings` API) — fused in [`hybrid`].
//!
//! Our `memories` table is always written first and is the source of truth for listing,
//! time filters and analytics; an engine only indexes and ranks. Search results are memory ids
//! of ours, already restricted to one user and, when given, to a time range — the range is
//! applied before ranking (never top-k first and filter after).

pub mod hybrid;
pub mod local;
pub mod vectors;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use crate::clients::external::ExternalError;
use crate::clients::mem0::{AddOutcome, AddRequest, Mem0Client};
use crate::clients::models::Embeddings;
use crate::error::PipelineError;
use crate::store::entities::memory;

/// A ranked match: one of our memories.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub memory_id: Uuid,
    /// Fused relevance (higher is better); for a semantic-only engine, the similarity.
    pub score: f64,
    /// The retrievers that found it: `text`, `semantic`.
    pub matched: Vec<&'static str>,
}

/// A half-open UTC range `[start, end)`.
pub type Range = (DateTime<Utc>, DateTime<Utc>);

/// Recall: the full-text leg in our database, plus a semantic leg (Mem0 when configured,
/// else our own vectors), fused by reciprocal rank. Cheap to clone.
#[derive(Clone)]
pub struct MemoryEngine {
    pub mem0: Option<Mem0Client>,
    pub embeddings: Embeddings,
    /// Which retrievers answer (always both in the product; the recall bench compares them).
    pub legs: hybrid::Legs,
    /// Cosine similarity a semantic-only match needs ([`hybrid::SEMANTIC_FLOOR`]; the recall
    /// bench sweeps it).
    pub semantic_floor: f32,
}

impl MemoryEngine {
    pub fn new(mem0: Option<Mem0Client>, embeddings: Embeddings) -> Self {
        MemoryEngine {
            mem0,
            embeddings,
            legs: hybrid::Legs::Both,
            semantic_floor: hybrid::SEMANTIC_FLOOR,
        }
    }

    pub fn name(&self) -> &'static str {
        if self.mem0.is_some() { "mem0" } else { "local" }
    }

    /// The model of our own sentence vectors, when they are the semantic leg: never with Mem0
    /// (Mem0 ranks by meaning itself, so a local vector would be computed and never read).
    pub fn vector_model(&self) -> Option<String> {
        if self.mem0.is_some() {
            return None;
        }
        self.embeddings.model_id()
    }

    /// Computes and stores the memory's vector unless it already has one of the current model
    /// (so a retried job never embeds twice). Without a ready model it does nothing: the
    /// backfill embeds it later.
    pub async fn embed(
        &self,
        db: &DatabaseConnection,
        mem: &memory::Model,
    ) -> Result<(), PipelineError> {
        let Some(model) = self.vector_model() else {
            return Ok(());
        };
        if vectors::model_of(db, mem.id).await?.as_deref() == Some(model.as_str()) {
            return Ok(());
        }
        match self.embeddings.passages(vec![mem.text.clone()]).await {
            Ok(Some(mut v)) => {
                if let Some(v) = v.pop() {
                    vectors::upsert(db, mem.id, mem.user_id, &model, &v).await?;
                }
            }
            Ok(None) => {}
            // Recall by meaning is an improvement, never a reason to fail the message.
            Err(e) => {
                tracing::warn!(memory_id = %mem.id, error = %e, "embedding failed; the backfill retries it")
            }
        }
        Ok(())
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
        // The FTS index is maintained by the database itself (trigger / generated column).
        self.embed(db, mem).await?;
        let Some(client) = &self.mem0 else {
            return Ok(());
        };
        if mem.mem0_id.is_some() {
            return Ok(());
        }
        let user_id = mem.user_id.to_string();
        let interaction_id = mem.interaction_id.map(|i| i.to_string()).unwrap_or_default();

        let found = if let Some(event_id) = &mem.mem0_event_id {
            client.wait_event(event_id).await?
        } else {
            let earlier = if interaction_id.is_empty() {
                Vec::new()
            } else {
                client.find_by_interaction(&user_id, &interaction_id).await?
            };
            if !earlier.is_empty() {
                earlier
            } else {
                let mut req = AddRequest::new(
                    user_id.clone(),
                    interaction_id.clone(),
                    mem.kind.to_string(),
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
                        crate::store::memories::set_mem0_event_id(db, mem.id, &event_id).await?;
                        client.wait_event(&event_id).await?
                    }
                }
            }
        };
        if let Some(first) = found.first() {
            crate::store::memories::set_mem0_id(db, mem.id, &first.id).await?;
        }
        Ok(())
    }

    /// The user's best matches for `query`, limited to `range` when given (applied in each
    /// leg before ranking). A query with no topic words lists the range, newest first.
    pub async fn search(
        &self,
        db: &DatabaseConnection,
        user_id: Uuid,
        query: &str,
        range: Option<Range>,
        limit: u64,
    ) -> Result<Vec<Hit>, PipelineError> {
        hybrid::search_with(self, db, user_id, query, range, limit, self.legs).await
    }

    /// Gives the engine a memory's corrected text, before our row takes it (the caller's
    /// transaction). Idempotent, so a retried job may call it again: Mem0's copy is replaced in
    /// place (`PUT`); one Mem0 no longer has is added afresh with the new text, and one not
    /// indexed yet is indexed first. Our own vector is dropped with the old text by the caller
    /// and made again by [`MemoryEngine::embed`] (or the backfill).
    pub async fn revise(
        &self,
        db: &DatabaseConnection,
        mem: &memory::Model,
        new_text: &str,
    ) -> Result<(), PipelineError> {
        let Some(client) = &self.mem0 else {
            return Ok(());
        };
        let mut gone = None;
        if let Some(id) = &mem.mem0_id {
            if client.update(id, new_text).await? {
                return Ok(());
            }
            // Deleted in Mem0 meanwhile: it is added again below.
            gone = Some(id.clone());
        }
        // Not in Mem0 (an add still pending, never made, or deleted there): index it with the
        // new text; an earlier add that it adopts instead still has the old text, so it is
        // updated too.
        let unindexed = memory::Model {
            text: new_text.to_string(),
            mem0_id: None,
            mem0_event_id: if gone.is_some() { None } else { mem.mem0_event_id.clone() },
            ..mem.clone()
        };
        self.index(db, &unindexed, None).await?;
        let now = memory::Entity::find_by_id(mem.id).one(db).await?.and_then(|m| m.mem0_id);
        if let Some(id) = now
            && Some(&id) != gone.as_ref()
        {
            client.update(&id, new_text).await?;
        }
        Ok(())
    }

    /// Removes the memory from the engine (our row is deleted by the caller).
    pub async fn forget(&self, mem: &memory::Model) -> Result<(), ExternalError> {
        match (&self.mem0, &mem.mem0_id) {
            (Some(client), Some(id)) => client.delete(id).await,
            _ => Ok(()),
        }
    }
}
