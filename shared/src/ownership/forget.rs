//! Forgetting everything of a user's (`/forget all` after YES, `DELETE /users/{user}`).

use tracing::{info, warn};
use uuid::Uuid;

use crate::clients::external::ExternalError;
use crate::media::MediaStore;
use crate::memory::MemoryEngine;
use crate::store::confirmations;
use crate::store::ownership::{self, Forgotten};
use sea_orm::{DatabaseConnection, DbErr};

#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    /// Mem0 could not delete one of the memories; nothing of ours was deleted yet, so a retry
    /// starts over.
    #[error("the memory engine could not delete a memory: {0}")]
    Engine(#[from] ExternalError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Mem0 first (each delete is idempotent: a 404 counts as gone), then our rows in one
/// transaction, then the bytes of every object no one references any more. Running it again
/// finds nothing and changes nothing.
pub async fn forget_everything(
    db: &DatabaseConnection,
    engine: &MemoryEngine,
    media: &MediaStore,
    user_id: Uuid,
) -> Result<Forgotten, ForgetError> {
    for m in ownership::engine_held(db, user_id).await? {
        engine.forget(&m).await?;
    }
    let done = ownership::forget_everything(db, user_id).await?;
    confirmations::clear(db, user_id).await?;
    for key in &done.orphaned_keys {
        // The row is gone already; a failed delete leaves unreferenced bytes, never a
        // reference to missing bytes.
        if let Err(e) = media.delete(key).await {
            warn!(key, error = %e, "cannot remove an unreferenced media object");
        }
    }
    info!(
        %user_id,
        memories = done.memories,
        reminders = done.reminders,
        media_references = done.media_references,
        objects_removed = done.orphaned_keys.len(),
        "forgot everything of a user's"
    );
    Ok(done)
}

impl From<ForgetError> for crate::error::PipelineError {
    fn from(e: ForgetError) -> Self {
        match e {
            ForgetError::Engine(e) => e.into(),
            ForgetError::Db(e) => e.into(),
        }
    }
}
