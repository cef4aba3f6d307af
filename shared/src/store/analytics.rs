//! The analytics read model (`/analytics/summary`, the console's totals): counts computed by the
//! database (COUNT / SUM / GROUP BY over indexes, see migration `m20261121_000003_api`), never by
//! loading rows. The independent aggregates run concurrently on the pool, so the answer takes as
//! long as the slowest one.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Value};
use uuid::Uuid;

use crate::store::db::{all_as, one_as, value};
use crate::store::delivery::{DeliveryCounts, delivery_counts};

/// How many labels [`Figures::top_labels`] holds.
pub const TOP_LABELS: i64 = 10;

/// Interactions of one direction and kind.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DirectionKindCount {
    pub direction: String,
    pub kind: String,
    pub n: i64,
}

/// Rows of one kind.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct KindCount {
    pub kind: String,
    pub n: i64,
}

/// Rows with one status.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StatusCount {
    pub status: String,
    pub n: i64,
}

/// Memories with one label.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct LabelCount {
    pub label: String,
    pub n: i64,
}

/// Media deduplication over the attachments in scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromQueryResult)]
pub struct MediaFigures {
    /// Distinct stored objects referenced by messages.
    pub objects: i64,
    /// Attachments pointing at stored objects.
    pub refs: i64,
    /// Bytes stored (each object once).
    pub stored: i64,
    /// Bytes deduplication avoided storing again.
    pub saved: i64,
}

/// Every figure of the summary, as the database counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// All users; 1 when scoped to a user.
    pub users: i64,
    /// Interactions by direction and kind.
    pub interactions: Vec<DirectionKindCount>,
    /// Memories by kind.
    pub memories: Vec<KindCount>,
    pub media: MediaFigures,
    /// The [`TOP_LABELS`] most used labels, most used first (then by label).
    pub top_labels: Vec<LabelCount>,
    /// When the newest inbound message was recorded.
    pub last_ingest_at: Option<DateTime<Utc>>,
    /// Inbound messages `received`, `processing` or `failed`, by status.
    pub jobs: Vec<StatusCount>,
    pub deliveries: DeliveryCounts,
}

/// `AND <col> = $1` when scoped to a user.
fn scope(user: Option<Uuid>, col: &str) -> (String, Vec<Value>) {
    match user {
        Some(id) => (format!(" AND {col} = $1"), vec![id.into()]),
        None => (String::new(), vec![]),
    }
}

/// Every row of a raw query, typed.
pub(super) async fn all<T: FromQueryResult>(
    db: &impl ConnectionTrait,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<T>, DbErr> {
    all_as::<T>(db, &sql, values).await
}

/// The figures for everyone, or for one user.
pub async fn figures(db: &impl ConnectionTrait, user: Option<Uuid>) -> Result<Figures, DbErr> {
    let (uw, uv) = scope(user, "user_id");
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
            Some(_) => Ok::<i64, DbErr>(1),
            None => Ok(value(db, "SELECT COUNT(*) FROM users", vec![]).await?.unwrap_or(0)),
        }
    };
    let interactions_q = all::<DirectionKindCount>(
        db,
        format!(
            "SELECT direction, kind, COUNT(*) AS n FROM interactions WHERE 1 = 1{uw} \
             GROUP BY direction, kind"
        ),
        uv.clone(),
    );
    let memories_q = all::<KindCount>(
        db,
        format!("SELECT kind, COUNT(*) AS n FROM memories WHERE 1 = 1{uw} GROUP BY kind"),
        uv.clone(),
    );
    let media_q = async {
        let sql = format!(
            "SELECT COUNT(*) AS objects, COALESCE(CAST(SUM(refs) AS BIGINT), 0) AS refs, \
             COALESCE(CAST(SUM(size_bytes) AS BIGINT), 0) AS stored, \
             COALESCE(CAST(SUM(size_bytes * (refs - 1)) AS BIGINT), 0) AS saved \
             FROM (SELECT mo.id, mo.size_bytes, COUNT(*) AS refs \
                   FROM interaction_media im JOIN media_objects mo ON mo.id = im.media_object_id{media_join} \
                   WHERE 1 = 1{media_where} GROUP BY mo.id, mo.size_bytes) t"
        );
        Ok::<_, DbErr>(one_as::<MediaFigures>(db, &sql, media_values).await?.unwrap_or_default())
    };
    let labels_q = all::<LabelCount>(
        db,
        format!(
            "SELECT label, COUNT(*) AS n FROM memory_labels WHERE 1 = 1{uw} \
             GROUP BY label ORDER BY n DESC, label LIMIT {TOP_LABELS}"
        ),
        uv.clone(),
    );
    let last_q = async {
        let sql = format!(
            "SELECT created_at FROM interactions WHERE direction = 'inbound'{uw} \
             ORDER BY created_at DESC LIMIT 1"
        );
        value::<DateTime<Utc>>(db, &sql, uv.clone()).await
    };
    let jobs_q = all::<StatusCount>(
        db,
        format!(
            "SELECT status, COUNT(*) AS n FROM interactions \
             WHERE direction = 'inbound' AND status IN ('received', 'processing', 'failed'){uw} \
             GROUP BY status"
        ),
        uv.clone(),
    );
    let (users, interactions, memories, media, top_labels, last_ingest_at, jobs, deliveries) = tokio::try_join!(
        users_q,
        interactions_q,
        memories_q,
        media_q,
        labels_q,
        last_q,
        jobs_q,
        delivery_counts(db, user)
    )?;
    Ok(Figures {
        users,
        interactions,
        memories,
        media,
        top_labels,
        last_ingest_at,
        jobs,
        deliveries,
    })
}
