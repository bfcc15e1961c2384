//! What a transaction sees of a bucket: the committed tree, plus, in a write transaction, the
//! changes made so far.
//!
//! A write transaction never edits pages in place. Each bucket it touches gets a [`BucketW`]:
//! its committed origin plus an ordered *overlay* of changes (put, delete, or "this key is the
//! sub-bucket with arena index N"). Reads merge the overlay over the committed tree; the commit
//! (module `spill`) folds each overlay into a new copy-on-write tree in one ordered pass. Because
//! inserts go into a `BTreeMap`, a large random load is `O(n log n)`, never quadratic.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::corruption::Corruption;
use crate::error::{PageId, Result};
use crate::format::bucket::{decode_bucket, DiskBucket, DiskRoot};
use crate::format::page::LeafElem;
use crate::tree::cursor::DiskCursor;
use crate::tree::snapshot::Snapshot;

/// Index of a [`BucketW`] in its transaction's arena (0 is the root bucket).
pub(crate) type BucketId = usize;

/// A key in an overlay. Keys up to 32 bytes are stored inside the map's own nodes, so a lookup
/// compares keys without following a pointer per comparison (the cache miss that dominated a
/// large load); longer keys go to the heap. Ordered exactly as byte slices (so lookups by
/// `&[u8]` agree), with the engine's inline comparison instead of a call to `memcmp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OverlayKey(smallvec::SmallVec<[u8; 32]>);

impl OverlayKey {
    pub(crate) fn from_slice(key: &[u8]) -> Self {
        OverlayKey(smallvec::SmallVec::from_slice(key))
    }
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for OverlayKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::borrow::Borrow<[u8]> for OverlayKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl Ord for OverlayKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        crate::format::page::compare_keys(&self.0, &other.0)
    }
}

impl PartialOrd for OverlayKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a pending value lies in its bucket's value arena ([`BucketW::values`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueAt {
    at: usize,
    len: usize,
}

/// A bucket's pending values: their bytes one after another, one growing buffer instead of an
/// allocation per put. A value that is deleted, or overwritten by one that does not fit its
/// place, leaves its bytes behind as garbage (unless they were the last in the buffer) until
/// [`BucketW::compact_values`] copies the live values out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values {
    bytes: Vec<u8>,
    /// Bytes of `bytes` that no value uses any more.
    garbage: usize,
}

impl Values {
    fn get(&self, v: ValueAt) -> &[u8] {
        self.bytes.get(v.at..v.at + v.len).unwrap_or(&[])
    }

    /// Stores a value's bytes, reusing `old`'s place when the new value fits there.
    pub(crate) fn store(&mut self, old: Option<ValueAt>, value: &[u8]) -> ValueAt {
        if let Some(old) = old {
            if old.len >= value.len() {
                if let Some(place) = self.bytes.get_mut(old.at..old.at + value.len()) {
                    place.copy_from_slice(value);
                    self.release(ValueAt { at: old.at + value.len(), len: old.len - value.len() });
                    return ValueAt { at: old.at, len: value.len() };
                }
            }
            self.release(old);
        }
        let at = self.bytes.len();
        self.bytes.extend_from_slice(value);
        ValueAt { at, len: value.len() }
    }

    /// Gives up the bytes of a value that was deleted or overwritten.
    pub(crate) fn release(&mut self, old: ValueAt) {
        if old.at + old.len == self.bytes.len() {
            self.bytes.truncate(old.at);
        } else {
            self.garbage += old.len;
        }
    }
}

/// A pending change to one key of a bucket.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// The key now holds this value.
    Put(ValueAt),
    /// The key (value or bucket) is gone.
    Delete,
    /// The key is the sub-bucket with this arena index.
    Bucket(BucketId),
}

/// Where a touched bucket's committed tree is.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// Paged bucket with this root page.
    Paged(PageId),
    /// Inline bucket: a copy of its page image.
    Inline(Vec<u8>),
}

/// The last key a write transaction looked up in one bucket's committed tree, and the flags
/// of the element found there (`None`: no such key). A write that follows a read of the same
/// key (check, then act: `get` then `delete`, the typed store's duplicate and unique checks)
/// skips the second descent. The committed tree does not change during the transaction, so a
/// memo never goes stale; a memo found locked (a reader on another thread) is skipped.
#[derive(Debug, Default)]
pub(crate) struct DiskMemo(std::sync::Mutex<Option<(OverlayKey, Option<u32>)>>);

