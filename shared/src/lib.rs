//! mnemo's library, shared by the ingress and the worker.
//!
//! - [`domain`]: pure logic, no I/O — the inbound message, the webhook signature, phone → zone, time
//!   phrases, the conversation (intents, commands, answers) and the texts mnemo replies with.
//! - [`store`]: the schema's entities and the queries over them; no SQL lives anywhere else.
//! - [`clients`]: adapters to what is outside the process — Twilio, Mem0, the media store (local
//!   folder or S3), transcription, LLM/vision, and the local models (embeddings, Whisper).
//! - Alongside: settings ([`config`]), the job types and queue ([`jobs`], [`queue`]), the memory engine
//!   ([`memory`]: full-text + semantic recall), media handling ([`media`], [`audio`]), and the process plumbing both binaries use ([`telemetry`],
//!   [`monitoring`], [`shutdown`], [`error`]).
//!
//! The job side (pipeline, sweeper, reminder scheduler, backfills) is in the `mnemo-worker` crate;
//! HTTP is in `mnemo-ingress`. See ARCHITECTURE.md at the repository root.
//!
//! The `clients` feature (default) gates what talks to or computes for the outside — the clients,
//! the memory engine, media and audio processing, the queue, metrics, ownership exports. Without
//! it the crate is the domain, the store, the settings and logging: what `mnemo-migration` needs.

#[cfg(feature = "clients")]
pub mod audio;
pub mod clients;
pub mod config;
pub mod domain;
#[cfg(feature = "clients")]
pub mod error;
#[cfg(feature = "clients")]
pub mod jobs;
pub mod media;
#[cfg(feature = "clients")]
pub mod memory;
#[cfg(feature = "clients")]
pub mod monitoring;
#[cfg(feature = "clients")]
pub mod ownership;
#[cfg(feature = "clients")]
pub mod queue;
pub mod shutdown;
pub mod store;
pub mod telemetry;

pub use sea_orm;
