//! The console dashboard's read model, beside the analytics totals: memories per day, inbound
//! messages by status and their latency, the latest interactions and the most active users.
//! Small GROUP BY queries, run concurrently.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Value};
use uuid::Uuid;

use crate::store::analytics::{StatusCount, all};

/// Memories of one kind on one day.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DayKindCount {
    /// `YYYY-MM-DD` (UTC) of the memory's `occurred_at`.
    pub day: String,
    pub kind: String,
    pub n: i64,
}

/// When a processed inbound message was received and when it was processed.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct ProcessedTimes {
    pub created_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
}

/// One interaction with its user's phone.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct LatestInteraction {
    pub id: Uuid,
    pub phone: String,
    pub direction: String,
    pub kind: String,
    pub body: String,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
}

/// A user and how many interactions they have.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct UserActivity {
    pub id: Uuid,
    pub phone: String,
    pub n: i64,
}

/// How many rows each list of [`Rows`] holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Latency is measured over this many of the newest processed messages.
    pub latency_sample: i64,
    pub latest: i64,
    pub users: i64,
}

/// The dashboard's rows, for everyone or one user (the most active users are always everyone's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// By day, then kind.
    pub memories_by_day: Vec<DayKindCount>,
    /// Inbound messages by status.
    pub inbound_by_status: Vec<StatusCount>,
    /// The newest processed inbound messages first.
    pub latency: Vec<ProcessedTimes>,
    /// Newest first.
    pub latest: Vec<LatestInteraction>,
    /// Most interactions first, then by phone.
    pub users: Vec<UserActivity>,
}

/// `YYYY-MM-DD` (UTC) of a timestamp column, on either backend.
fn day_expr(db: &impl ConnectionTrait, col: &str) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => format!("substr({col}, 1, 10)"),
    }
}

pub async fn rows(
    db: &impl ConnectionTrait,
    user: Option<Uuid>,
    limits: Limits,
) -> Result<Rows, DbErr> {
    let Limits {
        latency_sample,
        latest,
        users,
    } = limits;
    let (scope, scope_i, values): (&str, &str, Vec<Value>) = match user {
        Some(id) => (" AND user_id = $1", " AND i.user_id = $1", vec![id.into()]),
        None => ("", "", vec![]),
    };
    let day = day_expr(db, "occurred_at");
    let by_day_sql = format!(
        "SELECT {day} AS day, kind, COUNT(*) AS n FROM memories WHERE 1 = 1{scope} \
         GROUP BY {day}, kind ORDER BY day, kind"
    );
    let status_sql = format!(
        "SELECT status, COUNT(*) AS n FROM interactions WHERE direction = 'inbound'{scope} \
         GROUP BY status"
    );
    let latency_sql = format!(
        "SELECT created_at, processed_at FROM interactions \
         WHERE direction = 'inbound' AND status = 'processed' AND processed_at IS NOT NULL{scope} \
         ORDER BY created_at DESC LIMIT {latency_sample}"
    );
    let latest_sql = format!(
        "SELECT i.id, u.phone, i.direction, i.kind, i.body, i.status, i.occurred_at \
         FROM interactions i JOIN users u ON u.id = i.user_id WHERE 1 = 1{scope_i} \
         ORDER BY i.occurred_at DESC, i.id DESC LIMIT {latest}"
    );
    let users_sql = format!(
        "SELECT u.id, u.phone, COUNT(i.id) AS n FROM users u \
         LEFT JOIN interactions i ON i.user_id = u.id \
         GROUP BY u.id, u.phone ORDER BY n DESC, u.phone LIMIT {users}"
    );
    let (memories_by_day, inbound_by_status, latency, latest, users) = tokio::try_join!(
        all(db, by_day_sql, values.clone()),
        all(db, status_sql, values.clone()),
        all(db, latency_sql, values.clone()),
        all(db, latest_sql, values.clone()),
        all(db, users_sql, vec![]),
    )?;
    Ok(Rows {
        memories_by_day,
        inbound_by_status,
        latency,
        latest,
        users,
    })
}
