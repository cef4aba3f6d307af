//! Sending the reply exactly once: the outbound interaction is recorded first (unique per
//! inbound message and purpose), then sent; a retry finds the row and only re-sends what was
//! not confirmed. Without Twilio credentials the reply is stored as `dry_run` and logged.

use chrono::Utc;
use sea_orm::EntityTrait;
use tracing::{info, warn};
use uuid::Uuid;

use super::{Pipeline, Result};
use mnemo_shared::clients::twilio::OutboundMessage;
use mnemo_shared::domain::replies;
use mnemo_shared::error::PipelineError;
use mnemo_shared::store::entities::interaction::{Kind, MessageStatus};
use mnemo_shared::store::entities::{interaction, user};
use mnemo_shared::store::interactions::{self, About, NewOutbound, Recorded, SendResult};
use mnemo_shared::store::users;

/// How many of the user's latest messages are checked for an interrupted earlier send.
const RECONCILE_PAGE: u32 = 50;
/// Twilio's clock and ours may disagree by this much (and its timestamps are whole seconds).
const CLOCK_SKEW_SECS: i64 = 120;

/// The outcome of trying to take the send lease on an outbound row.
enum SendClaim {
    /// Ours to send; `attempts` counts this one (1 = no earlier attempt could have sent it).
    Claimed { attempts: i32 },
    /// No longer `sending`: sent, failed or dry-run already.
    AlreadyDone,
    /// Another worker's lease is live.
    HeldByAnother,
}

/// An approved WhatsApp template (`ContentSid`, `HX…`) and its variables as a JSON object
/// string (`ContentVariables`).
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    pub content_sid: &'a str,
    pub variables: &'a str,
}

impl Pipeline {
    /// Takes the user's one-time welcome: true for exactly one caller, however many first
    /// messages are processed at once.
    pub(crate) async fn claim_welcome(&self, user_id: Uuid) -> Result<bool> {
        Ok(users::claim_welcome(&self.db, user_id, Utc::now()).await?)
    }

    pub(crate) async fn existing_reply(&self, inbound_id: Uuid) -> Result<Option<Recorded>> {
        Ok(interactions::outbound(&self.db, &About::Reply { inbound_id })
            .await?
            .map(|row| Recorded { row, claimed: false }))
    }

    /// Records an outbound row (once per [`About`]) holding its send lease when this call
    /// wrote it.
    pub(crate) async fn record_outbound(&self, new: &NewOutbound) -> Result<Option<Recorded>> {
        let until = super::lease_end(new.now, self.settings.job_lease);
        Ok(interactions::record_outbound(&self.db, new, until).await?)
    }

    /// Records the reply before sending it: unique per inbound message and purpose.
    pub(crate) async fn create_reply(
        &self,
        inbound: &interaction::Model,
        body: &str,
        media_url: Option<&str>,
    ) -> Result<Recorded> {
        let kind = if media_url.is_some() { Kind::Image } else { Kind::Text };
        let about = About::Reply { inbound_id: inbound.id };
        self.record_answer(inbound, about, kind, body, media_url)
            .await?
            .ok_or_else(|| PipelineError::transient("reply row not visible yet"))
    }

    /// Records the one short reply for a message that ended `failed` (purpose `failure`, so a
    /// redriven message that fails again is not apologised for twice, and a redrive that
    /// succeeds still sends its real reply).
    pub(crate) async fn create_failure_reply(
        &self,
        inbound: &interaction::Model,
    ) -> Result<Recorded> {
        let about = About::Failure { inbound_id: inbound.id };
        self.record_answer(inbound, about, Kind::Text, replies::FAILED, None)
            .await?
            .ok_or_else(|| PipelineError::transient("failure reply row not visible yet"))
    }

