//! Read access to the committed B+trees of one snapshot: pages by id, bucket headers, lookups.
//!
//! Every page read is bounds-checked against the snapshot's high-water mark and the page's own
//! header (its stored id must equal its position), and every descent is depth-limited, so a
//! damaged file yields [`Error::Corrupted`] instead of a panic or an endless loop.

use std::sync::Arc;

use crate::error::{Error, PageId, Result};
use crate::layout;
use crate::meta::Meta;
use crate::mmap::Map;
use crate::page::{NodeView, PageHeader};

/// Size of a bucket header stored as a leaf value: root pgid and sequence.
pub const BUCKET_HEADER_SIZE: usize = size_of::<layout::BucketHeader>();
/// Deepest tree the engine will descend; deeper means a cycle or garbage.
pub const MAX_DEPTH: usize = 64;

/// Where a bucket's tree lives.
#[derive(Debug, Clone, Copy)]
pub enum DiskRoot<'a> {
    /// A paged bucket: its root page.
    Paged(PageId),
    /// An inline bucket: the page image stored after its header.
    Inline(&'a [u8]),
}

/// A committed bucket: its tree and sequence, as read from its header.
#[derive(Debug, Clone, Copy)]
pub struct DiskBucket<'a> {
    /// The tree.
    pub root: DiskRoot<'a>,
    /// The stored sequence.
    pub sequence: u64,
    /// The root node, when a bucket handle has read it already (so lookups through the
    /// handle do not read and check the root page again).
    pub(crate) node: Option<NodeView<'a>>,
}

impl<'a> DiskBucket<'a> {
    /// This bucket with its root node read (checked) once, for a handle's later lookups.
    pub(crate) fn resolved(mut self, snap: &'a Snapshot) -> Result<Self> {
        if self.node.is_none() {
            self.node = Some(snap.root_node(self.root)?);
        }
        Ok(self)
    }
}

/// A consistent view of the file: one meta and the map that holds its pages.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The meta this snapshot reads.
    pub meta: Meta,
    /// The mapping (shared with other transactions of the same generation).
    pub map: Arc<Map>,
    pub(crate) counters: Arc<crate::stats::Counters>,
}

impl Snapshot {
    /// Page size of the file.
    pub fn page_size(&self) -> u64 {
        u64::from(self.meta.page_size)
    }

    /// The bytes of page `id` and its overflow pages, checked against the high-water mark.
    pub fn page_bytes(&self, id: PageId) -> Result<&[u8]> {
        self.page(id).map(|(bytes, _)| bytes)
    }

    /// The bytes of page `id` (with its overflow pages) and its header.
    fn page(&self, id: PageId) -> Result<(&[u8], PageHeader)> {
        if id < 2 || id >= self.meta.pgid {
            return Err(Error::corrupted(id, format!("page id outside 2..{} (high-water mark)", self.meta.pgid)));
        }
        let ps = self.page_size();
        let first = self.map.bytes(id * ps, ps, id)?;
        let h = PageHeader::read(first, id)?;
        if h.id != id {
            return Err(Error::corrupted(id, format!("page header says it is page {}", h.id)));
        }
        if h.overflow == 0 {
            return Ok((first, h));
        }
        let span = 1 + u64::from(h.overflow);
        if id + span > self.meta.pgid {
            return Err(Error::corrupted(id, format!("{} overflow pages run past the high-water mark", h.overflow)));
        }
        Ok((self.map.bytes(id * ps, span * ps, id)?, h))
    }

    /// The branch or leaf node stored at page `id`.
    pub fn node(&self, id: PageId) -> Result<NodeView<'_>> {
        let (bytes, h) = self.page(id)?;
        NodeView::with_header(bytes, id, h)
    }

    /// The node at the root of a bucket.
    pub fn root_node<'a>(&'a self, root: DiskRoot<'a>) -> Result<NodeView<'a>> {
        match root {
            DiskRoot::Paged(id) => self.node(id),
            DiskRoot::Inline(bytes) => {
                let v = NodeView::new(bytes, 0)?;
                if !v.leaf {
                    return Err(Error::corrupted(0, "inline bucket page is not a leaf"));
                }
                Ok(v)
            }
        }
    }

    /// The root bucket of this snapshot.
    pub fn root_bucket(&self) -> DiskBucket<'_> {
        DiskBucket { root: DiskRoot::Paged(self.meta.root), sequence: self.meta.root_sequence, node: None }
    }

    /// Finds `key` in a bucket's tree: the leaf element's flags and value.
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
                return Err(Error::corrupted(node.pgid, "empty branch page"));
            }
            let i = node.child_index(key)?;
            node = self.node(node.child(i)?)?;
        }
        Err(Error::corrupted(node.pgid, "tree deeper than 64 levels (cycle?)"))
    }
}

/// Decodes a bucket header (and inline page) stored as the value of a bucket element.
pub fn decode_bucket(value: &[u8], page: PageId) -> Result<DiskBucket<'_>> {
    let (h, inline) = layout::read::<layout::BucketHeader>(value, page, "bucket header")?;
    let root = match h.root.get() {
        0 => DiskRoot::Inline(inline),
        root => DiskRoot::Paged(root),
    };
    Ok(DiskBucket { root, sequence: h.sequence.get(), node: None })
}
