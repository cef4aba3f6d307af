//! The database: entities (statuses and kinds as enums) and one module per table holding that
//! table's queries. No SQL lives outside this folder.
//!
//! For owning one's memories (DESIGN §12): [`ownership`] (queries over the existing tables — a
//! user's memories for export, imported memories, forgetting everything of a user's),
//! [`mcp_tokens`] (per-user bearer tokens for `/mcp`, stored hashed) and [`confirmations`]
//! (actions waiting for the user's YES, `/forget all`); [`memory_versions`] (the earlier texts
//! of a memory corrected by replying to it).

pub mod analytics;
pub mod confirmations;
pub mod dashboard;
pub mod db;
pub mod dead_letters;
pub mod delivery;
pub mod entities;
pub mod idempotency;
pub mod interaction_media;
pub mod interactions;
pub mod leases;
pub mod mcp_tokens;
pub mod media_objects;
pub mod media_stats;
pub mod memories;
pub mod memory_embeddings;
pub mod memory_versions;
pub mod ownership;
pub mod queue_jobs;
pub mod recall;
pub mod reminders;
pub mod users;
pub mod voice_notes;
