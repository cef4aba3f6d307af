//! Delivering due reminders exactly once, with any number of workers running this scan.
//!
//! - **Claim**: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` moves
//!   due reminders from `pending` to `sending` with a lease (`locked_until`); PostgreSQL skips
//!   rows another scan holds and re-checks the status of rows that changed under it, SQLite
//!   runs one writer at a time. A claim whose lease ran out (worker killed) is taken over.
//! - **Send once**: the outbound message is recorded before it is sent, unique per reminder
//!   and occurrence (`reminder_id`, `purpose = reminder:<due_at>`), and sent through the same
//!   code as replies, which skips a row already marked sent. The remaining gap is the one every
//!   HTTP API has: a worker killed after Twilio accepted a message but before it recorded the
//!   SID sends it again when the lease is taken over.
//! - **Then** a one-off becomes `sent`; a repeating one moves to its next occurrence after
//!   now, on the user's wall clock (occurrences missed while down are not sent in a burst).
//! - **Late**: a reminder found more than 5 minutes after it was due (everything was down) is
//!   still sent, with a note saying when it was due.
//! - **24-hour rule**: WhatsApp allows free-form messages only within 24 hours of the user's
//!   last message (`users.last_inbound_at`). Outside it the reminder goes out as the approved
//!   template `TWILIO_REMINDER_CONTENT_SID` with `{"1": text, "2": due time}`; without one it
//!   becomes `needs_template` (visible in `/reminders` and the API) and is sent, late, as soon
//!   as the user writes again.
//!
//! The clock is a parameter: the worker passes `Utc::now()`, tests any instant.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{DbErr, EntityTrait};
use tracing::{info, warn};
use uuid::Uuid;

use crate::pipeline::{Pipeline, Template};
use mnemo_shared::domain::time::{Recurrence, local_label};
use mnemo_shared::error::PipelineError;
use mnemo_shared::store::entities::reminder::{self, ReminderStatus};
use mnemo_shared::store::entities::states::Kind;
use mnemo_shared::store::entities::user;
use mnemo_shared::store::interactions::{self, About, NewOutbound};
use mnemo_shared::store::reminders as saved;

/// How often the worker scans for due reminders.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(2);
/// Sent later than this after its time, a reminder says it is late.
pub const LATE_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// WhatsApp's customer-service window.
pub const SESSION_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// Reminders claimed per scan.
const BATCH: i64 = 50;

/// What happened to one claimed reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent (or recorded as dry-run), as text or as the template; `late` when past due.
    Sent { late: bool, template: bool },
    /// Outside the 24-hour window without a template: not sent, marked `needs_template`.
    NeedsTemplate,
    /// Twilio refused it for good; recorded on the reminder.
    Failed(String),
    /// A transient failure; the claim stays and expires for another try.
    Retrying(String),
    /// The user is gone.
    Skipped,
}

/// What one scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    pub claimed: usize,
    pub sent: usize,
    pub needs_template: usize,
    pub failed: usize,
    pub retrying: usize,
}

fn lease(p: &Pipeline, now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(p.settings.job_lease).unwrap_or(chrono::Duration::minutes(2))
}

/// Claims due reminders: pending ones whose time has come, `sending` ones whose claim
/// expired, and `needs_template` ones whose user has written within the last 24 hours.
pub async fn claim_due(p: &Pipeline, now: DateTime<Utc>) -> Result<Vec<reminder::Model>, DbErr> {
    saved::claim_due(&p.db, now, lease(p, now), now - SESSION_WINDOW, BATCH).await
}

/// Claims one reminder to send it now, whatever its time (`POST /reminders/{id}/send-now`).
/// None when it is not waiting (already sent, cancelled, or being sent).
pub async fn claim_one(
    p: &Pipeline,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<reminder::Model>, DbErr> {
    saved::claim_one(&p.db, id, now, lease(p, now)).await
}

/// One scan at `now`: claims what is due and delivers each, one after another, while a
/// heartbeat keeps the leases of those still waiting their turn (so a long batch is never taken
/// over by another worker's scan, and a dead worker's claims still expire within a lease).
pub async fn run_once(p: &Pipeline, now: DateTime<Utc>) -> Result<Scan, DbErr> {
    let claimed = claim_due(p, now).await?;
    let mut scan = Scan { claimed: claimed.len(), ..Default::default() };
    let waiting = Mutex::new(claimed.iter().map(|r| r.id).collect::<Vec<_>>());
    let started = Instant::now();
    let deliveries = async {
        for r in claimed {
            let id = r.id;
            let delivered = deliver(p, r, now).await;
            waiting.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| *w != id);
            match delivered? {
                Delivery::Sent { .. } => scan.sent += 1,
                Delivery::NeedsTemplate => scan.needs_template += 1,
                Delivery::Failed(_) => scan.failed += 1,
                Delivery::Retrying(_) => scan.retrying += 1,
                Delivery::Skipped => {}
            }
        }
        Ok::<_, DbErr>(())
    };
    tokio::select! {
        done = deliveries => done?,
        never = heartbeat(p, &waiting, now, started) => match never {},
    }
    if scan.claimed > 0 {
        info!(?scan, "reminders scanned");
    }
    Ok(scan)
}

/// Renews, every third of `JOB_LEASE_SECS`, the leases of the claimed reminders not delivered
/// yet; never returns. The scan's clock (`now`, a parameter for tests) moves on with real time.
async fn heartbeat(
    p: &Pipeline,
    waiting: &Mutex<Vec<Uuid>>,
    now: DateTime<Utc>,
    started: Instant,
) -> std::convert::Infallible {
    let every = (p.settings.job_lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let ids = waiting.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if ids.is_empty() {
            continue;
        }
        let at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        if let Err(e) = saved::renew_leases(&p.db, &ids, lease(p, at)).await {
            warn!(error = %e, "reminder lease heartbeat failed");
        }
    }
}

