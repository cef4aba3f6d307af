//! `GET /console/api/dashboard[?user=]`: the dashboard's figures. The totals are the analytics
//! endpoint's own (`api::analytics::summary`); the rest are small GROUP BY queries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Value};
use mnemo_shared::store::db::stmt;
use poem::handler;
use poem::web::{Data, Json, Query};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::analytics::{Summary, summary};
use crate::api::resolve_optional_user;
use crate::problem::ApiError;
use crate::state::AppState;

/// Latency figures are over this many of the newest processed messages.
pub const LATENCY_SAMPLE: i64 = 500;
pub const LATEST: i64 = 15;
pub const USERS: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    /// A user id or an E.164 number: the drill-down.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC) of the memory's `occurred_at`.
    pub day: String,
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct Jobs {
    /// Inbound messages by status (`received`, `processing`, `processed`, `failed`).
    pub by_status: BTreeMap<String, i64>,
    /// Receipt → processed, over the newest processed messages.
    pub latency_samples: usize,
    pub latency_ms_avg: Option<i64>,
    pub latency_ms_p50: Option<i64>,
    pub latency_ms_p95: Option<i64>,
    pub latency_ms_max: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Latest {
    pub id: Uuid,
    pub phone: String,
    pub direction: String,
    pub kind: String,
    pub body: String,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct UserRow {
    pub id: Uuid,
    pub phone: String,
    pub interactions: i64,
}

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub summary: Summary,
    /// The user drilled into, by phone.
    pub phone: Option<String>,
    pub memories_by_day: Vec<DayCount>,
    pub jobs: Jobs,
    pub latest: Vec<Latest>,
    /// The most active users, for the drill-down picker.
    pub users: Vec<UserRow>,
}

fn day_expr(db: &DatabaseConnection, col: &str) -> String {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => format!("substr({col}, 1, 10)"),
    }
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied()
}

#[handler]
pub async fn data(
    Query(q): Query<DashboardQuery>,
    state: Data<&AppState>,
) -> Result<Json<Dashboard>, ApiError> {
    let db = &state.db;
    let user =
        resolve_optional_user(db, q.user.as_deref().filter(|s| !s.trim().is_empty())).await?;
    let uid = user.as_ref().map(|u| u.id);
    Ok(Json(dashboard(db, uid, user.map(|u| u.phone)).await?))
}

pub async fn dashboard(
    db: &DatabaseConnection,
    user: Option<Uuid>,
    phone: Option<String>,
) -> Result<Dashboard, ApiError> {
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
         ORDER BY created_at DESC LIMIT {LATENCY_SAMPLE}"
    );
    let latest_sql = format!(
        "SELECT i.id, u.phone, i.direction, i.kind, i.body, i.status, i.occurred_at \
         FROM interactions i JOIN users u ON u.id = i.user_id WHERE 1 = 1{scope_i} \
         ORDER BY i.occurred_at DESC, i.id DESC LIMIT {LATEST}"
    );
    let users_sql = format!(
        "SELECT u.id, u.phone, COUNT(i.id) AS n FROM users u \
         LEFT JOIN interactions i ON i.user_id = u.id \
         GROUP BY u.id, u.phone ORDER BY n DESC, u.phone LIMIT {USERS}"
    );
    let run = |sql: String, v: Vec<Value>| async move { db.query_all_raw(stmt(db, &sql, v)).await };
    let (sum, by_day, statuses, latency, latest, users) = tokio::try_join!(
        async { summary(db, user).await },
        async { Ok(run(by_day_sql, values.clone()).await?) },
        async { Ok(run(status_sql, values.clone()).await?) },
        async { Ok(run(latency_sql, values.clone()).await?) },
        async { Ok(run(latest_sql, values.clone()).await?) },
        async { Ok::<_, ApiError>(run(users_sql, vec![]).await?) },
    )?;

    let memories_by_day = by_day
        .into_iter()
        .map(|r| {
            Ok(DayCount {
                day: r.try_get("", "day")?,
                kind: r.try_get("", "kind")?,
                count: r.try_get("", "n")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut by_status: BTreeMap<String, i64> = ["received", "processing", "processed", "failed"]
        .into_iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for r in statuses {
        *by_status.entry(r.try_get("", "status")?).or_default() += r.try_get::<i64>("", "n")?;
    }
    let mut samples: Vec<i64> = Vec::with_capacity(latency.len());
    for r in latency {
        let created: DateTime<Utc> = r.try_get("", "created_at")?;
        let processed: DateTime<Utc> = r.try_get("", "processed_at")?;
        samples.push((processed - created).num_milliseconds().max(0));
    }
    samples.sort_unstable();
    let jobs = Jobs {
        latency_samples: samples.len(),
        latency_ms_avg: (!samples.is_empty())
            .then(|| samples.iter().sum::<i64>() / samples.len() as i64),
        latency_ms_p50: percentile(&samples, 0.5),
        latency_ms_p95: percentile(&samples, 0.95),
        latency_ms_max: samples.last().copied(),
        by_status,
    };
    let latest = latest
        .into_iter()
        .map(|r| {
            Ok(Latest {
                id: r.try_get("", "id")?,
                phone: r.try_get("", "phone")?,
                direction: r.try_get("", "direction")?,
                kind: r.try_get("", "kind")?,
                body: r.try_get("", "body")?,
                status: r.try_get("", "status")?,
                occurred_at: r.try_get("", "occurred_at")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let users = users
        .into_iter()
        .map(|r| {
            Ok(UserRow {
                id: r.try_get("", "id")?,
                phone: r.try_get("", "phone")?,
                interactions: r.try_get("", "n")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Dashboard {
        summary: sum,
        phone,
        memories_by_day,
        jobs,
        latest,
        users,
    })
}
