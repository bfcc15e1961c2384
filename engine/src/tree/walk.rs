//! The page walker: the one walk over a file's pages that the consistency check, bucket
//! statistics, the freelist rebuild and the `rivet` tool's page table are all built on.
//!
//! Why one: a checker of its own in each of them would drift apart, in what it checks and in
//! what it calls things. The walk reads pages through a [`PageSource`] (the engine's map, or a
//! file read with `pread` for files the engine refuses to open), checks what it reads, and
//! tells a [`Visitor`] what it found: each page it claims and in which role, each bucket, each
//! node, each page nothing reached, and each [`Problem`].
//!
//! What it visits, in order ([`Scope::File`]): the meta pages 0 and 1; the freelist page and its
//! overflow pages, with the ids it lists; then the bucket trees, depth first from the root
//! bucket's root page, each node before its children, leaf elements in order, a nested bucket's
//! tree where its element is met (an inline bucket's page image in place); last, every page in
//! `2..hwm` nothing claimed, free or not. Problems are reported where they are found, except
//! that a branch key differing from its child's first key is reported once the child's
//! subtree is done, and values in the root bucket once the trees are.
//!
//! How it stays within bounds on any file: the walk is iterative, its stack (on the heap) one
//! entry per tree level and nesting level on the path being walked, each limited to
//! `MAX_DEPTH` (64); and every page is claimed at most once, in a set sized by the pages reached
//! ([`PageSet`]): a page reached again is a problem (`multiple references`), never walked
//! twice, so the work is linear in the pages reached whatever the references do.

use std::borrow::Cow;

use crate::corruption::{Corruption, KeyMismatch, Problem};
use crate::error::{Error, PageId, Result};
use crate::format::bucket::{decode_bucket, DiskRoot};
use crate::format::meta::Meta;
use crate::format::page::{compare_keys, LeafElem, NodeView, PageHeader, BUCKET_LEAF_FLAG};
use crate::format::source::PageSource;
use crate::limits::MAX_DEPTH;
use crate::tree::freelist::read_freelist;
use crate::tree::pageset::PageSet;
pub use crate::tree::visitor::{BucketRoot, BucketStart, NodeInfo, Role, Visitor};

/// What to walk.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The whole file: metas, freelist, every tree from the meta's root, then the pages nothing
    /// reached (reported `unreachable unfreed` when the freelist does not list them).
    File,
    /// The metas and the trees from the meta's root, without the freelist, then every page
    /// nothing reached, as free: what a freelist is rebuilt from.
    Trees,
    /// The metas, the freelist, and the tree below one page, walked as a bucket's tree (bbolt's
    /// `check --from-page`); nothing is called unreachable.
    From(PageId),
    /// One bucket's tree and everything nested in it, alone (for its statistics).
    Bucket(DiskRoot<'a>),
}

/// A bucket on the path being walked.
struct Ctx {
    index: u32,
    nesting: usize,
    /// The last key met in its tree (keys must ascend across its leaves).
    last: Vec<u8>,
    has_last: bool,
    /// The root bucket of a whole-file walk (whose values are problems).
    root: bool,
}

/// A node on the path being walked: its bytes and the next element to look at.
struct Frame<'s> {
    bytes: Cow<'s, [u8]>,
    id: PageId,
    level: usize,
    next: usize,
    /// A problem found on entry, reported once the node's subtree is done.
    pending: Option<Problem>,
}

enum Item<'s> {
    Node(Frame<'s>),
    EndBucket,
}

