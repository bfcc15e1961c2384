//! Read access to the committed B+trees of one snapshot: pages by id, bucket headers, lookups.
//!
//! Every page read is bounds-checked against the snapshot's high-water mark and the page's own
//! header (its stored id must equal its position), and every descent is depth-limited, so a
//! damaged file yields [`Error::Corrupted`] instead of a panic or an endless loop.

use std::borrow::Cow;
use std::sync::Arc;

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result};
use crate::format::bucket::{DiskBucket, DiskRoot};
use crate::format::meta::Meta;
use crate::format::page::{NodeView, PageHeader};
use crate::format::source::PageSource;
use crate::io::mmap::Map;
use crate::limits::MAX_DEPTH;

/// A consistent view of the file: one meta and the map that holds its pages.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The meta this snapshot reads.
    pub meta: Meta,
    /// The mapping (shared with other transactions of the same generation).
    pub(crate) map: Arc<Map>,
    pub(crate) counters: Arc<crate::tree::counters::Counters>,
    /// The bucket roots opened so far (tracked in read transactions only).
    pub(crate) opened: crate::tree::opened::Opened,
    /// With the journal: the nodes journaled commits built since the last checkpoint, which
    /// this snapshot's trees may reference by provisional id.
    pub(crate) gen: Option<Arc<crate::tree::generation::Generation>>,
}

impl Snapshot {
    /// Page size of the file.
    pub fn page_size(&self) -> u64 {
        u64::from(self.meta.page_size)
    }

    /// The bytes of page `id` and its overflow pages, checked against the high-water mark.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if `id` is a meta page or lies at or past the high-water mark, if
    /// the page's header names another page, or if its overflow runs past the mark.
    pub fn page_bytes(&self, id: PageId) -> Result<&[u8]> {
        self.page(id).map(|(bytes, _)| bytes)
    }

    /// The bytes of page `id` (with its overflow pages) and its header.
    fn page(&self, id: PageId) -> Result<(&[u8], PageHeader)> {
        if id < 2 || id >= self.meta.pgid {
            if id >= crate::limits::PROVISIONAL {
                if let Some(gen) = &self.gen {
                    let bytes = gen.page(id)?;
                    return Ok((bytes, PageHeader::read(bytes, id)?));
                }
            }
            return Err(Error::corrupted(id, Corruption::OutOfBounds { hwm: self.meta.pgid }));
        }
        let ps = self.page_size();
        let first = self.map.bytes(id * ps, ps, id)?;
        let h = PageHeader::read(first, id)?;
        if h.id != id {
            return Err(Error::corrupted(id, Corruption::IdMismatch { found: h.id }));
        }
        if h.overflow == 0 {
            return Ok((first, h));
        }
        let span = 1 + u64::from(h.overflow);
        if id + span > self.meta.pgid {
            return Err(Error::corrupted(id, Corruption::OverflowPastHwm { overflow: h.overflow }));
        }
        Ok((self.map.bytes(id * ps, span * ps, id)?, h))
    }

    /// How many pages page `id` spans (1 + its overflow), checked as [`Snapshot::page_bytes`].
    ///
    /// # Errors
    /// As [`Snapshot::page_bytes`].
    pub fn page_span(&self, id: PageId) -> Result<u64> {
        Ok(self.page_bytes(id)?.len() as u64 / self.page_size())
    }

    /// The bytes of the freelist page this snapshot's meta names, with its overflow pages.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if the meta names no page below the high-water mark (the file
    /// has no stored freelist), or its overflow runs past the mark.
    pub fn freelist_bytes(&self) -> Result<&[u8]> {
        let id = self.meta.freelist;
        if id < 2 || id >= self.meta.pgid {
            return Err(Error::corrupted(id, Corruption::FreelistOutOfBounds { hwm: self.meta.pgid }));
        }
        let ps = self.page_size();
        let head = self.map.bytes(id * ps, 16, id)?;
        let h = PageHeader::read(head, id)?;
        let span = 1 + u64::from(h.overflow);
        if id + span > self.meta.pgid {
            return Err(Error::corrupted(id, Corruption::FreelistOverflowPastHwm));
        }
        self.map.bytes(id * ps, span * ps, id)
    }

