//! `/analytics/summary`: totals computed by the database (`mnemo_shared::store::analytics`:
//! COUNT / SUM / GROUP BY over indexes, run concurrently), shaped for the API here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mnemo_shared::sea_orm::DatabaseConnection;
use mnemo_shared::store::analytics;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::auth::BearerAuth;
use super::{RestTags, example_user, resolve_optional_user};
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct InteractionTotals {
    pub total: i64,
    /// Count per kind (`text`, `image`, `audio`, …); the three main kinds are always present.
    pub by_kind: BTreeMap<String, i64>,
    /// `inbound` and `outbound`, always present.
    pub by_direction: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct MemoryTotals {
    pub total: i64,
    pub by_kind: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct MediaTotals {
    /// Distinct stored objects (by SHA-256) referenced by messages.
    pub unique_objects: i64,
    /// Attachments pointing at stored objects (one per message and attachment).
    pub references: i64,
    /// Bytes actually stored (each object once).
    pub bytes_stored: i64,
    /// Bytes deduplication avoided storing again.
    pub bytes_saved: i64,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct LabelCount {
    pub label: String,
    pub count: i64,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct JobTotals {
    /// Inbound interactions waiting for or in processing (`received`, `processing`).
    pub pending: i64,
    /// Inbound interactions that ended `failed`.
    pub failed: i64,
}

/// Delivery of our replies and reminders, from Twilio's status callbacks (cumulative: a read
/// message also counts as sent and delivered).
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct DeliveryTotals {
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub failed: i64,
    /// Recorded, not yet confirmed by Twilio.
    pub pending: i64,
    /// Stored, not sent (no Twilio credentials).
    pub dry_run: i64,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(example)]
pub struct Summary {
    /// The user the figures are for, when `user` was given.
    #[oai(nullable)]
    pub user_id: Option<Uuid>,
    pub users: i64,
    pub interactions: InteractionTotals,
    pub memories: MemoryTotals,
    pub media: MediaTotals,
    /// The most used labels, most used first.
    pub top_labels: Vec<LabelCount>,
    /// When the newest inbound message was recorded.
    #[oai(nullable)]
    pub last_ingest_at: Option<DateTime<Utc>>,
    pub jobs: JobTotals,
    pub deliveries: DeliveryTotals,
}

impl Example for Summary {
    fn example() -> Self {
        let kinds = |t, i, a| {
            BTreeMap::from([
                ("text".to_string(), t),
                ("image".to_string(), i),
                ("audio".to_string(), a),
            ])
        };
        Summary {
            user_id: None,
            users: 3,
            interactions: InteractionTotals {
                total: 42,
                by_kind: kinds(30, 8, 4),
                by_direction: BTreeMap::from([
                    ("inbound".to_string(), 21),
                    ("outbound".to_string(), 21),
                ]),
            },
            memories: MemoryTotals { total: 18, by_kind: kinds(10, 5, 3) },
            media: MediaTotals {
                unique_objects: 11,
                references: 12,
                bytes_stored: 2_400_000,
                bytes_saved: 180_000,
            },
            top_labels: vec![LabelCount { label: "food".into(), count: 4 }],
            last_ingest_at: DateTime::parse_from_rfc3339("2026-11-20T19:30:00Z")
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            jobs: JobTotals { pending: 0, failed: 1 },
            deliveries: DeliveryTotals {
                sent: 40,
                delivered: 38,
                read: 30,
                failed: 1,
                pending: 0,
                dry_run: 0,
            },
        }
    }
}

pub struct AnalyticsApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Analytics")]
impl AnalyticsApi {
    /// Analytics summary
    ///
    /// Users, interactions by kind and direction, memories by kind, media deduplication,
    /// top labels, the last ingest time and the job backlog — for everyone, or one `user`.
    #[oai(path = "/analytics/summary", method = "get", operation_id = "analytics_summary")]
    async fn summary(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number; everyone when omitted.
        #[oai(example = "example_user")]
        user: Query<Option<String>>,
    ) -> Result<Json<Summary>, ApiError> {
        let db = &self.state.db;
        let user = resolve_optional_user(db, user.0.as_deref()).await?;
        Ok(Json(summary(db, user.map(|u| u.id)).await?))
    }
}

/// Counts keyed by `keys`, each at zero: the keys an answer always lists, counted or not.
pub(crate) fn zero_counts(keys: &[&str]) -> BTreeMap<String, i64> {
    keys.iter().map(|k| (k.to_string(), 0)).collect()
}

/// The summary for everyone, or for one user (its figures from `store::analytics`).
pub async fn summary(db: &DatabaseConnection, user: Option<Uuid>) -> Result<Summary, ApiError> {
    let figures = analytics::figures(db, user).await?;

    const MAIN_KINDS: [&str; 3] = ["text", "image", "audio"];
    let mut by_kind = zero_counts(&MAIN_KINDS);
    let mut by_direction = zero_counts(&["inbound", "outbound"]);
    let mut total = 0;
    for r in figures.interactions {
        total += r.n;
        *by_kind.entry(r.kind).or_default() += r.n;
        *by_direction.entry(r.direction).or_default() += r.n;
    }
    let mut mem_by_kind = zero_counts(&MAIN_KINDS);
    let mut mem_total = 0;
    for r in figures.memories {
        mem_total += r.n;
        *mem_by_kind.entry(r.kind).or_default() += r.n;
    }
    let media = MediaTotals {
        unique_objects: figures.media.objects,
        references: figures.media.refs,
        bytes_stored: figures.media.stored,
        bytes_saved: figures.media.saved,
    };
    let top_labels =
        figures.top_labels.into_iter().map(|r| LabelCount { label: r.label, count: r.n }).collect();
    let mut pending = 0;
    let mut failed = 0;
    for r in figures.jobs {
        match r.status.as_str() {
            "failed" => failed += r.n,
            _ => pending += r.n,
        }
    }
    let deliveries = figures.deliveries;
    Ok(Summary {
        user_id: user,
        users: figures.users,
        interactions: InteractionTotals { total, by_kind, by_direction },
        memories: MemoryTotals { total: mem_total, by_kind: mem_by_kind },
        media,
        top_labels,
        last_ingest_at: figures.last_ingest_at,
        jobs: JobTotals { pending, failed },
        deliveries: DeliveryTotals {
            sent: deliveries.sent,
            delivered: deliveries.delivered,
            read: deliveries.read,
            failed: deliveries.failed,
            pending: deliveries.pending,
            dry_run: deliveries.dry_run,
        },
    })
}
