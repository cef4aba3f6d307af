//! The database: entities (statuses and kinds as enums) and one module per table holding that
//! table's queries. No SQL lives outside this folder.

pub mod db;
pub mod delivery;
pub mod entities;
pub mod media_stats;
pub mod reminders;
pub mod users;
