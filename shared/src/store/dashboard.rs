//! The console dashboard's read model, beside the analytics totals: memories per day, inbound
//! messages by status and their latency, the latest interactions and the most active users.
//! Small GROUP BY queries, run concurrently.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Value};
use uuid::Uuid;

use crate::domain::time::{OffsetPeriod, offset_periods};
use crate::store::analytics::{StatusCount, all};
use crate::store::db::value;

/// Memories of one kind on one day.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DayKindCount {
    /// `YYYY-MM-DD` of the memory's `occurred_at` in the zone [`rows`] was asked for.
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

/// One interaction with its user's phone (the console shows it as it is).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult, serde::Serialize)]
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

/// `YYYY-MM-DD` of a timestamp column read with the offsets of `periods` (oldest first), on
/// either backend: one `CASE` picks each row's offset, bound as parameters from `$first`
/// on. Returns the expression and its values.
fn local_day_expr(
    db: &impl ConnectionTrait,
    col: &str,
    periods: &[OffsetPeriod],
    first: usize,
) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = Vec::new();
    let mut param = |v: Value| {
        values.push(v);
        format!("${}", first + values.len() - 1)
    };
    let offset = match periods {
        [] => "0".to_string(),
        [only] => param(only.offset_secs.into()),
        [head @ .., last] => {
            let mut case = "CASE".to_string();
            for (p, next) in head.iter().zip(periods.iter().skip(1)) {
                let before = param(next.start.into());
                let secs = param(p.offset_secs.into());
                case.push_str(&format!(" WHEN {col} < {before} THEN {secs}"));
            }
            let secs = param(last.offset_secs.into());
            case.push_str(&format!(" ELSE {secs} END"));
            case
        }
    };
    let expr = match db.get_database_backend() {
        DbBackend::Postgres => format!(
            "to_char(({col} AT TIME ZONE 'UTC') + make_interval(secs => {offset}), 'YYYY-MM-DD')"
        ),
        _ => format!("date({col}, ({offset}) || ' seconds')"),
    };
    (expr, values)
}

/// The oldest and newest `occurred_at` of the memories in scope.
async fn memory_span(
    db: &impl ConnectionTrait,
    scope: &str,
    values: &[Value],
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, DbErr> {
    let one = |order: &'static str| {
        let sql = format!(
            "SELECT occurred_at FROM memories WHERE 1 = 1{scope} ORDER BY occurred_at {order} LIMIT 1"
        );
        let values = values.to_vec();
        async move { value::<DateTime<Utc>>(db, &sql, values).await }
    };
    let (first, last) = tokio::try_join!(one("ASC"), one("DESC"))?;
    Ok(first.zip(last))
}

/// Memories per local day in `tz`, then kind.
async fn memories_by_day(
    db: &impl ConnectionTrait,
    tz: Tz,
    scope: &str,
    values: &[Value],
) -> Result<Vec<DayKindCount>, DbErr> {
    let Some((first, last)) = memory_span(db, scope, values).await? else {
        return Ok(Vec::new());
    };
    let periods = offset_periods(tz, first, last);
    let (day, day_values) = local_day_expr(db, "occurred_at", &periods, values.len() + 1);
    let sql = format!(
        "SELECT day, kind, COUNT(*) AS n FROM \
         (SELECT {day} AS day, kind FROM memories WHERE 1 = 1{scope}) local_days \
         GROUP BY day, kind ORDER BY day, kind"
    );
    let mut all_values = values.to_vec();
    all_values.extend(day_values);
    all(db, sql, all_values).await
}

/// The dashboard's rows; memories are counted by local day in `tz`.
pub async fn rows(
    db: &impl ConnectionTrait,
    user: Option<Uuid>,
    tz: Tz,
    limits: Limits,
) -> Result<Rows, DbErr> {
    let Limits { latency_sample, latest, users } = limits;
    let (scope, scope_i, values): (&str, &str, Vec<Value>) = match user {
        Some(id) => (" AND user_id = $1", " AND i.user_id = $1", vec![id.into()]),
        None => ("", "", vec![]),
    };
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
        memories_by_day(db, tz, scope, &values),
        all(db, status_sql, values.clone()),
        all(db, latency_sql, values.clone()),
        all(db, latest_sql, values.clone()),
        all(db, users_sql, vec![]),
    )?;
    Ok(Rows { memories_by_day, inbound_by_status, latency, latest, users })
}
