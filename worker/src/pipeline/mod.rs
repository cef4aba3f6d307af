//! Processing one inbound interaction: claim it, run its steps, record each step's result,
//! reply once.
//!
//! At-least-once jobs, exactly-once effects: the claim (a lease on the row) keeps two workers
//! off the same message; every step records what it did (memory row, Mem0 event/id, outbound
//! row with the Twilio SID), so a redelivered or retried job resumes instead of repeating.
//! Transient failures retry with exponential backoff and jitter (honouring Retry-After);
//! permanent ones stop at once; either way the interaction ends `processed` or `failed`.
//!
//! Never stuck (DESIGN §7):
//! - **Heartbeat lease**: the claim lasts `JOB_LEASE_SECS` and is renewed every third of it
//!   while the job runs, so a dead worker's message is taken over within seconds while a long
//!   step (a transcription) is never stolen.
//! - **Capped attempts**: every claim counts one attempt (and every retry inside it one more);
//!   past `JOB_MAX_ATTEMPTS` the claim refuses and the message ends `failed` — across
//!   redeliveries, sweeps and crashes, nothing is tried forever.
//! - **Poison messages**: a panic inside a job is caught and ends the message `failed` with the
//!   panic's message; the worker goes on. A failed message gets one short reply (it is kept,
//!   something went wrong, try rephrasing) and shows in the dead letters for a redrive.
//! - **Per-user order**: a message is claimed only when every earlier message of the same user
//!   has finished; the job that finishes one goes straight on with the user's next waiting
//!   message. Different users stay fully parallel.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::FutureExt;
use sea_orm::{DatabaseConnection, EntityTrait};
use tracing::{error, warn};
use uuid::Uuid;

use mnemo_shared::clients::llm::LlmClient;
use mnemo_shared::clients::models::{Embeddings, LocalModels};
use mnemo_shared::config::{ExposeSecret, Settings};
use mnemo_shared::error::PipelineError;
use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::memory::MemoryEngine;
use mnemo_shared::store::entities::interaction::MessageStatus;
use mnemo_shared::store::entities::{interaction, user};
use mnemo_shared::store::interactions::{self, Claim};

mod compose;
mod media;
mod ownership;
mod recall;
mod reminders;
mod send;

pub use compose::Reply;
pub use media::{MediaClients, MediaOutcome, NOT_TRANSCRIBED, StoredMedia};
use mnemo_shared::clients::twilio::TwilioClient;
use mnemo_shared::domain::replies;
pub use recall::Recalled;
pub use send::Template;

/// What a step returns: its value, or the error that decides between a retry and giving up.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

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
    pub media: mnemo_shared::media::MediaStore,
    pub media_clients: MediaClients,
}

/// The message being answered, its sender, and the zone their times are read in: what each
/// step that answers a message takes.
#[derive(Clone, Copy)]
pub(crate) struct Turn<'a> {
    pub user: &'a user::Model,
    pub tz: Tz,
    pub inbound: &'a interaction::Model,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Failed(String),
    /// Already done, or being processed by another worker right now.
    Skipped,
    /// An earlier message of the same user is still unfinished: the job that finishes it
    /// goes on with this one (and the sweeper is the backstop).
    Waiting,
}

/// Test-only fault injection: called with each claimed inbound message's text before its
/// steps run. Never set by the binaries; tests use it to make a job panic.
static BEFORE_STEPS: OnceLock<fn(&str)> = OnceLock::new();

/// Installs the test hook (once per process); false if one was already installed.
pub fn inject_before_steps(hook: fn(&str)) -> bool {
    BEFORE_STEPS.set(hook).is_ok()
}

/// The text of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_string())
}

