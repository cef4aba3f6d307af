//! The jobs that travel through the queue. A job carries ids only: the database row is the
//! source of truth, so a job delivered twice, late, or re-enqueued by the sweeper is harmless.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Process one inbound interaction (media, transcription, memory, reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessMessage {
    pub interaction_id: Uuid,
    /// For logs and tracing spans.
    pub message_sid: String,
}
