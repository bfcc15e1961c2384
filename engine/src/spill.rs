//! The commit's tree work: fold each touched bucket's overlay into a new copy-on-write tree.
//!
//! For each bucket, children first: the sorted changes are routed down the committed tree; every
//! node on the path of a change is rewritten (its old pages become pending), the others are kept
//! as they are. Rewritten nodes are split by bbolt's policy (a node of a page or more with more
//! than four elements splits at `page_size * fill_percent`, each part keeping at least two
//! elements) and an underfull node (a quarter page or less, or too few elements) is merged with
//! a sibling, as bbolt's rebalance does. A branch key is always exactly the first key of its
//! child's subtree, which Go relies on. A small single-leaf bucket without sub-buckets is stored
//! inline in its parent (bbolt's rule: node size <= page_size / 4).

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, PageId, Result, TxId};
use crate::freelist::Freelist;
use crate::page::{node_size, write_branch, write_leaf, BranchElem, LeafElem, NodeView, BUCKET_LEAF_FLAG};
use crate::tree::{Snapshot, BUCKET_HEADER_SIZE};
use crate::view::{BucketId, BucketW, Change, Origin, View};

/// A node being rebuilt.
#[derive(Debug)]
enum Node<'x> {
    Leaf(Vec<LeafElem<'x>>),
    Branch(Vec<BranchElem<'x>>),
}

impl<'x> Node<'x> {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Branch(v) => v.len(),
        }
    }
    fn size(&self) -> usize {
        match self {
            Node::Leaf(v) => node_size(v.len(), v.iter().map(|e| e.key.len() + e.value.len()).sum()),
            Node::Branch(v) => node_size(v.len(), v.iter().map(|e| e.key.len()).sum()),
        }
    }
    fn first_key(&self) -> &'x [u8] {
        match self {
            Node::Leaf(v) => v.first().map_or(&[][..], |e| e.key),
            Node::Branch(v) => v.first().map_or(&[][..], |e| e.key),
        }
    }
    fn min_keys(&self) -> usize {
        match self {
            Node::Leaf(_) => 1,
            Node::Branch(_) => 2,
        }
    }
}

/// A child of a branch being rebuilt: kept as it is, or rebuilt.
enum Child<'x> {
    Existing(BranchElem<'x>),
    Built(Node<'x>),
}

/// Where a committed bucket now lives.
pub(crate) enum NewRoot {
    Paged(PageId),
    Inline(Vec<u8>),
}

/// Pages written and freed by one commit.
pub(crate) struct Spill<'s> {
    snap: &'s Snapshot,
    pub freelist: &'s mut Freelist,
    txid: TxId,
    page_size: usize,
    /// The high-water mark as it grows.
    pub hwm: PageId,
    /// Serialised pages to write, by first page id.
    pub dirty: BTreeMap<PageId, Vec<u8>>,
    /// Runs allocated by this commit: page count and whether they came from the freelist.
    allocated: HashMap<PageId, (u64, bool)>,
    old_hwm: PageId,
    /// Work counters of this commit.
    pub stats: crate::stats::TxStats,
    /// Committed pages freed by this commit (a page freed twice means a damaged tree).
    freed: std::collections::HashSet<PageId>,
}

/// Splits `n` elements with the given serialised sizes (element header excluded) as bbolt does.
fn split_ranges(sizes: &[usize], page_size: usize, fill: f64) -> Vec<std::ops::Range<usize>> {
    const MIN_KEYS: usize = 2;
    let n = sizes.len();
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let threshold = (page_size as f64 * fill) as usize;
    let mut start = 0;
    // Bytes of the elements not yet assigned to a part (kept as a running total so that
    // splitting a huge node stays linear).
    let mut rest_data: usize = sizes.iter().sum();
    loop {
        let rest = &sizes[start..];
        let total = node_size(rest.len(), rest_data);
        if rest.len() <= 2 * MIN_KEYS || total < page_size {
            out.push(start..n);
            return out;
        }
        let mut sz = crate::page::PAGE_HEADER_SIZE;
        let mut index = 0;
        for (i, s) in rest.iter().enumerate().take(rest.len() - MIN_KEYS) {
            index = i;
            let el = crate::page::ELEMENT_SIZE + s;
            if i >= MIN_KEYS && sz + el > threshold {
                break;
            }
            sz += el;
        }
        rest_data -= rest[..index].iter().sum::<usize>();
        out.push(start..start + index);
        start += index;
    }
}

