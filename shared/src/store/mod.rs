//! Queries, one module per table (DESIGN §2: no SQL outside `store/`).
//!
//! - [`ownership`]: what owning one's memories reads and writes across the existing tables —
//!   a user's memories for export, imported memories, forgetting everything of a user's.
//! - [`mcp_tokens`]: per-user bearer tokens for `/mcp`, stored hashed.
//! - [`confirmations`]: actions waiting for the user's YES (`/forget all`).

pub mod confirmations;
pub mod mcp_tokens;
pub mod ownership;
