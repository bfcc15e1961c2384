//! Page statistics of a committed bucket and everything nested in it (bbolt's `BucketStats`).

use crate::error::{Error, Result};
use crate::format::bucket::{decode_bucket, DiskRoot};
use crate::format::page::{BUCKET_LEAF_FLAG, ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::limits::MAX_DEPTH;
use crate::tree::snapshot::Snapshot;

/// Page statistics of a bucket and everything nested in it (bbolt's `BucketStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketStats {
    /// Branch pages (first pages of branch nodes).
    pub branch_page_n: u64,
    /// Extra pages of overflowing branch nodes.
    pub branch_overflow_n: u64,
    /// Leaf pages.
    pub leaf_page_n: u64,
    /// Extra pages of overflowing leaf nodes.
    pub leaf_overflow_n: u64,
    /// Keys (values and nested buckets).
    pub key_n: u64,
    /// Levels of the deepest tree.
    pub depth: u64,
    /// Bytes allocated for branch pages.
    pub branch_alloc: u64,
    /// Bytes of branch pages in use.
    pub branch_inuse: u64,
    /// Bytes allocated for leaf pages.
    pub leaf_alloc: u64,
    /// Bytes of leaf pages in use.
    pub leaf_inuse: u64,
    /// Buckets, this one included.
    pub bucket_n: u64,
    /// Inline buckets.
    pub inline_bucket_n: u64,
    /// Bytes used by inline buckets.
    pub inline_bucket_inuse: u64,
}

impl BucketStats {
    /// Adds another bucket's statistics (depth is the maximum).
    pub fn add(&mut self, o: &BucketStats) {
        self.branch_page_n += o.branch_page_n;
        self.branch_overflow_n += o.branch_overflow_n;
        self.leaf_page_n += o.leaf_page_n;
        self.leaf_overflow_n += o.leaf_overflow_n;
        self.key_n += o.key_n;
        self.depth = self.depth.max(o.depth);
        self.branch_alloc += o.branch_alloc;
        self.branch_inuse += o.branch_inuse;
        self.leaf_alloc += o.leaf_alloc;
        self.leaf_inuse += o.leaf_inuse;
        self.bucket_n += o.bucket_n;
        self.inline_bucket_n += o.inline_bucket_n;
        self.inline_bucket_inuse += o.inline_bucket_inuse;
    }
}

/// Statistics of the committed bucket rooted at `root`, in `snap`.
pub(crate) fn bucket_stats(snap: &Snapshot, root: DiskRoot<'_>, nesting: usize) -> Result<BucketStats> {
    bucket_stats_seen(snap, root, nesting, &mut std::collections::HashSet::new())
}

fn bucket_stats_seen(
    snap: &Snapshot,
    root: DiskRoot<'_>,
    nesting: usize,
    seen: &mut std::collections::HashSet<u64>,
) -> Result<BucketStats> {
    if nesting > MAX_DEPTH {
        return Err(Error::corrupted(0, "buckets nested deeper than 64 levels"));
    }
    let mut s = BucketStats { bucket_n: 1, ..Default::default() };
    match root {
        DiskRoot::Inline(bytes) => {
            let node = crate::format::page::NodeView::new(bytes, 0)?;
            s.inline_bucket_n = 1;
            s.key_n = node.len() as u64;
            s.inline_bucket_inuse = bytes.len() as u64;
            s.depth = 1;
        }
        DiskRoot::Paged(id) => walk(snap, id, 1, nesting, &mut s, seen)?,
    }
    Ok(s)
}

fn walk(
    snap: &Snapshot,
    id: u64,
    level: u64,
    nesting: usize,
    s: &mut BucketStats,
    seen: &mut std::collections::HashSet<u64>,
) -> Result<()> {
    if !seen.insert(id) {
        return Err(Error::corrupted(id, "page reached twice (damaged tree)"));
    }
    if level as usize > MAX_DEPTH {
        return Err(Error::corrupted(id, "tree deeper than 64 levels"));
    }
    let bytes = snap.page_bytes(id)?;
    let node = crate::format::page::NodeView::new(bytes, id)?;
    let pages = bytes.len() as u64 / snap.page_size();
    s.depth = s.depth.max(level);
    let mut used = (PAGE_HEADER_SIZE + ELEMENT_SIZE * node.len()) as u64;
    if node.leaf {
        s.leaf_page_n += 1;
        s.leaf_overflow_n += pages - 1;
        s.leaf_alloc += bytes.len() as u64;
        s.key_n += node.len() as u64;
        for i in 0..node.len() {
            let e = node.leaf_elem(i)?;
            used += (e.key.len() + e.value.len()) as u64;
            if e.flags & BUCKET_LEAF_FLAG != 0 {
                let b = decode_bucket(e.value, id)?;
                let child = bucket_stats_seen(snap, b.root, nesting + 1, seen)?;
                s.add(&child);
            }
        }
        s.leaf_inuse += used;
    } else {
        s.branch_page_n += 1;
        s.branch_overflow_n += pages - 1;
        s.branch_alloc += bytes.len() as u64;
        for i in 0..node.len() {
            let e = node.branch_elem(i)?;
            used += e.key.len() as u64;
            walk(snap, e.pgid, level + 1, nesting, s, seen)?;
        }
        s.branch_inuse += used;
    }
    Ok(())
}
