//! The commit's tree work: fold each touched bucket's overlay into a new copy-on-write tree.
//!
//! For each bucket, children first: the sorted changes are routed down the committed tree; every
//! node on the path of a change is rewritten (its old pages become pending), the others are kept
//! as they are. Rewritten nodes are split when bbolt would split them (a page or more, more than
//! four elements, at least two per part), packed to `page_size * fill_percent` with the last two
//! parts balanced (see [`crate::commit::split`]), and an underfull node (a quarter page or less, or too
//! few elements) is merged with a sibling, as bbolt's rebalance does; neighbours rewritten anyway
//! are packed again when that saves pages. A branch key is always exactly the first
//! key of its child's subtree, which Go relies on. A small single-leaf bucket without
//! sub-buckets is stored inline in its parent (bbolt's rule: node size <= page_size / 4).
//!
//! Nodes are built under provisional page ids and get real pages only when the whole commit is
//! built ([`Spill::place`], policy in [`crate::commit::place`]); the provisional ids written into
//! branches and bucket headers are then rewritten. A failed commit undoes its freelist changes
//! ([`Spill::undo`]) before anything is written.

use std::collections::BTreeMap;

use crate::commit::merge::{bucket_root, committed_ref, count_before, merge_leaf};
use crate::commit::node::{cut, node_elems, split, Child, Node};
use crate::commit::place::PROVISIONAL;
use crate::commit::view::{BucketId, BucketW, Change, Origin, View};
use crate::error::{Error, PageId, Result, TxId};
use crate::format::bucket::BUCKET_HEADER_SIZE;
use crate::format::freelist::Freelist;
use crate::format::page::{node_size, write_branch, write_leaf, BranchElem, LeafElem, NodeView, BUCKET_LEAF_FLAG};
use crate::tree::generation::{Generation, Links};
use crate::tree::snapshot::Snapshot;

/// A branch on the path [`Spill::apply`] is rebuilding: its node, the changes that fall in it,
/// the next element to visit, how many changes its earlier elements took, and its children so
/// far (committed ones kept as they are, rebuilt ones as nodes).
struct Frame<'x, 'c> {
    node: NodeView<'x>,
    changes: &'c [(&'x [u8], Option<LeafElem<'x>>)],
    next: usize,
    ci: usize,
    children: Vec<Child<'x>>,
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
    /// The high-water mark (raised by [`Spill::place`]).
    pub hwm: PageId,
    /// Nodes built by this commit, by provisional id (allocation order).
    dirty: BTreeMap<PageId, DirtyNode>,
    /// The next provisional id.
    next_provisional: PageId,
    /// This commit's first provisional id: ids below it (and at or above [`PROVISIONAL`]) are
    /// nodes of earlier journaled commits, committed as far as this one is concerned.
    own: PageId,
    /// Nodes of earlier journaled commits this commit freed (they leave the live set).
    pub dead: Vec<PageId>,
    /// Pages of the file this commit freed, as (first, count) (a journaled commit records
    /// them in its generation, for the check of its versions).
    pub freed_real: Vec<(PageId, u64)>,
    /// Whether the nodes being built belong to the root bucket.
    building_root_bucket: bool,
    /// Real pages taken by [`Spill::place`]: start, count, and whether from the freelist.
    allocated: Vec<(PageId, u64, bool)>,
    old_hwm: PageId,
    /// The free run [`Spill::trim_free_tail`] took off the end of the file, if any.
    trimmed: Option<(PageId, u64)>,
    /// Work counters of this commit.
    pub stats: crate::tree::counters::TxStats,
    /// Committed pages freed by this commit (a page freed twice means a damaged tree).
    freed: std::collections::HashSet<PageId>,
}

/// A node serialised under a provisional id.
struct DirtyNode {
    buf: Vec<u8>,
    /// The elements that refer to provisional ids (children of a branch, roots of sub-bucket
    /// headers in a leaf), rewritten by placement ([`crate::format::page::relink`]).
    refs: Vec<usize>,
    /// Placement order: 0 for a bucket's leaves, 1 for its branches, 2 for the root bucket's.
    rank: u8,
}

