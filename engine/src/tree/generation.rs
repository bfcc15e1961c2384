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

use std::sync::Arc;

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result, TxId};
use crate::limits::PROVISIONAL;

/// A node built by a journaled commit, waiting for a checkpoint.
#[derive(Debug)]
pub struct GenNode {
    /// Its provisional id (the first of its pages).
    pub id: PageId,
    /// The page image, with its overflow pages; provisional ids inside stay provisional.
    pub buf: Box<[u8]>,
    /// The elements that hold a provisional id (branch children, sub-bucket roots), rewritten
    /// when the checkpoint places the node.
    pub refs: Box<[usize]>,
    /// Placement order at the checkpoint (as for a commit's own nodes).
    pub rank: u8,
}

/// The nodes of one generation, by provisional id (see the module docs).
#[derive(Debug, Default)]
pub struct Generation {
    /// Slot `i` holds id `PROVISIONAL + i`: the node that starts there (also at each of its
    /// overflow ids), or `None` for an id a commit reserved and dropped before it ended.
    slots: boxcar::Vec<Option<Arc<GenNode>>>,
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

    /// Appends `node` at its id, which must be [`Generation::next_id`] or later (the ids in
    /// between are dropped ones), and at each of its overflow ids.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the node if its id lies below [`Generation::next_id`] (it
    /// would not be found at its id).
    pub fn push(&self, node: GenNode, page_size: usize) -> Result<()> {
        let mut next = self.next_id();
        if node.id < next {
            return Err(Error::corrupted(node.id, Corruption::IdMismatch { found: next }));
        }
        while next < node.id {
            self.slots.push(None);
            next += 1;
        }
        let pages = node.buf.len().div_ceil(page_size.max(1)).max(1);
        let node = Arc::new(node);
        for _ in 0..pages {
            self.slots.push(Some(node.clone()));
        }
        Ok(())
    }

    /// The node that starts at provisional id `id`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `id` if no node starts there (an id never given out, a
    /// dropped one, or one inside another node's overflow): only a damaged reference names
    /// such an id.
    pub fn node(&self, id: PageId) -> Result<&Arc<GenNode>> {
        let missing = || Error::corrupted(id, Corruption::OutOfBounds { hwm: self.next_id() });
        let index = id.checked_sub(PROVISIONAL).and_then(|i| usize::try_from(i).ok()).ok_or_else(missing)?;
        match self.slots.get(index) {
            Some(Some(node)) if node.id == id => Ok(node),
            Some(Some(node)) => Err(Error::corrupted(id, Corruption::IdMismatch { found: node.id })),
            _ => Err(missing()),
        }
    }

    /// Records that the commit `txid` freed `count` pages of the file from `first`.
    pub fn record_freed(&self, txid: TxId, first: PageId, count: u64) {
        self.freed.push((txid, first, count));
    }

    /// The pages of the file that commits up to `txid` freed, as runs.
    pub fn freed_until(&self, txid: TxId) -> Vec<(PageId, u64)> {
        self.freed.iter().filter(|(_, f)| f.0 <= txid).map(|(_, f)| (f.1, f.2)).collect()
    }

    /// The page image of the node at `id` (see [`Generation::node`]).
    ///
    /// # Errors
    /// As [`Generation::node`].
    pub fn page(&self, id: PageId) -> Result<&[u8]> {
        self.node(id).map(|n| &n.buf[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: PageId, len: usize) -> GenNode {
        GenNode { id, buf: vec![id as u8; len].into_boxed_slice(), refs: Box::new([]), rank: 0 }
    }

    #[test]
    fn ids_are_indices_with_gaps_and_overflow() {
        let g = Generation::new();
        assert_eq!(g.next_id(), PROVISIONAL);
        g.push(node(PROVISIONAL, 256), 256).unwrap();
        g.push(node(PROVISIONAL + 3, 600), 256).unwrap(); // ids 1 and 2 dropped; spans 3 pages
        assert_eq!(g.next_id(), PROVISIONAL + 6);
        assert_eq!(g.page(PROVISIONAL).unwrap().len(), 256);
        assert_eq!(g.page(PROVISIONAL + 3).unwrap().len(), 600);
        for missing in [PROVISIONAL + 1, PROVISIONAL + 2, PROVISIONAL + 6, 5, u64::MAX] {
            assert!(g.page(missing).is_err(), "{missing}");
        }
        // Inside an overflow: not a node of its own.
        assert!(matches!(g.page(PROVISIONAL + 4), Err(Error::Corrupted { .. })));
        // Going back is refused.
        assert!(g.push(node(PROVISIONAL + 2, 10), 256).is_err());
    }
}
