//! Database connection and the few statements on hot paths that are written by hand:
//! the webhook's ingest (one transaction, one round trip on PostgreSQL) and the worker's
//! claim on an interaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult,
    FromQueryResult, QueryResult, Statement, TransactionTrait, TryGetableMany, Value,
};
use uuid::Uuid;

use crate::config::Settings;

/// Connects with the pool size from the settings. For a SQLite file, creates its folder first
/// and switches the file to WAL so the ingress and the embedded worker don't block each other.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    connect_url(&settings.database_url, settings.database_max_connections).await
}

pub async fn connect_url(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url)
        && let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        // A ping on every checkout is a round trip per query; only connections idle long
        // enough to have been dropped (server restart, proxy timeout) are checked.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// The file path of a `sqlite://path?…` URL (None for in-memory or other backends).
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" { None } else { Some(path.to_string()) }
}

/// What the webhook records for a new inbound message.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub phone: String,
    pub wa_id: Option<String>,
    pub display_name: Option<String>,
    /// Used only when this message creates the user.
    pub timezone: String,
    pub message_sid: String,
    pub kind: String,
    pub body: String,
    /// `OriginalRepliedMessageSid`: the message this one replies to, if any.
    pub replied_to_sid: Option<String>,
    pub raw: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// The rows a new message created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub interaction_id: Uuid,
    pub user_id: Uuid,
}

/// The most JSON one ingest statement carries (see `record_inbound_batch`).
const PG_STATEMENT_BYTES: usize = 12 * 1024;

/// The webhook's ingest for a whole batch in ONE statement (so one transaction and one round
/// trip): the batch arrives as a JSON array, each phone's user is upserted once (its latest
/// message wins), and every message is inserted unless its MessageSid is already there.
const PG_INGEST: &str = r#"
WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS t(
        user_id uuid, phone text, wa_id text, display_name text, timezone text,
        received_at timestamptz, id uuid, message_sid text, kind text, body text, raw json,
        replied_to_sid text)
),
u AS (
    INSERT INTO users (id, phone, wa_id, display_name, timezone, created_at, updated_at, last_inbound_at)
    SELECT DISTINCT ON (phone) user_id, phone, wa_id, display_name, timezone, received_at, received_at, received_at
    FROM input ORDER BY phone, received_at DESC
    ON CONFLICT (phone) DO UPDATE SET
        last_inbound_at = GREATEST(users.last_inbound_at, EXCLUDED.last_inbound_at),
        display_name = COALESCE(EXCLUDED.display_name, users.display_name),
        wa_id = COALESCE(EXCLUDED.wa_id, users.wa_id),
        updated_at = EXCLUDED.updated_at
    RETURNING id, phone
)
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, occurred_at, created_at, updated_at, replied_to_sid)
SELECT i.id, u.id, i.message_sid, 'inbound', i.kind, i.body, 'received', 0, i.raw, i.received_at, i.received_at, i.received_at, i.replied_to_sid
FROM input i JOIN u ON u.phone = i.phone
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, user_id
"#;

const SQLITE_UPSERT_USER: &str = r#"
INSERT INTO users (id, phone, wa_id, display_name, timezone, created_at, updated_at, last_inbound_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
ON CONFLICT (phone) DO UPDATE SET
    last_inbound_at = MAX(COALESCE(users.last_inbound_at, excluded.last_inbound_at), excluded.last_inbound_at),
    display_name = COALESCE(excluded.display_name, users.display_name),
    wa_id = COALESCE(excluded.wa_id, users.wa_id),
    updated_at = excluded.updated_at
RETURNING id
"#;

const SQLITE_INSERT_INTERACTION: &str = r#"
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, occurred_at, created_at, updated_at, replied_to_sid)
VALUES ($1, $2, $3, 'inbound', $4, $5, 'received', 0, $6, $7, $7, $7, $8)
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, user_id
"#;

