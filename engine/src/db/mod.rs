//! The handles users hold: the database, its transactions, buckets and cursors, group commit,
//! hot backup, compaction and the JSON dump.

pub(crate) mod backup;
pub(crate) mod batch;
pub(crate) mod bucket;
pub(crate) mod compact;
pub(crate) mod core;
pub(crate) mod cursor;
pub(crate) mod cursor_mut;
pub mod dump;
pub(crate) mod handle;
pub(crate) mod journaled;
pub(crate) mod open;
pub(crate) mod tx;