impl<'s> Spill<'s> {
    pub(crate) fn new(snap: &'s Snapshot, freelist: &'s mut Freelist, txid: TxId) -> Self {
        let hwm = snap.meta.pgid;
        let own = snap.gen.as_ref().map_or(PROVISIONAL, |g| g.next_id());
        Spill {
            snap,
            freelist,
            txid,
            page_size: snap.page_size() as usize,
            hwm,
            dirty: BTreeMap::new(),
            next_provisional: own,
            own,
            dead: Vec::new(),
            freed_real: Vec::new(),
            building_root_bucket: false,
            allocated: Vec::new(),
            old_hwm: hwm,
            trimmed: None,
            stats: Default::default(),
            freed: Default::default(),
        }
    }

    /// Reserves `n` provisional page ids for a node.
    fn alloc(&mut self, n: u64) -> PageId {
        self.stats.page_count += n;
        self.stats.page_alloc += n * self.page_size as u64;
        let id = self.next_provisional;
        self.next_provisional += n;
        id
    }

    /// Frees `n` pages at `id`: pending if committed before, dropped if this commit built them
    /// (they never get a real page).
    pub(crate) fn free(&mut self, id: PageId, n: u64) -> Result<()> {
        if id >= PROVISIONAL {
            if id < self.own && !self.freed.insert(id) {
                return Err(Error::corrupted(id, "page reached twice (damaged tree)"));
            }
            if !self.dirty.contains_key(&id) {
                if id < self.own {
                    // A node of an earlier journaled commit, not adopted: readers of older
                    // versions still read it, so it only leaves the live set.
                    self.dead.push(id);
                    return Ok(());
                }
                return Err(Error::corrupted(id, "a page of this commit freed twice"));
            }
            // Built by this commit, or adopted from the generation by a checkpoint: it never
            // gets a page.
            self.dirty.remove(&id);
            // It never reaches the file: take it out of the commit's counters again.
            self.stats.page_count = self.stats.page_count.saturating_sub(n);
            self.stats.page_alloc = self.stats.page_alloc.saturating_sub(n * self.page_size as u64);
            self.stats.node_count = self.stats.node_count.saturating_sub(1);
        } else {
            if !self.freed.insert(id) || (id..id + n).any(|p| self.freelist.is_free(p)) {
                return Err(Error::corrupted(id, "page reached twice or already free (damaged tree)"));
            }
            self.freelist.free(self.txid, id, n);
            self.freed_real.push((id, n));
        }
        Ok(())
    }

    /// Gives every node built by this commit a real page, plus `extra` pages at the end (the
    /// freelist's), as [`crate::commit::place`] decides; rewrites the provisional ids in the nodes and
    /// returns the pages to write by real id, the real id for each provisional one through
    /// `real`, and where the extra pages start.
    pub(crate) fn place(&mut self, extra: u64) -> Result<crate::commit::place::Placed> {
        let ps = self.page_size as u64;
        // Pages that the next commits will rewrite (and free) together go together: leaves of
        // the buckets first, then their branches, then the root bucket's pages, so that those
        // upper pages free up as one run. Groups are (rank, provisional id, pages).
        let mut groups: Vec<(u8, PageId, u64)> =
            self.dirty.iter().map(|(&id, d)| (d.rank, id, d.buf.len() as u64 / ps)).collect();
        groups.sort_unstable();
        let mut sizes: Vec<u64> = groups.iter().map(|g| g.2).collect();
        if extra > 0 {
            sizes.push(extra);
        }
        let p = crate::commit::place::place(self.freelist, self.hwm, &sizes);
        self.hwm = p.hwm;
        self.allocated = p.taken;
        let extra_at = (extra > 0).then(|| p.starts.last().copied()).flatten();
        let map = groups.iter().zip(&p.starts).map(|(g, &real)| (g.1, real)).collect();
        let mut placed = crate::commit::place::Placed { pages: BTreeMap::new(), map, extra_at };
        let mut pages = BTreeMap::new();
        for (id, mut d) in std::mem::take(&mut self.dirty) {
            let to = placed.real(id)?;
            crate::format::page::relink(&mut d.buf, to, &d.refs, |p| placed.real(p))?;
            pages.insert(to, d.buf);
        }
        placed.pages = pages;
        Ok(placed)
    }

