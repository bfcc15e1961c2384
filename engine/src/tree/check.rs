//! The consistency check (bbolt's `tx.Check`, and more), and the reachability walk that
//! rebuilds a freelist that was not stored.
//!
//! Invariants checked, for one snapshot: every page below the high-water mark is reachable
//! exactly once (from the bucket trees, the freelist page, or as meta page 0/1) or free, never
//! both; no page is listed free twice; every reached tree page is a branch or leaf whose stored
//! id is its position; keys are strictly ascending within and across the pages of a bucket; a
//! branch key equals the first key of its child's subtree; inline buckets hold one leaf and no
//! sub-buckets. Messages use bbolt's wording where bbolt has one.

use crate::error::{Error, PageId, Result};
use crate::format::bucket::{decode_bucket, DiskRoot};
use crate::format::meta::NO_FREELIST;
use crate::format::page::NodeView;
use crate::limits::MAX_DEPTH;
use crate::tree::snapshot::Snapshot;

struct Walk<'a> {
    snap: &'a Snapshot,
    reached: Vec<bool>,
    problems: Vec<String>,
}

impl<'a> Walk<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        let hwm = snap.meta.pgid as usize;
        let mut reached = vec![false; hwm];
        for r in reached.iter_mut().take(2) {
            *r = true;
        }
        Walk { snap, reached, problems: Vec::new() }
    }

    fn mark(&mut self, id: PageId, span: u64, free: &[bool]) -> bool {
        let mut ok = true;
        for p in id..id + span {
            match self.reached.get_mut(p as usize) {
                None => {
                    self.problems.push(format!("page {p}: out of bounds: {}", self.snap.meta.pgid));
                    ok = false;
                }
                Some(r) if *r => {
                    self.problems.push(format!("page {p}: multiple references"));
                    ok = false;
                }
                Some(r) => *r = true,
            }
        }
        for p in id..id + span {
            if free.get(p as usize).copied().unwrap_or(false) {
                self.problems.push(format!("page {p}: reachable freed"));
            }
        }
        ok
    }

    /// Walks a bucket's tree. Returns the first key of the subtree (for the branch-key rule).
    fn tree(&mut self, root: DiskRoot<'a>, free: &[bool], depth: usize) -> Option<Vec<u8>> {
        if depth > MAX_DEPTH {
            self.problems.push("buckets nested deeper than 64 levels".into());
            return None;
        }
        match root {
            DiskRoot::Inline(bytes) => {
                let node = match NodeView::new(bytes, 0) {
                    Ok(n) if n.leaf => n,
                    Ok(_) => {
                        self.problems.push("inline bucket: page is not a leaf".into());
                        return None;
                    }
                    Err(e) => {
                        self.problems.push(format!("inline bucket: {e}"));
                        return None;
                    }
                };
                let mut last: Option<&[u8]> = None;
                for i in 0..node.len() {
                    match node.leaf_elem(i) {
                        Ok(e) => {
                            if e.is_bucket() {
                                self.problems.push("inline bucket holds a sub-bucket".into());
                            }
                            if e.key.is_empty() || last.is_some_and(|l| l >= e.key) {
                                self.problems.push("inline bucket: keys out of order".into());
                            }
                            last = Some(e.key);
                        }
                        Err(e) => self.problems.push(format!("inline bucket: {e}")),
                    }
                }
                None
            }
            DiskRoot::Paged(id) => {
                let mut last = None;
                self.page(id, free, 0, depth, &mut last)
            }
        }
    }

    fn page(
        &mut self,
        id: PageId,
        free: &[bool],
        level: usize,
        depth: usize,
        last: &mut Option<&'a [u8]>,
    ) -> Option<Vec<u8>> {
        if level > MAX_DEPTH {
            self.problems.push(format!("page {id}: tree deeper than 64 levels"));
            return None;
        }
        if id >= self.snap.meta.pgid || id < 2 {
            self.problems.push(format!("page {id}: out of bounds: {}", self.snap.meta.pgid));
            return None;
        }
        // Mark the page reached before decoding it, so that a damaged page is reported once,
        // for what is wrong with it, and not again as "unreachable unfreed".
        let span = self.snap.page_bytes(id).map(|b| b.len() as u64 / self.snap.page_size()).unwrap_or(1);
        if !self.mark(id, span, free) {
            return None;
        }
        let node = match self.snap.node(id) {
            Ok(n) => n,
            Err(Error::Corrupted { reason, .. }) if reason.contains("flags") => {
                self.problems.push(format!("page {id}: invalid type: {reason}"));
                return None;
            }
            Err(Error::Corrupted { page, reason }) => {
                self.problems.push(format!("page {page}: {reason}"));
                return None;
            }
            Err(e) => {
                self.problems.push(format!("page {id}: {e}"));
                return None;
            }
        };
        let mut first = None;
        for i in 0..node.len() {
            if node.leaf {
                let e = match node.leaf_elem(i) {
                    Ok(e) => e,
                    Err(e) => {
                        self.problems.push(e.to_string());
                        return first;
                    }
                };
                if e.key.is_empty() {
                    self.problems.push(format!("page {id}: empty key"));
                }
                if last.is_some_and(|l| l >= e.key) {
                    self.problems.push(format!("page {id}: keys out of order"));
                }
                *last = Some(e.key);
                if first.is_none() {
                    first = Some(e.key.to_vec());
                }
                if e.is_bucket() {
                    match decode_bucket(e.value, id) {
                        Ok(b) => {
                            self.tree(b.root, free, depth + 1);
                        }
                        Err(err) => self.problems.push(err.to_string()),
                    }
                }
            } else {
                let e = match node.branch_elem(i) {
                    Ok(e) => e,
                    Err(e) => {
                        self.problems.push(e.to_string());
                        return first;
                    }
                };
                if first.is_none() {
                    first = Some(e.key.to_vec());
                }
                let child_first = self.page(e.pgid, free, level + 1, depth, last);
                if let Some(cf) = child_first {
                    if cf != e.key {
                        self.problems.push(format!(
                            "page {id}: branch key {} differs from the first key of child page {}",
                            hex(e.key),
                            e.pgid
                        ));
                    }
                }
            }
        }
        if !node.leaf && node.is_empty() {
            self.problems.push(format!("page {id}: empty branch page"));
        }
        first
    }
}

