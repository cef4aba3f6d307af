//! Reminder rows: creating one (once per source message), listing, cancelling, and how they
//! read on WhatsApp. Shared by the chat commands and the REST API.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::domain::replies;
use crate::domain::time::{Recurrence, When, local_label};
use crate::store::db::{all_as, exec, one_as, run};
use crate::store::entities::reminder::{self, ReminderStatus};
use crate::store::leases::{self, Leased};

/// Statuses of a reminder still to come (listed and numbered by `/reminders`).
pub const ACTIVE: [&str; 3] = ["pending", "sending", "needs_template"];
/// Every status a reminder can have.
pub const STATUSES: [&str; 6] =
    ["pending", "sending", "sent", "cancelled", "needs_template", "failed"];

/// A reminder to create.
#[derive(Debug, Clone)]
pub struct NewReminder {
    pub user_id: Uuid,
    pub text: String,
    pub when: When,
    pub tz: Tz,
    /// The chat message that asked for it: a retried job then creates it once.
    pub source_interaction_id: Option<Uuid>,
}

/// Inserts the reminder (once per source message) and returns the stored row.
/// The longest reminder text, in characters: one WhatsApp message with room for the
/// "⏰ Reminder" line (Twilio splits past 1,600; a 100 KB reminder was 63 messages).
pub const MAX_TEXT_CHARS: usize = 1000;

/// Why a reminder text is refused: `None` when it is within [`MAX_TEXT_CHARS`].
pub fn text_too_long(text: &str) -> Option<String> {
    let n = text.chars().count();
    (n > MAX_TEXT_CHARS).then(|| {
        format!("a reminder's text is at most {MAX_TEXT_CHARS} characters; this one has {n}")
    })
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: &NewReminder,
    now: DateTime<Utc>,
) -> Result<reminder::Model, DbErr> {
    let id = Uuid::now_v7();
    exec(
        db,
        "INSERT INTO reminders (id, user_id, text, due_at, timezone, recurrence, status, source_interaction_id, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, 0, $8, $8) \
         ON CONFLICT (source_interaction_id) DO NOTHING",
        vec![
            id.into(),
            new.user_id.into(),
            new.text.clone().into(),
            new.when.due().into(),
            new.tz.name().to_string().into(),
            new.when.rule().map(|r| r.to_string()).into(),
            new.source_interaction_id.into(),
            now.into(),
        ],
    )
    .await?;
    let found = match new.source_interaction_id {
        Some(source) => {
            reminder::Entity::find()
                .filter(reminder::Column::SourceInteractionId.eq(source))
                .one(db)
                .await?
        }
        None => reminder::Entity::find_by_id(id).one(db).await?,
    };
    found.ok_or_else(|| DbErr::RecordNotFound("reminder just created".into()))
}

/// The user's reminders still to come, soonest first: the numbering of `/reminders`.
pub async fn active(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<reminder::Model>, DbErr> {
    reminder::Entity::find()
        .filter(reminder::Column::UserId.eq(user_id))
        .filter(reminder::Column::Status.is_in(ACTIVE))
        .order_by_asc(reminder::Column::DueAt)
        .order_by_asc(reminder::Column::Id)
        .limit(100)
        .all(db)
        .await
}

/// The reminder with this id, whatever its status.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<reminder::Model>, DbErr> {
    reminder::Entity::find_by_id(id).one(db).await
}

