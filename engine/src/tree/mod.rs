//! Reading committed trees: a snapshot of one meta, its pages by id, a cursor over a bucket's
//! tree, the consistency check and page statistics. Read-only; nothing here writes.

pub mod check;
pub mod counters;
pub(crate) mod cursor;
pub mod snapshot;
pub mod stats;
