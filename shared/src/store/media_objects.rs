//! `media_objects`: each stored file once, by SHA-256, with its perceptual hash for photos
//! (dedup figures are `media_stats.rs`).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::store::db::{exec, run};
use crate::store::entities::media_object;

/// The stored object with this SHA-256 (hex), if we hold one.
pub async fn find_by_sha256(
    db: &impl ConnectionTrait,
    sha256: &str,
) -> Result<Option<media_object::Model>, DbErr> {
    media_object::Entity::find().filter(media_object::Column::Sha256.eq(sha256)).one(db).await
}

/// The object row of these bytes, created once (unique SHA-256) with no references yet, and
/// returned (None only if it is not visible yet).
pub async fn upsert(
    db: &impl ConnectionTrait,
    sha256: &str,
    size_bytes: i64,
    content_type: &str,
    storage_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<media_object::Model>, DbErr> {
    exec(
        db,
        "INSERT INTO media_objects (id, sha256, size_bytes, content_type, storage_key, ref_count, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (sha256) DO NOTHING",
        vec![
            Uuid::now_v7().into(),
            sha256.into(),
            size_bytes.into(),
            content_type.into(),
            storage_key.into(),
            now.into(),
        ],
    )
    .await?;
    find_by_sha256(db, sha256).await
}

/// Records a photo's perceptual hash, once.
pub async fn set_phash(db: &impl ConnectionTrait, id: Uuid, phash: &str) -> Result<(), DbErr> {
    run(
        db,
        "UPDATE media_objects SET phash = $2 WHERE id = $1 AND phash IS NULL",
        vec![id.into(), phash.into()],
    )
    .await
}
