//! The sweeper: re-enqueues inbound interactions that nobody is working on — a crash between
//! the webhook's commit and its enqueue, a Redis that lost its data, a worker killed mid-job
//! whose lease ran out.
//!
//! A message whose worker died mid-job (its lease ran out) is taken over by the sweeping worker
//! itself, at once, rather than queued again behind whatever backlog the queue holds: so it is
//! answered within seconds of its lease running out even in a burst. Messages whose job was
//! lost before it started (`received`) are re-enqueued.
//!
//! Safe with many workers running it: each sweep claims its rows with one UPDATE that bumps
//! `updated_at` (PostgreSQL skips rows another sweeper holds), so a row is re-enqueued at most
//! once per `older_than` window. Duplicates would be harmless anyway (the pipeline's claim).

use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tracing::{info, warn};

use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::queue::JobQueue;
use mnemo_shared::store::entities::interaction::MessageStatus;
use mnemo_shared::store::interactions;

const BATCH: i64 = 200;

/// How long the queue keeps its record of a finished job (the interactions table keeps the
/// outcome for good).
pub const QUEUE_RETENTION: Duration = Duration::from_secs(3600);
/// How often each worker removes finished jobs older than [`QUEUE_RETENTION`].
const VACUUM_EVERY: Duration = Duration::from_secs(600);

/// One pass: re-enqueues up to 200 stale interactions; returns how many.
pub async fn sweep_once(
    db: &DatabaseConnection,
    queue: &JobQueue,
    older_than: Duration,
) -> Result<usize, sea_orm::DbErr> {
    sweep_once_with(db, queue, older_than, None).await
}

/// Who takes over a dead worker's messages directly: the pipeline and the free job slots.
pub struct Takeover {
    pub pipeline: crate::pipeline::Pipeline,
    pub slots: std::sync::Arc<tokio::sync::Semaphore>,
}

/// [`sweep_once`], taking over messages whose lease ran out with `takeover` while it has free
/// slots (the rest are re-enqueued); returns how many were recovered either way.
pub async fn sweep_once_with(
    db: &DatabaseConnection,
    queue: &JobQueue,
    older_than: Duration,
    takeover: Option<&Takeover>,
) -> Result<usize, sea_orm::DbErr> {
    let now = Utc::now();
    let cutoff = now - chrono::Duration::from_std(older_than).unwrap_or_default();
    let rows = interactions::sweep_stale(db, now, cutoff, BATCH).await?;
    let mut pushed = 0;
    for row in rows {
        let id = row.id;
        let sid = row.message_sid.unwrap_or_default();
        if row.status == MessageStatus::Processing
            && let Some(t) = takeover
            && let Ok(permit) = t.slots.clone().try_acquire_owned()
        {
            let pipeline = t.pipeline.clone();
            let job = ProcessMessage { interaction_id: id, message_sid: sid.clone() };
            tokio::spawn(async move {
                let _permit = permit;
                match pipeline.process(&job).await {
                    Ok(outcome) => {
                        info!(message_sid = %job.message_sid, ?outcome, "took over a dead worker's message")
                    }
                    Err(e) => {
                        warn!(message_sid = %job.message_sid, error = %e, "takeover failed; the next sweep retries")
                    }
                }
            });
            pushed += 1;
            continue;
        }
        let key = format!("{sid}:sweep:{}", now.timestamp_millis());
        match queue
            .push(ProcessMessage { interaction_id: id, message_sid: sid.clone() }, &key)
            .await
        {
            Ok(()) => pushed += 1,
            Err(e) => warn!(message_sid = %sid, error = %e, "sweeper could not re-enqueue"),
        }
    }
    if pushed > 0 {
        metrics::counter!("mnemo_sweeper_requeued_total").increment(pushed as u64);
        info!(count = pushed, "sweeper re-enqueued unprocessed messages");
    }
    Ok(pushed)
}

/// Runs [`sweep_once_with`] every `interval` until `shutdown` resolves.
pub async fn run(
    db: DatabaseConnection,
    queue: JobQueue,
    interval: Duration,
    older_than: Duration,
    takeover: Option<Takeover>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // The first pass comes shortly after start (recovering what a crash left), not at once.
    let first = tokio::time::Instant::now() + interval.min(Duration::from_secs(5));
    let mut tick = tokio::time::interval_at(first, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut vacuum = tokio::time::interval_at(first + VACUUM_EVERY, VACUUM_EVERY);
    vacuum.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                if let Err(e) = sweep_once_with(&db, &queue, older_than, takeover.as_ref()).await {
                    warn!(error = %e, "sweep failed");
                }
                mnemo_shared::monitoring::record_queue_depth(&db).await;
            }
            _ = vacuum.tick() => match queue.vacuum(&db, QUEUE_RETENTION).await {
                Ok(0) => {}
                Ok(n) => info!(jobs = n, "removed finished jobs from the queue"),
                Err(e) => warn!(error = %e, "queue vacuum failed"),
            },
        }
    }
}
