//! `/analytics/summary`: totals computed by the database (COUNT / SUM / GROUP BY over indexes,
//! see migration `m20261121_000003_api`), never by loading rows. The independent aggregates run
//! concurrently on the pool, so the answer takes as long as the slowest one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mnemo_shared::sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Value};
use mnemo_shared::store::db::stmt;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::auth::BearerAuth;
use super::{RestTags, example_user, resolve_optional_user};
use crate::problem::ApiError;
use crate::state::AppState;

pub const TOP_LABELS: i64 = 10;

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
            memories: MemoryTotals {
                total: 18,
                by_kind: kinds(10, 5, 3),
            },
            media: MediaTotals {
                unique_objects: 11,
                references: 12,
                bytes_stored: 2_400_000,
                bytes_saved: 180_000,
            },
            top_labels: vec![LabelCount {
                label: "food".into(),
                count: 4,
            }],
            last_ingest_at: DateTime::parse_from_rfc3339("2026-11-20T19:30:00Z")
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            jobs: JobTotals {
                pending: 0,
                failed: 1,
            },
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

pub struct AnalyticsApi;

#[OpenApi(tag = "RestTags::Analytics")]
impl AnalyticsApi {
    /// Analytics summary
    ///
    /// Users, interactions by kind and direction, memories by kind, media deduplication,
    /// top labels, the last ingest time and the job backlog — for everyone, or one `user`.
    #[oai(
        path = "/analytics/summary",
        method = "get",
        operation_id = "analytics_summary"
    )]
    async fn summary(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// A user id or an E.164 number; everyone when omitted.
        #[oai(example = "example_user")]
        user: Query<Option<String>>,
    ) -> Result<Json<Summary>, ApiError> {
        let db = &state.db;
        let user = resolve_optional_user(db, user.0.as_deref()).await?;
        Ok(Json(summary(db, user.map(|u| u.id)).await?))
    }
}

/// `AND <col> = $1` when scoped to a user.
fn scope(user: Option<Uuid>, col: &str) -> (String, Vec<Value>) {
    match user {
        Some(id) => (format!(" AND {col} = $1"), vec![id.into()]),
        None => (String::new(), vec![]),
    }
}

