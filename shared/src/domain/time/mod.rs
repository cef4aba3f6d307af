//! The time-phrase engine: what people write about time, read in their zone (DESIGN §7).
//!
//! Pure (no I/O, no clock): every entry point takes "now" and the user's zone, so every rule is
//! table-tested. One stack, two grammars on top:
//!
//! - [`lexer`]: the words of a message with their byte spans;
//! - [`vocab`]: what a word means (months, weekdays, numbers as digits and as words, units,
//!   parts of the day, clock times) and checked calendar steps;
//! - [`wall`]: **the one wall-clock rule** for DST gaps and folds (a time in a gap moves forward
//!   by the gap's length, a time in a fold takes the earlier instant), used for every local
//!   time either grammar produces;
//! - [`range`]: phrases about the past → half-open UTC ranges `[start, end)`, for questions,
//!   `/list` and the REST `range=` parameter ("last week", "since March 3");
//! - [`moment`]: reminder requests → a moment or a [`recurrence`] ("tomorrow at 3pm", "every
//!   Monday at 8am"), or a question back when something is missing, past or ambiguous;
//! - [`offsets`]: a zone's offsets over a span, for grouping by local day where zones are not
//!   known (SQL on SQLite).

pub mod lexer;
pub mod moment;
pub mod offsets;
pub mod range;
pub mod recurrence;
pub mod vocab;
pub mod wall;

pub use moment::{MAX_AHEAD_DAYS, Parsed, Problem, When, horizon};
pub use offsets::{OffsetPeriod, offset_periods};
pub use range::{Range, parse_range};
pub use recurrence::{Every, Recurrence};
pub use vocab::local_label;
pub use wall::{local_midnight, resolve_local};
