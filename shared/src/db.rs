//! Database connection and the few statements on hot paths that are written by hand:
//! the webhook's ingest (one transaction, one round trip on PostgreSQL) and the worker's
//! claim on an interaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait, Value,
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
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_string())
    }
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
    pub raw: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// The rows a new message created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub interaction_id: Uuid,
    pub user_id: Uuid,
}

const PG_INGEST: &str = r#"
WITH u AS (
    INSERT INTO users (id, phone, wa_id, display_name, timezone, created_at, updated_at, last_inbound_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
    ON CONFLICT (phone) DO UPDATE SET
        last_inbound_at = GREATEST(users.last_inbound_at, EXCLUDED.last_inbound_at),
        display_name = COALESCE(EXCLUDED.display_name, users.display_name),
        wa_id = COALESCE(EXCLUDED.wa_id, users.wa_id),
        updated_at = EXCLUDED.updated_at
    RETURNING id
)
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, occurred_at, created_at, updated_at)
SELECT $7, u.id, $8, 'inbound', $9, $10, 'received', 0, $11, $6, $6, $6 FROM u
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
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, occurred_at, created_at, updated_at)
VALUES ($1, $2, $3, 'inbound', $4, $5, 'received', 0, $6, $7, $7, $7)
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, user_id
"#;

/// Upserts the user and inserts the interaction in ONE transaction; `None` for a MessageSid
/// already recorded (the unique index decides, never a check-then-insert).
pub async fn record_inbound(
    db: &DatabaseConnection,
    msg: &NewInbound,
) -> Result<Option<Recorded>, DbErr> {
    let new_user_id = Uuid::now_v7();
    let interaction_id = Uuid::now_v7();
    let raw = Value::Json(Some(Box::new(msg.raw.clone())));
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // A single statement is its own transaction: one round trip.
            let stmt = Statement::from_sql_and_values(
                DbBackend::Postgres,
                PG_INGEST,
                [
                    new_user_id.into(),
                    msg.phone.clone().into(),
                    msg.wa_id.clone().into(),
                    msg.display_name.clone().into(),
                    msg.timezone.clone().into(),
                    msg.received_at.into(),
                    interaction_id.into(),
                    msg.message_sid.clone().into(),
                    msg.kind.clone().into(),
                    msg.body.clone().into(),
                    raw,
                ],
            );
            let row = db.query_one_raw(stmt).await?;
            row.map(|r| {
                Ok(Recorded {
                    interaction_id: r.try_get("", "id")?,
                    user_id: r.try_get("", "user_id")?,
                })
            })
            .transpose()
        }
        backend => {
            let txn = db.begin().await?;
            let user = txn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    SQLITE_UPSERT_USER,
                    [
                        new_user_id.into(),
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
                        interaction_id.into(),
                        user_id.into(),
                        msg.message_sid.clone().into(),
                        msg.kind.clone().into(),
                        msg.body.clone().into(),
                        raw,
                        msg.received_at.into(),
                    ],
                ))
                .await?;
            txn.commit().await?;
            Ok(row.map(|_| Recorded {
                interaction_id,
                user_id,
            }))
        }
    }
}

/// Cheap liveness query for `/ready`.
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
}