    /// Records an outbound to the sender of `inbound`, written now (see [`Self::record_outbound`]).
    async fn record_answer(
        &self,
        inbound: &interaction::Model,
        about: About,
        kind: Kind,
        body: &str,
        media_url: Option<&str>,
    ) -> Result<Option<Recorded>> {
        let new = NewOutbound {
            user_id: inbound.user_id,
            kind,
            body: body.to_string(),
            media_url: media_url.map(str::to_string),
            about,
            now: Utc::now(),
        };
        self.record_outbound(&new).await
    }

    /// Sends a recorded reply unless it already went out; dry-run without Twilio credentials.
    pub(crate) async fn deliver(&self, user: &user::Model, reply: Recorded) -> Result<()> {
        self.send_recorded(user, reply, None).await
    }

    /// Sends a recorded outbound row unless it already went out: as free-form text (split
    /// under the length limit) or, outside WhatsApp's 24-hour window, as one approved template.
    ///
    /// Exactly once, as far as Twilio lets us: the row is claimed first (a lease, and its
    /// `attempts` counter bumped), so two workers never send it at the same time; a claim that
    /// finds earlier attempts means a send may have reached Twilio before its SID was recorded
    /// (a killed worker, a timeout), so Twilio's list of recent messages to the user is checked
    /// and only parts not already there are sent. Marks the row `sent` with the (first) Twilio
    /// SID, `failed` on a permanent error; transient errors release the claim for a retry.
    pub(crate) async fn send_recorded(
        &self,
        user: &user::Model,
        recorded: Recorded,
        template: Option<Template<'_>>,
    ) -> Result<()> {
        let Recorded { row: reply, claimed } = recorded;
        if reply.status != interaction::MessageStatus::Sending {
            return Ok(());
        }
        let Some(twilio) = &self.twilio else {
            info!(to = %user.phone, reply = %reply.body, template = template.is_some(), "dry-run reply (no Twilio credentials)");
            self.mark_reply(reply.id, MessageStatus::DryRun, None, None).await?;
            return Ok(());
        };
        let claim = if claimed {
            // Written by this job just now, lease and first attempt included.
            SendClaim::Claimed { attempts: reply.attempts }
        } else {
            self.claim_send(reply.id).await?
        };
        let attempts = match claim {
            SendClaim::Claimed { attempts } => attempts,
            SendClaim::AlreadyDone => return Ok(()),
            SendClaim::HeldByAnother => {
                return Err(PipelineError::Busy(
                    "the reply is being sent by another worker".into(),
                ));
            }
        };
        let to = format!("whatsapp:{}", user.phone);
        let callback = format!("{}/webhook/status", self.settings.public_base_url);
        let parts = match template {
            Some(_) => vec![String::new()],
            None => replies::split(&reply.body),
        };
        // Parts an interrupted earlier attempt already got to Twilio, by index.
        let mut already: Vec<Option<String>> = vec![None; parts.len()];
        if attempts > 1 && template.is_none() {
            match self.find_sent_parts(twilio, &to, &reply, &parts).await {
                Ok(found) => already = found,
                Err(e) if e.is_transient() => {
                    self.release_send(reply.id, true).await;
                    return Err(e);
                }
                Err(e) => {
                    // Cannot tell (e.g. the list is not available to this account): sending
                    // again risks a duplicate, not sending risks losing the reply.
                    warn!(error = %e, "could not check Twilio for an earlier send; sending again");
                }
            }
        }
        let mut first_sid = None;
        let mut sent_now = false;
        for (i, part) in parts.iter().enumerate() {
            if let Some(sid) = already[i].take() {
                info!(sid = %sid, part = i, "reply part already reached Twilio; not sent again");
                first_sid.get_or_insert(sid);
                continue;
            }
            let msg = OutboundMessage {
                to: &to,
                body: if template.is_some() { None } else { Some(part) },
                media_url: if i == 0 { reply.media_url.as_deref() } else { None },
                status_callback: Some(&callback),
                content_sid: template.map(|t| t.content_sid),
                content_variables: template.map(|t| t.variables),
            };
            match twilio.send_message(&msg).await {
                Ok(sent) => {
                    sent_now = true;
                    first_sid.get_or_insert(sent.sid);
                }
                Err(e) if e.is_transient() => {
                    // Twilio's own refusal (429, 5xx) before anything went out means this
                    // attempt sent nothing, so the retry needs no check; a timeout might have.
                    self.release_send(reply.id, e.was_answered() && !sent_now).await;
                    return Err(e.into());
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.mark_reply(reply.id, MessageStatus::Failed, None, Some(&msg)).await?;
                    return Err(PipelineError::Permanent(format!("reply not sent: {msg}")));
                }
            }
        }
        self.mark_reply(reply.id, MessageStatus::Sent, first_sid.as_deref(), None).await?;
        Ok(())
    }

