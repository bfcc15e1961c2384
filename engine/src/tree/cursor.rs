//! A cursor over one committed B+tree: a stack of (node, index) from the root to a leaf.
//!
//! It reads pages straight from the map and allocates only its stack, once. Empty leaves (which
//! Go tolerates) are stepped over. Depth is limited so a cyclic tree is an error, not a hang.

use crate::corruption::Corruption;
use crate::error::{Error, Result};
use crate::format::bucket::{DiskBucket, DiskRoot};
use crate::format::page::{LeafElem, NodeView};
use crate::limits::MAX_DEPTH;
use crate::tree::snapshot::Snapshot;

/// A position in one bucket's committed tree.
#[derive(Debug, Clone)]
pub(crate) struct DiskCursor<'a> {
    snap: &'a Snapshot,
    root: DiskRoot<'a>,
    /// The root node, if already read.
    root_node: Option<NodeView<'a>>,
    stack: Vec<(NodeView<'a>, usize)>,
    /// The key last returned: each step must move strictly past it, so a damaged tree (keys
    /// out of order, a page reachable twice) is an error, never an endless or repeating walk.
    last: Option<&'a [u8]>,
    /// Set when a step ran off an end: `Some(true)` past the last element (then `prev` returns
    /// the last one), `Some(false)` before the first (then `next` returns the first one).
    off_end: Option<bool>,
}

impl<'a> DiskCursor<'a> {
    pub(crate) fn new(snap: &'a Snapshot, root: DiskRoot<'a>) -> Self {
        DiskCursor { snap, root, root_node: None, stack: Vec::with_capacity(8), last: None, off_end: None }
    }

    /// A cursor over a bucket whose root node a handle has read already.
    pub(crate) fn over(snap: &'a Snapshot, bucket: &DiskBucket<'a>) -> Self {
        DiskCursor { root_node: bucket.node, ..DiskCursor::new(snap, bucket.root) }
    }

