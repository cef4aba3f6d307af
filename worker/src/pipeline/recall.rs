//! Questions and commands: search that respects time, `/list` with paging, `/forget`, `/tz`,
//! `/stats`, `/help`. Time phrases are cut out of the query and become a range in the user's
//! zone, applied to our `occurred_at` *before* ranking (the engines take the range).
//!
//! Retries: every command that changes state (`/list` pages on, `/forget` deletes, answers
//! renumber what `/forget <n>` means) records its reply in `conversation_state`, keyed by the
//! inbound interaction, in the same write as its effect; a retried job replays that reply
//! instead of acting twice.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Pipeline, Reply, Result, Turn};
use mnemo_shared::domain::conversation::Command;
use mnemo_shared::domain::conversation::answer::{self, Found, Item, Page};
use mnemo_shared::domain::conversation::commands::{ForgetTarget, ListArgs, find_zone};
use mnemo_shared::domain::replies;
use mnemo_shared::domain::time::{Range, parse_range};
use mnemo_shared::memory::local;
use mnemo_shared::ownership::forget;
use mnemo_shared::store::entities::{
    conversation_state, interaction, interaction_media, media_object, memory,
};
use mnemo_shared::store::recall::kinds;
use mnemo_shared::store::{memories, users};

/// The result of [`Pipeline::recall`].
#[derive(Debug, Clone)]
pub struct Recalled {
    /// The question's time phrase, resolved in the user's zone.
    pub range: Option<Range>,
    /// The question without its time phrase and kind word.
    pub query: String,
    pub kind: Option<&'static str>,
    pub items: Vec<memory::Model>,
}

/// Items per `/list` page.
pub const PAGE_SIZE: u64 = 10;

