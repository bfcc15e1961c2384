//! A generation: the nodes journaled commits built since the last checkpoint, kept in memory
//! under their provisional ids until a checkpoint places them in the file (design doc, "The
//! journal").
//!
//! With the journal on, a commit runs the spill as usual (every node on the path of a change
//! rebuilt under a provisional id) but does not place or write the nodes: it appends them
//! here, appends its operation log to the journal, and publishes a version whose root may be a
//! provisional id. Readers find those pages through [`Generation::page`], which
//! [`crate::tree::snapshot::Snapshot`] asks for any id at or above
//! [`crate::limits::PROVISIONAL`]; everything else about reading stays the same.
//!
//! The table is append-only and shared: the single writer appends while readers read, with no
//! lock (`boxcar`), and a node, once appended, never changes. Provisional ids count up across
//! the commits of one generation, so an id is an index into the table. A reader only reaches
//! ids its version's tree references, all appended before the version was published.

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result, TxId};
use crate::limits::PROVISIONAL;

/// What a checkpoint needs of a node besides its bytes (the writer keeps it, readers never
/// need it): the elements that hold a provisional id (branch children, sub-bucket roots),
/// rewritten when the node is placed, and its placement rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// Indices of the elements that name a provisional id.
    pub refs: Box<[usize]>,
    /// Placement order at the checkpoint (as for a commit's own nodes).
    pub rank: u8,
}

/// The nodes of one generation, by provisional id (see the module docs).
#[derive(Debug, Default)]
pub struct Generation {
    /// Slot `i` holds the page image (with its overflow pages) of the node that starts at id
    /// `PROVISIONAL + i`; `None` for an overflow page of the node before it, or an id a commit
    /// reserved and dropped. One load from the slot to the bytes, as from the map to a page.
    slots: boxcar::Vec<Option<Box<[u8]>>>,
    /// Pages of the file the generation's commits freed: (txid, first page, count).
    freed: boxcar::Vec<(TxId, PageId, u64)>,
}

impl Generation {
    /// An empty generation.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next id [`Generation::push`] will give out: where the next commit's provisional ids
    /// start.
    pub fn next_id(&self) -> PageId {
        PROVISIONAL + self.slots.count() as u64
    }

    /// Appends the node `buf` at `id`, which must be [`Generation::next_id`] or later (the ids
    /// in between are dropped ones); its overflow ids get no node of their own.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `id` if it lies below [`Generation::next_id`] (it would not
    /// be found at its id).
    pub fn push(&self, id: PageId, buf: Box<[u8]>, page_size: usize) -> Result<()> {
        let mut next = self.next_id();
        if id < next {
            return Err(Error::corrupted(id, Corruption::IdMismatch { found: next }));
        }
        while next < id {
            self.slots.push(None);
            next += 1;
        }
        let pages = buf.len().div_ceil(page_size.max(1)).max(1);
        self.slots.push(Some(buf));
        for _ in 1..pages {
            self.slots.push(None);
        }
        Ok(())
    }

    /// Records that the commit `txid` freed `count` pages of the file from `first`.
    pub fn record_freed(&self, txid: TxId, first: PageId, count: u64) {
        self.freed.push((txid, first, count));
    }

    /// The pages of the file that commits up to `txid` freed, as runs.
    pub fn freed_until(&self, txid: TxId) -> Vec<(PageId, u64)> {
        self.freed.iter().filter(|(_, f)| f.0 <= txid).map(|(_, f)| (f.1, f.2)).collect()
    }

    /// The page image of the node that starts at provisional id `id`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `id` if no node starts there (an id never given out, a
    /// dropped one, or one inside another node's overflow): only a damaged reference names
    /// such an id.
    pub fn page(&self, id: PageId) -> Result<&[u8]> {
        let index = id.checked_sub(PROVISIONAL).and_then(|i| usize::try_from(i).ok());
        match index.and_then(|i| self.slots.get(i)) {
            Some(Some(bytes)) => Ok(bytes),
            _ => Err(Error::corrupted(id, Corruption::OutOfBounds { hwm: self.next_id() })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(len: usize) -> Box<[u8]> {
        vec![7; len].into_boxed_slice()
    }

    #[test]
    fn ids_are_indices_with_gaps_and_overflow() {
        let g = Generation::new();
        assert_eq!(g.next_id(), PROVISIONAL);
        g.push(PROVISIONAL, node(256), 256).unwrap();
        g.push(PROVISIONAL + 3, node(600), 256).unwrap(); // ids 1 and 2 dropped; spans 3 pages
        assert_eq!(g.next_id(), PROVISIONAL + 6);
        assert_eq!(g.page(PROVISIONAL).unwrap().len(), 256);
        assert_eq!(g.page(PROVISIONAL + 3).unwrap().len(), 600);
        // Never given out, dropped, inside an overflow, or not provisional: no node there.
        for missing in [PROVISIONAL + 1, PROVISIONAL + 2, PROVISIONAL + 4, PROVISIONAL + 6, 5, u64::MAX] {
            assert!(matches!(g.page(missing), Err(Error::Corrupted { .. })), "{missing}");
        }
        // Going back is refused.
        assert!(g.push(PROVISIONAL + 2, node(10), 256).is_err());
    }

    #[test]
    fn freed_pages_are_seen_by_the_versions_after_them() {
        let g = Generation::new();
        g.record_freed(5, 10, 2);
        g.record_freed(7, 20, 1);
        assert_eq!(g.freed_until(4), vec![]);
        assert_eq!(g.freed_until(6), vec![(10, 2)]);
        assert_eq!(g.freed_until(7), vec![(10, 2), (20, 1)]);
    }
}
