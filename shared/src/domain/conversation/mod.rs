//! The conversation: what a text asks for ([`intent`](mod@intent)), how commands read ([`commands`]), and
//! how answers are worded ([`answer`]); replying to a message to forget or correct its memory
//! ([`reply`]). Deterministic rules first; an optional chat model only
//! settles the messages the rules mark as unsure (see `crate::clients::llm`).

pub mod answer;
pub mod commands;
pub mod intent;
pub mod ownership;
pub mod reply;

pub use commands::Command;
pub use intent::{Decision, Intent, classify, intent};
