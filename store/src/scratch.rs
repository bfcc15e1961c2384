//! The buffers one typed write works with (the record's key and value, its index changes),
//! kept in the write transaction so that their allocations are reused from write to write.

use std::ops::Range;

use crate::record::{IndexSchema, Record};

/// One index's change for a write: the entry to remove and the entry to add, as ranges of
/// [`Scratch::entries`].
#[derive(Debug)]
pub(crate) struct IndexChange {
    pub(crate) position: usize,
    pub(crate) remove: Option<Range<usize>>,
    pub(crate) add: Option<Range<usize>>,
}

/// What one write works with, kept in the transaction so that its allocations are reused:
/// the record's key and value, and its index changes (the entry keys end to end in
/// `entries`).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
    pub(crate) entries: Vec<u8>,
    pub(crate) changes: Vec<IndexChange>,
}

impl Scratch {
    pub(crate) fn clear(&mut self) {
        self.key.clear();
        self.value.clear();
        self.entries.clear();
        self.changes.clear();
    }

    /// Appends the entry key `record` has in index number `i` (`idx`) and returns where it
    /// is, or `None` if the record is not in that index. `key` must hold the primary key.
    pub(crate) fn entry<T: Record>(&mut self, record: &T, i: usize, idx: &IndexSchema) -> Option<Range<usize>> {
        let start = self.entries.len();
        if !record.encode_index(i, &mut self.entries) {
            self.entries.truncate(start);
            return None;
        }
        if !idx.unique {
            self.entries.extend_from_slice(&self.key);
        }
        Some(start..self.entries.len())
    }

    pub(crate) fn bytes(&self, r: &Option<Range<usize>>) -> Option<&[u8]> {
        r.as_ref().and_then(|r| self.entries.get(r.clone()))
    }
}

/// Validates an engine key before any write, so that the writes themselves cannot fail on it.
pub(crate) fn check_key(k: &[u8]) -> crate::Result<()> {
    if k.is_empty() {
        return Err(rivet_engine::Error::KeyRequired.into());
    }
    if k.len() > rivet_engine::MAX_KEY_SIZE {
        return Err(rivet_engine::Error::KeyTooLarge { size: k.len() }.into());
    }
    Ok(())
}