    /// The branch or leaf node stored at page `id`.
    ///
    /// # Errors
    /// As [`Snapshot::page_bytes`], and [`Error::Corrupted`] if the page is not a branch or
    /// leaf, or its element array does not fit the page.
    pub fn node(&self, id: PageId) -> Result<NodeView<'_>> {
        let (bytes, h) = self.page(id)?;
        NodeView::with_header(bytes, id, h)
    }

    /// The node at the root of a bucket.
    ///
    /// # Errors
    /// As [`Snapshot::node`]; for an inline bucket, [`Error::Corrupted`] if its page image is
    /// not a well-formed leaf.
    pub fn root_node<'a>(&'a self, root: DiskRoot<'a>) -> Result<NodeView<'a>> {
        match root {
            DiskRoot::Paged(id) => self.node(id),
            DiskRoot::Inline(bytes) => {
                let v = NodeView::new(bytes, 0)?;
                if !v.leaf {
                    return Err(Error::corrupted(0, Corruption::InlineNotLeaf));
                }
                Ok(v)
            }
        }
    }

    /// `bucket` with its root node read (checked) once, for a handle's later lookups.
    pub(crate) fn resolved<'a>(&'a self, mut bucket: DiskBucket<'a>) -> Result<DiskBucket<'a>> {
        if bucket.node.is_none() {
            bucket.node = Some(self.root_node(bucket.root)?);
        }
        Ok(bucket)
    }

    /// The root bucket of this snapshot.
    pub fn root_bucket(&self) -> DiskBucket<'_> {
        DiskBucket { root: DiskRoot::Paged(self.meta.root), sequence: self.meta.root_sequence, node: None }
    }

    /// Finds `key` in a bucket's tree: the leaf element's flags and value.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for a damaged page on the way down, an empty branch, or a tree
    /// deeper than [`crate::MAX_DEPTH`] levels.
    pub fn get<'a>(&'a self, root: DiskRoot<'a>, key: &[u8]) -> Result<Option<(u32, &'a [u8])>> {
        self.get_from(self.root_node(root)?, key)
    }

    /// As [`Snapshot::get`], from a root node already read.
    pub(crate) fn get_from<'a>(&'a self, root: NodeView<'a>, key: &[u8]) -> Result<Option<(u32, &'a [u8])>> {
        let mut node = root;
        for _ in 0..MAX_DEPTH {
            if node.leaf {
                let (i, exact) = node.search(key)?;
                if !exact {
                    return Ok(None);
                }
                let e = node.leaf_elem(i)?;
                return Ok(Some((e.flags, e.value)));
            }
            if node.is_empty() {
                return Err(Error::corrupted(node.pgid, Corruption::EmptyBranch));
            }
            let i = node.child_index(key)?;
            node = self.node(node.child(i)?)?;
        }
        Err(Error::corrupted(node.pgid, Corruption::TreeTooDeep))
    }
}

/// The snapshot's pages, straight from the map (no copies): the source the engine's own walks
/// (the consistency check, bucket statistics, the freelist rebuild) read.
impl PageSource for Snapshot {
    fn page_size(&self) -> u64 {
        Snapshot::page_size(self)
    }

    /// The high-water mark: the file covers it (checked at open, kept by every commit).
    fn page_count(&self) -> u64 {
        self.meta.pgid
    }

    fn holds_provisional(&self) -> bool {
        self.gen.is_some()
    }

    fn freed_since_checkpoint(&self) -> Vec<(PageId, u64)> {
        self.gen.as_ref().map_or_else(Vec::new, |g| g.freed_until(self.meta.txid))
    }

    /// Only pages in `2..hwm`: the meta pages and pages past the mark may be written while the
    /// snapshot lives, so no slice of them is ever made (see `io::mmap`).
    fn pages(&self, id: PageId, count: u64) -> Result<Cow<'_, [u8]>> {
        let hwm = self.meta.pgid;
        if let (true, Some(gen)) = (id >= crate::limits::PROVISIONAL, &self.gen) {
            // A node a journaled commit keeps in memory: all of it, or its first pages.
            let bytes = gen.page(id)?;
            let want = count.saturating_mul(Snapshot::page_size(self));
            return match usize::try_from(want).ok().filter(|&w| w <= bytes.len()) {
                Some(w) => Ok(Cow::Borrowed(&bytes[..w])),
                None => {
                    let overflow = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
                    Err(Error::corrupted(id, Corruption::OverflowPastHwm { overflow }))
                }
            };
        }
        if id < 2 || id >= hwm {
            return Err(Error::corrupted(id, Corruption::OutOfBounds { hwm }));
        }
        if id.checked_add(count).is_none_or(|end| end > hwm) {
            let overflow = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
            return Err(Error::corrupted(id, Corruption::OverflowPastHwm { overflow }));
        }
        let ps = Snapshot::page_size(self);
        self.map.bytes(id * ps, count * ps, id).map(Cow::Borrowed)
    }
}
