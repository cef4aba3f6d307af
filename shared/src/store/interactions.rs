//! `interactions`: the messages of both directions as the API and the console read them, the
//! inbound rows a REST submission records (the webhook's own insert is `db.rs`'s), and the
//! worker's side: the claim on an inbound and its end state, the sweeper's pick, and the
//! outbound rows recorded before they are sent.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, Value,
};
use uuid::Uuid;

use crate::store::db::{all_as, exec, one_as, placeholders, row, run, stmt, value, values};
use crate::store::entities::interaction::{self, Kind, MessageStatus};
use crate::store::leases::{self, Leased};

/// The latest interactions, newest first (`occurred_at`, then id): one user's, or everyone's.
pub async fn recent(
    db: &impl ConnectionTrait,
    user_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<interaction::Model>, DbErr> {
    let (sql, values): (&str, Vec<Value>) = match user_id {
        Some(id) => (
            "SELECT * FROM interactions WHERE user_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2",
            vec![id.into(), limit.into()],
        ),
        None => (
            "SELECT * FROM interactions ORDER BY occurred_at DESC, id DESC LIMIT $1",
            vec![limit.into()],
        ),
    };
    interaction::Entity::find().from_raw_sql(stmt(db, sql, values)).all(db).await
}

/// One user's newest interactions, newest first (`occurred_at`, then id), at most `limit`;
/// only those recorded after `after` when given (the console's polling).
pub async fn conversation(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    after: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<interaction::Model>, DbErr> {
    let (sql, values): (String, Vec<Value>) = match after {
        Some(t) => (
            format!(
                "SELECT * FROM interactions WHERE user_id = $1 AND created_at > $2 \
                 ORDER BY occurred_at DESC, id DESC LIMIT {limit}"
            ),
            vec![user_id.into(), t.into()],
        ),
        None => (
            format!(
                "SELECT * FROM interactions WHERE user_id = $1 \
                 ORDER BY occurred_at DESC, id DESC LIMIT {limit}"
            ),
            vec![user_id.into()],
        ),
    };
    interaction::Entity::find().from_raw_sql(stmt(db, &sql, values)).all(db).await
}

/// Those of `ids` that belong to the user, in no particular order.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<interaction::Model>, DbErr> {
    interaction::Entity::find()
        .filter(interaction::Column::Id.is_in(ids))
        .filter(interaction::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// An inbound message submitted through the REST API (`message_sid` = `api:<id>`), recorded
/// like a WhatsApp message: `raw` holds the Twilio-shaped parameters.
#[derive(Debug, Clone)]
pub struct ApiInbound {
    pub id: Uuid,
    pub user_id: Uuid,
    pub message_sid: String,
    /// `text`, `image`, `audio`, …
    pub kind: String,
    pub body: String,
    pub raw: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// Recorded at (`created_at`, `updated_at`).
    pub now: DateTime<Utc>,
}

/// Records a text submission already `processed` (its memory is written in the same
/// transaction, see `memories::create_text`); `kind` is `text` whatever `msg.kind` says.
pub async fn record_processed_text(
    db: &impl ConnectionTrait,
    msg: &ApiInbound,
) -> Result<(), DbErr> {
    insert_api_inbound(db, msg, "text", "processed", Some(msg.now)).await
}

/// Records a media submission as `received`, for the worker to process like a WhatsApp message.
pub async fn record_received(db: &impl ConnectionTrait, msg: &ApiInbound) -> Result<(), DbErr> {
    insert_api_inbound(db, msg, &msg.kind, "received", None).await
}

/// Inserts an API submission as an inbound interaction of this `kind` and `status`, with no
/// attempts yet; created and updated at `msg.now`.
async fn insert_api_inbound(
    db: &impl ConnectionTrait,
    msg: &ApiInbound,
    kind: &str,
    status: &str,
    processed_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    run(
        db,
        "INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, \
         occurred_at, created_at, updated_at, processed_at) \
         VALUES ($1, $2, $3, 'inbound', $4, $5, $6, 0, $7, $8, $9, $9, $10)",
        vec![
            msg.id.into(),
            msg.user_id.into(),
            msg.message_sid.clone().into(),
            kind.into(),
            msg.body.clone().into(),
            status.into(),
            Value::Json(Some(Box::new(msg.raw.clone()))),
            msg.occurred_at.into(),
            msg.now.into(),
            processed_at.into(),
        ],
    )
    .await
}

// ---- The worker's side: claiming an inbound, its attempts, its end state ----

/// An inbound the worker may take: waiting, or held by a lease that ran out (`$2` is now).
const CLAIMABLE: &str = "direction = 'inbound' AND (status = 'received' \
     OR (status = 'processing' AND (locked_until IS NULL OR locked_until < $2)))";

/// What a claim on an inbound found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Ours: the row as the claim left it (`attempts` counts this claim).
    Taken(Box<interaction::Model>),
    /// Done, held by a live lease elsewhere, or gone.
    NotNow,
    /// An earlier message of the same user is unfinished.
    Waiting,
    /// At `max_attempts` already: taken (so exactly one caller sees this) to be ended `failed`.
    Exhausted { attempts: u32, user_id: Uuid },
}

/// Claims the inbound `id` with a lease until `until`, counting one attempt, if it is
/// claimable, under `max_attempts`, and no earlier inbound of the same user is unfinished.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    max_attempts: i32,
) -> Result<Claim, DbErr> {
    let values =
        || -> Vec<Value> { vec![id.into(), now.into(), until.into(), max_attempts.into()] };
    let attempts_and_user = |row: sea_orm::QueryResult| -> Result<(u32, Uuid), DbErr> {
        let attempts: i32 = row.try_get("", "attempts")?;
        Ok((u32::try_from(attempts).unwrap_or(0), row.try_get("", "user_id")?))
    };
    let taken = one_as::<interaction::Model>(
            db,
            &format!(
                "UPDATE interactions SET status = 'processing', attempts = attempts + 1, \
                 locked_until = $3, updated_at = $2 \
                 WHERE id = $1 AND {CLAIMABLE} AND attempts < $4 \
                 AND NOT EXISTS (SELECT 1 FROM interactions e WHERE e.user_id = interactions.user_id \
                    AND e.direction = 'inbound' AND e.status IN ('received', 'processing') \
                    AND (e.created_at < interactions.created_at \
                      OR (e.created_at = interactions.created_at AND e.id < interactions.id))) \
                 RETURNING *"
            ),
            values(),
        )
        .await?;
    if let Some(taken) = taken {
        return Ok(Claim::Taken(Box::new(taken)));
    }
    // Refused: past the cap (taken now, once, to be ended), waiting its turn, or not ours.
    let exhausted = row(
        db,
        &format!(
            "UPDATE interactions SET status = 'processing', locked_until = $3, updated_at = $2 \
                 WHERE id = $1 AND {CLAIMABLE} AND attempts >= $4 \
                 RETURNING attempts, user_id"
        ),
        values(),
    )
    .await?;
    if let Some(row) = exhausted {
        let (attempts, user_id) = attempts_and_user(row)?;
        return Ok(Claim::Exhausted { attempts, user_id });
    }
    let waiting = row(
        db,
        &format!("SELECT 1 AS waiting FROM interactions WHERE id = $1 AND {CLAIMABLE}"),
        vec![id.into(), now.into()],
    )
    .await?;
    Ok(if waiting.is_some() { Claim::Waiting } else { Claim::NotNow })
}

/// Extends the lease on an inbound still being processed to `until` (the heartbeat).
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    leases::renew(db, Leased::Inbound, &[id], until).await?;
    Ok(())
}

