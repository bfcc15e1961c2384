//! Building a commit: the write transaction's in-memory overlay of changes, the copy-on-write
//! rebuild of every touched tree (spill, split, merge), placement of the new pages in the file,
//! and the commit protocol that writes them durably.

pub(crate) mod merge;
pub(crate) mod node;
pub(crate) mod place;
pub(crate) mod protocol;
pub(crate) mod spill;
pub(crate) mod split;
pub(crate) mod view;
pub(crate) mod write;
