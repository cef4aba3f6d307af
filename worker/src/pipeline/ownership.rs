//! `/export`, `/forget all` and its YES, and forgetting or correcting a memory by replying to
//! it (DESIGN §12); the work itself is in `mnemo_shared::ownership`, the rules in
//! `mnemo_shared::domain::conversation::reply`.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tracing::info;

use super::{Pipeline, Reply, Result, Turn};
use mnemo_shared::domain::conversation::answer::{self, Item};
use mnemo_shared::domain::conversation::ownership::{CONFIRM_WITHIN, OwnCommand, is_yes};
use mnemo_shared::domain::conversation::reply::{self, ReplyAction, reply_action};
use mnemo_shared::ownership::{forget, link};
use mnemo_shared::store::confirmations::{self, FORGET_ALL};
use mnemo_shared::store::entities::memory;
use mnemo_shared::store::{mcp_tokens, memories, memory_versions};

impl Pipeline {
    pub(crate) async fn own_command(&self, turn: Turn<'_>, cmd: OwnCommand) -> Result<Reply> {
        let Turn { user, inbound, .. } = turn;
        match cmd {
            OwnCommand::Export => {
                let url = link::url(&self.settings, user.id, Utc::now().timestamp());
                let mins = self.settings.media_url_ttl.as_secs().div_ceil(60);
                Ok(Reply::text(format!(
                    "📦 Here are all your memories, as a zip: memories.json, one readable file per month and your photos and voice notes.\n{url}\nThe link works for {mins} minutes; send /export again for a new one."
                )))
            }
            OwnCommand::Connect => {
                // Retries would issue a second token: replay the first reply instead.
                let token = mcp_tokens::issue(&self.db, user.id).await?;
                let base = self.settings.public_base_url.trim_end_matches('/');
                let reply = Reply::text(format!(
                    "🔌 Your key for AI assistants (MCP). Keep it secret; it reaches your memories:\n{token}\n\nAdd this server to your assistant:\n{{\"mcpServers\": {{\"mnemo\": {{\"type\": \"http\", \"url\": \"{base}/mcp\", \"headers\": {{\"Authorization\": \"Bearer {token}\"}}}}}}}}\nSend /disconnect to revoke it."
                ));
                let state = self.state(user.id).await?;
                self.save_state(&self.db, state, inbound.id, &reply).await?;
                Ok(reply)
            }
            OwnCommand::Disconnect => {
                let n = mcp_tokens::revoke_all(&self.db, user.id).await?;
                Ok(Reply::text(if n == 0 {
                    "No assistant is connected.".to_string()
                } else {
                    format!(
                        "🔌 Disconnected: {n} key(s) revoked. Assistants using them can no longer reach your memories."
                    )
                }))
            }
            OwnCommand::ForgetAll => {
                let n = memory::Entity::find()
                    .filter(memory::Column::UserId.eq(user.id))
                    .count(&self.db)
                    .await?;
                if n == 0 {
                    return Ok(Reply::text("📭 There's nothing to forget yet."));
                }
                confirmations::request(&self.db, user.id, FORGET_ALL, inbound.occurred_at).await?;
                Ok(Reply::text(format!(
                    "⚠️ This deletes all {n} of your memories, your reminders and your photos and voice notes, for good.\nReply *YES* within 5 minutes to go ahead; anything else cancels.\nWant a copy first? Send /export."
                )))
            }
        }
    }

