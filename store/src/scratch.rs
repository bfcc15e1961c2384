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

    /// Appends the entry keys `record` has in the multi-valued index number `i` (`idx`), one
    /// per distinct element, and returns where they are, in byte order. `key` must hold the
    /// primary key.
    pub(crate) fn entries_of<T: Record>(&mut self, record: &T, i: usize, idx: &IndexSchema) -> Vec<Range<usize>> {
        let mut values = Vec::new();
        let spans = crate::record::index_entries(record, i, &mut values);
        spans
            .into_iter()
            .map(|r| {
                let start = self.entries.len();
                self.entries.extend_from_slice(&values[r]);
                if !idx.unique {
                    self.entries.extend_from_slice(&self.key);
                }
                start..self.entries.len()
            })
            .collect()
    }

    /// Pushes the changes of the multi-valued index number `i` from `old` (if any) to `new`:
    /// only the entries that differ are removed or added.
    pub(crate) fn each_changes<T: Record>(&mut self, new: &T, old: Option<&T>, i: usize, idx: &IndexSchema) {
        let now = self.entries_of(new, i, idx);
        let before = match old {
            Some(o) => self.entries_of(o, i, idx),
            None => Vec::new(),
        };
        let (mut a, mut b) = (0, 0);
        loop {
            let change = match (before.get(a), now.get(b)) {
                (None, None) => break,
                (Some(o), Some(n)) => match self.entries[o.clone()].cmp(&self.entries[n.clone()]) {
                    std::cmp::Ordering::Equal => {
                        a += 1;
                        b += 1;
                        continue;
                    }
                    std::cmp::Ordering::Less => {
                        a += 1;
                        IndexChange { position: i, remove: Some(o.clone()), add: None }
                    }
                    std::cmp::Ordering::Greater => {
                        b += 1;
                        IndexChange { position: i, remove: None, add: Some(n.clone()) }
                    }
                },
                (Some(o), None) => {
                    a += 1;
                    IndexChange { position: i, remove: Some(o.clone()), add: None }
                }
                (None, Some(n)) => {
                    b += 1;
                    IndexChange { position: i, remove: None, add: Some(n.clone()) }
                }
            };
            self.changes.push(change);
        }
    }

    pub(crate) fn bytes(&self, r: &Option<Range<usize>>) -> Option<&[u8]> {
        r.as_ref().and_then(|r| self.entries.get(r.clone()))
    }
}

/// Validates an engine key before any write, so that the writes themselves cannot fail on it.
pub(crate) fn check_key(k: &[u8]) -> crate::Result<()> {
    if k.is_empty() {
        return Err(crate::backend::key_required());
    }
    if k.len() > crate::backend::MAX_KEY_SIZE {
        return Err(crate::backend::key_too_large(k.len()));
    }
    Ok(())
}