/// Upserts the user and inserts the interaction in ONE transaction; `None` for a MessageSid
/// already recorded (the unique index decides, never a check-then-insert).
pub async fn record_inbound(
    db: &DatabaseConnection,
    msg: &NewInbound,
) -> Result<Option<Recorded>, DbErr> {
    let mut recorded = record_inbound_batch(db, std::slice::from_ref(msg)).await?;
    Ok(recorded.pop().flatten())
}

/// [`record_inbound`] for many messages in ONE transaction (one statement on PostgreSQL):
/// the result has one entry per message, in order, `None` for a MessageSid already recorded
/// (by an earlier transaction or earlier in the same batch).
pub async fn record_inbound_batch(
    db: &DatabaseConnection,
    msgs: &[NewInbound],
) -> Result<Vec<Option<Recorded>>, DbErr> {
    if msgs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<(Uuid, Uuid)> = msgs.iter().map(|_| (Uuid::now_v7(), Uuid::now_v7())).collect();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // One statement per chunk of at most PG_STATEMENT_BYTES of JSON, all at once:
            // sqlx 0.9 sends larger messages in several writes without TCP_NODELAY, and the
            // last write then waits ~40 ms for the server's delayed ACK (Nagle).
            let mut chunks: Vec<String> = Vec::new();
            let mut seen = std::collections::HashSet::with_capacity(msgs.len());
            for (m, (user_id, id)) in msgs.iter().zip(&ids) {
                if !seen.insert(m.message_sid.as_str()) {
                    continue; // a repeat inside the batch: the first one decides
                }
                let row = serde_json::json!({
                    "user_id": user_id, "phone": m.phone, "wa_id": m.wa_id,
                    "display_name": m.display_name, "timezone": m.timezone,
                    "received_at": m.received_at, "id": id,
                    "message_sid": m.message_sid, "kind": m.kind, "body": m.body,
                    "raw": m.raw, "replied_to_sid": m.replied_to_sid,
                })
                .to_string();
                match chunks.last_mut() {
                    Some(chunk) if chunk.len() + row.len() < PG_STATEMENT_BYTES => {
                        chunk.push(',');
                        chunk.push_str(&row);
                    }
                    _ => chunks.push(format!("[{row}")),
                }
            }
            let statements = chunks.into_iter().map(|mut chunk| {
                chunk.push(']');
                db.query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    PG_INGEST,
                    [chunk.into()],
                ))
            });
            let inserted = futures::future::try_join_all(statements).await?;
            let mut by_id = std::collections::HashMap::with_capacity(msgs.len());
            for row in inserted.into_iter().flatten() {
                let id: Uuid = row.try_get("", "id")?;
                let user_id: Uuid = row.try_get("", "user_id")?;
                by_id.insert(id, user_id);
            }
            Ok(ids
                .iter()
                .map(|(_, id)| {
                    by_id.get(id).map(|user_id| Recorded { interaction_id: *id, user_id: *user_id })
                })
                .collect())
        }
        backend => {
            let txn = db.begin().await?;
            let mut out = Vec::with_capacity(msgs.len());
            for (msg, (new_user_id, interaction_id)) in msgs.iter().zip(&ids) {
                let user = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        SQLITE_UPSERT_USER,
                        [
                            (*new_user_id).into(),
                            msg.phone.clone().into(),
                            msg.wa_id.clone().into(),
                            msg.display_name.clone().into(),
                            msg.timezone.clone().into(),
                            msg.received_at.into(),
                        ],
                    ))
                    .await?
                    .ok_or_else(|| DbErr::Custom("user upsert returned no row".into()))?;
                let user_id: Uuid = user.try_get("", "id")?;
                let row = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        SQLITE_INSERT_INTERACTION,
                        [
                            (*interaction_id).into(),
                            user_id.into(),
                            msg.message_sid.clone().into(),
                            msg.kind.clone().into(),
                            msg.body.clone().into(),
                            Value::Json(Some(Box::new(msg.raw.clone()))),
                            msg.received_at.into(),
                            msg.replied_to_sid.clone().into(),
                        ],
                    ))
                    .await?;
                out.push(row.map(|_| Recorded { interaction_id: *interaction_id, user_id }));
            }
            txn.commit().await?;
            Ok(out)
        }
    }
}

