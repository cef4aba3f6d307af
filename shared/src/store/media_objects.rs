//! `media_objects`: each stored file once, by SHA-256 (dedup figures are `media_stats.rs`).

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::store::entities::media_object;

/// The stored object with this SHA-256 (hex), if we hold one.
pub async fn find_by_sha256(
    db: &impl ConnectionTrait,
    sha256: &str,
) -> Result<Option<media_object::Model>, DbErr> {
    media_object::Entity::find()
        .filter(media_object::Column::Sha256.eq(sha256))
        .one(db)
        .await
}
