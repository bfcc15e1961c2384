//! Page statistics of a committed bucket and everything nested in it (bbolt's `BucketStats`):
//! the page walker ([`crate::tree::walk`]) over the bucket, counting what it is told.

use crate::corruption::Problem;
use crate::error::{Error, Result};
use crate::format::bucket::DiskRoot;
use crate::format::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::tree::snapshot::Snapshot;
use crate::tree::walk::{walk, BucketRoot, BucketStart, NodeInfo, Scope, Visitor};

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

impl Visitor for BucketStats {
    fn bucket(&mut self, b: &BucketStart<'_>) {
        self.bucket_n += 1;
        if let BucketRoot::Inline { len, .. } = b.root {
            self.inline_bucket_n += 1;
            self.inline_bucket_inuse += len as u64;
        }
    }

    fn node(&mut self, n: &NodeInfo<'_>) {
        let v = &n.view;
        self.key_n += if v.leaf { v.len() as u64 } else { 0 };
        if n.inline {
            self.depth = self.depth.max(1);
            return;
        }
        self.depth = self.depth.max(n.level as u64);
        // Element spans are checked by the walk: a damaged one ends the statistics.
        let used = (PAGE_HEADER_SIZE + ELEMENT_SIZE * v.len()) as u64 + v.data_len();
        let (alloc, overflow) = (n.bytes as u64, u64::from(n.overflow));
        if v.leaf {
            self.leaf_page_n += 1;
            self.leaf_overflow_n += overflow;
            self.leaf_alloc += alloc;
            self.leaf_inuse += used;
        } else {
            self.branch_page_n += 1;
            self.branch_overflow_n += overflow;
            self.branch_alloc += alloc;
            self.branch_inuse += used;
        }
    }

    /// Problems with the order or content of what was counted (keys, branch keys) would leave
    /// the figures right (and are not looked for); anything the walk could not read or follow
    /// ends them.
    fn problem(&mut self, p: Problem) -> Result<()> {
        if p.is_content() {
            return Ok(());
        }
        Err(Error::from(p))
    }

    fn checks_content(&self) -> bool {
        false
    }
}

/// Statistics of the committed bucket rooted at `root`, in `snap`.
///
/// # Errors
/// [`Error::Corrupted`] at the first page that cannot be read or is reached twice.
pub(crate) fn bucket_stats(snap: &Snapshot, root: DiskRoot<'_>) -> Result<BucketStats> {
    let mut s = BucketStats::default();
    walk(snap, &snap.meta, Scope::Bucket(root), &mut s)?;
    Ok(s)
}
