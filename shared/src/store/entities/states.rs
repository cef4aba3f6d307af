//! Every status and kind a row can hold, as enums stored as their lowercase names (TEXT columns,
//! the same values the SQL in `store/` writes). Reading a value not listed here is an error, so a
//! new state is added here first.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Which way a message went.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From a user (the webhook, or a REST submission).
    #[sea_orm(string_value = "inbound")]
    Inbound,
    /// A reply or a reminder mnemo sent.
    #[sea_orm(string_value = "outbound")]
    Outbound,
}

/// What a message or a memory is: by its first attachment's type, else a shared location, else
/// text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[sea_orm(string_value = "text")]
    Text,
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "audio")]
    Audio,
    #[sea_orm(string_value = "video")]
    Video,
    #[sea_orm(string_value = "document")]
    Document,
    #[sea_orm(string_value = "location")]
    Location,
}

/// Where a message is. Inbound: `received` → `processing` → `processed` | `failed`. Outbound:
/// `sending` → `sent` | `dry_run`, then what Twilio's status callbacks report (only forward:
/// queued/accepted/scheduled < sending < sent/dry_run < delivered < read; failed, undelivered and
/// canceled are terminal; see `store::delivery`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    #[sea_orm(string_value = "received")]
    Received,
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "processed")]
    Processed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "accepted")]
    Accepted,
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "dry_run")]
    DryRun,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    #[sea_orm(string_value = "read")]
    Read,
    #[sea_orm(string_value = "undelivered")]
    Undelivered,
    #[sea_orm(string_value = "canceled")]
    Canceled,
}

/// Where a reminder is: `pending` → `sending` (claimed by a scheduler) → `sent` (a repeating one
/// goes back to `pending` for its next time); `cancelled`; `needs_template` (outside WhatsApp's
/// 24-hour window with no template configured); `failed`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    #[sea_orm(string_value = "needs_template")]
    NeedsTemplate,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Which engine holds a memory for semantic recall.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    #[sea_orm(string_value = "local")]
    Local,
    #[sea_orm(string_value = "mem0")]
    Mem0,
}

macro_rules! as_str {
    ($($t:ty),*) => {$(
        impl $t {
            /// The stored value.
            pub fn as_str(&self) -> String {
                self.to_value()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_value())
            }
        }
    )*};
}
as_str!(Direction, Kind, MessageStatus, ReminderStatus, Engine);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn stored_values_round_trip() {
        for k in Kind::iter() {
            assert_eq!(Kind::try_from_value(&k.to_value()).unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.to_value()));
        }
        for s in MessageStatus::iter() {
            assert_eq!(MessageStatus::try_from_value(&s.to_value()).unwrap(), s);
        }
        for s in ReminderStatus::iter() {
            assert_eq!(ReminderStatus::try_from_value(&s.to_value()).unwrap(), s);
        }
        assert_eq!(MessageStatus::DryRun.to_string(), "dry_run");
        assert!(Kind::try_from_value(&"sticker".to_string()).is_err());
    }
}
