//! Where pages come from: the one thing a walk over a file needs from it.
//!
//! The engine reads committed pages from its memory map ([`crate::Snapshot`]); tools that
//! inspect files the engine refuses to open (a truncated file, a damaged meta) read them with
//! `pread` ([`crate::io::raw::RawFile`]). Both are a [`PageSource`], so one walker
//! ([`crate::tree::walk`]) and one set of checks serve both.

use std::borrow::Cow;

use crate::error::{PageId, Result};

/// A source of page bytes: pages by id, each `page_size` bytes.
pub trait PageSource {
    /// The page size in bytes.
    fn page_size(&self) -> u64;

    /// How many pages, from page 0 on, the source holds in full (a file's length in pages; a
    /// snapshot's high-water mark).
    fn page_count(&self) -> u64;

    /// The bytes of the `count` pages starting at page `id` (a page and its overflow pages):
    /// borrowed where the source is mapped, read into a buffer otherwise.
    ///
    /// # Errors
    /// [`crate::Error::Corrupted`] naming `id` when the pages lie beyond what the source
    /// holds; [`crate::Error::Io`] when reading them fails.
    fn pages(&self, id: PageId, count: u64) -> Result<Cow<'_, [u8]>>;

    /// Whether the source also holds nodes under provisional ids (a snapshot of a journaled
    /// commit, whose newest nodes are in memory): then references to them are not out of
    /// bounds.
    fn holds_provisional(&self) -> bool {
        false
    }

    /// Pages in `2..hwm` that journaled commits freed since the last checkpoint, as runs
    /// (`first`, `count`): free as far as this source's meta is concerned, though the stored
    /// freelist (the checkpoint's) does not list them.
    fn freed_since_checkpoint(&self) -> Vec<(PageId, u64)> {
        Vec::new()
    }
}
