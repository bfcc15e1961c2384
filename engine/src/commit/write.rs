//! The state of a write transaction and its operations on buckets.
//!
//! Nothing here touches the file: puts, deletes and bucket operations only record changes in
//! the touched buckets' overlays (module `view`). Pages of deleted buckets are put on this
//! transaction's pending list at once; a rollback takes them off again.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use crate::commit::view::{root_page, BucketId, BucketW, Change, DiskMemo, Item, Origin, OverlayKey, Src, View};
use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result, TxId};
use crate::format::bucket::{decode_bucket, DiskRoot};
use crate::format::freelist::Freelist;
use crate::format::meta::{Meta, NO_FREELIST};
use crate::format::oplog::OpLog;
use crate::format::page::{LeafElem, BUCKET_LEAF_FLAG};
use crate::limits::{MAX_KEY_SIZE, MAX_NESTING, MAX_VALUE_SIZE};
use crate::tree::pageset::PageSet;
use crate::tree::snapshot::Snapshot;

/// What only the single writer owns between transactions.
#[derive(Debug)]
pub(crate) struct Writer {
    pub freelist: Freelist,
    /// The file length as last set or observed.
    pub file_size: u64,
    /// The high-water mark of the meta page not in charge (the commit before the last one),
    /// 0 if that page is not valid. A commit can lower the mark (a free run at the end of the
    /// file leaves it), so this one may be higher; the file is never cut below it, since an
    /// open that finds the newer meta damaged falls back to this one.
    pub older_hwm: PageId,
    /// Pages freed by transactions after this txid are never released: with the journal, the
    /// last checkpoint's (its pages must survive until the next checkpoint is durable, as a
    /// crash would reopen at it); `TxId::MAX` without.
    pub release_cap: TxId,
    /// The newest committed version while it is not published yet (a journaled commit waiting
    /// for the sync it shares with others): the next write transaction starts from it.
    pub newest: Option<(Meta, Option<std::sync::Arc<crate::tree::generation::Generation>>)>,
    /// Whether the committed trees were walked before this handle's first write
    /// ([`crate::tree::verify`]), and what that found.
    pub verified: Verified,
}

impl Writer {
    /// The writer's state for the snapshot `snap` of a file of `len` bytes: its freelist, read from
    /// the file or rebuilt from the trees when the file stores none.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if the stored freelist cannot be read, or the trees a rebuild walks are
    /// damaged.
    pub(crate) fn load(snap: &Snapshot, len: u64, older_hwm: PageId) -> Result<Writer> {
        let meta = &snap.meta;
        // A freelist rebuilt from the trees walked them already, refusing any damage (pages
        // reached twice included): the walk before the first write is not needed again.
        let mut verified = Verified::Pending;
        let freelist = if meta.freelist == NO_FREELIST {
            verified = Verified::Sound;
            Freelist::from_runs(crate::tree::check::unreachable_runs(snap)?)
        } else {
            let bytes = snap.freelist_bytes()?;
            // Ids outside 2..hwm (which Go neither writes on purpose nor checks) are ignored:
            // those pages are not part of the database, so they must never be handed out.
            let ids = Freelist::decode_ids(bytes, meta.freelist)?;
            Freelist::from_ids(ids.into_iter().filter(|&id| id >= 2 && id < meta.pgid).collect())
        };
        Ok(Writer { freelist, file_size: len, older_hwm, release_cap: TxId::MAX, newest: None, verified })
    }
}

/// The outcome of the reachability walk before a handle's first write.
#[derive(Debug, Clone)]
pub(crate) enum Verified {
    /// Not walked yet.
    Pending,
    /// Walked (or known sound: a freelist rebuilt at open walked the same trees); nothing
    /// shared.
    Sound,
    /// A page reached twice, or reachable and free: every write of the handle fails so.
    Failed(crate::error::PageId, crate::corruption::Corruption),
}

/// A write transaction's working state.
pub struct WriteTx {
    pub(crate) snap: Snapshot,
    pub(crate) arena: Vec<BucketW>,
    pub(crate) writer: Writer,
    pub(crate) txid: TxId,
    pub(crate) relocated: Vec<bool>,
    /// Nesting level of each arena bucket (the root is 0).
    pub(crate) depth: Vec<usize>,
    pub(crate) on_commit: Vec<Box<dyn FnOnce() + Send>>,
    /// With the journal: every change this transaction made, in order (the record its commit
    /// appends). `None` without the journal, and while a record is replayed.
    pub(crate) log: Option<OpLog>,
    /// Nodes of the journal's generation (provisional ids) that deleted buckets owned: they
    /// leave the generation's live set when this transaction commits.
    pub(crate) freed_nodes: Vec<PageId>,
    /// Pages of the file that deleted buckets owned, as (first, count).
    pub(crate) freed_pages: Vec<(PageId, u64)>,
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").field("txid", &self.txid).field("buckets", &self.arena.len()).finish()
    }
}

pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::KeyRequired);
    }
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::KeyTooLarge { size: key.len() });
    }
    Ok(())
}

impl WriteTx {
    pub(crate) fn new(snap: Snapshot, writer: Writer) -> Self {
        // `begin` refuses a snapshot at u64::MAX, so this cannot wrap.
        let txid = snap.meta.txid.saturating_add(1);
        let root = BucketW::new(Some(Origin::Paged(snap.meta.root)), snap.meta.root_sequence);
        WriteTx {
            snap,
            arena: vec![root],
            writer,
            txid,
            relocated: vec![false],
            depth: vec![0],
            on_commit: Vec::new(),
            log: None,
            freed_nodes: Vec::new(),
            freed_pages: Vec::new(),
        }
    }

    pub(crate) fn view(&self) -> View<'_> {
        View { snap: &self.snap, arena: &self.arena }
    }

    /// What `key` holds in bucket `id`: `Some(true)` a bucket, `Some(false)` a value.
    fn kind(&self, id: BucketId, key: &[u8]) -> Result<Option<bool>> {
        Ok(self.view().get(Src::Write(&self.arena[id]), key)?.map(|i| matches!(i, Item::Bucket(_))))
    }

    pub(crate) fn put(&mut self, id: BucketId, key: &[u8], value: &[u8]) -> Result<()> {
        if id == 0 {
            // bbolt's API cannot put plain keys into the root bucket, and Go's tools reject them.
            return Err(Error::IncompatibleValue { found: "root bucket", wanted: "bucket" });
        }
        check_key(key)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(Error::ValueTooLarge { size: value.len() });
        }
        // One walk of the overlay: a key already changed in this transaction is decided there;
        // only a key new to the overlay asks the committed tree whether it names a bucket.
        let WriteTx { snap, arena, .. } = self;
        let (overlay, values, root, memo) = arena[id].parts_mut();
        let r = match overlay.entry(OverlayKey::from_slice(key)) {
            Entry::Occupied(mut o) => match o.get_mut() {
                Change::Bucket(_) => Err(Error::IncompatibleValue { found: "bucket", wanted: "value" }),
                c @ (Change::Put(_) | Change::Delete) => {
                    let old = if let Change::Put(v) = c { Some(*v) } else { None };
                    *c = Change::Put(values.store(old, value));
                    Ok(())
                }
            },
            Entry::Vacant(slot) => {
                if let Some(flags) = committed_flags(snap, root, memo, slot.key())? {
                    if flags & BUCKET_LEAF_FLAG != 0 {
                        return Err(Error::IncompatibleValue { found: "bucket", wanted: "value" });
                    }
                }
                slot.insert(Change::Put(values.store(None, value)));
                Ok(())
            }
        };
        arena[id].compact_values();
        if let (Ok(()), Some(log)) = (&r, &mut self.log) {
            log.put(id, key, value);
        }
        r
    }

    pub(crate) fn delete(&mut self, id: BucketId, key: &[u8]) -> Result<()> {
        // One walk of the overlay, as in `put`.
        let WriteTx { snap, arena, .. } = self;
        let (overlay, values, root, memo) = arena[id].parts_mut();
        let r = match overlay.entry(OverlayKey::from_slice(key)) {
            Entry::Occupied(mut o) => match *o.get() {
                Change::Bucket(_) => Err(Error::IncompatibleValue { found: "bucket", wanted: "value" }),
                Change::Put(old) => {
                    o.insert(Change::Delete);
                    values.release(old);
                    Ok(())
                }
                Change::Delete => Ok(()),
            },
            Entry::Vacant(slot) => match committed_flags(snap, root, memo, slot.key())? {
                None => Ok(()),
                Some(flags) if flags & BUCKET_LEAF_FLAG != 0 => {
                    Err(Error::IncompatibleValue { found: "bucket", wanted: "value" })
                }
                Some(_) => {
                    slot.insert(Change::Delete);
                    Ok(())
                }
            },
        };
        arena[id].compact_values();
        if let (Ok(()), Some(log)) = (&r, &mut self.log) {
            log.delete(id, key);
        }
        r
    }

    pub(crate) fn set_sequence(&mut self, id: BucketId, value: u64) -> Result<()> {
        let b = &mut self.arena[id];
        b.sequence = value;
        b.sequence_dirty = true;
        if let Some(log) = &mut self.log {
            log.set_sequence(id, value);
        }
        Ok(())
    }

    /// The arena index of the nested bucket `name` of `id`, materialising it if needed.
    pub(crate) fn child(&mut self, id: BucketId, name: &[u8]) -> Result<BucketId> {
        let fresh = {
            let b = &self.arena[id];
            match b.overlay.get(name) {
                Some(Change::Bucket(cid)) => return Ok(*cid),
                Some(Change::Put(_)) => return Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
                Some(Change::Delete) => return Err(Error::BucketNotFound),
                None => {}
            }
            let Some(root) = b.disk_root() else {
                return Err(Error::BucketNotFound);
            };
            match self.snap.get(root, name)? {
                None => return Err(Error::BucketNotFound),
                Some((flags, value)) => {
                    let e = LeafElem { flags, key: name, value };
                    if !e.is_bucket() {
                        return Err(Error::IncompatibleValue { found: "value", wanted: "bucket" });
                    }
                    BucketW::from_disk(&decode_bucket(value, root_page(root))?)
                }
            }
        };
        let cid = self.attach(id, name, fresh);
        // Logged even when the operation that needed it fails later (a refused move): the
        // materialisation stays, and with it the ids handed out after it.
        if let Some(log) = &mut self.log {
            log.child(id, name, cid);
        }
        Ok(cid)
    }

    fn attach(&mut self, parent: BucketId, name: &[u8], b: BucketW) -> BucketId {
        let cid = self.arena.len();
        self.arena.push(b);
        self.relocated.push(false);
        self.depth.push(self.depth[parent] + 1);
        self.arena[parent].overlay.insert(OverlayKey::from_slice(name), Change::Bucket(cid));
        cid
    }

    pub(crate) fn create_child(&mut self, id: BucketId, name: &[u8], if_missing: bool) -> Result<BucketId> {
        if name.is_empty() {
            return Err(Error::BucketNameRequired);
        }
        check_key(name)?;
        match self.kind(id, name)? {
            Some(true) if if_missing => self.child(id, name),
            Some(true) => Err(Error::BucketExists),
            Some(false) => Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
            None if self.depth[id] + 1 > MAX_NESTING => Err(Error::NestingTooDeep { max: MAX_NESTING }),
            None => {
                let cid = self.attach(id, name, BucketW::new(None, 0));
                if let Some(log) = &mut self.log {
                    log.create_child(id, name, if_missing, cid);
                }
                Ok(cid)
            }
        }
    }

    pub(crate) fn delete_child(&mut self, id: BucketId, name: &[u8]) -> Result<()> {
        if name.is_empty() {
            return Err(Error::BucketNameRequired);
        }
        let pages = {
            let view = self.view();
            let src = match view.get(Src::Write(&self.arena[id]), name)? {
                Some(Item::Bucket(src)) => src,
                Some(Item::Value(_)) => return Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
                None => return Err(Error::BucketNotFound),
            };
            let mut pages = Vec::new();
            collect_bucket_pages(&view, src, &mut pages, &mut PageSet::new(), 0)?;
            pages
        };
        for (p, n) in pages {
            if p >= crate::limits::PROVISIONAL {
                self.freed_nodes.push(p);
            } else {
                self.writer.freelist.free(self.txid, p, n);
                self.freed_pages.push((p, n));
            }
        }
        self.arena[id].overlay.insert(OverlayKey::from_slice(name), Change::Delete);
        if let Some(log) = &mut self.log {
            log.delete_child(id, name);
        }
        Ok(())
    }

    /// Moves the nested bucket `name` of `src` to `dst` (bbolt 1.4's `MoveBucket`).
    pub(crate) fn move_child(&mut self, src: BucketId, name: &[u8], dst: BucketId) -> Result<()> {
        let cid = self.child(src, name)?;
        if src == dst {
            return Err(Error::InvalidMove("source and destination are the same bucket".into()));
        }
        if self.is_ancestor(cid, dst) {
            return Err(Error::InvalidMove("cannot move a bucket into itself or its descendants".into()));
        }
        if self.depth[dst] + 1 > MAX_NESTING {
            return Err(Error::NestingTooDeep { max: MAX_NESTING });
        }
        match self.kind(dst, name)? {
            Some(true) => return Err(Error::BucketExists),
            Some(false) => return Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
            None => {}
        }
        self.arena[src].overlay.insert(OverlayKey::from_slice(name), Change::Delete);
        self.arena[dst].overlay.insert(OverlayKey::from_slice(name), Change::Bucket(cid));
        self.relocated[cid] = true;
        self.depth[cid] = self.depth[dst] + 1;
        if let Some(log) = &mut self.log {
            log.move_child(src, name, dst);
        }
        Ok(())
    }

    /// Whether `target` is `root` or reachable from it through attached buckets.
    fn is_ancestor(&self, root: BucketId, target: BucketId) -> bool {
        if root == target {
            return true;
        }
        self.arena[root].overlay.values().any(|c| matches!(c, Change::Bucket(c) if self.is_ancestor(*c, target)))
    }
}

