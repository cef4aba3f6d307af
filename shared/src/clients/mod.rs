//! Adapters to what is outside the process: each speaks one service's wire format, takes its base
//! URL from the settings (so tests run it against a local server) and classifies its errors once
//! ([`external`]).

pub mod external;
pub mod http;
pub mod llm;
pub mod media_download;
pub mod media_store;
pub mod mem0;
pub mod models;
pub mod transcribe;
pub mod twilio;
pub mod vision;