impl Pipeline {
    pub(crate) async fn command(&self, turn: Turn<'_>, cmd: Command) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        Ok(match cmd {
            Command::Help => Reply::text(replies::HELP),
            Command::Unknown(name) => Reply::text(format!(
                // The name as sent, in quotes: inside bold, its own markers would nest.
                "I don't know “/{}”. Here's what I can do:\n\n{}",
                replies::clip(&name, 40),
                replies::HELP
            )),
            Command::Remind(args) => self.remind(turn, &args, false).await?,
            Command::Reminders(args) => self.reminders_command(turn, &args).await?,
            Command::Stats => Reply::text(self.stats(user.id, tz).await?),
            Command::Tz(None) => Reply::text(zone_line("🕒 Your time zone is", tz, inbound)),
            Command::Tz(Some(name)) => self.set_zone(turn, &name).await?,
            Command::Search(words) if words.trim().is_empty() => Reply::text(
                "What should I look for? e.g. */search dinner plans* or */search photos last week*",
            ),
            Command::Search(words) => self.find(turn, &words, 5).await?,
            Command::List(args) => self.list(turn, args).await?,
            Command::Forget(target) => self.forget(turn, target).await?,
            Command::Own(cmd) => self.own_command(turn, cmd).await?,
        })
    }

    /// Answers a question (or `/search`): the best matches, up to `limit`, inside the time
    /// phrase's range when there is one; a photo as the best match is sent back as media.
    pub(crate) async fn find(&self, turn: Turn<'_>, text: &str, limit: u64) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        let Recalled { range, query, kind, items: mut found } =
            self.recall(user.id, tz, text, inbound.occurred_at, limit).await?;
        let label = range.as_ref().map(|r| r.label.clone());
        let mut outside_range = false;
        if found.is_empty() && range.is_some() && !local::terms(&query).is_empty() {
            // Nothing then: the best matches at any time, said as such.
            found = self.matches(user.id, &query, kind, None, limit).await?;
            outside_range = true;
        }
        if found.is_empty() {
            let reply = Reply::text(answer::nothing_found(&query, label.as_deref()));
            return Ok(reply);
        }
        let items: Vec<Item> = found.iter().map(Item::from).collect();
        let lead = match &self.llm {
            Some(llm) => {
                let cites: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| answer::citation(i + 1, it, tz))
                    .collect();
                llm.answer(text, &cites).await
            }
            None => None,
        };
        let body = answer::found(&Found {
            items: &items,
            tz,
            range_label: label.as_deref(),
            outside_range,
            lead: lead.as_deref(),
        });
        let media_url = match found.first() {
            Some(best) if best.kind == memory::Kind::Image => self.media_link_for(best).await?,
            _ => None,
        };
        let reply = Reply { body, media_url };
        let ids: Vec<Uuid> = found.iter().map(|m| m.id).collect();
        let mut state = self.state(user.id).await?;
        state.shown = serde_json::json!(ids);
        state.shown_start = 1;
        self.save_state(&self.db, state, inbound.id, &reply).await?;
        Ok(reply)
    }

    /// What a question recalls, as the WhatsApp answer uses it: the time phrase becomes a range
    /// in the user's zone (`now` is when the question was asked), a kind word ("photos")
    /// narrows the kind, and the rest is searched (hybrid: full-text + semantic), best first.
    pub async fn recall(
        &self,
        user_id: Uuid,
        tz: Tz,
        text: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Recalled> {
        let (range, query) = match parse_range(text, now, tz) {
            Some((r, q)) => (Some(r), q),
            None => (None, text.to_string()),
        };
        let (kind, query) = kind_filter(&query);
        let items = self.matches(user_id, &query, kind, range.as_ref(), limit).await?;
        Ok(Recalled { range, query, kind, items })
    }

    /// The user's memories matching `query` in `range`, best first. A query with no meaningful
    /// words ("what did I save yesterday?") lists the range newest first instead of ranking.
    async fn matches(
        &self,
        user_id: Uuid,
        query: &str,
        kind: Option<&str>,
        range: Option<&Range>,
        limit: u64,
    ) -> Result<Vec<memory::Model>> {
        if local::terms(query).is_empty() {
            return Ok(self.listing(user_id, kind, range.map(Range::bounds), None, limit).await?);
        }
        // With a kind filter, ask for more so the filter still leaves enough.
        let want = if kind.is_some() { limit * 4 } else { limit };
        let hits =
            self.engine.search(&self.db, user_id, query, range.map(Range::bounds), want).await?;
        let ids: Vec<Uuid> = hits.iter().map(|h| h.memory_id).collect();
        let rows = memories::of_user(&self.db, user_id, ids.clone()).await?;
        Ok(ids
            .iter()
            .filter_map(|id| rows.iter().find(|m| m.id == *id))
            .filter(|m| kind.is_none_or(|k| m.kind.as_str() == k))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    /// Newest first, from our database; `after` is the keyset cursor (occurred_at, id).
    async fn listing(
        &self,
        user_id: Uuid,
        kind: Option<&str>,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> Result<Vec<memory::Model>, sea_orm::DbErr> {
        let filter = memories::Filter { after, ..memories::Filter::of_user(user_id, kind, range) };
        memories::page(&self.db, &filter, i64::try_from(limit).unwrap_or(i64::MAX)).await
    }

    /// `/list [phrase] [photos|voice|notes]` and `/list more`.
    async fn list(&self, turn: Turn<'_>, args: ListArgs) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        let mut state = self.state(user.id).await?;
        let (kind, range, label, after, first_number) = if args.more {
            let Some(at) = state.list_cursor_at else {
                return Ok(Reply::text(
                    "That's all, nothing older to show.\nTry */list*, */list last week* or */list photos*.",
                ));
            };
            let range = state.list_start.zip(state.list_end);
            let first = state.shown_start.max(1) as usize + shown_ids(&state).len();
            (
                state.list_kind.clone(),
                range,
                state.list_label.clone(),
                state.list_cursor_id.map(|id| (at, id)),
                first,
            )
        } else {
            let (range, rest) = match parse_range(&args.rest, inbound.occurred_at, tz) {
                Some((r, rest)) => (Some(r), rest),
                None => (None, args.rest.clone()),
            };
            if !rest.trim().is_empty() {
                return Ok(Reply::text(format!(
                    "I didn't get “{}”.\nTry */list last week*, */list photos*, */list voice notes yesterday*, or */search* {}.",
                    replies::clip(&rest, 60),
                    replies::clip(&rest, 60)
                )));
            }
            (args.kind.clone(), range.as_ref().map(Range::bounds), range.map(|r| r.label), None, 1)
        };
        let mut rows = self.listing(user.id, kind.as_deref(), range, after, PAGE_SIZE + 1).await?;
        let has_more = rows.len() as u64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        let items: Vec<Item> = rows.iter().map(Item::from).collect();
        let body = answer::page(&Page {
            items: &items,
            tz,
            first_number,
            range_label: label.as_deref(),
            kind: kind.as_deref(),
            has_more,
        });
        let reply = Reply::text(body);
        let last = rows.last().filter(|_| has_more);
        state.shown = serde_json::json!(rows.iter().map(|m| m.id).collect::<Vec<_>>());
        state.shown_start = first_number as i32;
        state.list_kind = kind;
        state.list_start = range.map(|r| r.0);
        state.list_end = range.map(|r| r.1);
        state.list_label = label;
        state.list_cursor_at = last.map(|m| m.occurred_at);
        state.list_cursor_id = last.map(|m| m.id);
        self.save_state(&self.db, state, inbound.id, &reply).await?;
        Ok(reply)
    }

    /// `/forget <n|last>`: deletes the memory in Mem0 and in our database; the interaction it
    /// came from stays (the audit of what was received).
    async fn forget(&self, turn: Turn<'_>, target: ForgetTarget) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        let state = self.state(user.id).await?;
        let mem = match &target {
            ForgetTarget::Invalid(arg) => {
                let what = if arg.is_empty() {
                    "Which one?".to_string()
                } else {
                    format!("I can't forget “{}”.", replies::clip(arg, 40))
                };
                return Ok(Reply::text(format!(
                    "{what} Send */forget <n>* with a number from your last */list* or search, or */forget last* for the newest memory."
                )));
            }
            ForgetTarget::Last => {
                let newest = memory::Entity::find()
                    .filter(memory::Column::UserId.eq(user.id))
                    .order_by_desc(memory::Column::CreatedAt)
                    .order_by_desc(memory::Column::Id)
                    .one(&self.db)
                    .await?;
                match newest {
                    Some(m) => m,
                    None => return Ok(Reply::text("📭 There's nothing to forget yet.")),
                }
            }
            ForgetTarget::Number(n) => {
                let ids = shown_ids(&state);
                let start = state.shown_start.max(1) as usize;
                let Some(id) = n.checked_sub(start).and_then(|i| ids.get(i)) else {
                    return Ok(Reply::text(format!(
                        "There's no *{n}* in what I last showed you. Send */list* to see numbers, then */forget <n>*."
                    )));
                };
                let found = memory::Entity::find_by_id(*id)
                    .filter(memory::Column::UserId.eq(user.id))
                    .one(&self.db)
                    .await?;
                match found {
                    Some(m) => m,
                    None => return Ok(Reply::text(format!("*{n}* is already forgotten."))),
                }
            }
        };
        // Mem0 first (a 404 counts as gone, so a retry is harmless), then our row together
        // with the recorded reply.
        self.engine.forget(&mem).await?;
        let item = Item::from(&mem);
        let reply = Reply::text(format!(
            "🗑 Forgotten: {}\n“{}”",
            answer::what_and_when(&item, tz),
            replies::clip(&mem.text, 200)
        ));
        let txn = mnemo_shared::store::db::begin_for_user(&self.db, user.id).await?;
        let done = memories::forget_one(&txn, user.id, mem.id).await?;
        self.save_state(&txn, state, inbound.id, &reply).await?;
        txn.commit().await?;
        if let Some(done) = done {
            forget::remove_unreferenced(&self.media, &done.orphaned_keys).await;
        }
        Ok(reply)
    }

    /// `/tz Area/City`: validated against the tz database; naturally idempotent.
    async fn set_zone(&self, turn: Turn<'_>, name: &str) -> Result<Reply> {
        let Turn { user, inbound, .. } = turn;
        let Some(zone) = find_zone(name) else {
            return Ok(Reply::text(format!(
                "I don't know the time zone “{}”.\nUse an Area/City name, e.g. */tz Asia/Kolkata*, */tz Europe/London* or */tz America/New_York*.",
                replies::clip(name, 60)
            )));
        };
        users::set_timezone(&self.db, user.id, zone.name(), Utc::now()).await?;
        Ok(Reply::text(zone_line("✅ Time zone set to", zone, inbound)))
    }

    async fn stats(&self, user_id: Uuid, tz: Tz) -> Result<String> {
        let by_kind = kinds(&self.db, user_id).await?;
        let first = memory::Entity::find()
            .filter(memory::Column::UserId.eq(user_id))
            .order_by_asc(memory::Column::OccurredAt)
            .one(&self.db)
            .await?
            .map(|m| m.occurred_at);
        Ok(answer::stats(&by_kind, first, tz))
    }

    /// The link to send a stored photo back: the memory's interaction → `interaction_media` →
    /// `media_objects`. None when nothing is stored for it.
    pub(crate) async fn media_link_for(&self, mem: &memory::Model) -> Result<Option<String>> {
        let Some(interaction_id) = mem.interaction_id else {
            return Ok(None);
        };
        let link = interaction_media::Entity::find()
            .filter(interaction_media::Column::InteractionId.eq(interaction_id))
            .filter(interaction_media::Column::MediaObjectId.is_not_null())
            .order_by_asc(interaction_media::Column::Position)
            .one(&self.db)
            .await?;
        let Some(object_id) = link.and_then(|l| l.media_object_id) else {
            return Ok(None);
        };
        let object = media_object::Entity::find_by_id(object_id).one(&self.db).await?;
        match object {
            Some(o) => Ok(self.signed_media_url(&o).await),
            None => Ok(None),
        }
    }

    /// A time-limited URL Twilio can fetch a stored object from (presigned S3, or the
    /// ingress's signed `/media/{sha256}` route for the local store).
    async fn signed_media_url(&self, object: &media_object::Model) -> Option<String> {
        Some(self.media.signed_url(&object.sha256, &object.content_type).await)
    }

    /// The reply already recorded for this interaction by a stateful command, if any.
    pub(crate) async fn replayed(&self, user_id: Uuid, inbound_id: Uuid) -> Result<Option<Reply>> {
        let state = conversation_state::Entity::find_by_id(user_id).one(&self.db).await?;
        Ok(state
            .filter(|s| s.last_interaction_id == Some(inbound_id))
            .and_then(|s| s.last_reply.map(|body| Reply { body, media_url: s.last_media_url })))
    }

    pub(crate) async fn state(&self, user_id: Uuid) -> Result<conversation_state::Model> {
        Ok(conversation_state::Entity::find_by_id(user_id).one(&self.db).await?.unwrap_or_else(
            || conversation_state::Model {
                user_id,
                shown: serde_json::json!([]),
                shown_start: 1,
                list_kind: None,
                list_start: None,
                list_end: None,
                list_label: None,
                list_cursor_at: None,
                list_cursor_id: None,
                last_interaction_id: None,
                last_reply: None,
                last_media_url: None,
                updated_at: Utc::now(),
            },
        ))
    }

    /// Writes the state with the reply it produced for `inbound_id` (one upsert).
    pub(crate) async fn save_state(
        &self,
        conn: &impl ConnectionTrait,
        s: conversation_state::Model,
        inbound_id: Uuid,
        reply: &Reply,
    ) -> Result<()> {
        use conversation_state::Column as C;
        let am = conversation_state::ActiveModel {
            user_id: Set(s.user_id),
            shown: Set(s.shown),
            shown_start: Set(s.shown_start),
            list_kind: Set(s.list_kind),
            list_start: Set(s.list_start),
            list_end: Set(s.list_end),
            list_label: Set(s.list_label),
            list_cursor_at: Set(s.list_cursor_at),
            list_cursor_id: Set(s.list_cursor_id),
            last_interaction_id: Set(Some(inbound_id)),
            last_reply: Set(Some(reply.body.clone())),
            last_media_url: Set(reply.media_url.clone()),
            updated_at: Set(Utc::now()),
        };
        conversation_state::Entity::insert(am)
            .on_conflict(
                OnConflict::column(C::UserId)
                    .update_columns([
                        C::Shown,
                        C::ShownStart,
                        C::ListKind,
                        C::ListStart,
                        C::ListEnd,
                        C::ListLabel,
                        C::ListCursorAt,
                        C::ListCursorId,
                        C::LastInteractionId,
                        C::LastReply,
                        C::LastMediaUrl,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        Ok(())
    }
}

fn shown_ids(state: &conversation_state::Model) -> Vec<Uuid> {
    serde_json::from_value(state.shown.clone()).unwrap_or_default()
}

/// "show me my photos" / "voice notes about the bank": a kind word narrows the search and is
/// removed from the query.
fn kind_filter(query: &str) -> (Option<&'static str>, String) {
    let lower = query.to_lowercase();
    let kind = [
        ("photos", "image"),
        ("photo", "image"),
        ("pictures", "image"),
        ("picture", "image"),
        ("pics", "image"),
        ("voice notes", "audio"),
        ("voice note", "audio"),
        ("voice messages", "audio"),
        ("recordings", "audio"),
    ]
    .into_iter()
    .find(|(word, _)| lower.match_indices(word).any(|(i, w)| is_word_at(&lower, i, w.len())));
    match kind {
        Some((word, k)) => {
            let i = lower
                .match_indices(word)
                .find(|(i, w)| is_word_at(&lower, *i, w.len()))
                .map(|(i, _)| i)
                .unwrap_or(0);
            let rest = format!("{} {}", &query[..i], &query[i + word.len()..]);
            (Some(k), rest.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        None => (None, query.to_string()),
    }
}

fn is_word_at(text: &str, i: usize, len: usize) -> bool {
    let before = text[..i].chars().next_back();
    let after = text[i + len..].chars().next();
    before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
}

/// "🕒 Your time zone is *Asia/Kolkata* (UTC+05:30, now Wed 18 Nov, 10:30)." + how to change.
fn zone_line(prefix: &str, tz: Tz, inbound: &interaction::Model) -> String {
    let local = inbound.occurred_at.with_timezone(&tz);
    format!(
        "{prefix} *{}* (UTC{}, now {}).\nChange it with */tz Area/City*, e.g. */tz Europe/London*.",
        tz.name(),
        local.format("%:z"),
        replies::when(inbound.occurred_at, tz)
    )
}

#[cfg(test)]
mod tests {
    use super::kind_filter;

    #[test]
    fn kind_words_narrow_the_search() {
        assert_eq!(
            kind_filter("show me my photos of the beach"),
            (Some("image"), "show me my of the beach".into())
        );
        assert_eq!(
            kind_filter("voice notes about the bank"),
            (Some("audio"), "about the bank".into())
        );
        assert_eq!(kind_filter("photography course"), (None, "photography course".into()));
    }
}