fn hex(b: &[u8]) -> String {
    let n = b.len().min(16);
    let mut s: String = b[..n].iter().map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push_str("...");
    }
    s
}

/// The stored freelist's ids (`None` if the file has no stored freelist), and its page span.
fn stored_free(snap: &Snapshot) -> Result<Option<(Vec<PageId>, u64)>> {
    if snap.meta.freelist == NO_FREELIST {
        return Ok(None);
    }
    let bytes = snap.freelist_bytes()?;
    let ids = crate::format::freelist::Freelist::decode_ids(bytes, snap.meta.freelist)?;
    Ok(Some((ids, bytes.len() as u64 / snap.page_size())))
}

/// Checks the snapshot and returns every problem found (empty: consistent).
pub fn check(snap: &Snapshot) -> Result<Vec<String>> {
    let hwm = snap.meta.pgid as usize;
    let mut walk = Walk::new(snap);
    let mut free = vec![false; hwm];
    let stored = match stored_free(snap) {
        Ok(s) => s,
        Err(e) => {
            walk.problems.push(format!("freelist: {e}"));
            None
        }
    };
    if let Some((ids, span)) = &stored {
        for &id in ids {
            if id < 2 || id >= snap.meta.pgid {
                walk.problems.push(format!("page {id}: freelist id out of bounds (2..{})", snap.meta.pgid));
            }
            if let Some(f) = free.get_mut(id as usize) {
                if *f {
                    walk.problems.push(format!("page {id}: already freed"));
                }
                *f = true;
            }
        }
        let fl = snap.meta.freelist;
        for p in fl..fl + span {
            if let Some(r) = walk.reached.get_mut(p as usize) {
                *r = true;
            }
            if free.get(p as usize).copied().unwrap_or(false) {
                walk.problems.push(format!("page {p}: the freelist lists its own page"));
            }
        }
    }
    walk.tree(DiskRoot::Paged(snap.meta.root), &free, 0);
    let mut c = crate::tree::cursor::DiskCursor::new(snap, DiskRoot::Paged(snap.meta.root));
    let mut e = c.first();
    while let Ok(Some(elem)) = e {
        if !elem.is_bucket() {
            walk.problems.push(format!("root bucket holds a non-bucket key {}", hex(elem.key)));
        }
        e = c.next();
    }
    if stored.is_some() {
        for (id, (&reached, &free)) in walk.reached.iter().zip(&free).enumerate() {
            if !reached && !free {
                walk.problems.push(format!("page {id}: unreachable unfreed"));
            }
        }
    }
    Ok(walk.problems)
}

/// Every page in `2..hwm` not reachable from the root bucket: the free set of a file written
/// without a freelist (`no_freelist_sync`).
pub fn unreachable_pages(snap: &Snapshot) -> Result<Vec<PageId>> {
    let mut walk = Walk::new(snap);
    walk.tree(DiskRoot::Paged(snap.meta.root), &[], 0);
    if let Some(p) = walk.problems.first() {
        return Err(Error::corrupted(snap.meta.root, format!("while rebuilding the freelist: {p}")));
    }
    Ok((2..snap.meta.pgid).filter(|&id| !walk.reached[id as usize]).collect())
}
