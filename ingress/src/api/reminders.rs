//! `/reminders`: create, list, cancel and send-now, documented in the OpenAPI document.
//!
//! `user` is a user id or an E.164 number (`+14155550123`, also `whatsapp:+…`); an unknown
//! one is 404. A `when` phrase is read in the user's zone with the chat's rules, so an
//! ambiguous or past time is a 422 whose detail is the question the chat would ask.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mnemo_shared::domain::time::moment::parse_when;
use mnemo_shared::domain::time::{Recurrence, When, local_label};
use mnemo_shared::store::entities::reminder;
use mnemo_shared::store::reminders::{self as saved, NewReminder, STATUSES};
use mnemo_worker::pipeline::Pipeline;
use mnemo_worker::scheduler::{self, Delivery};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Tags)]
pub enum ReminderTags {
    /// Reminders delivered on WhatsApp at a time in the user's zone.
    Reminders,
}

/// A reminder.
#[derive(Object)]
pub struct ReminderOut {
    pub id: Uuid,
    pub user_id: Uuid,
    pub text: String,
    /// When it is (next) due, UTC.
    pub due_at: DateTime<Utc>,
    /// The same in the reminder's zone, e.g. `Thu 21 Nov, 15:00 IST`.
    pub due_local: String,
    /// IANA zone the time was read in (and repeats follow).
    pub timezone: String,
    /// Stored rule, e.g. `daily@08:00`, `weekly:mon@09:00`; absent for a one-off.
    pub recurrence: Option<String>,
    /// The rule in words, e.g. `every day at 08:00`.
    pub recurrence_text: Option<String>,
    /// `pending` | `sending` | `sent` | `cancelled` | `needs_template` | `failed`.
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The WhatsApp message that asked for it.
    pub source_interaction_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ReminderOut {
    fn from_model(r: reminder::Model, fallback: Tz) -> Self {
        let tz = saved::zone(&r, fallback);
        let rule = r.recurrence.as_deref().and_then(|s| s.parse::<Recurrence>().ok());
        ReminderOut {
            due_local: local_label(r.due_at, tz),
            recurrence_text: rule.map(|r| r.describe()),
            id: r.id,
            user_id: r.user_id,
            text: r.text,
            due_at: r.due_at,
            timezone: r.timezone,
            recurrence: r.recurrence,
            status: r.status.to_string(),
            sent_at: r.sent_at,
            error: r.error,
            source_interaction_id: r.source_interaction_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new reminder: `text` and either `when` (a phrase such as `tomorrow at 3pm`,
/// `every Monday at 9am`, read in the user's zone) or `due_at` (an RFC 3339 instant).
#[derive(Object)]
pub struct NewReminderIn {
    /// A user id or E.164 number.
    pub user: String,
    pub text: String,
    pub when: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Object)]
pub struct ReminderList {
    pub items: Vec<ReminderOut>,
}

/// The outcome of `send-now`.
#[derive(Object)]
pub struct SendNowOut {
    /// `sent` | `sent_template` | `needs_template` | `failed` | `retrying`.
    pub delivery: String,
    pub detail: Option<String>,
    pub reminder: ReminderOut,
}

#[derive(ApiResponse)]
pub enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<ReminderOut>),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Cancelled (or already cancelled).
    #[oai(status = 204)]
    Cancelled,
}

pub struct RemindersApi {
    pub state: AppState,
}

async fn find_reminder(state: &AppState, id: Uuid) -> Result<reminder::Model, ApiError> {
    saved::find(&state.db, id).await?.ok_or_else(|| ApiError::NotFound(format!("no reminder {id}")))
}

#[OpenApi(tag = "ReminderTags::Reminders")]
impl RemindersApi {
    /// Create a reminder.
    ///
    /// The body is at most 16 KiB (413 past it) and `text` at most 1,000 characters (422).
    #[oai(path = "/reminders", method = "post")]
    async fn create(
        &self,
        _auth: crate::api::auth::BearerAuth,
        body: crate::api::small_json::SmallJson<NewReminderIn>,
    ) -> Result<CreatedResponse, ApiError> {
        let u = super::resolve_user(&self.state.db, &body.user).await?;
        let tz = super::user_zone(&u, self.state.settings.default_timezone);
        let text = body.text.trim();
        if text.is_empty() {
            return Err(ApiError::Unprocessable("text must not be empty".into()));
        }
        if let Some(why) = saved::text_too_long(text) {
            return Err(ApiError::Unprocessable(why));
        }
        let now = Utc::now();
        let when = match (&body.when, body.due_at) {
            (Some(phrase), None) => match parse_when(phrase, now, tz) {
                Ok((when, _)) => when,
                Err(Some(problem)) => {
                    return Err(ApiError::Unprocessable(problem.question(tz)));
                }
                Err(None) => {
                    return Err(ApiError::Unprocessable(format!(
                        "`when` should be a time only, e.g. \"tomorrow at 3pm\" or \"every Monday at 9am\"; got {phrase:?}"
                    )));
                }
            },
            (None, Some(at)) if at > now => When::Once(at),
            (None, Some(at)) => {
                return Err(ApiError::Unprocessable(format!(
                    "due_at {} has already passed",
                    at.to_rfc3339()
                )));
            }
            _ => {
                return Err(ApiError::Unprocessable(
                    "give exactly one of `when` (a phrase) or `due_at` (RFC 3339)".into(),
                ));
            }
        };
        let row = saved::create(
            &self.state.db,
            &NewReminder {
                user_id: u.id,
                text: text.to_string(),
                when,
                tz,
                source_interaction_id: None,
            },
            now,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(CreatedResponse::Created(Json(ReminderOut::from_model(row, tz))))
    }

    /// List reminders, soonest first; optionally one user's and one status.
    #[oai(path = "/reminders", method = "get")]
    async fn list(
        &self,
        _auth: crate::api::auth::BearerAuth,
        /// A user id or E.164 number.
        user: Query<Option<String>>,
        /// `pending` | `sending` | `sent` | `cancelled` | `needs_template` | `failed`.
        status: Query<Option<String>>,
        /// At most this many (default 100, max 500).
        limit: Query<Option<u64>>,
    ) -> Result<Json<ReminderList>, ApiError> {
        let user_id = match user.0.as_deref() {
            Some(key) => Some(super::resolve_user(&self.state.db, key).await?.id),
            None => None,
        };
        if let Some(s) = status.0.as_deref()
            && !STATUSES.contains(&s)
        {
            return Err(ApiError::Unprocessable(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
        let rows = saved::list(
            &self.state.db,
            user_id,
            status.0.as_deref(),
            limit.0.unwrap_or(100).clamp(1, 500),
        )
        .await
        .map_err(ApiError::from)?;
        let fallback = self.state.settings.default_timezone;
        Ok(Json(ReminderList {
            items: rows.into_iter().map(|r| ReminderOut::from_model(r, fallback)).collect(),
        }))
    }

    /// Cancel a reminder (a repeating one stops repeating).
    #[oai(path = "/reminders/:id", method = "delete")]
    async fn delete(
        &self,
        _auth: crate::api::auth::BearerAuth,
        id: Path<Uuid>,
    ) -> Result<DeletedResponse, ApiError> {
        let r = find_reminder(&self.state, id.0).await?;
        if r.status == reminder::ReminderStatus::Cancelled {
            return Ok(DeletedResponse::Cancelled);
        }
        if !saved::cancel(&self.state.db, r.id, Utc::now()).await.map_err(ApiError::from)? {
            return Err(ApiError::Unprocessable(format!(
                "reminder is {}; nothing to cancel",
                r.status
            )));
        }
        Ok(DeletedResponse::Cancelled)
    }

    /// Send a reminder now instead of at its time (a repeating one then moves to its next
    /// occurrence). The 24-hour rule applies as for scheduled sends.
    #[oai(path = "/reminders/:id/send-now", method = "post")]
    async fn send_now(
        &self,
        _auth: crate::api::auth::BearerAuth,
        id: Path<Uuid>,
    ) -> Result<Json<SendNowOut>, ApiError> {
        let r = find_reminder(&self.state, id.0).await?;
        let pipeline = Pipeline::new(self.state.db.clone(), self.state.settings.clone());
        let now = Utc::now();
        let Some(claimed) =
            scheduler::claim_one(&pipeline, r.id, now).await.map_err(ApiError::from)?
        else {
            return Err(ApiError::Unprocessable(format!(
                "reminder is {}; only pending, needs_template or failed reminders can be sent",
                r.status
            )));
        };
        let outcome = scheduler::deliver(&pipeline, claimed, now).await.map_err(ApiError::from)?;
        let (delivery, detail) = match outcome {
            Delivery::Sent { template: false, .. } => ("sent", None),
            Delivery::Sent { template: true, .. } => ("sent_template", None),
            Delivery::NeedsTemplate => ("needs_template", None),
            Delivery::Failed(e) => ("failed", Some(e)),
            Delivery::Retrying(e) => ("retrying", Some(e)),
            Delivery::Skipped => ("skipped", None),
        };
        let r = find_reminder(&self.state, r.id).await?;
        Ok(Json(SendNowOut {
            delivery: delivery.into(),
            detail,
            reminder: ReminderOut::from_model(r, self.state.settings.default_timezone),
        }))
    }
}
