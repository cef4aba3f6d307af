//! Forgetting everything of a user's (`/forget all` after YES, `DELETE /users/{user}`), and
//! removing the bytes a forget left unreferenced (also after forgetting one memory by reply).

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
    remove_unreferenced(media, &done.orphaned_keys).await;
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

/// Removes from the store the bytes of objects whose rows a committed forget deleted (no one
/// references them any more). Best effort: a failed delete leaves unreferenced bytes, never a
/// reference to missing bytes.
pub async fn remove_unreferenced(media: &MediaStore, keys: &[String]) {
    for key in keys {
        if let Err(e) = media.delete(key).await {
            warn!(key, error = %e, "cannot remove an unreferenced media object");
        }
    }
}

impl From<ForgetError> for crate::error::PipelineError {
    fn from(e: ForgetError) -> Self {
        match e {
            ForgetError::Engine(e) => e.into(),
            ForgetError::Db(e) => e.into(),
        }
    }
}
