//! The apalis worker: takes `ProcessMessage` jobs from the queue (Redis or the database) and
//! runs the pipeline for each, `WORKER_CONCURRENCY` at a time, plus the sweeper and the
//! reminder scheduler (both safe with any number of workers). Used by the
//! `mnemo-worker` binary and, in embedded mode, inside the ingress.

pub mod backfill;
pub mod listener;
pub mod pipeline;
pub mod prometheus;
pub mod scheduler;
pub mod startup;
pub mod sweeper;

use std::future::Future;
use std::time::Duration;

use crate::pipeline::{Outcome, Pipeline};
use apalis::prelude::*;
use futures::FutureExt;
use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::queue::JobQueue;
use tracing::{Instrument, error, info, info_span};

/// How often an idle worker asks the queue for work.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

async fn handle(job: ProcessMessage, pipeline: Data<Pipeline>) -> Result<(), BoxDynError> {
    let span =
        info_span!("job", message_sid = %job.message_sid, interaction_id = %job.interaction_id);
    async move {
        let started = std::time::Instant::now();
        metrics::counter!("mnemo_jobs_started_total").increment(1);
        metrics::gauge!("mnemo_jobs_in_flight").increment(1.0);
        // The pipeline catches a panic in a job's steps; this is the backstop for one outside
        // them, so the worker always goes on.
        let result = match std::panic::AssertUnwindSafe(pipeline.process(&job)).catch_unwind().await
        {
            Ok(result) => result,
            Err(_) => {
                error!("job panicked outside its steps; the sweeper takes the message up again");
                Ok(Outcome::Skipped)
            }
        };
        metrics::gauge!("mnemo_jobs_in_flight").decrement(1.0);
        metrics::histogram!("mnemo_job_duration_seconds").record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(Outcome::Processed) => "succeeded",
            Ok(Outcome::Failed(_)) => "failed",
            Ok(Outcome::Skipped) => "skipped",
            Ok(Outcome::Waiting) => "waiting",
            Err(_) => "error",
        };
        metrics::counter!("mnemo_jobs_finished_total", "outcome" => outcome).increment(1);
        match result {
            Ok(Outcome::Processed) => info!("processed"),
            Ok(Outcome::Failed(e)) => error!(error = %e, "failed"),
            Ok(Outcome::Skipped) => info!("skipped: already done or in progress elsewhere"),
            Ok(Outcome::Waiting) => {
                info!("waiting: an earlier message of the same user is unfinished")
            }
            // The database is unreachable: let the queue redeliver; the sweeper is the backstop.
            Err(e) => return Err(Box::new(e) as BoxDynError),
        }
        Ok(())
    }
    .instrument(span)
    .await
}

/// `GET /metrics` (Prometheus text) and `GET /health` for a standalone worker (`METRICS_ADDR`);
/// `/metrics` needs `Authorization: Bearer <METRICS_TOKEN>` when `token` is set, and queries
/// the database at most every `monitoring::DB_GAUGES_EVERY`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    db: mnemo_shared::sea_orm::DatabaseConnection,
    token: Option<mnemo_shared::config::SecretString>,
) {
    use poem::{Route, get, handler};

    #[handler]
    fn health() -> &'static str {
        "ok"
    }
    let app = Route::new()
        .at("/metrics", get(crate::prometheus::Scrape::new(db, token)))
        .at("/health", get(health));
    match crate::listener::NoDelayAcceptor::from_tokio(listener) {
        Ok(acceptor) => {
            if let Err(e) = poem::Server::new_with_acceptor(acceptor).run(app).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        }
        Err(e) => tracing::error!(error = %e, "metrics listener failed"),
    }
}

/// Pause before the n-th restart: none for the first start, then 0.5 s doubling up to 10 s.
fn restart_pause(restarts: usize) -> Duration {
    if restarts == 0 {
        return Duration::ZERO;
    }
    let ms = 500u64.saturating_mul(1 << (restarts - 1).min(5));
    Duration::from_millis(ms.min(10_000))
}