fn split<'x>(node: Node<'x>, page_size: usize, fill: f64) -> Vec<Node<'x>> {
    match node {
        Node::Leaf(v) => {
            let sizes: Vec<usize> = v.iter().map(|e| e.key.len() + e.value.len()).collect();
            split_ranges(&sizes, page_size, fill).into_iter().map(|r| Node::Leaf(v[r].to_vec())).collect()
        }
        Node::Branch(v) => {
            let sizes: Vec<usize> = v.iter().map(|e| e.key.len()).collect();
            split_ranges(&sizes, page_size, fill).into_iter().map(|r| Node::Branch(v[r].to_vec())).collect()
        }
    }
}

impl<'s> Spill<'s> {
    pub(crate) fn new(snap: &'s Snapshot, freelist: &'s mut Freelist, txid: TxId) -> Self {
        let hwm = snap.meta.pgid;
        Spill {
            snap,
            freelist,
            txid,
            page_size: snap.page_size() as usize,
            hwm,
            dirty: BTreeMap::new(),
            allocated: HashMap::new(),
            old_hwm: hwm,
            stats: Default::default(),
            freed: Default::default(),
        }
    }

    /// Takes `n` contiguous pages: from the freelist if a run fits, else above the high-water mark.
    pub(crate) fn alloc(&mut self, n: u64) -> PageId {
        self.stats.page_count += n;
        self.stats.page_alloc += n * self.page_size as u64;
        if let Some(id) = self.freelist.allocate(n) {
            self.allocated.insert(id, (n, true));
            return id;
        }
        let id = self.hwm;
        self.hwm += n;
        self.allocated.insert(id, (n, false));
        id
    }

    /// Frees `n` pages at `id`: pending if committed before, reusable at once if this commit
    /// allocated them (nobody else can see them).
    pub(crate) fn free(&mut self, id: PageId, n: u64) -> Result<()> {
        if self.allocated.remove(&id).is_some() {
            self.dirty.remove(&id);
            self.freelist.unallocate(id, n);
        } else {
            if !self.freed.insert(id) || (id..id + n).any(|p| self.freelist.is_free(p)) {
                return Err(Error::corrupted(id, "page reached twice or already free (damaged tree)"));
            }
            self.freelist.free(self.txid, id, n);
        }
        Ok(())
    }

    /// Undoes every freelist change of this commit (it failed before anything was written).
    pub(crate) fn undo(self) {
        for (id, (n, from_freelist)) in self.allocated {
            if from_freelist {
                self.freelist.unallocate(id, n);
            }
        }
        self.freelist.forget_from(self.old_hwm);
        self.freelist.rollback_pending(self.txid);
    }

    fn span_of(&self, id: PageId) -> Result<u64> {
        crate::write::page_span(self.snap, id)
    }

    fn write_node(&mut self, node: &Node<'_>) -> Result<PageId> {
        if node.len() >= 0xFFFF {
            return Err(Error::corrupted(0, "a node would hold 65535 or more elements"));
        }
        let size = node.size();
        let pages = size.div_ceil(self.page_size).max(1);
        let id = self.alloc(pages as u64);
        let mut buf = vec![0u8; pages * self.page_size];
        let overflow = (pages - 1) as u32;
        match node {
            Node::Leaf(v) => write_leaf(&mut buf, id, overflow, v.iter().copied()),
            Node::Branch(v) => write_branch(&mut buf, id, overflow, v.iter().copied()),
        }
        self.dirty.insert(id, buf);
        self.stats.node_count += 1;
        Ok(id)
    }