/// Scans every `interval` with the real clock until `shutdown` resolves.
pub async fn run(p: Pipeline, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                if let Err(e) = run_once(&p, Utc::now()).await {
                    warn!(error = %e, "reminder scan failed");
                }
            }
        }
    }
}

/// The WhatsApp text of a reminder.
pub fn message(r: &reminder::Model, tz: Tz, now: DateTime<Utc>) -> String {
    let mut body = if now - r.due_at > LATE_AFTER {
        let due = r.due_at.with_timezone(&tz);
        let when = if due.date_naive() == now.with_timezone(&tz).date_naive() {
            due.format("%H:%M").to_string()
        } else {
            due.format("%a %-d %b, %H:%M").to_string()
        };
        format!("⏰ *Reminder* (late — I was offline at {when}): {}", r.text)
    } else {
        format!("⏰ *Reminder:* {}", r.text)
    };
    if let Some(rule) = r.recurrence.as_deref().and_then(|s| s.parse::<Recurrence>().ok()) {
        body.push_str(&format!("\n🔁 {} · */reminders* to see or cancel", rule.describe()));
    }
    body
}

/// Delivers one claimed reminder (status `sending`) at `now`.
pub async fn deliver(
    p: &Pipeline,
    r: reminder::Model,
    now: DateTime<Utc>,
) -> Result<Delivery, DbErr> {
    let db = &p.db;
    let Some(user) = user::Entity::find_by_id(r.user_id).one(db).await? else {
        return Ok(Delivery::Skipped);
    };
    let tz: Tz = r.timezone.parse().unwrap_or(p.settings.default_timezone);
    let in_window = user.last_inbound_at.is_some_and(|t| now - t < SESSION_WINDOW);
    let template_sid = match (in_window, &p.settings.twilio_reminder_content_sid) {
        (true, _) => None,
        (false, Some(sid)) => Some(sid.clone()),
        (false, None) => {
            saved::park_needs_template(
                db,
                r.id,
                "outside WhatsApp's 24-hour window and no TWILIO_REMINDER_CONTENT_SID is set; sent when the user writes again",
                now,
            )
            .await?;
            info!(reminder_id = %r.id, "reminder needs a template: user silent for over 24 hours");
            return Ok(Delivery::NeedsTemplate);
        }
    };
    let late = now - r.due_at > LATE_AFTER;
    let purpose = format!("reminder:{}", r.due_at.format("%Y-%m-%dT%H:%M:%SZ"));
    let lease_until = crate::pipeline::lease_end(now, p.settings.job_lease);
    let row = interactions::record_outbound(
        db,
        &NewOutbound {
            user_id: r.user_id,
            kind: Kind::Text,
            body: message(&r, tz, now),
            media_url: None,
            about: About::Reminder { reminder_id: r.id, purpose },
            now,
        },
        lease_until,
    )
    .await?;
    let Some(row) = row else {
        return Ok(Delivery::Retrying("outbound row not visible yet".into()));
    };
    let variables = serde_json::json!({"1": r.text, "2": local_label(r.due_at, tz)}).to_string();
    let template =
        template_sid.as_deref().map(|sid| Template { content_sid: sid, variables: &variables });
    match p.send_recorded(&user, row, template).await {
        Ok(()) => {
            finish(p, &r, tz, now, None).await?;
            Ok(Delivery::Sent { late, template: template.is_some() })
        }
        Err(PipelineError::Busy(why)) => {
            // Another scan's claim is sending it; the reminder's own claim expires if it dies.
            Ok(Delivery::Retrying(why))
        }
        Err(e) if e.is_transient() => {
            let msg = e.to_string();
            let attempts = r.attempts + 1;
            if attempts as u32 >= p.settings.job_max_attempts {
                warn!(reminder_id = %r.id, error = %msg, "reminder failed after retries");
                finish(p, &r, tz, now, Some(&msg)).await?;
                return Ok(Delivery::Failed(msg));
            }
            // Keep the claim; it expires after a growing pause and the next scan retries.
            let pause = chrono::Duration::seconds(15 << attempts.min(6));
            saved::retry_later(db, r.id, attempts, now + pause, &msg, now).await?;
            warn!(reminder_id = %r.id, error = %msg, retry_in = ?pause, "reminder send failed, will retry");
            Ok(Delivery::Retrying(msg))
        }
        Err(e) => {
            let msg = e.to_string();
            warn!(reminder_id = %r.id, error = %msg, "reminder not sent");
            finish(p, &r, tz, now, Some(&msg)).await?;
            Ok(Delivery::Failed(msg))
        }
    }
}

/// After an occurrence: a one-off ends `sent` (or `failed`); a repeating one waits for its
/// next occurrence after now, keeping the error of this one if it failed.
async fn finish(
    p: &Pipeline,
    r: &reminder::Model,
    tz: Tz,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let db = &p.db;
    let rule = r.recurrence.as_deref().and_then(|s| s.parse::<Recurrence>().ok());
    let sent_at = if error.is_none() { Some(now) } else { r.sent_at };
    let done = saved::Occurrence { id: r.id, due_at: r.due_at, sent_at, error, now };
    let after = match rule {
        Some(rule) => saved::After::Repeat { next: rule.next_after(now.max(r.due_at), tz) },
        None if error.is_none() => saved::After::End(ReminderStatus::Sent),
        None => saved::After::End(ReminderStatus::Failed),
    };
    saved::close(db, &done, after).await
}
