//! mnemo's domain: settings, schema entities, jobs, clients for the outside services,
//! the processing pipeline and time handling. Shared by the ingress and the worker.

pub mod api_submission;
pub mod audio;
pub mod config;
pub mod conversation;
pub mod db;
pub mod delivery;
pub mod entities;
pub mod error;
pub mod external;
pub mod http;
pub mod inbound;
pub mod ingest;
pub mod jobs;
pub mod listener;
pub mod llm;
pub mod media;
pub mod memory;
pub mod models;
pub mod monitoring;
pub mod ownership;
pub mod phone_tz;
pub mod pipeline;
pub mod queue;
pub mod reminders;
pub mod replies;
pub mod shutdown;
pub mod signature;
pub mod store;
pub mod sweeper;
pub mod telemetry;
pub mod timeparse;
pub mod transcribe;
pub mod twilio;
pub mod vision;

pub use sea_orm;