    /// Reads a committed node into an owned list and frees its pages (for merging).
    fn take_existing<'x>(&mut self, e: BranchElem<'x>) -> Result<Node<'x>>
    where
        's: 'x,
    {
        let snap: &'x Snapshot = self.snap;
        let view = snap.node(e.pgid)?;
        self.stats.node_deref += 1;
        let n = node_elems(view)?;
        let span = self.span_of(e.pgid)?;
        self.free(e.pgid, span)?;
        Ok(n)
    }

    /// Applies sorted `changes` (`None` = delete) to the committed node `node`.
    fn apply<'x>(
        &mut self,
        node: NodeView<'x>,
        changes: &[(&'x [u8], Option<LeafElem<'x>>)],
        fill: f64,
        depth: usize,
    ) -> Result<Vec<Node<'x>>>
    where
        's: 'x,
    {
        if depth > crate::tree::MAX_DEPTH {
            return Err(Error::corrupted(node.pgid, "tree deeper than 64 levels (cycle?)"));
        }
        self.stats.node_deref += 1;
        if node.pgid != 0 {
            let span = self.span_of(node.pgid)?;
            self.free(node.pgid, span)?;
        }
        if node.leaf {
            let mut out = Vec::with_capacity(node.len() + changes.len());
            let mut ci = 0;
            for i in 0..node.len() {
                let e = node.leaf_elem(i)?;
                while ci < changes.len() && changes[ci].0 < e.key {
                    if let Some(c) = changes[ci].1 {
                        out.push(c);
                    }
                    ci += 1;
                }
                if ci < changes.len() && changes[ci].0 == e.key {
                    if let Some(c) = changes[ci].1 {
                        out.push(c);
                    }
                    ci += 1;
                } else {
                    out.push(e);
                }
            }
            out.extend(changes[ci..].iter().filter_map(|c| c.1));
            return Ok(self.split(Node::Leaf(out), fill));
        }
        let snap: &'x Snapshot = self.snap;
        let n = node.len();
        let mut children = Vec::with_capacity(n + 2);
        let mut ci = 0;
        for i in 0..n {
            let e = node.branch_elem(i)?;
            let end = if i + 1 < n {
                let next = node.branch_elem(i + 1)?.key;
                ci + changes[ci..].partition_point(|c| c.0 < next)
            } else {
                changes.len()
            };
            if end == ci {
                children.push(Child::Existing(e));
                continue;
            }
            let child = snap.node(e.pgid)?;
            for b in self.apply(child, &changes[ci..end], fill, depth + 1)? {
                children.push(Child::Built(b));
            }
            ci = end;
        }
        let children = self.rebalance(children, fill)?;
        let mut elems = Vec::with_capacity(children.len());
        for c in children {
            match c {
                Child::Existing(e) => elems.push(e),
                Child::Built(b) => {
                    let key = b.first_key();
                    let pgid = self.write_node(&b)?;
                    elems.push(BranchElem { key, pgid });
                }
            }
        }
        if elems.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.split(Node::Branch(elems), fill))
    }

    fn split<'x>(&mut self, node: Node<'x>, fill: f64) -> Vec<Node<'x>> {
        let parts = split(node, self.page_size, fill);
        self.stats.split += parts.len().saturating_sub(1) as u64;
        parts
    }

    fn underfull(&self, n: &Node<'_>) -> bool {
        n.size() <= self.page_size / 4 || n.len() <= n.min_keys()
    }

    /// Merges each underfull rebuilt child into a sibling and splits the result again.
    fn rebalance<'x>(&mut self, children: Vec<Child<'x>>, fill: f64) -> Result<Vec<Child<'x>>>
    where
        's: 'x,
    {
        let started = std::time::Instant::now();
        let mut out: Vec<Child<'x>> = Vec::with_capacity(children.len());
        let mut it = children.into_iter().peekable();
        while let Some(c) = it.next() {
            let Child::Built(node) = c else {
                out.push(c);
                continue;
            };
            if !self.underfull(&node) {
                out.push(Child::Built(node));
                continue;
            }
            let (left, right) = if let Some(prev) = out.pop() {
                (prev, Child::Built(node))
            } else if let Some(next) = it.next() {
                (Child::Built(node), next)
            } else {
                out.push(Child::Built(node));
                continue;
            };
            let left = match left {
                Child::Existing(e) => self.take_existing(e)?,
                Child::Built(n) => n,
            };
            let right = match right {
                Child::Existing(e) => self.take_existing(e)?,
                Child::Built(n) => n,
            };
            let merged = match (left, right) {
                (Node::Leaf(mut a), Node::Leaf(b)) => {
                    a.extend(b);
                    Node::Leaf(a)
                }
                (Node::Branch(mut a), Node::Branch(b)) => {
                    a.extend(b);
                    Node::Branch(a)
                }
                (a, b) => {
                    // Siblings of different heights (a tree Go did not write): keep both.
                    out.push(Child::Built(a));
                    out.push(Child::Built(b));
                    continue;
                }
            };
            self.stats.rebalance += 1;
            out.extend(self.split(merged, fill).into_iter().map(Child::Built));
        }
        self.stats.rebalance_time += started.elapsed();
        Ok(out)
    }

    /// If page `id` (committed or written by this commit) is a branch with a single child,
    /// that child.
    fn single_child(&self, id: PageId) -> Result<Option<PageId>> {
        let view = match self.dirty.get(&id) {
            Some(buf) => NodeView::new(buf, id)?,
            None => self.snap.node(id)?,
        };
        if !view.leaf && view.len() == 1 {
            return Ok(Some(view.branch_elem(0)?.pgid));
        }
        Ok(None)
    }

    /// If page `id` is a leaf small enough to be stored inline, its inline page image.
    fn inline_image(&self, id: PageId) -> Result<Option<Vec<u8>>> {
        let view = match self.dirty.get(&id) {
            Some(buf) => NodeView::new(buf, id)?,
            None => self.snap.node(id)?,
        };
        if !view.leaf {
            return Ok(None);
        }
        let node = node_elems(view)?;
        let Node::Leaf(v) = &node else {
            return Ok(None);
        };
        if v.iter().any(|e| e.flags & BUCKET_LEAF_FLAG != 0) || node.size() > self.page_size / 4 {
            return Ok(None);
        }
        let mut buf = vec![0u8; node.size()];
        write_leaf(&mut buf, 0, 0, v.iter().copied());
        Ok(Some(buf))
    }

    fn page_count(&self, id: PageId) -> Result<u64> {
        match self.dirty.get(&id) {
            Some(buf) => Ok(buf.len() as u64 / self.page_size as u64),
            None => self.span_of(id),
        }
    }

    /// Turns the rebuilt top level of a bucket into a single root, or an inline page.
    fn finish_root(&mut self, mut level: Vec<Node<'_>>, may_inline: bool, fill: f64) -> Result<NewRoot> {
        loop {
            if level.len() > 1 {
                let mut elems = Vec::with_capacity(level.len());
                for n in &level {
                    let key = n.first_key();
                    elems.push(BranchElem { key, pgid: self.write_node(n)? });
                }
                level = self.split(Node::Branch(elems), fill);
                continue;
            }
            let node = level.pop().unwrap_or(Node::Leaf(Vec::new()));
            match &node {
                Node::Leaf(v)
                    if may_inline
                        && v.iter().all(|e| e.flags & BUCKET_LEAF_FLAG == 0)
                        && node.size() <= self.page_size / 4 =>
                {
                    let mut buf = vec![0u8; node.size()];
                    write_leaf(&mut buf, 0, 0, v.iter().copied());
                    return Ok(NewRoot::Inline(buf));
                }
                Node::Branch(v) if v.len() == 1 => {
                    let mut root = v[0].pgid;
                    while let Some(child) = self.single_child(root)? {
                        let n = self.page_count(root)?;
                        self.free(root, n)?;
                        root = child;
                    }
                    if may_inline {
                        if let Some(page) = self.inline_image(root)? {
                            let n = self.page_count(root)?;
                            self.free(root, n)?;
                            return Ok(NewRoot::Inline(page));
                        }
                    }
                    return Ok(NewRoot::Paged(root));
                }
                _ => return Ok(NewRoot::Paged(self.write_node(&node)?)),
            }
        }
    }

    /// Commits bucket `id` and, first, its touched sub-buckets. Returns the bucket's new header
    /// value (header, plus page image if inline), or `None` if nothing in it changed.
    pub(crate) fn commit_bucket(
        &mut self,
        view: &View<'s>,
        relocated: &[bool],
        id: BucketId,
    ) -> Result<Option<Vec<u8>>> {
        let b: &'s BucketW = &view.arena[id];
        let mut child_vals: Vec<Vec<u8>> = Vec::new();
        let mut child_keys: Vec<&[u8]> = Vec::new();
        let mut plain_changes = false;
        for (k, c) in &b.overlay {
            match c {
                Change::Bucket(cid) => {
                    if let Some(v) = self.commit_bucket(view, relocated, *cid)? {
                        child_keys.push(k);
                        child_vals.push(v);
                    }
                }
                _ => plain_changes = true,
            }
        }
        let changed = b.origin.is_none()
            || b.sequence_dirty
            || relocated.get(id).copied().unwrap_or(false)
            || plain_changes
            || !child_vals.is_empty();
        if !changed {
            return Ok(None);
        }
        self.stats.spill += 1;
        let mut changes: Vec<(&[u8], Option<LeafElem<'_>>)> = Vec::with_capacity(b.overlay.len());
        let mut vi = 0;
        for (k, c) in &b.overlay {
            match c {
                Change::Put(v) => changes.push((k, Some(LeafElem { flags: 0, key: k, value: v }))),
                Change::Delete => changes.push((k, None)),
                Change::Bucket(_) => {
                    if child_keys.get(vi) == Some(&k.as_slice()) {
                        let value = child_vals[vi].as_slice();
                        changes.push((k, Some(LeafElem { flags: BUCKET_LEAF_FLAG, key: k, value })));
                        vi += 1;
                    }
                }
            }
        }
        let fill = b.fill_percent;
        let level = match &b.origin {
            None => {
                let elems: Vec<LeafElem<'_>> = changes.iter().filter_map(|c| c.1).collect();
                self.split(Node::Leaf(elems), fill)
            }
            Some(Origin::Paged(root)) => {
                let snap: &'s Snapshot = self.snap;
                self.apply(snap.node(*root)?, &changes, fill, 0)?
            }
            Some(Origin::Inline(bytes)) => {
                let node = NodeView::new(bytes, 0)?;
                if !node.leaf {
                    return Err(Error::corrupted(0, "inline bucket page is not a leaf"));
                }
                self.apply(node, &changes, fill, 0)?
            }
        };
        let root = self.finish_root(level, id != 0, fill)?;
        let mut value = vec![0u8; BUCKET_HEADER_SIZE];
        crate::page::put_u64(&mut value, 8, b.sequence);
        match root {
            NewRoot::Paged(p) => crate::page::put_u64(&mut value, 0, p),
            NewRoot::Inline(page) => value.extend_from_slice(&page),
        }
        Ok(Some(value))
    }
}

/// All elements of a committed node, as an owned list.
fn node_elems(view: NodeView<'_>) -> Result<Node<'_>> {
    if view.leaf {
        (0..view.len()).map(|i| view.leaf_elem(i)).collect::<Result<Vec<_>>>().map(Node::Leaf)
    } else {
        (0..view.len()).map(|i| view.branch_elem(i)).collect::<Result<Vec<_>>>().map(Node::Branch)
    }
}
