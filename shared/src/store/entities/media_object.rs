use sea_orm::entity::prelude::*;

/// One stored blob, content-addressed by SHA-256; `ref_count` counts the messages carrying it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub storage_key: String,
    pub ref_count: i64,
    pub phash: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
