//! The job queue: apalis-redis when `REDIS_URL` is set, otherwise the database's own queue
//! (apalis-sqlite / apalis-postgres) in `DATABASE_URL`'s database.
//!
//! Pushing uses the MessageSid as the idempotency key, so a webhook retried by Twilio can never
//! enqueue twice; the sweeper re-enqueues with a distinct key (see `sweeper.rs`).

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_redis::RedisStorage;
use apalis_sqlite::{SqlitePoolOptions, SqliteStorage};
use sea_orm::{DatabaseConnection, DbBackend};

use crate::config::{QueueBackend, Settings};
use crate::jobs::ProcessMessage;

/// How long a push or ping may take before it counts as failed.
pub const QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(String),
    #[error("database queue: {0}")]
    Database(String),
    #[error("push failed: {0}")]
    Push(String),
}

impl QueueError {
    fn database(e: impl std::fmt::Display) -> Self {
        QueueError::Database(e.to_string())
    }
}

/// One multiplexed, self-reconnecting Redis connection with `TCP_NODELAY`: concurrent pushes
/// share it, and without NODELAY a command written while the previous one is unacknowledged
/// waits for the server's delayed ACK (tens of milliseconds of tail latency).
async fn redis_connection(url: &str) -> redis::RedisResult<redis::aio::ConnectionManager> {
    use redis::IntoConnectionInfo;
    let info = url
        .into_connection_info()?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    redis::Client::open(info)?.get_connection_manager().await
}

/// A cheap-to-clone handle used by the ingress (and the sweeper) to enqueue work.
#[derive(Clone)]
pub enum JobQueue {
    Redis(RedisStorage<ProcessMessage>),
    Sqlite(SqliteStorage<ProcessMessage>),
    Postgres(PostgresStorage<ProcessMessage>),
}

impl JobQueue {
    /// Connects the queue named in the settings; for the database queue, installs apalis's own
    /// tables next to ours (idempotent).
    pub async fn connect(settings: &Settings, db: &DatabaseConnection) -> Result<Self, QueueError> {
        let (name, batch) = (settings.queue_name.as_str(), settings.worker_concurrency.max(1));
        match &settings.queue {
            QueueBackend::Redis(url) => {
                let conn = redis_connection(url.as_str())
                    .await
                    .map_err(|e| QueueError::Redis(e.to_string()))?;
                let config = apalis_redis::Config::default()
                    .queue(name)
                    .batch_size(batch)
                    // Twilio never re-sends a message a day later; keep the key set bounded.
                    .idempotency_ttl(Some(std::time::Duration::from_secs(24 * 3600)));
                Ok(JobQueue::Redis(RedisStorage::new(conn).with_config(config)))
            }
            QueueBackend::Database => match db.get_database_backend() {
                DbBackend::Sqlite => {
                    let pool = db.get_sqlite_connection_pool();
                    // apalis's setup also sets per-connection pragmas, `synchronous = OFF` among
                    // them, on whichever connection it runs: a commit there would not be synced
                    // before the webhook answers. It gets a connection of its own, closed after.
                    let own = SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with((*pool.connect_options()).clone())
                        .await
                        .map_err(QueueError::database)?;
                    let setup = SqliteStorage::setup(&own).await;
                    own.close().await;
                    setup.map_err(QueueError::database)?;
                    let config = apalis_sqlite::Config::default().queue(name).batch_size(batch);
                    Ok(JobQueue::Sqlite(SqliteStorage::new(pool).with_config(config)))
                }
                DbBackend::Postgres => {
                    let pool = db.get_postgres_connection_pool();
                    PostgresStorage::setup(pool).await.map_err(QueueError::database)?;
                    let config = apalis_postgres::Config::default().queue(name).batch_size(batch);
                    Ok(JobQueue::Postgres(PostgresStorage::new(pool).with_config(config)))
                }
                other => Err(QueueError::Database(format!("unsupported backend {other:?}"))),
            },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobQueue::Redis(_) => "redis",
            JobQueue::Sqlite(_) => "sqlite",
            JobQueue::Postgres(_) => "postgres",
        }
    }

    /// Enqueues a job; a second push with the same `idempotency_key` is dropped by the backend.
    pub async fn push(&self, job: ProcessMessage, idempotency_key: &str) -> Result<(), QueueError> {
        self.push_many(vec![(job, idempotency_key.to_string())]).await
    }

