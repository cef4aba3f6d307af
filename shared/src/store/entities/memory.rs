use sea_orm::entity::prelude::*;

pub use super::states::{Engine, Kind};

/// One memory per source interaction. `mem0_id` is set when the Mem0 engine holds it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "memories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(unique)]
    pub interaction_id: Option<Uuid>,
    pub kind: Kind,
    pub text: String,
    /// JSON array of strings.
    pub labels: Json,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub engine: Engine,
    #[sea_orm(unique)]
    pub mem0_id: Option<String>,
    pub mem0_event_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The strings of a `labels` column (a JSON array of strings; anything else reads as none).
pub fn label_list(labels: &Json) -> Vec<String> {
    labels
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

impl Model {
    /// The memory's labels.
    pub fn label_list(&self) -> Vec<String> {
        label_list(&self.labels)
    }
}