impl DiskMemo {
    /// What the committed tree holds at `key`, if that is the key remembered.
    pub(crate) fn recall(&self, key: &[u8]) -> Option<Option<u32>> {
        match self.0.try_lock().ok()?.as_ref() {
            Some((k, flags)) if k.as_slice() == key => Some(*flags),
            _ => None,
        }
    }

    /// Remembers what the committed tree holds at `key`.
    pub(crate) fn remember(&self, key: &[u8], flags: Option<u32>) {
        if let Ok(mut m) = self.0.try_lock() {
            *m = Some((OverlayKey::from_slice(key), flags));
        }
    }
}

impl Clone for DiskMemo {
    fn clone(&self) -> Self {
        DiskMemo::default()
    }
}

/// A bucket touched by the write transaction.
#[derive(Debug, Clone)]
pub(crate) struct BucketW {
    /// The committed tree, or `None` for a bucket created in this transaction.
    pub origin: Option<Origin>,
    /// The sequence as of now.
    pub sequence: u64,
    /// Whether the sequence changed in this transaction.
    pub sequence_dirty: bool,
    /// Changes, in key order.
    pub overlay: BTreeMap<OverlayKey, Change>,
    /// The bytes of the pending values.
    values: Values,
    /// Split threshold for this transaction (bbolt's `FillPercent`).
    pub fill_percent: f64,
    /// The last lookup in the committed tree.
    pub memo: DiskMemo,
}

impl BucketW {
    pub(crate) fn new(origin: Option<Origin>, sequence: u64) -> Self {
        BucketW {
            origin,
            sequence,
            sequence_dirty: false,
            overlay: BTreeMap::new(),
            values: Values::default(),
            fill_percent: crate::limits::DEFAULT_FILL_PERCENT,
            memo: DiskMemo::default(),
        }
    }

    /// The bytes of a pending value.
    pub(crate) fn value(&self, v: ValueAt) -> &[u8] {
        self.values.get(v)
    }

    /// The overlay and the value arena, borrowed apart (to change one while reading the
    /// other), with the committed tree and the memo of its last lookup.
    pub(crate) fn parts_mut(
        &mut self,
    ) -> (&mut BTreeMap<OverlayKey, Change>, &mut Values, Option<DiskRoot<'_>>, &DiskMemo) {
        (&mut self.overlay, &mut self.values, origin_root(&self.origin), &self.memo)
    }

    /// Copies the live values into a fresh arena once its garbage outweighs them (and the
    /// overlay's size, and 1 MiB), so that each copy is paid for by the garbage that caused
    /// it: rewriting the same keys again and again keeps memory bounded.
    pub(crate) fn compact_values(&mut self) {
        const MIN_GARBAGE: usize = 1 << 20;
        let values = &mut self.values;
        let live = values.bytes.len().saturating_sub(values.garbage);
        if values.garbage < MIN_GARBAGE || values.garbage <= live.max(self.overlay.len() * 32) {
            return;
        }
        let mut bytes = Vec::with_capacity(live);
        for c in self.overlay.values_mut() {
            if let Change::Put(v) = c {
                let at = bytes.len();
                bytes.extend_from_slice(values.get(*v));
                *v = ValueAt { at, len: v.len };
            }
        }
        *values = Values { bytes, garbage: 0 };
    }

    /// Bytes held by the value arena (live and garbage).
    #[cfg(test)]
    pub(crate) fn arena_bytes(&self) -> usize {
        self.values.bytes.len()
    }

    pub(crate) fn from_disk(d: &DiskBucket<'_>) -> Self {
        let origin = match d.root {
            DiskRoot::Paged(id) => Origin::Paged(id),
            DiskRoot::Inline(b) => Origin::Inline(b.to_vec()),
        };
        BucketW::new(Some(origin), d.sequence)
    }

    pub(crate) fn disk_root(&self) -> Option<DiskRoot<'_>> {
        origin_root(&self.origin)
    }
}

/// The committed tree a bucket started from (a function of the field alone, so callers can
/// hold it while changing the overlay).
fn origin_root(origin: &Option<Origin>) -> Option<DiskRoot<'_>> {
    origin.as_ref().map(|o| match o {
        Origin::Paged(id) => DiskRoot::Paged(*id),
        Origin::Inline(b) => DiskRoot::Inline(b),
    })
}

