//! The shared crate's integration tests, in one binary (issue 11): the parsers' property tests
//! and Whisper on the real weights. Filter by module: `cargo test -p mnemo-shared --test it
//! properties::`.

mod properties;
mod whisper;
