use sea_orm::entity::prelude::*;

pub use super::states::ReminderStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub text: String,
    pub due_at: DateTimeUtc,
    pub timezone: String,
    /// `daily@08:00`, `weekdays@07:30`, `weekly:mon@09:00`, `monthly:1@09:00` (local wall time in
    /// `timezone`); None for a one-off. See `crate::reminders::Recurrence`.
    pub recurrence: Option<String>,
    pub status: ReminderStatus,
    pub source_interaction_id: Option<Uuid>,
    pub sent_at: Option<DateTimeUtc>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A scheduler's claim while `sending`; an expired one is taken over.
    pub locked_until: Option<DateTimeUtc>,
    /// Sends tried for the current occurrence.
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
