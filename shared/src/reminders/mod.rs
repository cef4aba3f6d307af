//! Reminders: storing them ([`store`]) and delivering each due one exactly once
//! ([`scheduler`]). Reading requests and repeat rules is the time engine's
//! (`crate::domain::time::moment`, `crate::domain::time::recurrence`).

pub mod scheduler;
pub mod store;
