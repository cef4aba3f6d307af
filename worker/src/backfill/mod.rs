//! Work the models make possible after the fact: vectors for memories stored before the
//! embedding model was ready ([`embeddings`]) and transcripts for voice notes kept while no
//! speech model was installed ([`transcripts`]). Both are resumable and run in every worker.

pub mod embeddings;
pub mod transcripts;
