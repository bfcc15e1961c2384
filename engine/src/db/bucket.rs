//! Buckets: named, ordered key/value collections that nest to any depth.
//!
//! [`Bucket`] is a read view, available in every transaction; its keys and values borrow from
//! the transaction. [`BucketMut`] is the write handle of a write transaction; it borrows the
//! transaction mutably, so that no value read earlier can be invalidated by a write while it is
//! still in use: the borrow checker, not a comment, enforces bbolt's "valid until the next
//! modification" rule.

use std::ops::RangeBounds;

use crate::commit::view::{BucketId, Item, Src, View};
use crate::commit::write::WriteTx;
use crate::db::cursor::{Cursor, KeyValue, Range};
use crate::db::cursor_mut::CursorMut;
use crate::error::{Error, Result};

/// A read view of a bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    pub(crate) view: View<'a>,
    pub(crate) src: Src<'a>,
}

impl<'a> Bucket<'a> {
    /// The value stored under `key`, or `None` if the key is missing or names a nested bucket.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a page on the way is damaged.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self.view.get(self.src, key)?.and_then(Item::value))
    }

    /// The nested bucket `name`.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`] if there is none; [`Error::IncompatibleValue`] if `name` holds a
    /// plain value.
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'a>> {
        match self.view.get(self.src, name)? {
            // A handle reads its root once; lookups through it start from there.
            Some(Item::Bucket(Src::Disk(d))) => {
                Ok(Bucket { view: self.view, src: Src::Disk(self.view.snap.resolved(d)?) })
            }
            Some(Item::Bucket(src)) => Ok(Bucket { view: self.view, src }),
            Some(Item::Value(_)) => Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
            None => Err(Error::BucketNotFound),
        }
    }

    /// The nested bucket `name`, which an iteration over this bucket has just returned: not
    /// finding it again means the keys are out of order, which is damage, not absence.
    pub(crate) fn listed_bucket(&self, name: &[u8]) -> Result<Bucket<'a>> {
        match self.bucket(name) {
            Err(Error::BucketNotFound) => Err(Error::corrupted(0, crate::corruption::Corruption::ListedBucketLost)),
            other => other,
        }
    }

    /// Whether a nested bucket `name` exists.
    pub fn has_bucket(&self, name: &[u8]) -> Result<bool> {
        Ok(matches!(self.view.get(self.src, name)?, Some(Item::Bucket(_))))
    }

    /// The bucket's sequence (the counter behind `next_sequence`).
    pub fn sequence(&self) -> u64 {
        match self.src {
            Src::Disk(d) => d.sequence,
            Src::Write(w) => w.sequence,
        }
    }

    /// A cursor over the bucket.
    pub fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.view, self.src)
    }

    /// Every item in key order (`None` values are nested buckets).
    pub fn iter(&self) -> Range<'a> {
        self.range::<&[u8], _>(..)
    }

    /// The items whose keys fall in `range`, in key order; `.rev()` walks it backwards.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'a> {
        Range::new(self.view, self.src, range)
    }

    /// Calls `f` for every item in key order (`None` values are nested buckets); stops at the
    /// first error, which it returns.
    pub fn for_each<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(&'a [u8], Option<&'a [u8]>) -> Result<()>,
    {
        for item in self.iter() {
            let (k, v) = item?;
            f(k, v)?;
        }
        Ok(())
    }

    /// Calls `f` with the name of every nested bucket, in key order.
    pub fn for_each_bucket<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(&'a [u8]) -> Result<()>,
    {
        self.for_each(|k, v| if v.is_none() { f(k) } else { Ok(()) })
    }

    /// Collects every item (useful in tests and small buckets).
    pub fn to_vec(&self) -> Result<Vec<KeyValue<'a>>> {
        self.iter().collect()
    }

    /// Page statistics of this bucket and everything nested in it (bbolt's `Bucket.Stats`), as
    /// committed: in a write transaction, changes not yet committed are not counted.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a page is damaged.
    pub fn stats(&self) -> Result<crate::tree::stats::BucketStats> {
        match self.src {
            Src::Disk(d) => crate::tree::stats::bucket_stats(self.view.snap, d.root),
            Src::Write(w) => match w.disk_root() {
                Some(root) => crate::tree::stats::bucket_stats(self.view.snap, root),
                None => Ok(crate::tree::stats::BucketStats {
                    bucket_n: 1,
                    inline_bucket_n: 1,
                    depth: 1,
                    ..Default::default()
                }),
            },
        }
    }

    /// Whether the bucket is stored inline in its parent (as committed).
    pub fn is_inline(&self) -> bool {
        match self.src {
            Src::Disk(d) => matches!(d.root, crate::format::bucket::DiskRoot::Inline(_)),
            Src::Write(w) => matches!(w.origin, Some(crate::commit::view::Origin::Inline(_))),
        }
    }
}