/// Cheap liveness query for `/ready`.
/// Begins a transaction that will write the user's rows, taking the write side first: on
/// SQLite a transaction that reads before it writes cannot wait for a busy writer (its read
/// snapshot would be stale, so the upgrade fails at once with "database is locked"), while one
/// that writes first waits its turn under the busy timeout. On PostgreSQL the same statement
/// locks the user's row, so two such transactions for one user run one after the other.
pub async fn begin_for_user(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    txn.execute_raw(stmt(&txn, "UPDATE users SET id = id WHERE id = $1", vec![user_id.into()]))
        .await?;
    Ok(txn)
}

pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    match tokio::time::timeout(Duration::from_secs(3), db.execute_unprepared("SELECT 1")).await {
        Ok(res) => res.map(|_| ()),
        Err(_) => Err(DbErr::Custom("database ping timed out".into())),
    }
}

/// Placeholder-numbered SQL runs on both backends: sqlx's SQLite driver accepts `$N` too.
pub fn stmt(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// Runs one statement (see [`stmt`]).
pub async fn exec(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<ExecResult, DbErr> {
    db.execute_raw(stmt(db, sql, values)).await
}

/// Runs one statement for its effect alone (see [`stmt`]).
pub async fn run(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
    exec(db, sql, values).await.map(drop)
}

/// The first row one query returns, if any.
pub async fn row(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<QueryResult>, DbErr> {
    db.query_one_raw(stmt(db, sql, values)).await
}

/// Every row one query returns.
pub async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(stmt(db, sql, values)).await
}

/// The first row one query returns, its columns read in order into `T` (one value or a
/// tuple), if there is a row.
pub async fn value<T: TryGetableMany>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<T>, DbErr> {
    row(db, sql, values).await?.map(|r| Ok(T::try_get_many_by_index(&r)?)).transpose()
}

/// Every row one query returns, its columns read in order into `T` (one value or a tuple).
pub async fn values<T: TryGetableMany>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<T>, DbErr> {
    rows(db, sql, values).await?.iter().map(|r| Ok(T::try_get_many_by_index(r)?)).collect()
}

/// Every row one query returns, each read into `T` by column name.
pub async fn all_as<T: FromQueryResult>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<T>, DbErr> {
    T::find_by_statement(stmt(db, sql, values)).all(db).await
}

/// The first row one query returns, read into `T` by column name, if any.
pub async fn one_as<T: FromQueryResult>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<T>, DbErr> {
    T::find_by_statement(stmt(db, sql, values)).one(db).await
}

/// The rows of `sql` for `ids`, grouped by the id `split` takes out of each row, in the order
/// they come. `sql` names the list `IN ({ids})`; the ids are bound from `$1`. One query, none
/// when `ids` is empty.
pub async fn grouped<R: FromQueryResult, T>(
    db: &impl ConnectionTrait,
    sql: &str,
    ids: &[Uuid],
    split: impl Fn(R) -> (Uuid, T),
) -> Result<HashMap<Uuid, Vec<T>>, DbErr> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = sql.replace("{ids}", &placeholders(1, ids.len()));
    for row in all_as::<R>(db, &sql, ids.iter().map(|id| Value::from(*id)).collect()).await? {
        let (id, item) = split(row);
        out.entry(id).or_default().push(item);
    }
    Ok(out)
}

/// The placeholders `$first, $first+1, …` of `n` values bound one after another (an `IN (…)`
/// list).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/mnemo.db?mode=rwc").as_deref(),
            Some("data/mnemo.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(2, 0), "");
    }
}
