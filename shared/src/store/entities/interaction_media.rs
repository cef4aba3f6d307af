use sea_orm::entity::prelude::*;

/// Links a message to a stored object (`media_object_id` is null until it is stored).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "interaction_media")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub interaction_id: Uuid,
    pub media_object_id: Option<Uuid>,
    pub position: i32,
    pub source_url: Option<String>,
    pub content_type: Option<String>,
    /// A near-duplicate earlier photo of the same user.
    pub duplicate_of: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
