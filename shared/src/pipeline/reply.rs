//! Sending the reply exactly once: the outbound interaction is recorded first (unique per
//! inbound message and purpose), then sent; a retry finds the row and only re-sends what was
//! not confirmed. Without Twilio credentials the reply is stored as `dry_run` and logged.

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tracing::info;
use uuid::Uuid;

use super::Pipeline;
use crate::db::stmt;
use crate::entities::{interaction, user};
use crate::error::PipelineError;
use crate::replies;
use crate::twilio::OutboundMessage;

/// An approved WhatsApp template (`ContentSid`, `HX…`) and its variables as a JSON object
/// string (`ContentVariables`).
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    pub content_sid: &'a str,
    pub variables: &'a str,
}

impl Pipeline {
    pub(crate) async fn is_first_reply(&self, user_id: Uuid) -> Result<bool, PipelineError> {
        let row = self
            .db
            .query_one_raw(stmt(
                &self.db,
                "SELECT id FROM interactions WHERE user_id = $1 AND direction = 'outbound' LIMIT 1",
                vec![user_id.into()],
            ))
            .await?;
        Ok(row.is_none())
    }

    pub(crate) async fn existing_reply(
        &self,
        inbound_id: Uuid,
    ) -> Result<Option<interaction::Model>, PipelineError> {
        Ok(interaction::Entity::find()
            .filter(interaction::Column::ReplyTo.eq(inbound_id))
            .filter(interaction::Column::Purpose.eq("reply"))
            .one(&self.db)
            .await?)
    }

    /// Records the reply before sending it: the unique (reply_to, purpose) index makes it one.
    pub(crate) async fn create_reply(
        &self,
        inbound: &interaction::Model,
        body: &str,
        media_url: Option<&str>,
    ) -> Result<interaction::Model, PipelineError> {
        let now = Utc::now();
        self.db
            .execute_raw(stmt(
                &self.db,
                "INSERT INTO interactions (id, user_id, direction, kind, body, status, attempts, reply_to, purpose, media_url, occurred_at, created_at, updated_at) \
                 VALUES ($1, $2, 'outbound', $3, $4, 'sending', 0, $5, 'reply', $6, $7, $7, $7) \
                 ON CONFLICT (reply_to, purpose) DO NOTHING",
                vec![
                    Uuid::now_v7().into(),
                    inbound.user_id.into(),
                    if media_url.is_some() { "image" } else { "text" }.into(),
                    body.into(),
                    inbound.id.into(),
                    media_url.map(str::to_string).into(),
                    now.into(),
                ],
            ))
            .await?;
        self.existing_reply(inbound.id)
            .await?
            .ok_or_else(|| PipelineError::transient("reply row not visible yet"))
    }

    /// Sends a recorded reply unless it already went out; dry-run without Twilio credentials.
    pub(crate) async fn deliver(
        &self,
        user: &user::Model,
        reply: interaction::Model,
    ) -> Result<(), PipelineError> {
        self.send_recorded(user, reply, None).await
    }

    /// Sends a recorded outbound row unless it already went out: as free-form text (split
    /// under the length limit) or, outside WhatsApp's 24-hour window, as one approved template.
    /// Marks the row `sent` with the (first) Twilio SID, `failed` on a permanent error;
    /// transient errors leave it `sending` for a retry.
    pub(crate) async fn send_recorded(
        &self,
        user: &user::Model,
        reply: interaction::Model,
        template: Option<Template<'_>>,
    ) -> Result<(), PipelineError> {
        if reply.status != "sending" {
            return Ok(());
        }
        let Some(twilio) = &self.twilio else {
            info!(to = %user.phone, reply = %reply.body, template = template.is_some(), "dry-run reply (no Twilio credentials)");
            self.mark_reply(reply.id, "dry_run", None, None, None)
                .await?;
            return Ok(());
        };
        let to = format!("whatsapp:{}", user.phone);
        let callback = format!("{}/webhook/status", self.settings.public_base_url);
        let parts = match template {
            Some(_) => vec![String::new()],
            None => replies::split(&reply.body),
        };
        let mut first_sid = None;
        for (i, part) in parts.iter().enumerate() {
            let msg = OutboundMessage {
                to: &to,
                body: if template.is_some() { None } else { Some(part) },
                media_url: if i == 0 {
                    reply.media_url.as_deref()
                } else {
                    None
                },
                status_callback: Some(&callback),
                content_sid: template.map(|t| t.content_sid),
                content_variables: template.map(|t| t.variables),
            };
            match twilio.send_message(&msg).await {
                Ok(sent) => {
                    first_sid.get_or_insert(sent.sid);
                }
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => {
                    let msg = e.to_string();
                    self.mark_reply(reply.id, "failed", None, Some(&msg), None)
                        .await?;
                    return Err(PipelineError::Permanent(format!("reply not sent: {msg}")));
                }
            }
        }
        self.mark_reply(reply.id, "sent", first_sid.as_deref(), None, None)
            .await?;
        Ok(())
    }

    pub(crate) async fn mark_reply(
        &self,
        id: Uuid,
        status: &str,
        sid: Option<&str>,
        error: Option<&str>,
        error_code: Option<&str>,
    ) -> Result<(), PipelineError> {
        self.db
            .execute_raw(stmt(
                &self.db,
                "UPDATE interactions SET status = $2, message_sid = COALESCE($3, message_sid), \
                 error = $4, error_code = $5, updated_at = $6 WHERE id = $1",
                vec![
                    id.into(),
                    status.into(),
                    sid.map(str::to_string).into(),
                    error.map(str::to_string).into(),
                    error_code.map(str::to_string).into(),
                    Utc::now().into(),
                ],
            ))
            .await?;
        Ok(())
    }
}
