//! Reminders: reading requests ([`parse`]), repeat rules on the user's wall clock
//! ([`recurrence`]) and delivering each due one exactly once ([`scheduler`]).

pub mod parse;
pub mod recurrence;

pub use parse::{Parsed, Problem, When, local_label, parse, parse_when, strip_request};
pub use recurrence::{Every, Recurrence};
