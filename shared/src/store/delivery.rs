//! Delivery status of our outbound messages, from Twilio's status callbacks.
//!
//! Twilio does not guarantee the order of callbacks, so the status only moves forward:
//! `queued`/`accepted`/`scheduled` < `sending` < `sent` (our `dry_run` ranks here) <
//! `delivered` < `read`, and `failed`/`undelivered`/`canceled` are terminal. A late `sent`
//! after `read` changes nothing; a `failed` stores its `ErrorCode` (e.g. 63016: outside the
//! 24-hour window without a template).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use uuid::Uuid;

use crate::store::db::{exec, row, rows};

/// The order of a status; None for one we do not track.
pub fn rank(status: &str) -> Option<i32> {
    Some(match status {
        "queued" | "accepted" | "scheduled" => 1,
        "sending" => 2,
        "sent" | "dry_run" => 3,
        "delivered" => 4,
        "read" => 5,
        "failed" | "undelivered" | "canceled" => 6,
        _ => return None,
    })
}

/// The SQL rank of the `status` column, matching [`rank`].
const RANK_SQL: &str = "CASE status \
    WHEN 'queued' THEN 1 WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 \
    WHEN 'sending' THEN 2 WHEN 'sent' THEN 3 WHEN 'dry_run' THEN 3 \
    WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 \
    WHEN 'failed' THEN 6 WHEN 'undelivered' THEN 6 WHEN 'canceled' THEN 6 ELSE 0 END";

/// What a status callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The message moved to the new status.
    Updated,
    /// The message is already at or past it (a late or repeated callback).
    Stale,
    /// No outbound message has this SID (or the status is not one we track).
    Unknown,
}

/// Applies one status callback to the outbound message with `message_sid`.
pub async fn apply_status(
    db: &impl ConnectionTrait,
    message_sid: &str,
    status: &str,
    error_code: Option<&str>,
    error_message: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Applied, DbErr> {
    let status = status.trim().to_ascii_lowercase();
    let Some(new_rank) = rank(&status) else {
        return Ok(Applied::Unknown);
    };
    let sql = format!(
        "UPDATE interactions SET status = $2, \
            error_code = COALESCE($3, error_code), error = COALESCE($4, error), updated_at = $5 \
         WHERE message_sid = $1 AND direction = 'outbound' AND ({RANK_SQL}) < $6"
    );
    let res = exec(
        db,
        &sql,
        vec![
            message_sid.into(),
            status.clone().into(),
            error_code.filter(|c| !c.is_empty()).map(str::to_string).into(),
            error_message.filter(|c| !c.is_empty()).map(str::to_string).into(),
            now.into(),
            new_rank.into(),
        ],
    )
    .await?;
    if res.rows_affected() > 0 {
        return Ok(Applied::Updated);
    }
    let known = row(
        db,
        "SELECT id FROM interactions WHERE message_sid = $1 AND direction = 'outbound'",
        vec![message_sid.into()],
    )
    .await?;
    Ok(if known.is_some() { Applied::Stale } else { Applied::Unknown })
}

/// Outbound messages by how far they got, for analytics. Cumulative: a read message was
/// also delivered and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Accepted by WhatsApp or further (`sent`, `delivered`, `read`).
    pub sent: i64,
    /// Delivered to the phone (`delivered`, `read`).
    pub delivered: i64,
    pub read: i64,
    /// `failed` or `undelivered`.
    pub failed: i64,
    /// Recorded but not (yet) confirmed by Twilio (`sending`, `queued`, …).
    pub pending: i64,
    /// Stored but not sent (no Twilio credentials).
    pub dry_run: i64,
}

/// Delivery counts of outbound messages, for one user or everyone.
pub async fn delivery_counts(
    db: &impl ConnectionTrait,
    user_id: Option<Uuid>,
) -> Result<DeliveryCounts, DbErr> {
    let (filter, values) = match user_id {
        Some(id) => (" AND user_id = $1", vec![id.into()]),
        None => ("", vec![]),
    };
    let rows = rows(
            db,
            &format!(
                "SELECT status, COUNT(*) AS n FROM interactions WHERE direction = 'outbound'{filter} GROUP BY status"
            ),
            values,
        )
        .await?;
    let mut c = DeliveryCounts::default();
    for row in rows {
        let status: String = row.try_get("", "status")?;
        let n: i64 = row.try_get("", "n")?;
        match status.as_str() {
            "sent" => c.sent += n,
            "delivered" => {
                c.sent += n;
                c.delivered += n;
            }
            "read" => {
                c.sent += n;
                c.delivered += n;
                c.read += n;
            }
            "failed" | "undelivered" | "canceled" => c.failed += n,
            "dry_run" => c.dry_run += n,
            _ => c.pending += n,
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn statuses_only_move_forward() {
        let order = ["queued", "sending", "sent", "delivered", "read"];
        for pair in order.windows(2) {
            assert!(rank(pair[0]) < rank(pair[1]), "{pair:?}");
        }
        for terminal in ["failed", "undelivered"] {
            assert!(rank(terminal) > rank("read"));
        }
        assert_eq!(rank("dry_run"), rank("sent"));
        assert_eq!(rank("receiving"), None);
    }
}
