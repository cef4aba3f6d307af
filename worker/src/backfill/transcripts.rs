//! The transcript backfill: voice notes kept untranscribed while no speech model was
//! installed are transcribed once one is, oldest first, one at a time on the inference pool.
//!
//! Resumable by construction: a note waits while its memory's text is the marker
//! "voice note (not transcribed)" and its interaction has no transcript; each note's transcript
//! and memory text are written in one transaction, so a restart picks up exactly the notes not
//! yet done. Notes that cannot be transcribed (damaged, too long) get another memory text and
//! leave the backlog. The user is not messaged again.

use std::time::Duration;

use chrono::Utc;
use sea_orm::EntityTrait;
use tracing::{info, warn};

use crate::pipeline::NOT_TRANSCRIBED;
use crate::pipeline::Pipeline;
use mnemo_shared::clients::transcribe::LocalOutcome;
use mnemo_shared::error::PipelineError;
use mnemo_shared::store::entities::memory;
use mnemo_shared::store::voice_notes::{self, Settled, Waiting};

/// How often the backfill looks for waiting notes (and for a newly installed model).
pub const BACKFILL_INTERVAL: Duration = Duration::from_secs(30);

impl Pipeline {
    /// Transcribes up to `limit` waiting voice notes; returns how many left the backlog.
    /// Does nothing while a transcription API is configured or no local model is installed.
    pub async fn backfill_transcripts(&self, limit: u64) -> Result<usize, PipelineError> {
        if self.media_clients.transcriber.is_some() {
            return Ok(0);
        }
        let local = &self.media_clients.local_whisper;
        let model = match local.model().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(0),
            Err(e) => return Err(PipelineError::transient(e.to_string())),
        };
        let waiting = voice_notes::waiting(&self.db, NOT_TRANSCRIBED, limit).await?;
        let mut done = 0;
        for w in waiting {
            let Some(file) = self.media.fetch_to_staging(&w.storage_key).await? else {
                warn!(interaction = %w.id, key = %w.storage_key, "voice note bytes missing; leaving it untranscribed");
                self.settle(&w, None, None, "voice note (audio missing)").await?;
                done += 1;
                continue;
            };
            let outcome = local
                .transcribe_file(model.clone(), file.path(), &w.content_type)
                .await
                .map_err(|e| PipelineError::transient(e.to_string()))?;
            drop(file);
            let settled = match outcome {
                LocalOutcome::Transcribed(t) if t.text.trim().is_empty() => {
                    self.settle(&w, None, None, "voice note (no words recognised)").await?
                }
                LocalOutcome::Transcribed(t) => {
                    let language = if t.low_confidence { None } else { t.language.clone() };
                    self.settle(&w, Some(&t.text), language.as_deref(), &t.text).await?
                }
                LocalOutcome::TooLong { .. } => {
                    self.settle(&w, None, None, "voice note (too long to transcribe)").await?
                }
                LocalOutcome::Undecodable(why) => {
                    warn!(interaction = %w.id, error = %why, "voice note could not be decoded");
                    self.settle(&w, None, None, "voice note (could not be decoded)").await?
                }
            };
            if settled {
                // The memory's vector was made from the placeholder text: make it again from
                // the transcript (or leave it to the embedding backfill when no model is ready).
                if let Some(mem) = memory::Entity::find_by_id(w.memory_id).one(&self.db).await? {
                    self.engine.embed(&self.db, &mem).await?;
                }
                done += 1;
                metrics::counter!("mnemo_transcripts_backfilled_total").increment(1);
            }
        }
        if done > 0 {
            info!(done, "voice notes transcribed by the backfill");
        }
        Ok(done)
    }

    /// Records the outcome of one waiting note in one transaction; false when someone else
    /// settled it first.
    async fn settle(
        &self,
        w: &Waiting,
        transcript: Option<&str>,
        language: Option<&str>,
        memory_text: &str,
    ) -> Result<bool, PipelineError> {
        let settled = Settled { transcript: transcript.map(|t| (t, language)), memory_text };
        Ok(voice_notes::settle(&self.db, w, NOT_TRANSCRIBED, settled, Utc::now()).await?)
    }
}

/// Runs the backfill every [`BACKFILL_INTERVAL`] until `shutdown` resolves.
pub async fn run_backfill(
    pipeline: Pipeline,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let work = async {
        loop {
            loop {
                match pipeline.backfill_transcripts(8).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        warn!(error = %e, "transcript backfill failed; will try again");
                        break;
                    }
                }
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        _ = work => {}
        _ = shutdown => {}
    }
}