/// The start of one try at a claimed inbound's steps: the lease runs until `until`, and a
/// `retry` counts one more attempt (the claim counted the first).
pub async fn begin_attempt(
    db: &impl ConnectionTrait,
    id: Uuid,
    until: DateTime<Utc>,
    retry: bool,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE interactions SET attempts = attempts + $3, locked_until = $2 WHERE id = $1",
        vec![id.into(), until.into(), i32::from(retry).into()],
    )
    .await
}

/// Ends an inbound: `processed` or `failed` (with `error`), its lease released.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: Uuid,
    status: MessageStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE interactions SET status = $2, error = $3, locked_until = NULL, \
         processed_at = $4, updated_at = $4 WHERE id = $1",
        vec![id.into(), status.as_str().into(), error.map(str::to_string).into(), now.into()],
    )
    .await
}

/// The user's earliest inbound still waiting (`received`): its id and MessageSid.
pub async fn next_waiting(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<(Uuid, Option<String>)>, DbErr> {
    value::<(Uuid, Option<String>)>(
        db,
        "SELECT id, message_sid FROM interactions WHERE user_id = $1 \
             AND direction = 'inbound' AND status = 'received' \
             ORDER BY created_at, id LIMIT 1",
        vec![user_id.into()],
    )
    .await
}

/// Stores a transcript (and its language) on the interaction, once: true when this call did.
pub async fn record_transcript(
    db: &impl ConnectionTrait,
    id: Uuid,
    text: &str,
    language: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "UPDATE interactions SET transcript = $2, transcript_language = $3, updated_at = $4 \
             WHERE id = $1 AND transcript IS NULL",
        vec![id.into(), text.into(), language.map(str::to_string).into(), now.into()],
    )
    .await?;
    Ok(res.rows_affected() == 1)
}