/// A unique worker name per process (queues track workers by name).
pub fn worker_name() -> String {
    format!("mnemo-worker-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple())
}

/// With `LOCAL_MODELS=required`, waits until the models are ready, or fails with one line.
pub async fn models_required(pipeline: &Pipeline) -> Result<(), BoxDynError> {
    if pipeline.settings.models.mode == mnemo_shared::config::LocalModelsMode::Required {
        info!("LOCAL_MODELS=required: waiting for the models before serving");
        pipeline
            .models
            .wait_ready(Duration::from_secs(3600))
            .await
            .map_err(|e| format!("LOCAL_MODELS=required: {e}"))?;
        pipeline
            .media_clients
            .local_whisper
            .wait_ready(Duration::from_secs(3600))
            .await
            .map_err(|e| format!("LOCAL_MODELS=required: {e}"))?;
    }
    Ok(())
}

/// Runs workers and the sweeper until `shutdown` resolves, then lets in-flight jobs finish
/// within the configured timeout.
pub async fn run(
    pipeline: Pipeline,
    queue: JobQueue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxDynError> {
    mnemo_shared::monitoring::handle();
    let settings = pipeline.settings.clone();
    let concurrency = settings.worker_concurrency;
    let name = worker_name();
    info!(worker = %name, queue = queue.kind(), concurrency, "worker starting");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sweeper = {
        let db = pipeline.db.clone();
        let queue = queue.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::sweeper::run(
            db,
            queue,
            settings.sweep_interval,
            settings.sweep_after,
            Some(crate::sweeper::Takeover {
                pipeline: pipeline.clone(),
                slots: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency)),
            }),
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ))
    };

    let backfill = {
        let db = pipeline.db.clone();
        let engine = pipeline.engine.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::backfill::embeddings::run(db, engine, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };

    let scheduler = {
        let pipeline = pipeline.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::scheduler::run(pipeline, crate::scheduler::SCAN_INTERVAL, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };

    let transcripts = {
        let pipeline = pipeline.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::backfill::transcripts::run_backfill(
            pipeline,
            crate::backfill::transcripts::BACKFILL_INTERVAL,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ))
    };

    // A worker whose backend fails (Redis flushed or restarted, database gone) is rebuilt by
    // the monitor after a growing pause, so a queue outage never leaves the process idle.
    macro_rules! worker_on {
        ($storage:expr) => {{
            let storage = $storage;
            move |restarts: usize| {
                let pause = restart_pause(restarts);
                WorkerBuilder::new(name.clone())
                    .backend(storage.clone().before_start(move |_| async move {
                        if !pause.is_zero() {
                            tracing::warn!(
                                ?pause,
                                restarts,
                                "restarting worker after a queue error"
                            );
                            tokio::time::sleep(pause).await;
                        }
                        Ok(())
                    }))
                    .data(pipeline.clone())
                    .concurrency(concurrency)
                    .parallelize(tokio::spawn)
                    .build(handle)
            }
        }};
    }
    let monitor =
        Monitor::new().shutdown_timeout(settings.shutdown_timeout).should_restart(|_, e| {
            tracing::error!(error = %e, "worker stopped on a queue error");
            true
        });
    let monitor = match queue {
        JobQueue::Redis(storage) => monitor.register(worker_on!(storage)),
        JobQueue::Sqlite(storage) => monitor.register(worker_on!(storage)),
        JobQueue::Postgres(storage) => monitor.register(worker_on!(storage)),
    };
    // apalis 1.0's interval poll strategy does not re-arm its timer, so an idle worker would
    // only look again at its 30 s heartbeat: wake it ourselves every POLL_INTERVAL.
    let ctx = monitor.context();
    let waker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for w in ctx.workers() {
                let _ = ctx.wake_worker(w.name());
            }
        }
    });
    let result = monitor
        .run_with_signal(async move {
            shutdown.await;
            info!("worker shutting down: finishing in-flight jobs");
            Ok(())
        })
        .await;
    waker.abort();
    let _ = stop_tx.send(true);
    let _ = sweeper.await;
    let _ = scheduler.await;
    let _ = backfill.await;
    let _ = transcripts.await;
    result.map_err(|e| Box::new(e) as BoxDynError)
}