/// Every page a bucket currently owns (its tree, and the trees of its nested buckets), as
/// `(first page, page count)` runs. `seen` holds the pages collected so far (over all the
/// buckets of the call): a page met again, shared by two buckets or reached through a cycle,
/// is [`Corruption::ReachedTwice`], so the work is linear in the pages and nothing is freed
/// twice. Iterative: the buckets still to collect and the pages still to visit are on stacks
/// on the heap, nesting and tree levels limited to `MAX_DEPTH`.
pub(crate) fn collect_bucket_pages(
    view: &View<'_>,
    src: Src<'_>,
    out: &mut Vec<(PageId, u64)>,
    seen: &mut PageSet,
    depth: usize,
) -> Result<()> {
    let mut buckets: Vec<(Src<'_>, usize)> = vec![(src, depth)];
    while let Some((src, depth)) = buckets.pop() {
        if depth > crate::limits::MAX_DEPTH {
            return Err(Error::corrupted(0, Corruption::NestingTooDeep));
        }
        let (root, overlay): (Option<DiskRoot<'_>>, Option<&BTreeMap<OverlayKey, Change>>) = match src {
            Src::Disk(d) => (Some(d.root), None),
            Src::Write(w) => (w.disk_root(), Some(&w.overlay)),
        };
        if let Some(root) = root {
            collect_tree(view, root, overlay, out, seen, &mut buckets, depth)?;
        }
        for c in overlay.into_iter().flat_map(|ov| ov.values()) {
            if let Change::Bucket(cid) = c {
                if let Some(b) = view.arena.get(*cid) {
                    buckets.push((Src::Write(b), depth + 1));
                }
            }
        }
    }
    Ok(())
}

/// Pages of one committed tree; the nested buckets its leaves hold (those the overlay does not
/// override) go on `buckets`, one nesting level below `depth`.
fn collect_tree<'v>(
    view: &View<'v>,
    root: DiskRoot<'v>,
    overlay: Option<&BTreeMap<OverlayKey, Change>>,
    out: &mut Vec<(PageId, u64)>,
    seen: &mut PageSet,
    buckets: &mut Vec<(Src<'v>, usize)>,
    depth: usize,
) -> Result<()> {
    let twice = |id| Error::corrupted(id, Corruption::ReachedTwice { overflow_of: None });
    let mut stack: Vec<(crate::format::page::NodeView<'v>, usize)> = Vec::new();
    if let DiskRoot::Paged(id) = root {
        if !seen.insert(id) {
            return Err(twice(id));
        }
        out.push((id, view.snap.page_span(id)?));
    }
    stack.push((view.snap.root_node(root)?, 0));
    while let Some((node, level)) = stack.pop() {
        if level > crate::limits::MAX_DEPTH {
            return Err(Error::corrupted(node.pgid, Corruption::TreeTooDeep));
        }
        if node.leaf {
            for i in 0..node.len() {
                let e = node.leaf_elem(i)?;
                if e.is_bucket() && overlay.is_none_or(|o| !o.contains_key(e.key)) {
                    buckets.push((Src::Disk(decode_bucket(e.value, node.pgid)?), depth + 1));
                }
            }
            continue;
        }
        for i in 0..node.len() {
            let id = node.branch_elem(i)?.pgid;
            if !seen.insert(id) {
                return Err(twice(id));
            }
            out.push((id, view.snap.page_span(id)?));
            stack.push((view.snap.node(id)?, level + 1));
        }
    }
    Ok(())
}

/// Number of pages page `id` spans (1 + overflow).
/// The flags of `key`'s element in the committed tree `root` (`None`: no such key), from the
/// bucket's memo when its last lookup was this key.
fn committed_flags(snap: &Snapshot, root: Option<DiskRoot<'_>>, memo: &DiskMemo, key: &[u8]) -> Result<Option<u32>> {
    let Some(root) = root else { return Ok(None) };
    if let Some(flags) = memo.recall(key) {
        return Ok(flags);
    }
    Ok(snap.get(root, key)?.map(|(flags, _)| flags))
}

#[cfg(test)]
mod tests {
    use crate::{Options, DB};

    #[test]
    fn rewriting_keys_with_changing_sizes_keeps_the_value_arena_bounded() {
        let dir = std::env::temp_dir().join(format!("rivet-write-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = DB::open(dir.join("arena.db"), Options::default()).unwrap();
        let mut tx = db.begin(true).unwrap();
        tx.create_bucket(b"b").unwrap();
        let value = |i: usize| vec![i as u8; 1000 + (i % 2) * 1000];
        for i in 0..8000 {
            let mut b = tx.bucket_mut(b"b").unwrap();
            // Two keys, so that the value rewritten is not always the last in the arena.
            for k in [&b"x"[..], b"y"] {
                b.put(k, &value(i)).unwrap();
            }
            if i % 7 == 0 {
                b.delete(b"x").unwrap();
            }
        }
        let w = tx.write_state().unwrap();
        let held = w.arena.iter().map(|b| b.arena_bytes()).max().unwrap();
        // 16 MB if nothing is ever given back.
        assert!(held < 4 << 20, "{held} bytes held for two values");
        let b = tx.bucket(b"b").unwrap();
        assert_eq!(b.get(b"x").unwrap(), Some(&value(7999)[..]));
        assert_eq!(b.get(b"y").unwrap(), Some(&value(7999)[..]));
        tx.commit().unwrap();
        let tx = db.begin(false).unwrap();
        assert_eq!(tx.bucket(b"b").unwrap().get(b"y").unwrap(), Some(&value(7999)[..]));
        drop(tx);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_write_after_a_read_of_the_same_key_sees_what_the_read_saw() {
        let dir = std::env::temp_dir().join(format!("rivet-write-memo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = DB::open(dir.join("memo.db"), Options::default()).unwrap();
        db.update(|tx| {
            let mut b = tx.create_bucket(b"b")?;
            b.put(b"k", b"v")?;
            b.create_bucket(b"sub").map(drop)
        })
        .unwrap();
        let mut tx = db.begin(true).unwrap();
        let mut b = tx.bucket_mut(b"b").unwrap();
        // The read remembers that `sub` is a bucket: the write after it must still refuse.
        assert_eq!(b.get(b"sub").unwrap(), None);
        assert!(matches!(b.put(b"sub", b"x"), Err(crate::Error::IncompatibleValue { .. })));
        assert_eq!(b.get(b"sub").unwrap(), None);
        assert!(matches!(b.delete(b"sub"), Err(crate::Error::IncompatibleValue { .. })));
        // A read of another key in between replaces the memo.
        assert_eq!(b.get(b"k").unwrap(), Some(&b"v"[..]));
        assert_eq!(b.get(b"missing").unwrap(), None);
        b.delete(b"k").unwrap();
        assert_eq!(b.get(b"k").unwrap(), None);
        // Read, then delete: a missing key stays missing, an existing one goes.
        assert_eq!(b.get(b"missing").unwrap(), None);
        b.delete(b"missing").unwrap();
        b.put(b"k", b"again").unwrap();
        assert_eq!(b.get(b"k").unwrap(), Some(&b"again"[..]));
        tx.commit().unwrap();
        db.view(|tx| {
            let b = tx.bucket(b"b")?;
            assert_eq!(b.get(b"k")?, Some(&b"again"[..]));
            assert_eq!(b.get(b"missing")?, None);
            assert!(b.bucket(b"sub").is_ok());
            Ok::<_, crate::Error>(())
        })
        .unwrap();
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_memo_answers_only_for_the_key_it_holds() {
        let memo = crate::commit::view::DiskMemo::default();
        assert_eq!(memo.recall(b"a"), None);
        memo.remember(b"a", Some(2));
        assert_eq!(memo.recall(b"a"), Some(Some(2)));
        assert_eq!(memo.recall(b"ab"), None);
        assert_eq!(memo.recall(b""), None);
        memo.remember(b"b", None);
        assert_eq!(memo.recall(b"b"), Some(None));
        assert_eq!(memo.recall(b"a"), None);
    }
}