/// An inbound the sweeper picked up: its job was lost (still `received`) or its worker died
/// (`processing` with an expired lease).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Stale {
    pub id: Uuid,
    pub message_sid: Option<String>,
    pub status: MessageStatus,
}

/// Takes up to `batch` stale inbounds (untouched since `cutoff`; dead workers' first) and
/// marks them touched at `now`, so concurrent sweeps never pick the same row.
pub async fn sweep_stale(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<Stale>, DbErr> {
    let sql = format!(
        "UPDATE interactions SET updated_at = $1 WHERE id IN ( \
            SELECT id FROM interactions WHERE direction = 'inbound' AND ( \
                (status = 'received' AND updated_at < $2) OR \
                (status = 'processing' AND locked_until < $1 AND updated_at < $2)) \
            ORDER BY CASE WHEN status = 'processing' THEN 0 ELSE 1 END, updated_at \
            LIMIT {batch} {lock}) \
         RETURNING id, message_sid, status",
        lock = crate::store::reminders::skip_locked(db)
    );
    all_as(db, &sql, vec![now.into(), cutoff.into()]).await
}

/// Inbound messages not finished yet (`received` or `processing`): the queue depth.
pub async fn unfinished_inbound(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let sql = "SELECT COUNT(*) FROM interactions \
               WHERE direction = 'inbound' AND status IN ('received', 'processing')";
    Ok(value(db, sql, vec![]).await?.unwrap_or(0))
}

// ---- Outbound messages: recorded first, then sent once ----

/// Why an outbound row was written; unique per inbound and purpose, or per reminder and
/// occurrence, so a retried job finds its row instead of writing another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// The reply to an inbound message.
    Reply { inbound_id: Uuid },
    /// The one short reply to an inbound that ended `failed`.
    Failure { inbound_id: Uuid },
    /// One occurrence of a reminder (`purpose` = `reminder:<due_at>`).
    Reminder { reminder_id: Uuid, purpose: String },
}

impl About {
    /// The unique key's columns, their values and the `purpose` stored.
    fn key(&self) -> (&'static str, Uuid, &str) {
        match self {
            About::Reply { inbound_id } => ("reply_to", *inbound_id, "reply"),
            About::Failure { inbound_id } => ("reply_to", *inbound_id, "failure"),
            About::Reminder { reminder_id, purpose } => ("reminder_id", *reminder_id, purpose),
        }
    }
}

/// An outbound message to record (status `sending`).
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub user_id: Uuid,
    pub kind: Kind,
    pub body: String,
    pub media_url: Option<String>,
    pub about: About,
    pub now: DateTime<Utc>,
}

/// The outbound row already recorded for `about`, if any.
pub async fn outbound(
    db: &impl ConnectionTrait,
    about: &About,
) -> Result<Option<interaction::Model>, DbErr> {
    let (column, id, purpose) = about.key();
    let column = match column {
        "reply_to" => interaction::Column::ReplyTo,
        _ => interaction::Column::ReminderId,
    };
    interaction::Entity::find()
        .filter(column.eq(id))
        .filter(interaction::Column::Purpose.eq(purpose))
        .one(db)
        .await
}

