//! Owning one's memories (DESIGN §12): take them out ([`export`]), bring them back
//! ([`import`]), forget them all ([`forget`]). The SQL is in `store::ownership`; the HTTP and
//! chat surfaces call these.

pub mod export;
pub mod forget;
pub mod import;
pub mod link;