/// The write handle of a bucket in a write transaction.
#[derive(Debug)]
pub struct BucketMut<'t> {
    pub(crate) w: &'t mut WriteTx,
    pub(crate) id: BucketId,
}

impl BucketMut<'_> {
    /// A read view of this bucket (for iteration and lookups).
    pub fn as_bucket(&self) -> Bucket<'_> {
        Bucket { view: self.w.view(), src: Src::Write(&self.w.arena[self.id]) }
    }

    /// The value stored under `key` (see [`Bucket::get`]).
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.as_bucket().get(key)
    }

    /// Stores `value` under `key`, replacing any value.
    ///
    /// # Errors
    /// [`Error::KeyRequired`], [`Error::KeyTooLarge`], [`Error::ValueTooLarge`], or
    /// [`Error::IncompatibleValue`] if `key` names a nested bucket.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.w.put(self.id, key, value)
    }

    /// Removes `key`; removing a missing key is not an error.
    ///
    /// # Errors
    /// [`Error::IncompatibleValue`] if `key` names a nested bucket (use `delete_bucket`).
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.w.delete(self.id, key)
    }

    /// The nested bucket `name`, for writing.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], or [`Error::IncompatibleValue`] if `name` holds a value.
    pub fn bucket_mut(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.child(self.id, name)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// A read view of the nested bucket `name`.
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.as_bucket().bucket(name)
    }

    /// Creates the nested bucket `name`.
    ///
    /// # Errors
    /// [`Error::BucketExists`], [`Error::BucketNameRequired`], [`Error::KeyTooLarge`], or
    /// [`Error::IncompatibleValue`] if `name` holds a plain value.
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.create_child(self.id, name, false)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// Creates the nested bucket `name` unless it exists, and returns it.
    pub fn create_bucket_if_not_exists(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.create_child(self.id, name, true)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// Deletes the nested bucket `name` and everything in it; its pages are freed at commit.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], or [`Error::IncompatibleValue`] if `name` holds a value.
    pub fn delete_bucket(&mut self, name: &[u8]) -> Result<()> {
        self.w.delete_child(self.id, name)
    }

    /// The current sequence.
    pub fn sequence(&self) -> u64 {
        self.w.arena[self.id].sequence
    }

    /// Sets the sequence (persisted at commit).
    pub fn set_sequence(&mut self, value: u64) -> Result<()> {
        self.w.set_sequence(self.id, value)
    }

    /// Increments the sequence and returns the new value (bbolt's `NextSequence`; like bbolt it
    /// wraps from `u64::MAX` to 0).
    pub fn next_sequence(&mut self) -> Result<u64> {
        let next = self.sequence().wrapping_add(1);
        self.w.set_sequence(self.id, next)?;
        Ok(next)
    }

    /// Sets how full this transaction's splits pack this bucket's pages (bbolt's `FillPercent`,
    /// clamped to 0.1..=1.0; default [`DEFAULT_FILL_PERCENT`](crate::limits::DEFAULT_FILL_PERCENT),
    /// 0.9). Lower leaves more room in each page for later inserts; 1.0 packs append-only
    /// loads completely.
    pub fn set_fill_percent(&mut self, fill: f64) {
        let fill = if fill.is_nan() { crate::limits::DEFAULT_FILL_PERCENT } else { fill };
        self.w.arena[self.id].fill_percent = fill.clamp(0.1, 1.0);
    }

    /// A read cursor over this bucket.
    pub fn cursor(&self) -> Cursor<'_> {
        self.as_bucket().cursor()
    }

    /// A cursor that can also delete the item under it.
    pub fn cursor_mut(&mut self) -> CursorMut<'_> {
        CursorMut::new(self.w, self.id)
    }

    /// Calls `f` for every item in key order (see [`Bucket::for_each`]).
    pub fn for_each<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&[u8], Option<&[u8]>) -> Result<()>,
    {
        self.as_bucket().for_each(f)
    }

    /// Calls `f` with the name of every nested bucket.
    pub fn for_each_bucket<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        self.as_bucket().for_each_bucket(f)
    }
}