    fn push(&mut self, node: NodeView<'a>, idx: usize) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::corrupted(node.pgid, Corruption::TreeTooDeep));
        }
        if !node.leaf && node.is_empty() {
            return Err(Error::corrupted(node.pgid, Corruption::EmptyBranch));
        }
        if node.leaf {
            // A cursor may yield every element: their data must fit the page.
            node.check_data()?;
        }
        self.stack.push((node, idx));
        Ok(())
    }

    fn reset(&mut self) -> Result<()> {
        self.stack.clear();
        self.last = None;
        self.off_end = None;
        let root = match self.root_node {
            Some(node) => node,
            None => self.snap.root_node(self.root)?,
        };
        self.push(root, 0)
    }

    /// Descends from the top of the stack to a leaf, taking the first (or last) child each time.
    fn descend(&mut self, last: bool) -> Result<()> {
        loop {
            let Some(&(node, idx)) = self.stack.last() else {
                return Ok(());
            };
            if node.leaf {
                return Ok(());
            }
            let child = self.snap.node(node.child(idx)?)?;
            let cidx = if last { child.len().saturating_sub(1) } else { 0 };
            self.push(child, cidx)?;
        }
    }

    /// The element under the cursor, if it rests on one.
    pub(crate) fn current(&self) -> Result<Option<LeafElem<'a>>> {
        match self.stack.last() {
            Some(&(node, idx)) if node.leaf && idx < node.len() => Ok(Some(node.leaf_elem(idx)?)),
            _ => Ok(None),
        }
    }

    /// Records `e` as the element returned, checking that the walk moved in its direction.
    fn arrive(&mut self, e: Option<LeafElem<'a>>, forward: Option<bool>) -> Result<Option<LeafElem<'a>>> {
        if let (Some(e), Some(last), Some(fwd)) = (e, self.last, forward) {
            if (fwd && e.key <= last) || (!fwd && e.key >= last) {
                let page = self.stack.last().map_or(0, |(n, _)| n.pgid);
                return Err(Error::corrupted(page, Corruption::KeysNotAscending { across_pages: true }));
            }
        }
        if let Some(e) = e {
            self.last = Some(e.key);
        }
        Ok(e)
    }

    pub(crate) fn first(&mut self) -> Result<Option<LeafElem<'a>>> {
        self.reset()?;
        self.descend(false)?;
        match self.current()? {
            Some(e) => self.arrive(Some(e), None),
            None => self.next(),
        }
    }

    pub(crate) fn last(&mut self) -> Result<Option<LeafElem<'a>>> {
        self.reset()?;
        if let Some(top) = self.stack.last_mut() {
            top.1 = top.0.len().saturating_sub(1);
        }
        self.descend(true)?;
        match self.current()? {
            Some(e) => self.arrive(Some(e), None),
            None => self.prev(),
        }
    }

    /// Moves to the next element; `None` at the end (the position is then unspecified).
    pub(crate) fn next(&mut self) -> Result<Option<LeafElem<'a>>> {
        match self.off_end.take() {
            Some(true) => {
                self.off_end = Some(true);
                return Ok(None);
            }
            Some(false) => return self.current(),
            None => {}
        }
        // Fast path: the next element of the same leaf. (Moving by index cannot repeat or loop;
        // the order check is needed only where the walk crosses pages.)
        if let Some((node, idx)) = self.stack.last_mut() {
            if node.leaf && *idx + 1 < node.len() {
                *idx += 1;
                let e = node.leaf_elem(*idx)?;
                self.last = Some(e.key);
                return Ok(Some(e));
            }
        }
        loop {
            let mut depth = self.stack.len();
            loop {
                if depth == 0 {
                    self.off_end = Some(true);
                    return Ok(None);
                }
                let (node, idx) = &mut self.stack[depth - 1];
                if *idx + 1 < node.len() {
                    *idx += 1;
                    break;
                }
                depth -= 1;
            }
            self.stack.truncate(depth);
            self.descend(false)?;
            if let Some(e) = self.current()? {
                return self.arrive(Some(e), Some(true));
            }
        }
    }

    /// Moves to the previous element; `None` at the start.
    pub(crate) fn prev(&mut self) -> Result<Option<LeafElem<'a>>> {
        match self.off_end.take() {
            Some(false) => {
                self.off_end = Some(false);
                return Ok(None);
            }
            Some(true) => return self.current(),
            None => {}
        }
        if let Some((node, idx)) = self.stack.last_mut() {
            if node.leaf && *idx > 0 && *idx <= node.len() {
                *idx -= 1;
                let e = node.leaf_elem(*idx)?;
                self.last = Some(e.key);
                return Ok(Some(e));
            }
        }
        loop {
            let mut depth = self.stack.len();
            loop {
                if depth == 0 {
                    self.off_end = Some(false);
                    return Ok(None);
                }
                let (_, idx) = &mut self.stack[depth - 1];
                if *idx > 0 {
                    *idx -= 1;
                    break;
                }
                depth -= 1;
            }
            self.stack.truncate(depth);
            self.descend(true)?;
            if let Some(e) = self.current()? {
                return self.arrive(Some(e), Some(false));
            }
        }
    }

    /// Moves to the first element whose key is >= `key`.
    pub(crate) fn seek(&mut self, key: &[u8]) -> Result<Option<LeafElem<'a>>> {
        self.reset()?;
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            let node = top.0;
            if node.leaf {
                let (i, _) = node.search(key)?;
                if i < node.len() {
                    top.1 = i;
                    let e = self.current()?;
                    return self.arrive(e, None);
                }
                top.1 = node.len().saturating_sub(1);
                return self.next();
            }
            let i = node.child_index(key)?;
            top.1 = i;
            let child = self.snap.node(node.child(i)?)?;
            self.push(child, 0)?;
        }
    }

    /// The first element after `key` (strictly greater), or before it (strictly smaller) when
    /// `forward` is false; `inclusive` admits `key` itself.
    pub(crate) fn seek_dir(
        &mut self,
        key: Option<&[u8]>,
        inclusive: bool,
        forward: bool,
    ) -> Result<Option<LeafElem<'a>>> {
        let Some(key) = key else {
            return if forward { self.first() } else { self.last() };
        };
        let found = self.seek(key)?;
        if forward {
            match found {
                Some(e) if !inclusive && e.key == key => self.next(),
                other => Ok(other),
            }
        } else {
            match found {
                None => self.last(),
                Some(e) if e.key == key && inclusive => Ok(Some(e)),
                Some(_) => self.prev(),
            }
        }
    }
}
