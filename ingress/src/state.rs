//! What every request handler shares.

use std::sync::Arc;

use crate::group_commit::Ingestor;
use mnemo_shared::clients::models::LocalModels;
use mnemo_shared::config::Settings;
use mnemo_shared::media::MediaStore;
use mnemo_shared::memory::MemoryEngine;
use mnemo_shared::queue::JobQueue;
use mnemo_shared::sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub queue: JobQueue,
    /// The webhook's group-commit writer (see `crate::ingest`).
    pub ingest: Ingestor,
    pub settings: Arc<Settings>,
    /// The memory engine the REST API searches and indexes with (the worker's own is built
    /// from the same settings).
    pub engine: MemoryEngine,
    /// The media store: `media.signed_url(sha256, content_type)` for links in responses.
    pub media: MediaStore,
    /// The process's local models (shared with the embedded worker): `/ready` reports them.
    pub models: LocalModels,
}