enum Next<'s> {
    Done,
    Child(Frame<'s>),
    Bucket(Option<Frame<'s>>),
}

struct Walker<'s, 'v, S: ?Sized, V> {
    src: &'s S,
    v: &'v mut V,
    hwm: PageId,
    claimed: PageSet,
    free: PageSet,
    buckets: Vec<Ctx>,
    next_bucket: u32,
    /// Whether the visitor wants content checked ([`Visitor::checks_content`]).
    content: bool,
    /// Values met in the root bucket, reported after the trees (`Scope::File` only).
    root_values: Option<Vec<Problem>>,
}

/// Walks `scope` of the file `meta` describes, reading pages from `src` and telling `visitor`
/// what it finds.
///
/// # Errors
/// [`Error::Io`] from the source, or the error a visitor's [`Visitor::problem`] returns;
/// damage is reported to the visitor as problems, not returned.
///
/// # Example
/// ```
/// # fn main() -> Result<(), rivet_engine::Error> {
/// # let dir = std::env::temp_dir().join(format!("rivet-doc-walk-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// use rivet_engine::io::raw::{read_metas, RawFile};
/// use rivet_engine::tree::walk::{walk, Role, Scope, Visitor};
/// use rivet_engine::{Options, PageId, Problem, DB};
///
/// #[derive(Default)]
/// struct Census { nodes: usize, problems: Vec<Problem> }
/// impl Visitor for Census {
///     fn page(&mut self, _: PageId, role: Role) {
///         self.nodes += usize::from(matches!(role, Role::Node { .. }));
///     }
///     fn problem(&mut self, p: Problem) -> rivet_engine::Result<()> {
///         self.problems.push(p);
///         Ok(())
///     }
/// }
///
/// let path = dir.join("walk.db");
/// DB::open(&path, Options::default())?.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?;
/// // Read the file page by page, as a tool does with a file the engine cannot open.
/// let file = std::fs::File::open(&path).unwrap();
/// let len = file.metadata().unwrap().len();
/// let metas = read_metas(&file, &path, len, &[4096])?;
/// let meta = *metas.active_meta().expect("a valid meta");
/// let raw = RawFile::new(file, &path, metas.page_size)?;
/// let mut census = Census::default();
/// walk(&raw, &meta, Scope::File, &mut census)?;
/// assert_eq!((census.nodes, census.problems.len()), (1, 0)); // the root leaf; `b` is inline
/// # Ok(()) }
/// ```
pub fn walk<S, V>(src: &S, meta: &Meta, scope: Scope<'_>, visitor: &mut V) -> Result<()>
where
    S: PageSource + ?Sized,
    V: Visitor,
{
    let content = visitor.checks_content();
    let mut w = Walker {
        src,
        content,
        v: visitor,
        hwm: meta.pgid,
        claimed: PageSet::new(),
        free: PageSet::new(),
        buckets: Vec::new(),
        next_bucket: 0,
        root_values: None,
    };
    match scope {
        Scope::File => {
            w.metas();
            let known = w.freelist(meta)?;
            for (first, count) in src.freed_since_checkpoint() {
                for id in first..first.saturating_add(count) {
                    w.free.insert(id);
                }
            }
            w.root_values = Some(Vec::new());
            w.tree(meta.root, 0, true)?;
            for p in w.root_values.take().unwrap_or_default() {
                w.report(p)?;
            }
            w.unreached(known)
        }
        Scope::Trees => {
            w.metas();
            w.tree(meta.root, 0, false)?;
            w.unreached(Some(true))
        }
        Scope::From(page) => {
            w.metas();
            w.freelist(meta)?;
            w.tree(page, 0, false)
        }
        Scope::Bucket(DiskRoot::Paged(root)) => w.tree(root, 0, false),
        Scope::Bucket(DiskRoot::Inline(bytes)) => {
            w.open_bucket(b"", 0, BucketRoot::Inline { holder: 0, len: bytes.len() }, false);
            w.inline(0, None, bytes)?;
            w.buckets.pop();
            Ok(())
        }
    }
}

/// Whether the freelist's free set is known: `Some(true)` if no freelist is stored (every page
/// not reached is free), `Some(false)` if it was read, `None` if it could not be.
type FreeKnown = Option<bool>;

impl<'s, S: PageSource + ?Sized, V: Visitor> Walker<'s, '_, S, V> {
    fn report(&mut self, p: Problem) -> Result<()> {
        self.v.problem(p)
    }

    /// Reports an error met reading page `id`; I/O errors stop the walk.
    fn report_err(&mut self, e: Error, id: PageId) -> Result<()> {
        match e {
            Error::Corrupted { page, reason } => self.report(Problem::new(page, reason)),
            Error::Io { .. } => Err(e),
            other => self.report(Problem::new(id, Corruption::Other(other.to_string()))),
        }
    }

    fn metas(&mut self) {
        for id in 0..2 {
            self.claimed.insert(id);
            self.v.page(id, Role::Meta);
        }
    }

    fn freelist(&mut self, meta: &Meta) -> Result<FreeKnown> {
        let fl = match read_freelist(self.src, meta) {
            Ok(Some(fl)) => fl,
            Ok(None) => return Ok(Some(true)),
            Err(Error::Corrupted { page, reason }) => {
                self.report(Problem::new(page, Corruption::FreelistUnreadable(Box::new(reason))))?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        for &id in &fl.ids {
            if id < 2 || id >= self.hwm {
                self.report(Problem::new(id, Corruption::FreeIdOutOfBounds { hwm: self.hwm }))?;
            } else if !self.free.insert(id) {
                self.report(Problem::new(id, Corruption::FreedTwice))?;
            }
        }
        let overflow = u32::try_from(fl.span - 1).unwrap_or(u32::MAX);
        for p in fl.page..fl.page + fl.span {
            self.claimed.insert(p);
            let role = if p == fl.page {
                Role::Freelist { ids: fl.ids.len(), overflow }
            } else {
                Role::Overflow { of: fl.page, bucket: None }
            };
            self.v.page(p, role);
            if self.free.contains(p) {
                self.report(Problem::new(p, Corruption::FreelistListsItself))?;
            }
        }
        Ok(Some(false))
    }

    /// Tells the visitor of every page in `2..hwm` nothing claimed; reports those not free as
    /// `unreachable unfreed`, one problem per run of consecutive pages.
    fn unreached(&mut self, known: FreeKnown) -> Result<()> {
        const BATCH: u64 = 4096;
        let present = self.hwm.min(self.src.page_count());
        let mut from = 2;
        // The run of unreachable unfreed pages being collected: its first page and length.
        let mut run: Option<(PageId, u64)> = None;
        while from < present {
            let to = present.min(from.saturating_add(BATCH));
            let batch: Vec<PageId> = self.claimed.missing(from, to).collect();
            for id in batch {
                let free = known == Some(true) || self.free.contains(id);
                self.v.unreached(id, free);
                if !free && known.is_some() {
                    run = match run {
                        Some((first, n)) if first + n == id => Some((first, n + 1)),
                        other => {
                            self.report_run(other)?;
                            Some((id, 1))
                        }
                    };
                }
            }
            from = to;
        }
        self.report_run(run)
    }

    /// Reports a run of unreachable unfreed pages: a single page as today, a longer run as one
    /// problem naming its range.
    fn report_run(&mut self, run: Option<(PageId, u64)>) -> Result<()> {
        match run {
            None => Ok(()),
            Some((id, 1)) => self.report(Problem::new(id, Corruption::UnreachableUnfreed)),
            Some((id, count)) => self.report(Problem::new(id, Corruption::UnreachableUnfreedRun { count })),
        }
    }

    /// Starts bucket `name` at `nesting` (in the bucket on top of the path) and returns its
    /// number.
    fn open_bucket(&mut self, name: &[u8], nesting: usize, root: BucketRoot, is_root: bool) -> u32 {
        let index = self.next_bucket;
        self.next_bucket += 1;
        let parent = self.buckets.last().map(|c| c.index);
        self.v.bucket(&BucketStart { index, parent, name, nesting, root });
        self.buckets.push(Ctx { index, nesting, last: Vec::new(), has_last: false, root: is_root });
        index
    }

    /// Walks the bucket tree below `root` (bucket 0 of the walk) to the end.
    fn tree(&mut self, root: PageId, nesting: usize, is_root: bool) -> Result<()> {
        self.open_bucket(b"", nesting, BucketRoot::Paged(root), is_root);
        let mut stack: Vec<Item<'s>> = vec![Item::EndBucket];
        if let Some(f) = self.enter(root, 1, None)? {
            stack.push(Item::Node(f));
        }
        while let Some(item) = stack.pop() {
            let mut f = match item {
                Item::EndBucket => {
                    self.buckets.pop();
                    continue;
                }
                Item::Node(f) => f,
            };
            match self.step(&mut f)? {
                Next::Done => {
                    if let Some(p) = f.pending.take() {
                        self.report(p)?;
                    }
                }
                Next::Child(child) => {
                    stack.push(Item::Node(f));
                    stack.push(Item::Node(child));
                }
                Next::Bucket(root) => {
                    stack.push(Item::Node(f));
                    stack.push(Item::EndBucket);
                    stack.extend(root.map(Item::Node));
                }
            }
        }
        Ok(())
    }

    /// Reaches page `id` at tree `level` of the bucket on top of the path, below element key
    /// `parent` of page `parent.0`: claims it and its overflow pages and reads it. `None` if
    /// it is not to be walked (a problem was reported).
    fn enter(&mut self, id: PageId, level: usize, parent: Option<(PageId, &[u8])>) -> Result<Option<Frame<'s>>> {
        let bucket = self.buckets.last().map_or(0, |c| c.index);
        if level > MAX_DEPTH {
            self.report(Problem::new(id, Corruption::TreeTooDeep))?;
            return Ok(None);
        }
        let provisional = id >= crate::limits::PROVISIONAL && self.src.holds_provisional();
        if (id < 2 || id >= self.hwm) && !provisional {
            self.report(Problem::new(id, Corruption::OutOfBounds { hwm: self.hwm }))?;
            return Ok(None);
        }
        if !self.claimed.insert(id) {
            self.report(Problem::new(id, Corruption::ReachedTwice { overflow_of: None }))?;
            return Ok(None);
        }
        self.v.page(id, Role::Node { bucket });
        let (bytes, h) = match self.read(id)? {
            Some(r) => r,
            None => return Ok(None),
        };
        let span = bytes.len() as u64 / self.src.page_size();
        for p in id..id + span {
            if self.free.contains(p) {
                self.report(Problem::new(p, Corruption::ReachableFreed { overflow_of: (p != id).then_some(id) }))?;
            }
        }
        for p in id + 1..id + span {
            if self.claimed.insert(p) {
                self.v.page(p, Role::Overflow { of: id, bucket: Some(bucket) });
            } else {
                self.report(Problem::new(p, Corruption::ReachedTwice { overflow_of: Some(id) }))?;
            }
        }
        let node = match NodeView::new(&bytes, id) {
            Ok(n) => n,
            Err(e) => {
                self.report_err(e, id)?;
                return Ok(None);
            }
        };
        // (An element outside the node is reported where the walk meets it.)
        if let Err(Error::Corrupted { page, reason: reason @ Corruption::DataOverlap { .. } }) = node.check_data() {
            self.report(Problem::new(page, reason))?;
        }
        let info =
            NodeInfo { page: id, bucket, level, inline: false, view: node, bytes: bytes.len(), overflow: h.overflow };
        self.v.node(&info);
        if !node.leaf && node.is_empty() {
            self.report(Problem::new(id, Corruption::EmptyBranch))?;
            return Ok(None);
        }
        let pending = match (parent, node.key(0)) {
            (Some((from, key)), Ok(first)) if self.content && first != key => Some(Problem::new(
                from,
                Corruption::BranchKeyMismatch(Box::new(KeyMismatch {
                    key: key.to_vec(),
                    first: first.to_vec(),
                    child: id,
                })),
            )),
            _ => None,
        };
        Ok(Some(Frame { bytes, id, level, next: 0, pending }))
    }

    /// Page `id` with its overflow pages, and its header, checked against its position and the
    /// high-water mark. `None` if it cannot be read (a problem was reported).
    fn read(&mut self, id: PageId) -> Result<Option<(Cow<'s, [u8]>, PageHeader)>> {
        let first = match self.src.pages(id, 1) {
            Ok(b) => b,
            Err(e) => return self.report_err(e, id).map(|()| None),
        };
        let h = match PageHeader::read(&first, id) {
            Ok(h) => h,
            Err(e) => return self.report_err(e, id).map(|()| None),
        };
        if h.id != id {
            self.report(Problem::new(id, Corruption::IdMismatch { found: h.id }))?;
            return Ok(None);
        }
        if h.overflow == 0 {
            return Ok(Some((first, h)));
        }
        let span = 1 + u64::from(h.overflow);
        if id.saturating_add(span) > self.hwm && id < crate::limits::PROVISIONAL {
            self.report(Problem::new(id, Corruption::OverflowPastHwm { overflow: h.overflow }))?;
            return Ok(None);
        }
        match self.src.pages(id, span) {
            Ok(b) => Ok(Some((b, h))),
            Err(e) => self.report_err(e, id).map(|()| None),
        }
    }

    /// Goes on with node `f` from its next element: checks elements up to the next child page
    /// or paged sub-bucket to walk (returned), or to the end.
    fn step(&mut self, f: &mut Frame<'s>) -> Result<Next<'s>> {
        let node = match NodeView::new(&f.bytes, f.id) {
            Ok(n) => n,
            Err(e) => return self.report_err(e, f.id).map(|()| Next::Done),
        };
        if node.leaf {
            return self.leaf(f.id, &mut f.next, node);
        }
        while f.next < node.len() {
            let i = f.next;
            f.next += 1;
            let e = match node.branch_elem(i) {
                Ok(e) => e,
                Err(e) => return self.report_err(e, f.id).map(|()| Next::Done),
            };
            if self.content && i > 0 && node.key(i - 1).is_ok_and(|prev| compare_keys(prev, e.key).is_ge()) {
                self.report(Problem::new(f.id, Corruption::BranchKeysOutOfOrder { element: i }))?;
            }
            if let Some(child) = self.enter(e.pgid, f.level + 1, Some((f.id, e.key)))? {
                return Ok(Next::Child(child));
            }
        }
        Ok(Next::Done)
    }

    /// [`Walker::step`] for a leaf: checks its elements in order from the next one; a paged
    /// sub-bucket met is returned to be walked, an inline one is checked in place. Keys are
    /// compared within the node as slices of it; the last one is kept in the bucket's context
    /// only when the node is left (for the next leaf of the bucket).
    fn leaf(&mut self, id: PageId, next: &mut usize, node: NodeView<'_>) -> Result<Next<'s>> {
        let mut prev: Option<&[u8]> = None;
        let step = self.leaf_elements(id, next, node, &mut prev);
        if let Some(key) = prev {
            self.remember(key);
        }
        step
    }

    fn leaf_elements<'n>(
        &mut self,
        id: PageId,
        next: &mut usize,
        node: NodeView<'n>,
        prev: &mut Option<&'n [u8]>,
    ) -> Result<Next<'s>> {
        while *next < node.len() {
            let i = *next;
            *next += 1;
            let e = match node.leaf_elem(i) {
                Ok(e) => e,
                Err(e) => return self.report_err(e, id).map(|()| Next::Done),
            };
            if self.content {
                self.content_of(id, i, e, prev)?;
            }
            if !e.is_bucket() {
                continue;
            }
            let Some(ctx) = self.buckets.last() else { return Ok(Next::Done) };
            let nesting = ctx.nesting + 1;
            let b = match decode_bucket(e.value, id) {
                Ok(b) => b,
                Err(Error::Corrupted { reason, .. }) => {
                    self.report(Problem::new(id, Corruption::Element { index: i, reason: Box::new(reason) }))?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if nesting > MAX_DEPTH {
                self.report(Problem::new(id, Corruption::NestingTooDeep))?;
                continue;
            }
            match b.root {
                DiskRoot::Inline(bytes) => {
                    self.open_bucket(e.key, nesting, BucketRoot::Inline { holder: id, len: bytes.len() }, false);
                    self.inline(id, Some(i), bytes)?;
                    self.buckets.pop();
                }
                DiskRoot::Paged(root) => {
                    // The bucket's own key order goes on after its tree is walked.
                    self.remember(e.key);
                    *prev = None;
                    self.open_bucket(e.key, nesting, BucketRoot::Paged(root), false);
                    return Ok(Next::Bucket(self.enter(root, 1, None)?));
                }
            }
        }
        Ok(Next::Done)
    }

    /// The content checks of leaf element `i` of page `id`: a key, not empty, greater than the
    /// one before it in the bucket (`prev` in this node, else the bucket's last), known flags, and
    /// in the root bucket of a whole-file walk only buckets.
    #[inline]
    fn content_of<'n>(&mut self, id: PageId, i: usize, e: LeafElem<'n>, prev: &mut Option<&'n [u8]>) -> Result<()> {
        if e.key.is_empty() {
            self.report(Problem::new(id, Corruption::EmptyKey { element: i }))?;
        }
        let unordered = match *prev {
            Some(p) => compare_keys(p, e.key).is_ge(),
            None => self.buckets.last().is_some_and(|c| c.has_last && compare_keys(&c.last, e.key).is_ge()),
        };
        *prev = Some(e.key);
        if unordered {
            self.report(Problem::new(id, Corruption::KeysOutOfOrder { element: i }))?;
        }
        if e.flags & !BUCKET_LEAF_FLAG != 0 {
            self.report(Problem::new(id, Corruption::UnknownFlags { element: i, flags: e.flags }))?;
        }
        if !e.is_bucket() && self.buckets.last().is_some_and(|c| c.root) {
            let p = Problem::new(id, Corruption::RootHoldsValue { key: e.key.to_vec() });
            self.root_values.get_or_insert_with(Vec::new).push(p);
        }
        Ok(())
    }

    /// Keeps `key` as the last key met in the bucket on top of the path.
    fn remember(&mut self, key: &[u8]) {
        if let Some(ctx) = self.buckets.last_mut() {
            ctx.last.clear();
            ctx.last.extend_from_slice(key);
            ctx.has_last = true;
        }
    }

    /// Checks the page image of an inline bucket held by element `element` of page `holder`
    /// (the bucket itself when `element` is `None`): one leaf, keys ascending, no sub-buckets.
    fn inline(&mut self, holder: PageId, element: Option<usize>, bytes: &[u8]) -> Result<()> {
        let at = |kind: Corruption| {
            let kind = match element {
                Some(index) => Corruption::Element { index, reason: Box::new(kind) },
                None => kind,
            };
            Problem::new(holder, kind)
        };
        let damaged = |e: Error| match e {
            Error::Corrupted { reason, .. } => Corruption::InlineDamaged(Box::new(reason)),
            other => Corruption::InlineDamaged(Box::new(Corruption::Other(other.to_string()))),
        };
        let node = match NodeView::new(bytes, holder) {
            Ok(n) => n,
            Err(e) => return self.report(at(damaged(e))),
        };
        let bucket = self.buckets.last().map_or(0, |c| c.index);
        let info =
            NodeInfo { page: holder, bucket, level: 1, inline: true, view: node, bytes: bytes.len(), overflow: 0 };
        self.v.node(&info);
        if !self.content {
            return Ok(());
        }
        if !node.leaf {
            return self.report(at(Corruption::InlineNotLeaf));
        }
        let mut last: Option<&[u8]> = None;
        for j in 0..node.len() {
            let e = match node.leaf_elem(j) {
                Ok(e) => e,
                Err(e) => return self.report(at(damaged(e))),
            };
            if e.is_bucket() {
                self.report(at(Corruption::InlineHoldsBucket))?;
            }
            if e.key.is_empty() || last.is_some_and(|l| compare_keys(l, e.key).is_ge()) {
                self.report(at(Corruption::InlineKeysOutOfOrder))?;
            }
            last = Some(e.key);
        }
        Ok(())
    }
}
