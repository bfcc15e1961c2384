//! The write-ahead journal (issue 16; docs/design.md, "The journal"): with
//! `Options::journal`, a durable commit is one sequential append and one fdatasync of
//! `PATH-journal` instead of a rewrite of every page on the path of every change.
//!
//! This layer sits between `commit/` (which builds page images) and `db/` (which owns the
//! handles). Its files, lowest first:
//!
//! - [`leb128`]: the variable-length integers of the operation log;
//! - [`op`]: the operation log of a write transaction, which is a commit record's payload;
//! - [`mod@format`]: the journal file's header and record header, byte for byte;
//! - [`mod@file`]: the I/O seam ([`file::JournalIo`]) and the real file behind it;
//! - [`writer`]: creating, appending to, syncing and resetting a journal;
//! - [`scan`]: reading a journal back for recovery, up to its first damaged record.
// Wired into the commit path by the journal integration (issue 16).
#![allow(dead_code)]

pub(crate) mod file;
pub(crate) mod format;
pub(crate) mod leb128;
pub(crate) mod op;
pub(crate) mod scan;
#[cfg(test)]
mod testio;
pub(crate) mod writer;