    /// The answer to a `/forget all` waiting for YES: None when nothing waits (the message
    /// is then handled as usual). Anything but YES cancels the request.
    pub(crate) async fn confirmation(&self, turn: Turn<'_>) -> Result<Option<Reply>> {
        let Turn { user, inbound, .. } = turn;
        let Some((action, at)) = confirmations::pending(&self.db, user.id).await? else {
            return Ok(None);
        };
        let fresh = inbound.occurred_at - at
            <= Duration::from_std(CONFIRM_WITHIN).unwrap_or_default()
            && inbound.occurred_at >= at;
        if !is_yes(&inbound.body) {
            confirmations::clear(&self.db, user.id).await?;
            return Ok(None);
        }
        if !fresh {
            confirmations::clear(&self.db, user.id).await?;
            return Ok(Some(Reply::text(
                "⌛ That request expired, so nothing was deleted. Send /forget all again if you still want to.",
            )));
        }
        if action != FORGET_ALL {
            return Ok(None);
        }
        let done = forget::forget_everything(&self.db, &self.engine, &self.media, user.id).await?;
        let reply = Reply::text(format!(
            "🗑 Done: I forgot everything, {} memories, {} reminders and {} photos, voice notes and files.\nYou can start afresh any time.",
            done.memories, done.reminders, done.media_references
        ));
        let state = self.state(user.id).await?;
        self.save_state(&self.db, state, inbound.id, &reply).await?;
        Ok(Some(reply))
    }

    /// A message that replies to (quotes) another: forgets or corrects the memory that message
    /// holds. None when the text is a command, a question or a reminder: it is then handled as
    /// if nothing were quoted. Each change is recorded with its reply in one transaction, after
    /// Mem0 took it (both idempotent), so a retried job either replays the reply or redoes both.
    pub(crate) async fn reply_to_quoted(
        &self,
        turn: Turn<'_>,
        quoted_sid: &str,
    ) -> Result<Option<Reply>> {
        let Turn { user, tz, inbound } = turn;
        let action = reply_action(&inbound.body);
        if action == ReplyAction::Ordinary {
            return Ok(None);
        }
        let Some(mem) = memories::replied_to(&self.db, user.id, quoted_sid).await? else {
            return Ok(Some(Reply::text(reply::no_memory(&action))));
        };
        let reply = match action {
            ReplyAction::Ordinary => return Ok(None),
            ReplyAction::EmptyCorrection => return Ok(Some(Reply::text(reply::EMPTY_CORRECTION))),
            ReplyAction::Forget => {
                self.engine.forget(&mem).await?;
                let reply = Reply::text(reply::forgotten(
                    &answer::what_and_when(&Item::from(&mem), tz),
                    &mem.text,
                ));
                let state = self.state(user.id).await?;
                let txn = mnemo_shared::store::db::begin_for_user(&self.db, user.id).await?;
                let Some(done) = memories::forget_one(&txn, user.id, mem.id).await? else {
                    txn.rollback().await?;
                    return Ok(Some(Reply::text(reply::no_memory(&ReplyAction::Forget))));
                };
                self.save_state(&txn, state, inbound.id, &reply).await?;
                txn.commit().await?;
                forget::remove_unreferenced(&self.media, &done.orphaned_keys).await;
                info!(
                    memory_id = %mem.id,
                    media_references = done.media_references,
                    objects_removed = done.orphaned_keys.len(),
                    "memory forgotten by reply"
                );
                reply
            }
            ReplyAction::Correct(fix) if reply::apply_correction(&mem.text, &fix) == mem.text => {
                return Ok(Some(Reply::text(reply::unchanged(&mem.text))));
            }
            ReplyAction::Correct(fix) => {
                let text = reply::apply_correction(&mem.text, &fix);
                self.engine.revise(&self.db, &mem, &text).await?;
                let reply = Reply::text(reply::corrected(&mem.text, &text));
                let state = self.state(user.id).await?;
                let txn = mnemo_shared::store::db::begin_for_user(&self.db, user.id).await?;
                if !memory_versions::correct(&txn, &mem, &text, Utc::now()).await? {
                    txn.rollback().await?;
                    return Ok(Some(Reply::text(reply::CHANGED_MEANWHILE)));
                }
                self.save_state(&txn, state, inbound.id, &reply).await?;
                txn.commit().await?;
                // Our vector went with the old text: make the new one now (or the backfill will).
                let corrected = memory::Model { text, ..mem };
                self.engine.embed(&self.db, &corrected).await?;
                info!(memory_id = %corrected.id, "memory corrected by reply");
                reply
            }
        };
        Ok(Some(reply))
    }
}
