//! The ingress's integration tests, in one binary (one link instead of nine; issue 11).
//! Each module was a test binary of its own; `harness` is what they share: the real ingress on
//! 127.0.0.1:0 and a real worker, on SQLite + the database queue by default or on PostgreSQL +
//! Redis with `TEST_DATABASE_URL` / `TEST_REDIS_URL`, wiremock for Twilio and Mem0, and
//! `wait_for`, the one wait on a condition with a deadline.
//!
//! Run one module's tests with a filter: `cargo test -p mnemo-ingress --test it robust::`.

mod harness;

mod api;
mod console;
mod conversation;
mod media;
mod ownership;
mod properties;
mod reminders;
mod replies;
mod robust;
mod security;
mod startup;
mod voice;
mod webhook;