/// The source of a bucket view.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Src<'a> {
    /// A bucket only as committed.
    Disk(DiskBucket<'a>),
    /// A bucket touched by this write transaction.
    Write(&'a BucketW),
}

/// What a merged walk keeps between steps in one direction: the cursor over the committed
/// tree, and the tree's first item beyond the walk's position (`None` past its end).
#[derive(Debug, Clone)]
pub(crate) struct Walk<'a> {
    disk: Option<(DiskCursor<'a>, PageId)>,
    ahead: Option<(&'a [u8], Item<'a>)>,
    /// The overlay's changes beyond the walk's position, and the first of them.
    overlay: std::collections::btree_map::Range<'a, OverlayKey, Change>,
    overlay_ahead: Option<(&'a OverlayKey, &'a Change)>,
    forward: bool,
}

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    Value(&'a [u8]),
    Bucket(Src<'a>),
}

impl<'a> Item<'a> {
    pub(crate) fn value(self) -> Option<&'a [u8]> {
        match self {
            Item::Value(v) => Some(v),
            Item::Bucket(_) => None,
        }
    }
}

/// Everything needed to read: the snapshot and (in a write transaction) the touched buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub snap: &'a Snapshot,
    pub arena: &'a [BucketW],
}

impl<'a> View<'a> {
    pub(crate) fn item(&self, e: LeafElem<'a>, page: PageId) -> Result<Item<'a>> {
        if e.is_bucket() {
            Ok(Item::Bucket(Src::Disk(decode_bucket(e.value, page)?)))
        } else {
            Ok(Item::Value(e.value))
        }
    }

    fn change_item(&self, w: &'a BucketW, c: &'a Change) -> Option<Item<'a>> {
        match c {
            Change::Put(v) => Some(Item::Value(w.value(*v))),
            Change::Delete => None,
            Change::Bucket(id) => self.arena.get(*id).map(|b| Item::Bucket(Src::Write(b))),
        }
    }

    /// Looks `key` up in a bucket.
    pub(crate) fn get(&self, src: Src<'a>, key: &[u8]) -> Result<Option<Item<'a>>> {
        // The committed tree, and its root node if a bucket handle has read it already.
        let (root, page, memo) = match src {
            Src::Disk(d) => (Some((d.root, d.node)), root_page(d.root), None),
            Src::Write(w) => {
                if let Some(c) = w.overlay.get(key) {
                    return Ok(self.change_item(w, c));
                }
                let r = w.disk_root();
                (r.map(|r| (r, None)), r.map_or(0, root_page), Some(&w.memo))
            }
        };
        let Some((root, node)) = root else { return Ok(None) };
        let node = match node {
            Some(n) => n,
            None => self.snap.root_node(root)?,
        };
        let found = self.snap.get_from(node, key)?;
        if let Some(memo) = memo {
            memo.remember(key, found.map(|(flags, _)| flags));
        }
        match found {
            None => Ok(None),
            Some((flags, value)) => self.item(LeafElem { flags, key: &[], value }, page).map(Some),
        }
    }

    /// The first item strictly after (`forward`) or before `from` (`Unbounded`: the first or
    /// last item; `Included`: admits `from` itself), merging the overlay over the tree.
    pub(crate) fn step(&self, src: Src<'a>, from: Bound<&[u8]>, forward: bool) -> Result<Option<(&'a [u8], Item<'a>)>> {
        match src {
            Src::Disk(d) => {
                let mut c = DiskCursor::new(self.snap, d.root);
                self.disk_step(&mut c, from, forward, root_page(d.root))
            }
            Src::Write(w) => self.walk(w, &mut None, from, forward, false),
        }
    }

    /// As [`View::step`] over a bucket of the write transaction, keeping the tree cursor and
    /// the overlay's iterator in `walk` between calls: with `resume`, and `walk` left by a step
    /// in the same direction that returned the key `from` excludes, nothing is searched again
    /// (a walk is then a step per item, not a search per item). The overlay cannot change
    /// meanwhile: a walk borrows the transaction.
    pub(crate) fn walk(
        &self,
        w: &'a BucketW,
        walk: &mut Option<Walk<'a>>,
        from: Bound<&[u8]>,
        forward: bool,
        resume: bool,
    ) -> Result<Option<(&'a [u8], Item<'a>)>> {
        let st = match walk {
            Some(st) if resume && st.forward == forward => st,
            _ => {
                let mut disk = w.disk_root().map(|r| (DiskCursor::new(self.snap, r), root_page(r)));
                let ahead = match &mut disk {
                    Some((c, page)) => self.disk_step(c, from, forward, *page)?,
                    None => None,
                };
                let range = match from {
                    Bound::Unbounded => (Bound::Unbounded, Bound::Unbounded),
                    b if forward => (b, Bound::Unbounded),
                    b => (Bound::Unbounded, b),
                };
                let mut overlay = w.overlay.range::<[u8], _>(range);
                let overlay_ahead = if forward { overlay.next() } else { overlay.next_back() };
                walk.insert(Walk { disk, ahead, overlay, overlay_ahead, forward })
            }
        };
        // Merge: deleted keys are skipped by stepping both sides, never by searching again (a
        // queue of deletions stays linear).
        loop {
            let take_overlay = match (&st.ahead, &st.overlay_ahead) {
                (None, None) => return Ok(None),
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((dk, _)), Some((ok, _))) => {
                    let ok = ok.as_slice();
                    if forward {
                        ok <= *dk
                    } else {
                        ok >= *dk
                    }
                }
            };
            if !take_overlay {
                let item = st.ahead.take();
                if let Some((k, _)) = item {
                    st.ahead = self.advance(st, k)?;
                }
                return Ok(item);
            }
            let Some((k, c)) = st.overlay_ahead else { return Ok(None) };
            st.overlay_ahead = if forward { st.overlay.next() } else { st.overlay.next_back() };
            // The overlay decides this key; the tree's item for it (if any) is passed over.
            if st.ahead.as_ref().is_some_and(|(dk, _)| *dk == k.as_slice()) {
                st.ahead = self.advance(st, k)?;
            }
            if let Some(item) = self.change_item(w, c) {
                return Ok(Some((k.as_slice(), item)));
            }
        }
    }