/// An outbound row as [`record_outbound`] found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub row: interaction::Model,
    /// True when this call wrote the row: it already holds the send lease with its first
    /// attempt counted, so the sender needs no separate [`claim_send`].
    pub claimed: bool,
}

/// Records the outbound message once, holding its send lease until `lease_until` (a second
/// call for the same [`About`] writes nothing and finds the recorded row, not claimed);
/// None only if that row is not visible yet.
pub async fn record_outbound(
    db: &impl ConnectionTrait,
    new: &NewOutbound,
    lease_until: DateTime<Utc>,
) -> Result<Option<Recorded>, DbErr> {
    let (column, id, purpose) = new.about.key();
    let written = one_as::<interaction::Model>(
        db,
        &format!(
            "INSERT INTO interactions (id, user_id, direction, kind, body, status, attempts, locked_until, {column}, purpose, media_url, occurred_at, created_at, updated_at) \
             VALUES ($1, $2, 'outbound', $3, $4, 'sending', 1, $9, $5, $6, $7, $8, $8, $8) \
             ON CONFLICT ({column}, purpose) DO NOTHING RETURNING *"
        ),
        vec![
            Uuid::now_v7().into(),
            new.user_id.into(),
            new.kind.as_str().into(),
            new.body.clone().into(),
            id.into(),
            purpose.into(),
            new.media_url.clone().into(),
            new.now.into(),
            lease_until.into(),
        ],
    )
    .await?;
    if let Some(row) = written {
        return Ok(Some(Recorded { row, claimed: true }));
    }
    Ok(outbound(db, &new.about).await?.map(|row| Recorded { row, claimed: false }))
}

/// Takes the send lease (until `until`) on an outbound row still `sending` whose lease is free
/// or expired, counting the attempt: the attempts so far, or None when not taken.
pub async fn claim_send(
    db: &impl ConnectionTrait,
    id: Uuid,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<i32>, DbErr> {
    value::<i32>(
        db,
        "UPDATE interactions SET attempts = attempts + 1, locked_until = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'sending' AND (locked_until IS NULL OR locked_until < $3) \
             RETURNING attempts",
        vec![id.into(), until.into(), now.into()],
    )
    .await
}

/// Gives a send lease back; `uncount` takes back the attempt it counted (it reached nobody).
pub async fn release_send(db: &impl ConnectionTrait, id: Uuid, uncount: bool) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE interactions SET locked_until = NULL, \
         attempts = CASE WHEN $2 THEN attempts - 1 ELSE attempts END \
         WHERE id = $1 AND status = 'sending'",
        vec![id.into(), uncount.into()],
    )
    .await
}

/// Those of `sids` already recorded on some interaction.
pub async fn known_sids(
    db: &impl ConnectionTrait,
    sids: &[String],
) -> Result<std::collections::HashSet<String>, DbErr> {
    if sids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT message_sid FROM interactions WHERE message_sid IN ({})",
        placeholders(1, sids.len())
    );
    let known = values(db, &sql, sids.iter().map(|s| s.clone().into()).collect()).await?;
    Ok(known.into_iter().collect())
}

/// How a send ended, recorded on its outbound row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendResult<'a> {
    /// `sent`, `dry_run` or `failed`.
    pub status: MessageStatus,
    /// Twilio's SID of the (first) message sent; an earlier one is kept when None.
    pub sid: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_code: Option<&'a str>,
}

/// Records how the send of an outbound row ended and releases its lease.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    id: Uuid,
    result: &SendResult<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE interactions SET status = $2, message_sid = COALESCE($3, message_sid), \
         error = $4, error_code = $5, locked_until = NULL, updated_at = $6 WHERE id = $1",
        vec![
            id.into(),
            result.status.as_str().into(),
            result.sid.map(str::to_string).into(),
            result.error.map(str::to_string).into(),
            result.error_code.map(str::to_string).into(),
            now.into(),
        ],
    )
    .await
}
