//! The write-ahead journal (issue 16; docs/design.md, "The journal"): with
//! `Options::journal`, a durable commit is one sequential append and one fdatasync of
//! `PATH-journal` instead of a rewrite of every page on the path of every change.
//!
//! This layer sits between `commit/` (which builds page images) and `db/` (which owns the
//! handles). The operation log a commit record carries is pure bytes, written by the
//! transaction itself, so it lives lower, in [`crate::format::oplog`] (with
//! [`crate::format::leb128`]). Here, lowest first:
//!
//! - [`mod@format`]: the journal file's header and record header, byte for byte;
//! - [`mod@file`]: the I/O seam ([`file::JournalIo`]) and the real file behind it;
//! - [`writer`]: creating, appending to, syncing and resetting a journal;
//! - [`scan`]: reading a journal back for recovery, up to its first damaged record;
//! - [`group`]: group commit, several journaled commits sharing one sync;
//! - [`replay`]: a record's operations applied to a write transaction;
//! - [`state`]: what journal mode keeps between commits, the journaled commit and the
//!   checkpoint.

pub(crate) mod file;
pub(crate) mod format;
pub(crate) mod group;
pub(crate) mod replay;
pub(crate) mod scan;
pub(crate) mod state;
#[cfg(test)]
mod testio;
pub(crate) mod writer;
