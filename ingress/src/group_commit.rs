//! Group commit for the webhook: concurrent webhooks are recorded together in one transaction
//! (one statement on PostgreSQL) and their jobs enqueued together in one push.
//!
//! There is no timer: a batch is whatever arrived while the previous batches were being
//! written, so a lone webhook goes straight through (a batch of one) and a burst shares
//! round trips and commits instead of queueing for pool connections. At most
//! `max_in_flight` batches run at once; each holds up to `max_batch` messages.
//!
//! Every caller still gets its own answer, and only after its row is committed: `Ok(New)`,
//! `Ok(Duplicate)` or the database error (the webhook then answers 503 and Twilio retries).

use std::sync::Arc;

use mnemo_shared::sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::warn;

use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::queue::JobQueue;
use mnemo_shared::store::db::{NewInbound, record_inbound_batch};

/// What became of one webhook's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Recorded now; `queued` is false when the enqueue failed after the commit (the sweeper
    /// re-enqueues it, so the message is safe either way).
    New { queued: bool },
    /// Its MessageSid was already recorded: nothing created, nothing queued.
    Duplicate,
}

struct Pending {
    msg: NewInbound,
    answer: oneshot::Sender<Result<Ingested, Arc<DbErr>>>,
}

/// A handle to the batching task; cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Pending>,
}

impl Ingestor {
    /// Starts the batching task on the current runtime.
    pub fn spawn(
        db: DatabaseConnection,
        queue: JobQueue,
        max_batch: usize,
        max_in_flight: usize,
    ) -> Ingestor {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * max_in_flight.max(1) * 4);
        tokio::spawn(run(db, queue, rx, max_batch, max_in_flight.max(1)));
        Ingestor { tx }
    }

    /// Records one message (and enqueues its job if it is new); returns once it is committed.
    pub async fn ingest(&self, msg: NewInbound) -> Result<Ingested, Arc<DbErr>> {
        let (answer, rx) = oneshot::channel();
        let closed = || Arc::new(DbErr::Custom("the ingest task has stopped".into()));
        self.tx.send(Pending { msg, answer }).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

async fn run(
    db: DatabaseConnection,
    queue: JobQueue,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    max_in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot before draining: while all slots are busy, arrivals pile up
        // and the next batch takes them all.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(max_batch);
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let db = db.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            write_batch(&db, &queue, batch).await;
            drop(slot);
        });
    }
}

async fn write_batch(db: &DatabaseConnection, queue: &JobQueue, batch: Vec<Pending>) {
    metrics::histogram!("mnemo_ingest_batch_size").record(batch.len() as f64);
    let (msgs, answers): (Vec<NewInbound>, Vec<_>) =
        batch.into_iter().map(|p| (p.msg, p.answer)).unzip();
    let started = std::time::Instant::now();
    let written = record_inbound_batch(db, &msgs).await;
    metrics::histogram!("mnemo_ingest_step_seconds", "step" => "record")
        .record(started.elapsed().as_secs_f64());
    let recorded = match written {
        Ok(r) => r,
        Err(e) => {
            let e = Arc::new(e);
            for answer in answers {
                let _ = answer.send(Err(e.clone()));
            }
            return;
        }
    };
    let jobs: Vec<(ProcessMessage, String)> = msgs
        .iter()
        .zip(&recorded)
        .filter_map(|(m, r)| {
            r.map(|r| {
                (
                    ProcessMessage {
                        interaction_id: r.interaction_id,
                        message_sid: m.message_sid.clone(),
                    },
                    m.message_sid.clone(),
                )
            })
        })
        .collect();
    let queued = if jobs.is_empty() {
        true
    } else {
        let started = std::time::Instant::now();
        let pushed = queue.push_many(jobs).await;
        metrics::histogram!("mnemo_ingest_step_seconds", "step" => "enqueue")
            .record(started.elapsed().as_secs_f64());
        match pushed {
            Ok(()) => true,
            Err(e) => {
                // Committed but not queued: the sweeper re-enqueues them.
                warn!(error = %e, "enqueue failed after commit; left to the sweeper");
                false
            }
        }
    };
    for (answer, r) in answers.into_iter().zip(recorded) {
        let _ = answer.send(Ok(match r {
            Some(_) => Ingested::New { queued },
            None => Ingested::Duplicate,
        }));
    }
}