async fn all(
    db: &DatabaseConnection,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, ApiError> {
    Ok(db.query_all_raw(stmt(db, &sql, values)).await?)
}

pub async fn summary(db: &DatabaseConnection, user: Option<Uuid>) -> Result<Summary, ApiError> {
    let (iw, iv) = scope(user, "user_id");
    let (mw, mv) = scope(user, "user_id");
    let (lw, lv) = scope(user, "user_id");
    let (jw, jv) = scope(user, "user_id");
    let (tw, tv) = scope(user, "user_id");
    let (media_join, media_where, media_values) = match user {
        Some(id) => (
            " JOIN interactions i ON i.id = im.interaction_id",
            " AND i.user_id = $1",
            vec![Value::from(id)],
        ),
        None => ("", "", vec![]),
    };
    let users_q = async {
        match user {
            Some(_) => Ok::<i64, ApiError>(1),
            None => {
                let rows = all(db, "SELECT COUNT(*) AS n FROM users".into(), vec![]).await?;
                Ok(rows
                    .first()
                    .map(|r| r.try_get::<i64>("", "n"))
                    .transpose()?
                    .unwrap_or(0))
            }
        }
    };
    let interactions_q = all(
        db,
        format!(
            "SELECT direction, kind, COUNT(*) AS n FROM interactions WHERE 1 = 1{iw} \
             GROUP BY direction, kind"
        ),
        iv,
    );
    let memories_q = all(
        db,
        format!("SELECT kind, COUNT(*) AS n FROM memories WHERE 1 = 1{mw} GROUP BY kind"),
        mv,
    );
    let media_q = all(
        db,
        format!(
            "SELECT COUNT(*) AS objects, COALESCE(CAST(SUM(refs) AS BIGINT), 0) AS refs, \
             COALESCE(CAST(SUM(size_bytes) AS BIGINT), 0) AS stored, \
             COALESCE(CAST(SUM(size_bytes * (refs - 1)) AS BIGINT), 0) AS saved \
             FROM (SELECT mo.id, mo.size_bytes, COUNT(*) AS refs \
                   FROM interaction_media im JOIN media_objects mo ON mo.id = im.media_object_id{media_join} \
                   WHERE 1 = 1{media_where} GROUP BY mo.id, mo.size_bytes) t"
        ),
        media_values,
    );
    let labels_q = all(
        db,
        format!(
            "SELECT label, COUNT(*) AS n FROM memory_labels WHERE 1 = 1{lw} \
             GROUP BY label ORDER BY n DESC, label LIMIT {TOP_LABELS}"
        ),
        lv,
    );
    let last_q = all(
        db,
        format!(
            "SELECT created_at FROM interactions WHERE direction = 'inbound'{tw} \
             ORDER BY created_at DESC LIMIT 1"
        ),
        tv,
    );
    let jobs_q = all(
        db,
        format!(
            "SELECT status, COUNT(*) AS n FROM interactions \
             WHERE direction = 'inbound' AND status IN ('received', 'processing', 'failed'){jw} \
             GROUP BY status"
        ),
        jv,
    );
    let deliveries_q = async {
        mnemo_shared::store::delivery::delivery_counts(db, user)
            .await
            .map_err(ApiError::from)
    };
    let (users, interactions, memories, media, labels, last, jobs, deliveries) = tokio::try_join!(
        users_q,
        interactions_q,
        memories_q,
        media_q,
        labels_q,
        last_q,
        jobs_q,
        deliveries_q
    )?;

    let base_kinds = || -> BTreeMap<String, i64> {
        ["text", "image", "audio"]
            .into_iter()
            .map(|k| (k.to_string(), 0))
            .collect()
    };
    let mut by_kind = base_kinds();
    let mut by_direction: BTreeMap<String, i64> =
        [("inbound".to_string(), 0), ("outbound".to_string(), 0)]
            .into_iter()
            .collect();
    let mut total = 0;
    for r in interactions {
        let n: i64 = r.try_get("", "n")?;
        let direction: String = r.try_get("", "direction")?;
        let kind: String = r.try_get("", "kind")?;
        total += n;
        *by_kind.entry(kind).or_default() += n;
        *by_direction.entry(direction).or_default() += n;
    }
    let mut mem_by_kind = base_kinds();
    let mut mem_total = 0;
    for r in memories {
        let n: i64 = r.try_get("", "n")?;
        mem_total += n;
        *mem_by_kind.entry(r.try_get("", "kind")?).or_default() += n;
    }
    let media = match media.first() {
        Some(r) => MediaTotals {
            unique_objects: r.try_get("", "objects")?,
            references: r.try_get("", "refs")?,
            bytes_stored: r.try_get("", "stored")?,
            bytes_saved: r.try_get("", "saved")?,
        },
        None => MediaTotals {
            unique_objects: 0,
            references: 0,
            bytes_stored: 0,
            bytes_saved: 0,
        },
    };
    let top_labels = labels
        .into_iter()
        .map(|r| {
            Ok(LabelCount {
                label: r.try_get("", "label")?,
                count: r.try_get("", "n")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let last_ingest_at = last
        .first()
        .map(|r| r.try_get::<DateTime<Utc>>("", "created_at"))
        .transpose()?;
    let mut pending = 0;
    let mut failed = 0;
    for r in jobs {
        let n: i64 = r.try_get("", "n")?;
        match r.try_get::<String>("", "status")?.as_str() {
            "failed" => failed += n,
            _ => pending += n,
        }
    }
    Ok(Summary {
        user_id: user,
        users,
        interactions: InteractionTotals {
            total,
            by_kind,
            by_direction,
        },
        memories: MemoryTotals {
            total: mem_total,
            by_kind: mem_by_kind,
        },
        media,
        top_labels,
        last_ingest_at,
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
