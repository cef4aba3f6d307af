//! Processing one inbound interaction: claim it, run its steps, record each step's result,
//! reply once.
//!
//! At-least-once jobs, exactly-once effects: the claim (a lease on the row) keeps two workers
//! off the same message; every step records what it did (memory row, Mem0 event/id, outbound
//! row with the Twilio SID), so a redelivered or retried job resumes instead of repeating.
//! Transient failures retry with exponential backoff and jitter (honouring Retry-After);
//! permanent ones stop at once; either way the interaction ends `processed` or `failed`.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use tracing::warn;
use uuid::Uuid;

use crate::config::Settings;
use crate::db::stmt;
use crate::entities::{interaction, user};
use crate::error::PipelineError;
use crate::jobs::ProcessMessage;
use crate::llm::LlmClient;
use crate::memory::MemoryEngine;
use crate::models::{Embeddings, LocalModels};

mod converse;
mod media;
mod remind;
mod reply;
mod respond;
mod transcripts;

use crate::replies;
use crate::twilio::TwilioClient;
pub use converse::Recalled;
pub use media::{MediaClients, MediaOutcome, StoredMedia};
pub use reply::Template;
pub use respond::Reply;
pub use transcripts::{BACKFILL_INTERVAL, run_backfill};

/// Everything a worker needs; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub engine: MemoryEngine,
    /// The process's local models (embeddings, Whisper) and their inference pool.
    pub models: LocalModels,
    pub twilio: Option<TwilioClient>,
    /// The optional chat model (`LLM_API_BASE`): intent tie-breaks and one-sentence answers.
    pub llm: Option<LlmClient>,
    /// Where media bytes live; `media.signed_url(sha256, content_type)` links to them.
    pub media: crate::media::MediaStore,
    pub media_clients: MediaClients,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Failed(String),
    /// Already done, or being processed by another worker right now.
    Skipped,
}

impl Pipeline {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>) -> Self {
        let http = crate::http::client(settings.http_timeout);
        let models = LocalModels::start(&settings);
        let mem0 = settings
            .mem0
            .as_ref()
            .map(|m| crate::memory::mem0::Mem0Client::new(&m.api_base, &m.api_key, http.clone()));
        let engine = MemoryEngine::new(mem0, Embeddings::from_settings(&settings, &models));
        let twilio = settings.twilio.as_ref().map(|t| {
            TwilioClient::new(
                &settings.twilio_api_base,
                &t.account_sid,
                &t.auth_token,
                &t.whatsapp_number,
                http.clone(),
            )
        });
        let llm = settings
            .llm
            .as_ref()
            .map(|cfg| LlmClient::new(cfg, http.clone()));
        let media_clients = MediaClients::from_settings(&settings, &models);
        Pipeline {
            models,
            db,
            media: crate::media::MediaStore::from_settings(&settings),
            media_clients,
            settings,
            engine,
            twilio,
            llm,
        }
    }

    /// Runs the job to its end state. Errors are returned only when the database itself
    /// is unreachable (the queue then redelivers and the sweeper is the backstop).
    pub async fn process(&self, job: &ProcessMessage) -> Result<Outcome, PipelineError> {
        if !self.claim(job.interaction_id).await? {
            return Ok(Outcome::Skipped);
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.job_retry_base)
            .with_max_delay(self.settings.job_retry_max)
            .with_max_times(self.settings.job_max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| async { self.attempt(job.interaction_id).await })
            .retry(backoff)
            .when(PipelineError::is_transient)
            .adjust(|e, d| e.retry_after().or(d))
            .notify(|e, d| {
                metrics::counter!("mnemo_jobs_retried_total").increment(1);
                warn!(message_sid = %job.message_sid, error = %e, retry_in = ?d, "step failed, retrying");
            })
            .await;
        match result {
            Ok(()) => {
                self.finish(job.interaction_id, "processed", None).await?;
                Ok(Outcome::Processed)
            }
            Err(PipelineError::Busy(why)) => {
                // Our lease ran out while another worker took over; that worker (or, if it
                // dies, the sweeper after its lease) finishes the message.
                tracing::info!(message_sid = %job.message_sid, reason = %why, "leaving the message to its current holder");
                Ok(Outcome::Skipped)
            }
            Err(e) => {
                let msg = e.to_string();
                warn!(message_sid = %job.message_sid, error = %msg, "giving up on message");
                self.finish(job.interaction_id, "failed", Some(&msg))
                    .await?;
                Ok(Outcome::Failed(msg))
            }
        }
    }

    /// Takes the lease if the interaction is waiting, or its previous holder's lease expired.
    async fn claim(&self, id: Uuid) -> Result<bool, PipelineError> {
        let now = Utc::now();
        let res = self
            .db
            .execute_raw(stmt(
                &self.db,
                "UPDATE interactions SET status = 'processing', locked_until = $2, updated_at = $3 \
                 WHERE id = $1 AND direction = 'inbound' AND (status = 'received' \
                 OR (status = 'processing' AND (locked_until IS NULL OR locked_until < $3)))",
                vec![
                    id.into(),
                    lease_end(now, self.settings.job_lease).into(),
                    now.into(),
                ],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn finish(
        &self,
        id: Uuid,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), PipelineError> {
        let now = Utc::now();
        self.db
            .execute_raw(stmt(
                &self.db,
                "UPDATE interactions SET status = $2, error = $3, locked_until = NULL, \
                 processed_at = $4, updated_at = $4 WHERE id = $1",
                vec![
                    id.into(),
                    status.into(),
                    error.map(str::to_string).into(),
                    now.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// One try at all remaining steps.
    async fn attempt(&self, id: Uuid) -> Result<(), PipelineError> {
        let now = Utc::now();
        self.db
            .execute_raw(stmt(
                &self.db,
                "UPDATE interactions SET attempts = attempts + 1, locked_until = $2 WHERE id = $1",
                vec![id.into(), lease_end(now, self.settings.job_lease).into()],
            ))
            .await?;
        let inbound = interaction::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| PipelineError::Permanent(format!("interaction {id} not found")))?;
        let user = user::Entity::find_by_id(inbound.user_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| PipelineError::Permanent("user not found".into()))?;
        let tz: Tz = user
            .timezone
            .parse()
            .unwrap_or(self.settings.default_timezone);

        if let Some(reply) = self.existing_reply(id).await? {
            // Everything before the reply is done; only (re)sending may remain.
            return self.deliver(&user, reply).await;
        }

        let step = std::time::Instant::now();
        let media = self.ingest_media(&inbound).await?;
        step_done("media", step);
        let step = std::time::Instant::now();
        let reply = self.respond(&user, tz, &inbound, &media).await?;
        step_done("respond", step);
        let body = if self.claim_welcome(user.id).await? {
            format!("{}\n\n{}", replies::WELCOME, reply.body)
        } else {
            reply.body
        };
        let row = self
            .create_reply(&inbound, &body, reply.media_url.as_deref())
            .await?;
        let step = std::time::Instant::now();
        let sent = self.deliver(&user, row).await;
        step_done("reply", step);
        sent
    }
}

fn step_done(step: &'static str, started: std::time::Instant) {
    metrics::histogram!("mnemo_job_step_duration_seconds", "step" => step)
        .record(started.elapsed().as_secs_f64());
}

/// A claim keeps other workers off an interaction until this time; renewed at every attempt.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or_default()
}
