//! `GET /console/api/dashboard[?user=]`: the dashboard's figures. The totals are the analytics
//! endpoint's own (`api::analytics::summary`); the rest come from `store::dashboard`.
//!
//! Days and times are read in one zone, named in the answer's `timezone`: the user's own zone
//! when drilled into one user (the zone their replies use), otherwise the server's
//! `DEFAULT_TIMEZONE` (the zone the deployment serves; UTC unless set). Everyone's users may
//! live in many zones, and one chart can only have one midnight.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use mnemo_shared::sea_orm::DatabaseConnection;
use mnemo_shared::store::dashboard;
use poem::handler;
use poem::web::{Data, Json, Query};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::analytics::{Summary, summary, zero_counts};
use crate::api::{resolve_optional_user, user_zone};
use crate::problem::ApiError;
use crate::state::AppState;

/// Latency figures are over this many of the newest processed messages.
pub const LATENCY_SAMPLE: i64 = 500;
pub const LATEST: i64 = 15;
pub const USERS: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    /// A user id or an E.164 number: the drill-down.
    pub user: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` of the memory's `occurred_at` in the dashboard's `timezone`.
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
    /// The IANA zone days and times are shown in: the user's when drilled into one, else
    /// `DEFAULT_TIMEZONE`.
    pub timezone: String,
    pub memories_by_day: Vec<DayCount>,
    pub jobs: Jobs,
    pub latest: Vec<dashboard::LatestInteraction>,
    /// The most active users, for the drill-down picker.
    pub users: Vec<UserRow>,
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
    let fallback = state.settings.default_timezone;
    let tz = user.as_ref().map_or(fallback, |u| user_zone(u, fallback));
    let uid = user.as_ref().map(|u| u.id);
    Ok(Json(dashboard(db, uid, user.map(|u| u.phone), tz).await?))
}

pub async fn dashboard(
    db: &DatabaseConnection,
    user: Option<Uuid>,
    phone: Option<String>,
    tz: Tz,
) -> Result<Dashboard, ApiError> {
    let limits = dashboard::Limits { latency_sample: LATENCY_SAMPLE, latest: LATEST, users: USERS };
    let (sum, rows) = tokio::try_join!(summary(db, user), async {
        Ok::<_, ApiError>(dashboard::rows(db, user, tz, limits).await?)
    })?;

    let memories_by_day = rows
        .memories_by_day
        .into_iter()
        .map(|r| DayCount { day: r.day, kind: r.kind, count: r.n })
        .collect();
    let mut by_status = zero_counts(&["received", "processing", "processed", "failed"]);
    for r in rows.inbound_by_status {
        *by_status.entry(r.status).or_default() += r.n;
    }
    let mut samples: Vec<i64> = rows
        .latency
        .iter()
        .map(|r| (r.processed_at - r.created_at).num_milliseconds().max(0))
        .collect();
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
    let users = rows
        .users
        .into_iter()
        .map(|r| UserRow { id: r.id, phone: r.phone, interactions: r.n })
        .collect();
    Ok(Dashboard {
        summary: sum,
        phone,
        timezone: tz.name().to_string(),
        memories_by_day,
        jobs,
        latest: rows.latest,
        users,
    })
}
