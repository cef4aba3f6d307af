//! Reminders from chat: "remind me to … tomorrow at 3pm", `/remind <when> <what>`,
//! `/reminders` (numbered) and `/reminders cancel <n>`.
//!
//! Retries: a new reminder is unique per source message, so a retried job finds the one it
//! made and answers the same; a cancel records its reply in `conversation_state` together
//! with its effect (the numbering could shift after it), so a retry replays it.

use super::{Pipeline, Reply, Result, Turn};
use crate::scheduler::SESSION_WINDOW;
use mnemo_shared::domain::replies;
use mnemo_shared::domain::time::moment::{parse, strip_request};
use mnemo_shared::store::reminders::{self as saved, NewReminder};

impl Pipeline {
    /// A reminder request in natural language (`natural`) or `/remind` arguments.
    pub(crate) async fn remind(&self, turn: Turn<'_>, text: &str, natural: bool) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        let request = if natural { strip_request(text) } else { text.trim() };
        let now = inbound.occurred_at;
        let parsed = match parse(request, now, tz) {
            Ok(p) => p,
            Err(problem) => return Ok(Reply::text(problem.question(tz))),
        };
        if let Some(why) = saved::text_too_long(&parsed.what) {
            return Ok(Reply::text(format!(
                "🤔 That's too long for a reminder: {why}. Please send a shorter one."
            )));
        }
        let row = saved::create(
            &self.db,
            &NewReminder {
                user_id: user.id,
                text: parsed.what.clone(),
                when: parsed.when.clone(),
                tz,
                source_interaction_id: Some(inbound.id),
            },
            now,
        )
        .await?;
        // The user just wrote, so the window is open until now + 24 h.
        let window_note = self.settings.twilio_reminder_content_sid.is_none()
            && row.due_at > now + SESSION_WINDOW;
        Ok(Reply::text(saved::confirmation(&row, tz, &parsed.notes, window_note)))
    }

    /// `/reminders`, `/reminders cancel <n>`.
    pub(crate) async fn reminders_command(&self, turn: Turn<'_>, args: &str) -> Result<Reply> {
        let Turn { user, tz, inbound } = turn;
        let words: Vec<String> = args.split_whitespace().map(str::to_lowercase).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            [] | ["list"] | ["all"] => {
                let rows = saved::active(&self.db, user.id).await?;
                Ok(Reply::text(saved::listing(&rows, tz)))
            }
            ["cancel" | "delete" | "remove" | "stop" | "rm", n] => {
                let n = n.trim_start_matches('#');
                let Some(n) = n.parse::<usize>().ok().filter(|n| *n >= 1) else {
                    return Ok(Reply::text(
                        "Which one? Send */reminders* to see the numbers, then */reminders cancel <n>*.",
                    ));
                };
                let rows = saved::active(&self.db, user.id).await?;
                let Some(r) = rows.get(n - 1) else {
                    return Ok(Reply::text(format!(
                        "There's no reminder *{n}*. Send */reminders* to see the numbers."
                    )));
                };
                let r_tz = saved::zone(r, tz);
                let reply = Reply::text(format!(
                    "🗑 Cancelled: {}: “{}”",
                    saved::when_line(r, r_tz),
                    replies::clip(&r.text, 200)
                ));
                let txn = sea_orm::TransactionTrait::begin(&self.db).await?;
                saved::cancel(&txn, r.id, inbound.occurred_at).await?;
                let state = self.state(user.id).await?;
                self.save_state(&txn, state, inbound.id, &reply).await?;
                txn.commit().await?;
                Ok(reply)
            }
            _ => Ok(Reply::text(
                "Send */reminders* to see your reminders, */reminders cancel <n>* to cancel one, or */remind <when> <what>* to set one, e.g. */remind tomorrow 9am call mom*.",
            )),
        }
    }
}