impl Pipeline {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>) -> Self {
        let http = mnemo_shared::clients::http::client(settings.http_timeout);
        let models = LocalModels::start(&settings);
        let mem0 = settings.mem0.as_ref().map(|m| {
            mnemo_shared::clients::mem0::Mem0Client::new(
                &m.api_base,
                m.api_key.expose_secret(),
                http.clone(),
            )
        });
        let engine = MemoryEngine::new(mem0, Embeddings::from_settings(&settings, &models));
        let twilio = settings.twilio.as_ref().map(|t| {
            TwilioClient::new(
                &settings.twilio_api_base,
                &t.account_sid,
                t.auth_token.expose_secret(),
                &t.whatsapp_number,
                http.clone(),
            )
        });
        let llm = settings.llm.as_ref().map(|cfg| LlmClient::new(cfg, http.clone()));
        let media_clients = MediaClients::from_settings(&settings, &models);
        Pipeline {
            models,
            db,
            media: mnemo_shared::media::MediaStore::from_settings(&settings),
            media_clients,
            settings,
            engine,
            twilio,
            llm,
        }
    }

    /// Runs the job to its end state, then the user's next waiting messages in order. Errors
    /// are returned only when the database itself is unreachable (the queue then redelivers
    /// and the sweeper is the backstop). The outcome is the first message's.
    pub async fn process(&self, job: &ProcessMessage) -> Result<Outcome> {
        let (outcome, mut next) = self.process_one(job).await?;
        while let Some(job) = next {
            let span = tracing::info_span!("next", message_sid = %job.message_sid, interaction_id = %job.interaction_id);
            let done = tracing::Instrument::instrument(self.process_one(&job), span).await;
            next = match done {
                Ok((_, next)) => next,
                Err(e) => {
                    // Its own job (or the sweeper) takes it up.
                    warn!(message_sid = %job.message_sid, error = %e, "could not go on with the next message");
                    None
                }
            };
        }
        Ok(outcome)
    }

    /// One message: claim, run under a heartbeat with panics caught, record the end state.
    /// Returns the user's next waiting message when this one ended.
    async fn process_one(&self, job: &ProcessMessage) -> Result<(Outcome, Option<ProcessMessage>)> {
        let id = job.interaction_id;
        let claimed = match self.claim(id).await? {
            Claim::Taken(row) => row,
            Claim::NotNow => return Ok((Outcome::Skipped, None)),
            Claim::Waiting => return Ok((Outcome::Waiting, None)),
            Claim::Exhausted { attempts, user_id } => {
                let msg = format!(
                    "gave up after {attempts} attempts (each one ended without an outcome, e.g. the worker stopped)"
                );
                warn!(message_sid = %job.message_sid, error = %msg, "giving up on message");
                self.finish(id, MessageStatus::Failed, Some(&msg)).await?;
                self.apologise(id).await;
                return Ok((Outcome::Failed(msg), self.next_waiting(user_id).await?));
            }
        };
        let user_id = claimed.user_id;
        let work = AssertUnwindSafe(self.run_claimed(job, *claimed)).catch_unwind();
        tokio::pin!(work);
        let result = tokio::select! {
            r = &mut work => r,
            never = self.heartbeat(id) => match never {},
        };
        let outcome = match result {
            Ok(Ok(())) => {
                self.finish(id, MessageStatus::Processed, None).await?;
                Outcome::Processed
            }
            Ok(Err(PipelineError::Busy(why))) => {
                // Our lease ran out while another worker took over; that worker (or, if it
                // dies, the sweeper after its lease) finishes the message.
                tracing::info!(message_sid = %job.message_sid, reason = %why, "leaving the message to its current holder");
                return Ok((Outcome::Skipped, None));
            }
            Ok(Err(e)) => {
                let msg = e.to_string();
                warn!(message_sid = %job.message_sid, error = %msg, "giving up on message");
                self.finish(id, MessageStatus::Failed, Some(&msg)).await?;
                self.apologise(id).await;
                Outcome::Failed(msg)
            }
            Err(panic) => {
                let msg = format!("panic: {}", panic_message(panic.as_ref()));
                metrics::counter!("mnemo_jobs_panicked_total").increment(1);
                error!(message_sid = %job.message_sid, error = %msg, "job panicked; message failed");
                self.finish(id, MessageStatus::Failed, Some(&msg)).await?;
                self.apologise(id).await;
                Outcome::Failed(msg)
            }
        };
        Ok((outcome, self.next_waiting(user_id).await?))
    }

    /// The steps with their retries; `claimed` is the row as the claim left it (its
    /// `attempts` counts the claim).
    async fn run_claimed(&self, job: &ProcessMessage, claimed: interaction::Model) -> Result<()> {
        let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
        let left = self.settings.job_max_attempts.saturating_sub(attempts);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.job_retry_base)
            .with_max_delay(self.settings.job_retry_max)
            .with_max_times(left as usize)
            .with_jitter();
        let first = std::sync::Mutex::new(Some(claimed));
        (|| async {
            // The claim counted the first try and read the row; each retry counts one more
            // and reads it again.
            let claimed = first.lock().map(|mut f| f.take()).unwrap_or(None);
            self.attempt(job.interaction_id, claimed).await
        })
        .retry(backoff)
        .when(PipelineError::is_transient)
        .adjust(|e, d| e.retry_after().or(d))
        .notify(|e, d| {
            metrics::counter!("mnemo_jobs_retried_total").increment(1);
            warn!(message_sid = %job.message_sid, error = %e, retry_in = ?d, "step failed, retrying");
        })
        .await
    }

    /// Renews the lease every third of `JOB_LEASE_SECS` while the job runs; never returns.
    async fn heartbeat(&self, id: Uuid) -> std::convert::Infallible {
        let every = (self.settings.job_lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let until = lease_end(Utc::now(), self.settings.job_lease);
            if let Err(e) = interactions::renew_lease(&self.db, id, until).await {
                warn!(interaction_id = %id, error = %e, "lease heartbeat failed");
            }
        }
    }

    /// Takes the lease if the interaction is waiting (or its previous holder's lease expired),
    /// it is under the attempt cap, and no earlier message of the same user is unfinished.
    async fn claim(&self, id: Uuid) -> Result<Claim> {
        let now = Utc::now();
        let max = i32::try_from(self.settings.job_max_attempts).unwrap_or(i32::MAX);
        let until = lease_end(now, self.settings.job_lease);
        Ok(interactions::claim(&self.db, id, now, until, max).await?)
    }

    /// The user's earliest message still waiting (`received`), to go on with in order.
    async fn next_waiting(&self, user_id: Uuid) -> Result<Option<ProcessMessage>> {
        let next = interactions::next_waiting(&self.db, user_id).await?;
        Ok(next.map(|(interaction_id, sid)| ProcessMessage {
            interaction_id,
            message_sid: sid.unwrap_or_default(),
        }))
    }

    /// One short reply for a message that ended `failed` (at most one per message, however
    /// often it is redriven); best effort: a failure to send is logged. None when the failure
    /// came at the reply itself (Twilio refused it): the user already has, or cannot get, one.
    async fn apologise(&self, id: Uuid) {
        let sent = async {
            if self.existing_reply(id).await?.is_some() {
                return Ok(());
            }
            let inbound = interaction::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .ok_or_else(|| PipelineError::Permanent(format!("interaction {id} not found")))?;
            let user = user::Entity::find_by_id(inbound.user_id)
                .one(&self.db)
                .await?
                .ok_or_else(|| PipelineError::Permanent("user not found".into()))?;
            let row = self.create_failure_reply(&inbound).await?;
            self.deliver(&user, row).await
        };
        if let Err(e) = sent.await {
            warn!(interaction_id = %id, error = %e, "could not send the failure reply");
        }
    }

    async fn finish(&self, id: Uuid, status: MessageStatus, error: Option<&str>) -> Result<()> {
        Ok(interactions::finish(&self.db, id, status, error, Utc::now()).await?)
    }

    /// One try at all remaining steps: the first with the row the claim returned, a retry
    /// (`claimed` None) counting itself as one more attempt.
    async fn attempt(&self, id: Uuid, claimed: Option<interaction::Model>) -> Result<()> {
        let inbound = match claimed {
            Some(row) => row,
            None => {
                // The claim counted and leased the first try; a retry counts itself and renews.
                let until = lease_end(Utc::now(), self.settings.job_lease);
                interactions::begin_attempt(&self.db, id, until, true).await?;
                interaction::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| {
                    PipelineError::Permanent(format!("interaction {id} not found"))
                })?
            }
        };
        // The very first attempt at this message (never ended, so never redriven either):
        // nothing of it can be recorded yet.
        let first_ever = inbound.attempts <= 1 && inbound.processed_at.is_none();
        let user = user::Entity::find_by_id(inbound.user_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| PipelineError::Permanent("user not found".into()))?;
        let tz: Tz = user.timezone.parse().unwrap_or(self.settings.default_timezone);

        if let Some(hook) = BEFORE_STEPS.get() {
            hook(&inbound.body);
        }
        if !first_ever && let Some(reply) = self.existing_reply(id).await? {
            // Everything before the reply is done; only (re)sending may remain.
            return self.deliver(&user, reply).await;
        }

        let step = std::time::Instant::now();
        let media = self.ingest_media(&inbound).await?;
        step_done("media", step);
        let step = std::time::Instant::now();
        let reply =
            self.respond(Turn { user: &user, tz, inbound: &inbound }, &media, first_ever).await?;
        step_done("respond", step);
        let body = if user.welcomed_at.is_none() && self.claim_welcome(user.id).await? {
            format!("{}\n\n{}", replies::welcome(tz), reply.body)
        } else {
            reply.body
        };
        let row = self.create_reply(&inbound, &body, reply.media_url.as_deref()).await?;
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
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(now)
}
