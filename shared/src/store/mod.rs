//! The database: entities (statuses and kinds as enums) and one module per table holding that
//! table's queries. No SQL lives outside this folder.

pub mod analytics;
pub mod dashboard;
pub mod db;
pub mod dead_letters;
pub mod delivery;
pub mod entities;
pub mod idempotency;
pub mod interaction_media;
pub mod interactions;
pub mod media_objects;
pub mod media_stats;
pub mod memories;
pub mod reminders;
pub mod users;
