//! The on-disk format: pure functions over bytes. Page headers and nodes, metas, the freelist,
//! bucket headers and key order, exactly as bbolt's format version 2 lays them out
//! (`docs/format.md`). Nothing here knows about files, maps or transactions: the choice of a
//! meta takes a function that reads bytes, and a walk reads pages through a [`source::PageSource`].

pub mod bucket;
pub mod freelist;
pub mod layout;
pub(crate) mod leb128;
pub mod meta;
pub mod metas;
pub(crate) mod oplog;
pub mod page;
pub mod source;
