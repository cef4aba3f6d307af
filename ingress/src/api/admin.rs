//! Dead letters: inbound messages whose processing ended `failed` after its retries, listed and
//! retried by an operator (`/admin/jobs/failed`, `/admin/jobs/{id}/retry`). Our database is the
//! source of truth, so a retry resets the row and enqueues a fresh job.

use chrono::{DateTime, Utc};
use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::store::dead_letters;
use mnemo_shared::store::entities::interaction;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::RestTags;
use super::auth::BearerAuth;
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct FailedJob {
    /// The inbound interaction.
    pub id: Uuid,
    pub user_id: Uuid,
    #[oai(nullable)]
    pub message_sid: Option<String>,
    pub kind: String,
    /// Why it failed (the last error).
    #[oai(nullable)]
    pub error: Option<String>,
    pub attempts: i32,
    pub occurred_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct FailedJobList {
    /// Most recently failed first.
    pub items: Vec<FailedJob>,
}

#[derive(Debug, Clone, Object)]
pub struct RetriedJob {
    pub id: Uuid,
    /// `received`: queued again.
    pub status: String,
}

pub struct AdminApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Admin")]
impl AdminApi {
    /// Failed jobs (dead letters)
    ///
    /// Inbound messages whose processing exhausted its retries or hit a permanent error.
    #[oai(path = "/admin/jobs/failed", method = "get", operation_id = "failed_jobs")]
    async fn failed(
        &self,
        _auth: BearerAuth,
        /// At most this many (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<FailedJobList>, ApiError> {
        let rows = dead_letters::failed(&self.state.db, limit.0.unwrap_or(100) as u64).await?;
        Ok(Json(FailedJobList {
            items: rows
                .into_iter()
                .map(|r| FailedJob {
                    id: r.id,
                    user_id: r.user_id,
                    message_sid: r.message_sid,
                    kind: r.kind.to_string(),
                    error: r.error,
                    attempts: r.attempts,
                    occurred_at: r.occurred_at,
                    failed_at: r.processed_at.unwrap_or(r.updated_at),
                })
                .collect(),
        }))
    }

    /// Retry a failed job
    ///
    /// Puts the message back in the queue with a fresh `JOB_MAX_ATTEMPTS`; steps already done
    /// (memory, reply) are not repeated.
    /// 404 for an unknown id, 409 when the message is not in the `failed` state.
    #[oai(path = "/admin/jobs/:id/retry", method = "post", operation_id = "retry_job")]
    async fn retry(
        &self,
        _auth: BearerAuth,
        /// The inbound interaction's id.
        id: Path<Uuid>,
    ) -> Result<Json<RetriedJob>, ApiError> {
        let db = &self.state.db;
        let Some(row) = dead_letters::find(db, id.0).await? else {
            return Err(ApiError::NotFound(format!("no interaction {}", id.0)));
        };
        if row.direction != interaction::Direction::Inbound
            || row.status != interaction::MessageStatus::Failed
        {
            return Err(ApiError::Conflict(format!(
                "interaction {} is {} {}, not a failed inbound message",
                row.id, row.direction, row.status
            )));
        }
        let now = Utc::now();
        if !dead_letters::retry(db, row.id, now).await? {
            return Err(ApiError::Conflict("retried concurrently".into()));
        }
        let sid = row.message_sid.clone().unwrap_or_default();
        let key = format!("{sid}:retry:{}", now.timestamp_millis());
        if let Err(e) = self
            .state
            .queue
            .push(ProcessMessage { interaction_id: row.id, message_sid: sid }, &key)
            .await
        {
            // The row is `received` again: the sweeper picks it up.
            tracing::warn!(error = %e, "retry enqueue failed; left to the sweeper");
        }
        Ok(Json(RetriedJob { id: row.id, status: "received".into() }))
    }
}
