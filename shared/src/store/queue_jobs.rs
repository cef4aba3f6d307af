//! The database queue's own job records (apalis's tables: `Jobs` on SQLite, `apalis.jobs` on
//! PostgreSQL). They are bookkeeping only — the interactions hold every outcome.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Deletes the records of jobs that ended (done, killed, or failed with no attempt left) more
/// than `older_than_secs` ago, from the queue tables of `backend`; returns how many.
pub async fn delete_finished(
    db: &impl ConnectionTrait,
    backend: DbBackend,
    older_than_secs: i64,
) -> Result<u64, DbErr> {
    let (sql, older) = match backend {
        DbBackend::Postgres => (
            "DELETE FROM apalis.jobs WHERE (status IN ('Done', 'Killed') \
             OR (status = 'Failed' AND max_attempts <= attempts)) \
             AND done_at < now() - make_interval(secs => $1)",
            sea_orm::Value::from(older_than_secs as f64),
        ),
        _ => (
            "DELETE FROM Jobs WHERE (status IN ('Done', 'Killed') \
             OR (status = 'Failed' AND max_attempts <= attempts)) \
             AND done_at IS NOT NULL AND done_at < CAST(strftime('%s', 'now') AS INTEGER) - $1",
            sea_orm::Value::from(older_than_secs),
        ),
    };
    let done = db.execute_raw(Statement::from_sql_and_values(backend, sql, [older])).await?;
    Ok(done.rows_affected())
}
