//! Pure logic: no I/O, no async. What a message says and what mnemo answers.

pub mod api_submission;
pub mod bearer;
pub mod conversation;
pub mod inbound;
pub mod markup;
pub mod phone;
pub mod phone_tz;
pub mod replies;
pub mod signature;
pub mod time;