    /// Takes the send lease on an outbound row still `sending` whose lease is free or expired,
    /// and counts the attempt.
    async fn claim_send(&self, id: Uuid) -> Result<SendClaim> {
        let now = Utc::now();
        let until = super::lease_end(now, self.settings.job_lease);
        if let Some(attempts) = interactions::claim_send(&self.db, id, until, now).await? {
            return Ok(SendClaim::Claimed { attempts });
        }
        let current = interaction::Entity::find_by_id(id).one(&self.db).await?;
        Ok(match current {
            Some(row) if row.status == interaction::MessageStatus::Sending => {
                SendClaim::HeldByAnother
            }
            _ => SendClaim::AlreadyDone,
        })
    }

    /// Gives the send lease back after a transient failure so the retry can take it at once;
    /// `sent_nothing` uncounts the attempt (it provably reached nobody), so the retry sends
    /// without first checking Twilio. Best effort: if this fails too, the lease expires.
    async fn release_send(&self, id: Uuid, sent_nothing: bool) {
        let released = interactions::release_send(&self.db, id, sent_nothing).await;
        if let Err(e) = released {
            warn!(error = %e, "could not release the reply's send lease; it will expire");
        }
    }

    /// For each part, the SID of a message Twilio already has from an earlier attempt: same
    /// recipient and text, created since the row was (allowing for clock skew), and not
    /// recorded for any other outbound message of ours.
    async fn find_sent_parts(
        &self,
        twilio: &mnemo_shared::clients::twilio::TwilioClient,
        to: &str,
        reply: &interaction::Model,
        parts: &[String],
    ) -> Result<Vec<Option<String>>> {
        let listed = twilio.recent_messages_to(to, RECONCILE_PAGE).await?;
        let since = reply.created_at - chrono::Duration::seconds(CLOCK_SKEW_SECS);
        let candidates: Vec<_> = listed
            .into_iter()
            .filter(|m| m.to.as_deref().is_none_or(|t| t == to))
            .filter(|m| m.created_at().is_none_or(|t| t >= since))
            .collect();
        let mut found: Vec<Option<String>> = vec![None; parts.len()];
        if candidates.is_empty() {
            return Ok(found);
        }
        let sids: Vec<String> = candidates.iter().map(|m| m.sid.clone()).collect();
        let recorded = interactions::known_sids(&self.db, &sids).await?;
        let mut taken = std::collections::HashSet::new();
        for (i, part) in parts.iter().enumerate() {
            found[i] = candidates
                .iter()
                .filter(|m| !recorded.contains(&m.sid) && !taken.contains(&m.sid))
                .find(|m| m.body.as_deref().map(str::trim) == Some(part.trim()))
                .map(|m| m.sid.clone());
            if let Some(sid) = &found[i] {
                taken.insert(sid.clone());
            }
        }
        Ok(found)
    }

    pub(crate) async fn mark_reply(
        &self,
        id: Uuid,
        status: MessageStatus,
        sid: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let result = SendResult { status, sid, error, error_code: None };
        Ok(interactions::mark_sent(&self.db, id, &result, Utc::now()).await?)
    }
}