/// Reminders soonest first (`due_at`, then id), at most `limit`: one user's and/or those with
/// one status, or all.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: Option<Uuid>,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<reminder::Model>, DbErr> {
    let mut q = reminder::Entity::find();
    if let Some(user_id) = user_id {
        q = q.filter(reminder::Column::UserId.eq(user_id));
    }
    if let Some(status) = status {
        q = q.filter(reminder::Column::Status.eq(status));
    }
    q.order_by_asc(reminder::Column::DueAt)
        .order_by_asc(reminder::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Cancels a reminder that has not been sent for good; true when it changed.
pub async fn cancel(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = exec(
        db,
        "UPDATE reminders SET status = 'cancelled', locked_until = NULL, updated_at = $2 \
             WHERE id = $1 AND status IN ('pending', 'sending', 'needs_template', 'failed')",
        vec![id.into(), now.into()],
    )
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The zone a reminder is read in.
pub fn zone(r: &reminder::Model, fallback: Tz) -> Tz {
    r.timezone.parse().unwrap_or(fallback)
}

/// "Thu 21 Nov, 15:00 IST" or "every day at 08:00, next Fri 22 Nov, 08:00 GMT".
pub fn when_line(r: &reminder::Model, tz: Tz) -> String {
    match r.recurrence.as_deref().and_then(|s| s.parse::<Recurrence>().ok()) {
        Some(rule) => format!("{}, next {}", rule.describe(), local_label(r.due_at, tz)),
        None => local_label(r.due_at, tz),
    }
}

/// The reply to a new reminder.
pub fn confirmation(r: &reminder::Model, tz: Tz, notes: &[String], window_note: bool) -> String {
    let rule = r.recurrence.as_deref().and_then(|s| s.parse::<Recurrence>().ok());
    let mut lines = vec![match rule {
        Some(rule) => format!(
            "⏰ Got it. I'll remind you *{}*, starting *{}*:",
            rule.describe(),
            local_label(r.due_at, tz)
        ),
        None => format!("⏰ Got it. I'll remind you *{}*:", local_label(r.due_at, tz)),
    }];
    lines.push(format!("“{}”", replies::clip(&r.text, 300)));
    // Plain: a note may carry markup of its own ("say *03:00* if you meant the morning").
    for note in notes {
        lines.push(format!("({note})"));
    }
    if window_note {
        lines.push(
            "ℹ️ WhatsApp only lets me message you within 24 hours of your last message, so send me anything before then and I'll be able to remind you."
                .into(),
        );
    }
    lines.push("See or cancel reminders with */reminders*.".into());
    lines.join("\n")
}

/// `/reminders`: numbered, soonest first, flagging those that wait for the user.
pub fn listing(rows: &[reminder::Model], fallback: Tz) -> String {
    if rows.is_empty() {
        return "⏰ No reminders set.\nTry *remind me to call mom tomorrow at 3pm* or */remind every Monday 8am bins*.".into();
    }
    let mut lines = vec!["⏰ *Your reminders*".to_string()];
    for (i, r) in rows.iter().enumerate() {
        let tz = zone(r, fallback);
        let flag = if r.status == reminder::ReminderStatus::NeedsTemplate {
            " ⚠️ _waiting: WhatsApp needs a message from you first (24-hour rule) — send me anything and it goes out_"
        } else {
            ""
        };
        lines.push(format!(
            "{}. {}: {}{flag}",
            i + 1,
            when_line(r, tz),
            replies::clip(&r.text, 120)
        ));
    }
    lines.push("Cancel one with */reminders cancel <n>*.".into());
    lines.join("\n")
}

/// Extends the claims of reminders still being sent (status `sending`) to `until`: the
/// scheduler's heartbeat while it works through a batch.
pub async fn renew_leases(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    until: DateTime<Utc>,
) -> Result<u64, DbErr> {
    leases::renew(db, Leased::Reminder, ids, until).await
}

/// `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite runs one writer at a time).
pub(crate) fn skip_locked(db: &impl ConnectionTrait) -> &'static str {
    if db.get_database_backend() == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" }
}

/// Claims up to `batch` due reminders, soonest first, with a lease until `until`: pending ones
/// whose time has come, `sending` ones whose lease expired (their attempts kept), and
/// `needs_template` ones whose user has written since `window_start`. Safe with many
/// schedulers (rows another scan holds are skipped).
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    window_start: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<reminder::Model>, DbErr> {
    let sql = format!(
        "UPDATE reminders SET status = 'sending', locked_until = $2, updated_at = $1, \
            attempts = CASE WHEN status = 'sending' THEN attempts ELSE 0 END \
         WHERE id IN ( \
            SELECT r.id FROM reminders r WHERE \
                (r.status = 'pending' AND r.due_at <= $1) \
                OR (r.status = 'sending' AND r.locked_until < $1) \
                OR (r.status = 'needs_template' AND r.user_id IN \
                    (SELECT u.id FROM users u WHERE u.last_inbound_at > $3)) \
            ORDER BY r.due_at LIMIT {batch} {lock}) \
         AND ((status = 'pending' AND due_at <= $1) \
            OR (status = 'sending' AND locked_until < $1) OR status = 'needs_template') \
         RETURNING *",
        lock = skip_locked(db)
    );
    all_as::<reminder::Model>(db, &sql, vec![now.into(), until.into(), window_start.into()]).await
}

/// Claims one reminder to send it now, whatever its time, with a lease until `until`. None
/// when it is not waiting (already sent, cancelled, or being sent).
pub async fn claim_one(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<reminder::Model>, DbErr> {
    one_as::<reminder::Model>(
        db,
        "UPDATE reminders SET status = 'sending', locked_until = $2, updated_at = $1, attempts = 0 \
         WHERE id = $3 AND status IN ('pending', 'needs_template', 'failed') RETURNING *",
        vec![now.into(), until.into(), id.into()],
    )
    .await
}

/// A claimed reminder that cannot go out now (outside WhatsApp's 24-hour window, no
/// template): `needs_template`, its lease released, `why` recorded.
pub async fn park_needs_template(
    db: &impl ConnectionTrait,
    id: Uuid,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE reminders SET status = 'needs_template', locked_until = NULL, error = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'sending'",
        vec![id.into(), why.into(), now.into()],
    )
    .await
}

/// A claimed reminder whose send failed for now: keeps the claim until `until` (the next scan
/// after that retries), counting `attempts` and recording `error`.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    until: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE reminders SET attempts = $2, locked_until = $3, error = $4, updated_at = $5 \
         WHERE id = $1 AND status = 'sending'",
        vec![id.into(), attempts.into(), until.into(), error.into(), now.into()],
    )
    .await
}

