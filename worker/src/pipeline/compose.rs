//! What mnemo answers to one inbound message: a command's output, a question's matches, or
//! the confirmation of a new memory. The conversation issue grows this module.

use super::{MediaOutcome, Pipeline, Result, Turn};
use mnemo_shared::domain::conversation::{Command, Intent, classify};
use mnemo_shared::domain::replies;
use mnemo_shared::error::PipelineError;
use mnemo_shared::store::entities::{interaction, memory};
use mnemo_shared::store::memories;

/// A reply to send: text, and optionally one media URL (WhatsApp takes one per message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub body: String,
    pub media_url: Option<String>,
}

impl Reply {
    pub fn text(body: impl Into<String>) -> Self {
        Reply { body: body.into(), media_url: None }
    }
}

impl Pipeline {
    /// Decides and performs what the message asks for; returns the reply to send.
    /// `first_ever`: no earlier attempt at this message has run, so none can have left a
    /// recorded answer to replay.
    pub(crate) async fn respond(
        &self,
        turn: Turn<'_>,
        media: &MediaOutcome,
        first_ever: bool,
    ) -> Result<Reply> {
        let Turn { user, inbound, .. } = turn;
        let text_only = inbound.kind == interaction::Kind::Text;
        if text_only
            && !first_ever
            && let Some(reply) = self.replayed(user.id, inbound.id).await?
        {
            // A retry of a command that already took effect: answer the same.
            return Ok(reply);
        }
        if text_only && let Some(reply) = self.confirmation(turn).await? {
            // The answer to a question waiting for YES (`/forget all`).
            return Ok(reply);
        }
        if text_only
            && let Some(quoted) = inbound.replied_to_sid.as_deref()
            && let Some(reply) = self.reply_to_quoted(turn, quoted).await?
        {
            // A reply to a message that forgets or corrects its memory.
            return Ok(reply);
        }
        let what = if text_only {
            let decision = classify(&inbound.body);
            match (&self.llm, decision.sure) {
                (Some(llm), false) => llm.settle_intent(&inbound.body, decision.intent).await,
                _ => decision.intent,
            }
        } else {
            Intent::Memory
        };
        match what {
            Intent::Command { name, args } => {
                self.command(turn, Command::parse(&name, &args)).await
            }
            Intent::Question => self.find(turn, &inbound.body, 3).await,
            Intent::Reminder => self.remind(turn, &inbound.body, true).await,
            Intent::Memory => {
                let mem = self.remember(inbound, &media.memory_text(inbound)).await?;
                self.engine.index(&self.db, &mem, media.image_data_url.clone()).await?;
                let mut lines = vec![format!(
                    "✅ Saved {}: “{}”",
                    replies::kind_icon(&mem.kind.as_str()),
                    replies::clip(&mem.text, 200)
                )];
                lines.extend(media.notes.iter().cloned());
                lines.push("Ask me about it any time, e.g. _what did I save today?_".into());
                Ok(Reply::text(lines.join("\n")))
            }
        }
    }

    /// The memory of this interaction, created once (unique per interaction).
    pub(crate) async fn remember(
        &self,
        inbound: &interaction::Model,
        text: &str,
    ) -> Result<memory::Model> {
        memories::create_for_interaction(
            &self.db,
            inbound.user_id,
            inbound.id,
            &inbound.kind.as_str(),
            text,
            mnemo_shared::domain::api_submission::labels(inbound.raw.as_ref()),
            inbound.occurred_at,
            self.engine.name(),
        )
        .await?
        .ok_or_else(|| PipelineError::transient("memory row not visible yet"))
    }
}