    /// Enqueues many jobs in one push (one script call on Redis), each with its own
    /// idempotency key; gives up after [`QUEUE_TIMEOUT`].
    pub async fn push_many(&self, jobs: Vec<(ProcessMessage, String)>) -> Result<(), QueueError> {
        let tasks = futures::stream::iter(
            jobs.into_iter().map(|(job, key)| TaskBuilder::new(job).idempotency_key(key).build()),
        );
        let push = async {
            match self {
                JobQueue::Redis(s) => s.clone().push_all(tasks).await.map_err(|e| e.to_string()),
                JobQueue::Sqlite(s) => s.clone().push_all(tasks).await.map_err(|e| e.to_string()),
                JobQueue::Postgres(s) => s.clone().push_all(tasks).await.map_err(|e| e.to_string()),
            }
        };
        match tokio::time::timeout(QUEUE_TIMEOUT, push).await {
            Ok(res) => res.map_err(QueueError::Push),
            Err(_) => Err(QueueError::Push("timed out".into())),
        }
    }

    /// Deletes the queue's own records of jobs that ended (done, killed, failed for good)
    /// longer ago than `older_than`. They are bookkeeping only (the interactions table holds
    /// every outcome), and without this Redis and the queue tables grow with every message.
    pub async fn vacuum(
        &self,
        db: &DatabaseConnection,
        older_than: std::time::Duration,
    ) -> Result<usize, QueueError> {
        let secs = older_than.as_secs() as i64;
        match self {
            JobQueue::Redis(s) => {
                use apalis_core::backend::Vacuum;
                let mut s = s.clone();
                tokio::time::timeout(QUEUE_TIMEOUT * 10, s.vacuum_before(older_than))
                    .await
                    .map_err(|_| QueueError::Redis("vacuum timed out".into()))?
                    .map_err(|e| QueueError::Redis(e.to_string()))
            }
            // Not apalis's own vacuum for the database queues: it ends with a full `VACUUM`
            // of the whole database, which would lock SQLite for the duration.
            JobQueue::Sqlite(_) | JobQueue::Postgres(_) => {
                let backend = match self {
                    JobQueue::Sqlite(_) => DbBackend::Sqlite,
                    _ => DbBackend::Postgres,
                };
                crate::store::queue_jobs::delete_finished(db, backend, secs)
                    .await
                    .map(|n| n as usize)
                    .map_err(QueueError::database)
            }
        }
    }

    /// Reachability check for `/ready` (the database queue lives in the database, which
    /// `/ready` checks on its own).
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            JobQueue::Redis(s) => {
                let mut conn = s.clone();
                let mut c = conn.get_connection().clone();
                let cmd = redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut c);
                match tokio::time::timeout(QUEUE_TIMEOUT, ping).await {
                    Ok(res) => res.map(|_| ()).map_err(|e| QueueError::Redis(e.to_string())),
                    Err(_) => Err(QueueError::Redis("PING timed out".into())),
                }
            }
            JobQueue::Sqlite(_) | JobQueue::Postgres(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    use super::*;

    /// Setting up the database queue leaves every pooled SQLite connection as durable as it
    /// was: apalis's setup sets `synchronous = OFF` (among other per-connection pragmas) on the
    /// connection it runs on, and a commit there would not be synced before the webhook's 200.
    #[tokio::test]
    async fn the_sqlite_queue_setup_leaves_every_pooled_connection_durable() {
        const CONNECTIONS: usize = 4;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/q.db?mode=rwc", dir.path().display());
        let settings =
            Settings::from_map(&HashMap::from([("DATABASE_URL".into(), url.clone())])).unwrap();
        let db = crate::store::db::connect_url(&url, CONNECTIONS as u32).await.unwrap();
        let queue = JobQueue::connect(&settings, &db).await.unwrap();
        assert_eq!(queue.kind(), "sqlite");

        // `CONNECTIONS` transactions held at once read the pragma on as many connections.
        let mut held = Vec::new();
        for _ in 0..CONNECTIONS {
            let txn = db.begin().await.unwrap();
            let sql = Statement::from_string(DbBackend::Sqlite, "PRAGMA synchronous");
            let row = txn.query_one_raw(sql).await.unwrap().unwrap();
            held.push((row.try_get_by_index::<i64>(0).unwrap(), txn));
        }
        let levels: Vec<i64> = held.iter().map(|(level, _)| *level).collect();
        // 2 is FULL, SQLite's default and what the pool opens connections with.
        assert_eq!(levels, vec![2; CONNECTIONS], "PRAGMA synchronous per pooled connection");
        for (_, txn) in held {
            txn.commit().await.unwrap();
        }
    }
}
