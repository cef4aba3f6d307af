use sea_orm::entity::prelude::*;

pub use super::states::{Direction, Kind, MessageStatus};

/// One message in either direction. Inbound rows come from the webhook (unique MessageSid);
/// outbound rows are our replies (`reply_to` + `purpose` unique: at most one reply each).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interactions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub message_sid: Option<String>,
    pub direction: Direction,
    pub kind: Kind,
    pub body: String,
    pub transcript: Option<String>,
    /// The transcript's language (ISO 639-1) when known.
    pub transcript_language: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub attempts: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub reply_to: Option<Uuid>,
    pub purpose: Option<String>,
    pub media_url: Option<String>,
    /// Every parameter Twilio sent, as received.
    pub raw: Option<Json>,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    /// The reminder this outbound message delivers (`purpose` = `reminder:<due_at>`).
    pub reminder_id: Option<Uuid>,
    /// Inbound only: Twilio's `OriginalRepliedMessageSid`, the message this one replies to
    /// (one of the user's own or one of our replies).
    pub replied_to_sid: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
