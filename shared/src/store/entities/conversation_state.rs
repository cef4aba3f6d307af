use sea_orm::entity::prelude::*;

/// Per-user conversation state: the numbering of what was last shown (for `/forget <n>`),
/// where `/list more` continues, and the reply to the last stateful command (for retries).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// JSON array of memory ids, numbered from `shown_start`.
    pub shown: Json,
    pub shown_start: i32,
    /// The filter of the last `/list`, for `/list more`.
    pub list_kind: Option<String>,
    pub list_start: Option<DateTimeUtc>,
    pub list_end: Option<DateTimeUtc>,
    pub list_label: Option<String>,
    /// The last listed memory (keyset cursor); None when there is nothing older.
    pub list_cursor_at: Option<DateTimeUtc>,
    pub list_cursor_id: Option<Uuid>,
    /// The inbound interaction whose reply is `last_reply`.
    pub last_interaction_id: Option<Uuid>,
    pub last_reply: Option<String>,
    pub last_media_url: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
