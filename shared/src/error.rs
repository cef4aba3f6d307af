//! The worker's error type: every failure is either worth retrying or not, decided once here.

use std::time::Duration;

use crate::clients::external::ExternalError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Retry with backoff (outside service hiccup, database briefly unavailable).
    #[error("{message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// Retrying cannot help; the interaction is marked failed with this message.
    #[error("{0}")]
    Permanent(String),
    /// Another worker holds a live claim on this step (e.g. it is sending the reply right now):
    /// stop without recording an end state; the claim's expiry hands the work back.
    #[error("{0}")]
    Busy(String),
}

impl PipelineError {
    pub fn is_transient(&self) -> bool {
        matches!(self, PipelineError::Transient { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PipelineError::Transient { retry_after, .. } => *retry_after,
            PipelineError::Permanent(_) | PipelineError::Busy(_) => None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        PipelineError::Transient { message: message.into(), retry_after: None }
    }
}

impl From<ExternalError> for PipelineError {
    fn from(e: ExternalError) -> Self {
        match e {
            ExternalError::Transient { retry_after, .. } => {
                PipelineError::Transient { message: e.to_string(), retry_after }
            }
            ExternalError::Permanent { .. } => PipelineError::Permanent(e.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for PipelineError {
    fn from(e: sea_orm::DbErr) -> Self {
        // Connection loss, lock timeouts, restarts: all worth another try.
        PipelineError::transient(format!("database: {e}"))
    }
}