    /// The tree's next item in the walk's direction after `after` (the item just passed). A
    /// tree whose keys do not move on (damaged, e.g. two keys of a leaf swapped) is an error, so
    /// a walk never repeats a key or merges the overlay in twice.
    fn advance(&self, st: &mut Walk<'a>, after: &[u8]) -> Result<Option<(&'a [u8], Item<'a>)>> {
        let Some((c, page)) = &mut st.disk else { return Ok(None) };
        let e = if st.forward { c.next()? } else { c.prev()? };
        let Some(e) = e else { return Ok(None) };
        if (st.forward && e.key <= after) || (!st.forward && e.key >= after) {
            return Err(crate::error::Error::corrupted(*page, Corruption::KeysNotAscending { across_pages: false }));
        }
        Ok(Some((e.key, self.item(e, *page)?)))
    }

    fn disk_step(
        &self,
        c: &mut DiskCursor<'a>,
        from: Bound<&[u8]>,
        forward: bool,
        page: PageId,
    ) -> Result<Option<(&'a [u8], Item<'a>)>> {
        let e = match from {
            Bound::Unbounded => c.seek_dir(None, true, forward)?,
            Bound::Included(k) => c.seek_dir(Some(k), true, forward)?,
            Bound::Excluded(k) => c.seek_dir(Some(k), false, forward)?,
        };
        let Some(e) = e else { return Ok(None) };
        let moved = match from {
            Bound::Unbounded => true,
            Bound::Included(k) => {
                if forward {
                    e.key >= k
                } else {
                    e.key <= k
                }
            }
            Bound::Excluded(k) => {
                if forward {
                    e.key > k
                } else {
                    e.key < k
                }
            }
        };
        if !moved {
            return Err(crate::error::Error::corrupted(page, Corruption::KeysNotAscending { across_pages: false }));
        }
        Ok(Some((e.key, self.item(e, page)?)))
    }
}

/// The page to name in errors about a bucket's tree.
pub(crate) fn root_page(root: DiskRoot<'_>) -> PageId {
    match root {
        DiskRoot::Paged(id) => id,
        DiskRoot::Inline(_) => 0,
    }
}