    /// Hands this commit's nodes to the generation instead of placing them (a journaled
    /// commit), in id order, and returns their ids and links (the nodes that join the live set).
    ///
    /// # Errors
    /// [`Error::Corrupted`] if the generation moved on since this spill began (a second
    /// writer: never, while the writer's slot is held).
    pub(crate) fn into_generation(self, gen: &Generation) -> Result<Vec<(PageId, Links)>> {
        let mut born = Vec::with_capacity(self.dirty.len());
        for (id, d) in self.dirty {
            gen.push(id, d.buf.into_boxed_slice(), self.page_size)?;
            born.push((id, Links { refs: d.refs.into_boxed_slice(), rank: d.rank }));
        }
        Ok(born)
    }

    /// Adds nodes of a generation (id, page image, links) to this commit's own, to be placed
    /// with them (a checkpoint: the live nodes of the generation, which no commit has placed
    /// yet).
    pub(crate) fn adopt<'n>(&mut self, nodes: impl IntoIterator<Item = (PageId, &'n [u8], &'n Links)>) {
        let ps = self.page_size as u64;
        for (id, buf, links) in nodes {
            let pages = (buf.len() as u64).div_ceil(ps).max(1);
            self.stats.page_count += pages;
            self.stats.page_alloc += pages * ps;
            self.stats.node_count += 1;
            let d = DirtyNode { buf: buf.to_vec(), refs: links.refs.to_vec(), rank: links.rank };
            self.dirty.insert(id, d);
        }
    }

    /// Lowers the high-water mark over the free run that ends at it, if any: free pages at the
    /// end of the file leave the file instead of the freelist. Without this a file whose end is
    /// one long free run (a sparse file written without a freelist, say, with a high-water mark
    /// of 2^26 pages and a few pages of content) would store a freelist of 2^26 ids, 512 MiB,
    /// on its first commit. A file with a lower high-water mark is as valid to bbolt; a later
    /// commit grows into those ids again. Call before [`Spill::place`].
    pub(crate) fn trim_free_tail(&mut self) {
        if let Some((start, len)) = self.freelist.take_tail(self.hwm) {
            self.hwm = start;
            self.trimmed = Some((start, len));
        }
    }

    /// Undoes every freelist change of this commit (it failed before anything was written).
    pub(crate) fn undo(self) {
        for (id, n, from_freelist) in self.allocated {
            if from_freelist {
                self.freelist.unallocate(id, n);
            }
        }
        self.freelist.forget_from(self.old_hwm);
        if let Some((start, len)) = self.trimmed {
            // Pages placed in the trimmed run were grown from the lowered mark, not taken from
            // the list: the whole run goes back as it was.
            self.freelist.unallocate(start, len);
        }
        self.freelist.rollback_pending(self.txid);
    }

    fn span_of(&self, id: PageId) -> Result<u64> {
        self.snap.page_span(id)
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
        let refs = match node {
            Node::Leaf(v) => {
                write_leaf(&mut buf, id, overflow, v.iter().copied())?;
                (0..v.len()).filter(|&i| bucket_root(&v[i]).is_some_and(|r| r >= PROVISIONAL)).collect()
            }
            Node::Branch(v) => {
                write_branch(&mut buf, id, overflow, v.iter().copied())?;
                (0..v.len()).filter(|&i| v[i].pgid >= PROVISIONAL).collect()
            }
        };
        let rank = if self.building_root_bucket { 2 } else { u8::from(matches!(node, Node::Branch(_))) };
        self.dirty.insert(id, DirtyNode { buf, refs, rank });
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
        match &n {
            Node::Leaf(v) => {
                v.iter().filter_map(bucket_root).try_for_each(|r| committed_ref(e.pgid, r, self.own).map(drop))?
            }
            Node::Branch(v) => v.iter().try_for_each(|c| committed_ref(e.pgid, c.pgid, self.own).map(drop))?,
        }
        let span = self.span_of(e.pgid)?;
        self.free(e.pgid, span)?;
        Ok(n)
    }

    /// Applies sorted `changes` (`None` = delete) to the committed node `node` and returns the
    /// nodes that replace it (none if it emptied, several if it split).
    ///
    /// The descent keeps its own stack of [`Frame`]s, one per branch on the path being
    /// rebuilt, instead of recursing: a tree at the depth limit needs a few kilobytes of heap,
    /// not 64 native frames (too much for a 256 KiB thread in a debug build).
    fn apply<'x, 'c>(
        &mut self,
        node: NodeView<'x>,
        changes: &'c [(&'x [u8], Option<LeafElem<'x>>)],
        fill: f64,
    ) -> Result<Vec<Node<'x>>>
    where
        's: 'x,
    {
        let snap: &'x Snapshot = self.snap;
        let own = self.own;
        let mut stack: Vec<Frame<'x, 'c>> = Vec::new();
        let mut done = self.enter(node, changes, fill, &mut stack)?;
        loop {
            if let Some(nodes) = done.take() {
                match stack.last_mut() {
                    None => return Ok(nodes),
                    Some(parent) => parent.children.extend(nodes.into_iter().map(Child::Built)),
                }
            }
            // The frame stays on the stack while its children are visited (moving it off and
            // back for each one cost a fifth of a small commit's instructions).
            let Some(f) = stack.last_mut() else { return Ok(Vec::new()) };
            let n = f.node.len();
            // Find the next child with changes; the ones before it are kept as they are.
            let mut below = None;
            while f.next < n {
                let i = f.next;
                f.next += 1;
                let e = f.node.branch_elem(i)?;
                let end = if f.ci == f.changes.len() {
                    f.ci
                } else if i + 1 < n {
                    let next = f.node.branch_elem(i + 1)?.key;
                    f.ci + count_before(&f.changes[f.ci..], next)
                } else {
                    f.changes.len()
                };
                if end == f.ci {
                    committed_ref(f.node.pgid, e.pgid, own)?;
                    f.children.push(Child::Existing(e));
                    continue;
                }
                let changes: &'c [(&'x [u8], Option<LeafElem<'x>>)] = f.changes;
                below = Some((e.pgid, &changes[f.ci..end]));
                f.ci = end;
                break;
            }
            match below {
                Some((child, changes)) => done = self.enter(snap.node(child)?, changes, fill, &mut stack)?,
                None => {
                    let Some(f) = stack.pop() else { return Ok(Vec::new()) };
                    done = Some(self.finish_branch(f.children, fill)?);
                }
            }
        }
    }

    /// Starts rebuilding `node` at depth `stack.len()`: frees it, and returns the rebuilt
    /// nodes of a leaf at once, or pushes a frame for a branch (`None`).
    fn enter<'x, 'c>(
        &mut self,
        node: NodeView<'x>,
        changes: &'c [(&'x [u8], Option<LeafElem<'x>>)],
        fill: f64,
        stack: &mut Vec<Frame<'x, 'c>>,
    ) -> Result<Option<Vec<Node<'x>>>> {
        if stack.len() > crate::limits::MAX_DEPTH {
            return Err(Error::corrupted(node.pgid, "tree deeper than 64 levels (cycle?)"));
        }
        self.stats.node_deref += 1;
        if node.pgid != 0 {
            let span = self.span_of(node.pgid)?;
            self.free(node.pgid, span)?;
        }
        if node.leaf {
            let out = merge_leaf(node, changes, self.own)?;
            return Ok(Some(self.split(Node::Leaf(out), fill)));
        }
        let children = Vec::with_capacity(node.len() + 2);
        stack.push(Frame { node, changes, next: 0, ci: 0, children });
        Ok(None)
    }

    /// Ends a branch whose children are all known: rebalances and repacks them, writes the
    /// rebuilt ones, and returns the branch nodes that replace it.
    fn finish_branch<'x>(&mut self, children: Vec<Child<'x>>, fill: f64) -> Result<Vec<Node<'x>>>
    where
        's: 'x,
    {
        let children = self.rebalance(children, fill)?;
        let children = self.pack(children, fill);
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

    /// Repacks each run of neighbouring rebuilt children of one kind when that saves pages:
    /// the run's elements are cut again as one node's would be ([`crate::commit::split`]), and the
    /// result is kept only if it has fewer parts and none larger than a page. All of them are
    /// written by this commit anyway, so this only saves pages (after deleting a third of the
    /// keys of every leaf, about a quarter of them). A split's parts are already packed this
    /// way, so a repack never undoes one.
    fn pack<'x>(&mut self, children: Vec<Child<'x>>, fill: f64) -> Vec<Child<'x>> {
        let mut out = Vec::with_capacity(children.len());
        let mut run: Vec<Node<'x>> = Vec::new();
        for c in children {
            match c {
                Child::Built(node) => {
                    if run.last().is_some_and(|last| last.is_leaf() != node.is_leaf()) {
                        self.repack(&mut run, &mut out, fill);
                    }
                    run.push(node);
                }
                existing => {
                    self.repack(&mut run, &mut out, fill);
                    out.push(existing);
                }
            }
        }
        self.repack(&mut run, &mut out, fill);
        out
    }

    /// Moves `run` (rebuilt neighbours of one kind) to `out`, repacked if that saves pages.
    fn repack<'x>(&mut self, run: &mut Vec<Node<'x>>, out: &mut Vec<Child<'x>>, fill: f64) {
        let len = run.len();
        let room =
            crate::commit::split::threshold(self.page_size, fill).saturating_sub(crate::format::page::PAGE_HEADER_SIZE);
        let data: usize = run.iter().map(|n| n.size() - crate::format::page::PAGE_HEADER_SIZE).sum();
        // Parts are packed to about `room` bytes: a run with more than `len - 1` of those
        // can't lose a page (the common case after a bulk build), so skip the work.
        if len >= 2 && data <= (len - 1) * room {
            let sizes: Vec<usize> = run.iter().flat_map(Node::elem_sizes).collect();
            let ranges = crate::commit::split::split_ranges(&sizes, self.page_size, fill);
            let fits = ranges.iter().all(|r| node_size(r.len(), sizes[r.clone()].iter().sum()) <= self.page_size);
            if ranges.len() < len && fits {
                match Node::concat(std::mem::take(run)) {
                    Ok(merged) => {
                        self.stats.rebalance += (len - ranges.len()) as u64;
                        out.extend(cut(merged, &ranges).into_iter().map(Child::Built));
                    }
                    Err(nodes) => out.extend(nodes.into_iter().map(Child::Built)),
                }
                return;
            }
        }
        out.extend(run.drain(..).map(Child::Built));
    }

    /// If page `id` (committed or written by this commit) is a branch with a single child,
    /// that child.
    fn single_child(&self, id: PageId) -> Result<Option<PageId>> {
        let view = match self.dirty.get(&id) {
            Some(d) => NodeView::new(&d.buf, id)?,
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
            Some(d) => NodeView::new(&d.buf, id)?,
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
        write_leaf(&mut buf, 0, 0, v.iter().copied())?;
        Ok(Some(buf))
    }

    fn page_count(&self, id: PageId) -> Result<u64> {
        match self.dirty.get(&id) {
            Some(d) => Ok(d.buf.len() as u64 / self.page_size as u64),
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
                    write_leaf(&mut buf, 0, 0, v.iter().copied())?;
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
                Change::Put(v) => changes.push((k, Some(LeafElem { flags: 0, key: k, value: b.value(*v) }))),
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
        self.building_root_bucket = id == 0;
        let level = match &b.origin {
            None => {
                let elems: Vec<LeafElem<'_>> = changes.into_iter().filter_map(|c| c.1).collect();
                self.split(Node::Leaf(elems), fill)
            }
            Some(Origin::Paged(root)) => {
                let snap: &'s Snapshot = self.snap;
                self.apply(snap.node(*root)?, &changes, fill)?
            }
            Some(Origin::Inline(bytes)) => {
                let node = NodeView::new(bytes, 0)?;
                if !node.leaf {
                    return Err(Error::corrupted(0, "inline bucket page is not a leaf"));
                }
                self.apply(node, &changes, fill)?
            }
        };
        let root = self.finish_root(level, id != 0, fill)?;
        let (root, inline) = match root {
            NewRoot::Paged(p) => (p, Vec::new()),
            NewRoot::Inline(page) => (0, page),
        };
        let header = crate::format::layout::BucketHeader { root: root.into(), sequence: b.sequence.into() };
        let mut value = Vec::with_capacity(BUCKET_HEADER_SIZE + inline.len());
        value.extend_from_slice(zerocopy::IntoBytes::as_bytes(&header));
        value.extend_from_slice(&inline);
        Ok(Some(value))
    }
}
