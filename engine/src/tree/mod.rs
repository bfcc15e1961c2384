//! Reading committed trees: a snapshot of one meta, its pages by id, a cursor over a bucket's
//! tree, and the page walker with what is built on it (the consistency check, page
//! statistics, the stored freelist). Read-only; nothing here writes.

pub mod check;
pub mod counters;
pub(crate) mod cursor;
pub mod freelist;
pub mod generation;
pub(crate) mod opened;
pub mod pageset;
pub mod snapshot;
pub mod stats;
pub mod verify;
mod visitor;
pub mod walk;
