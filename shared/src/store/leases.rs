//! Leases: a worker's hold on a row while it works on it (`locked_until`), valid only while
//! the row stays in the status the claim put it in. One helper renews them for every table
//! that has them, so the pipeline's heartbeat and the reminder scheduler's agree.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Value};
use uuid::Uuid;

use crate::store::db::{exec, placeholders};
use crate::store::entities::states::{MessageStatus, ReminderStatus};

/// The rows that are claimed with a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leased {
    /// An inbound message being processed (`interactions`, status `processing`).
    Inbound,
    /// A reminder being sent (`reminders`, status `sending`).
    Reminder,
}

impl Leased {
    fn table(self) -> &'static str {
        match self {
            Leased::Inbound => "interactions",
            Leased::Reminder => "reminders",
        }
    }

    /// The status a row holds while its lease means anything.
    fn held(self) -> String {
        match self {
            Leased::Inbound => MessageStatus::Processing.as_str(),
            Leased::Reminder => ReminderStatus::Sending.as_str(),
        }
    }
}

/// Extends the leases of those of `ids` still held (in the claim's status) to `until`;
/// returns how many were extended.
pub async fn renew(
    db: &impl ConnectionTrait,
    what: Leased,
    ids: &[Uuid],
    until: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut values: Vec<Value> = vec![until.into(), what.held().into()];
    values.extend(ids.iter().map(|id| (*id).into()));
    let sql = format!(
        "UPDATE {} SET locked_until = $1 WHERE status = $2 AND id IN ({})",
        what.table(),
        placeholders(3, ids.len())
    );
    Ok(exec(db, &sql, values).await?.rows_affected())
}