/// The end of one occurrence of a claimed reminder (still `sending` and due at `due_at`).
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    pub id: Uuid,
    /// The occurrence that was claimed: a reminder moved on since is left alone.
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub error: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// What follows an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// A repeating reminder: `pending` again, due at `next`, attempts reset.
    Repeat { next: DateTime<Utc> },
    /// A one-off: `sent` or `failed` for good.
    End(ReminderStatus),
}

/// Closes a claimed occurrence (its lease released), unless the reminder moved on since.
pub async fn close(
    db: &impl ConnectionTrait,
    done: &Occurrence<'_>,
    after: After,
) -> Result<(), DbErr> {
    let (sql, value): (&str, sea_orm::Value) = match after {
        After::Repeat { next } => (
            "UPDATE reminders SET status = 'pending', due_at = $2, sent_at = $3, error = $4, \
             attempts = 0, locked_until = NULL, updated_at = $5 \
             WHERE id = $1 AND status = 'sending' AND due_at = $6",
            next.into(),
        ),
        After::End(status) => (
            "UPDATE reminders SET status = $2, sent_at = $3, error = $4, locked_until = NULL, \
             updated_at = $5 WHERE id = $1 AND status = 'sending' AND due_at = $6",
            status.as_str().into(),
        ),
    };
    run(
        db,
        sql,
        vec![
            done.id.into(),
            value,
            done.sent_at.into(),
            done.error.map(str::to_string).into(),
            done.now.into(),
            done.due_at.into(),
        ],
    )
    .await
}
