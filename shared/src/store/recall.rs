//! The queries recall runs over `memories`: the full-text leg (PostgreSQL's `tsvector`, or
//! SQLite's FTS5 with BM25), the candidates' texts, labels and times for the fusion, a time range
//! listed newest first, Mem0's hits mapped back to our rows, and the counts `/stats` shows.
//! The semantic leg's vectors are `memory_embeddings.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};
use uuid::Uuid;

use crate::store::db::{placeholders, rows, value, values};
use crate::store::entities::memory;

/// A time range `[start, end)` in UTC.
pub type Range = (DateTime<Utc>, DateTime<Utc>);

/// The user's memories matching any of `terms` (plain words, already lowercased and
/// filtered), inside `range` when given: `(memory id, score)`, best first, at most `limit`.
pub async fn full_text(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    terms: &[String],
    range: Option<Range>,
    limit: u64,
) -> Result<Vec<(Uuid, f64)>, DbErr> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let (start, end) = match range {
        Some((s, e)) => (Some(s), Some(e)),
        None => (None, None),
    };
    let (sql, q) = match db.get_database_backend() {
        DbBackend::Postgres => (
            r#"SELECT m.id, ts_rank_cd(m.search, q) AS score
               FROM memories m, to_tsquery('english', $1) q
               WHERE m.user_id = $2 AND m.search @@ q
                 AND ($3::timestamptz IS NULL OR m.occurred_at >= $3)
                 AND ($4::timestamptz IS NULL OR m.occurred_at < $4)
               ORDER BY score DESC, m.occurred_at DESC
               LIMIT $5"#,
            terms.join(" | "),
        ),
        _ => (
            r#"SELECT m.id AS id, -bm25(memories_fts) AS score
               FROM memories_fts JOIN memories m ON m.rowid = memories_fts.rowid
               WHERE memories_fts MATCH $1 AND m.user_id = $2
                 AND ($3 IS NULL OR m.occurred_at >= $3)
                 AND ($4 IS NULL OR m.occurred_at < $4)
               ORDER BY score DESC, m.occurred_at DESC
               LIMIT $5"#,
            terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR "),
        ),
    };
    let rows = rows(
        db,
        sql,
        vec![
            q.into(),
            user_id.into(),
            Value::ChronoDateTimeUtc(start),
            Value::ChronoDateTimeUtc(end),
            (limit as i64).into(),
        ],
    )
    .await?;
    rows.into_iter()
        .map(|r| {
            let score = r
                .try_get::<f64>("", "score")
                .or_else(|_| r.try_get::<f32>("", "score").map(f64::from))?;
            Ok((r.try_get("", "id")?, score))
        })
        .collect()
}

/// What the fusion needs of a candidate: its text, labels and time.
pub struct Candidate {
    pub text: String,
    pub labels: Vec<String>,
    pub at: DateTime<Utc>,
}

/// The text, labels and time of those of `ids` that are the user's.
pub async fn texts(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Candidate>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, text, labels, occurred_at FROM memories WHERE user_id = $1 AND id IN ({})",
        placeholders(2, ids.len())
    );
    let mut values: Vec<Value> = vec![user_id.into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    let rows = rows(db, &sql, values).await?;
    rows.into_iter()
        .map(|r| {
            let labels: serde_json::Value = r.try_get("", "labels")?;
            Ok((
                r.try_get("", "id")?,
                Candidate {
                    text: r.try_get("", "text")?,
                    labels: memory::label_list(&labels),
                    at: r.try_get("", "occurred_at")?,
                },
            ))
        })
        .collect()
}

/// The ids of the user's memories in `[start, end)`, newest first, at most `limit`.
pub async fn in_range(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    (start, end): Range,
    limit: u64,
) -> Result<Vec<Uuid>, DbErr> {
    values(
        db,
        "SELECT id FROM memories WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
             ORDER BY occurred_at DESC, id DESC LIMIT $4",
        vec![user_id.into(), start.into(), end.into(), (limit as i64).into()],
    )
    .await
}

/// The user's memory a Mem0 hit stands for — ours by id (`metadata.memory_id`), else by
/// `mem0_id` — with its time.
pub async fn of_mem0_hit(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    memory_id: Option<Uuid>,
    mem0_id: &str,
) -> Result<Option<(Uuid, DateTime<Utc>)>, DbErr> {
    value(
        db,
        "SELECT id, occurred_at FROM memories WHERE user_id = $1 AND (id = $2 OR mem0_id = $3)",
        vec![user_id.into(), Value::Uuid(memory_id), mem0_id.into()],
    )
    .await
}

/// How many memories the user has of each kind, most first (then by kind).
pub async fn kinds(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<(String, i64)>, DbErr> {
    let sql = "SELECT kind, COUNT(*) AS n FROM memories WHERE user_id = $1 \
               GROUP BY kind ORDER BY n DESC, kind";
    values(db, sql, vec![user_id.into()]).await
}
