//! Adapters to what is outside the process: each speaks one service's wire format, takes its base
//! URL from the settings (so tests run it against a local server) and classifies its errors once
//! ([`external`]).
//!
//! All of it is behind the `clients` feature (on by default) except the model catalog, which the
//! settings read: `mnemo-migration` builds without it and links none of these services' crates.

#[cfg(feature = "clients")]
pub mod external;
#[cfg(feature = "clients")]
pub mod http;
#[cfg(feature = "clients")]
pub mod llm;
#[cfg(feature = "clients")]
pub mod media_download;
#[cfg(feature = "clients")]
pub mod media_store;
#[cfg(feature = "clients")]
pub mod mem0;
pub mod models;
#[cfg(feature = "clients")]
pub mod transcribe;
#[cfg(feature = "clients")]
pub mod twilio;
#[cfg(feature = "clients")]
pub mod vision;
