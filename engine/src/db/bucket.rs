//! Buckets: named, ordered key/value collections that nest to any depth.
//!
//! [`Bucket`] is a read view, available in every transaction; its keys and values borrow from
//! the transaction. [`BucketMut`] is the write handle of a write transaction; it borrows the
//! transaction mutably, so that no value read earlier can be invalidated by a write while it is
//! still in use: the borrow checker, not a comment, enforces bbolt's "valid until the next
//! modification" rule.

use std::ops::RangeBounds;

use crate::commit::view::{BucketId, Item, Origin, Src, View};
use crate::commit::write::WriteTx;
use crate::db::cursor::{Cursor, KeyValue, Range};
use crate::db::cursor_mut::CursorMut;
use crate::error::{Error, Result};
use crate::format::bucket::DiskRoot;
use crate::tree::opened::Parent;

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
    /// [`Error::Corrupted`] if a page on the way to the key is damaged.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self.view.get(self.src, key)?.and_then(Item::value))
    }

    /// The nested bucket `name`. Buckets nest to any depth (up to
    /// [`MAX_NESTING`](crate::MAX_NESTING) levels); [`crate::Tx::bucket_path`] walks several
    /// levels at once.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`] if there is none; [`Error::IncompatibleValue`] if `name` holds a
    /// plain value; [`Error::Corrupted`] if a page on the way, or the bucket's header or root
    /// page, is damaged.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-nested-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("nested.db"), Options::default())?;
    /// db.update(|tx| {
    ///     let mut users = tx.create_bucket(b"users")?;
    ///     let mut ada = users.create_bucket(b"ada")?; // a bucket inside a bucket
    ///     ada.put(b"born", b"1815")?;
    ///     ada.create_bucket(b"letters")?.put(b"1843-07-01", b"to Babbage")
    /// })?;
    /// db.view(|tx| {
    ///     let users = tx.bucket(b"users")?;
    ///     assert_eq!(users.bucket(b"ada")?.get(b"born")?, Some(&b"1815"[..]));
    ///     // A nested bucket is listed among its parent's keys with no value.
    ///     assert_eq!(users.get(b"ada")?, None);
    ///     assert!(users.has_bucket(b"ada")?);
    ///     // Several levels at once:
    ///     let letters = tx.bucket_path(&[b"users", b"ada", b"letters"])?;
    ///     assert_eq!(letters.get(b"1843-07-01")?, Some(&b"to Babbage"[..]));
    ///     assert!(matches!(users.bucket(b"bob"), Err(Error::BucketNotFound)));
    ///     Ok::<_, Error>(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'a>> {
        match self.view.get(self.src, name)? {
            // A handle reads its root once; lookups through it start from there.
            Some(Item::Bucket(Src::Disk(d))) => {
                // A read transaction opens each committed root page as one bucket only: a
                // page shared by two buckets, or a bucket nested in itself, is damage (and
                // would make a recursive reader's work exponential, or endless).
                if let (DiskRoot::Paged(page), Some(parent)) = (d.root, self.parent()) {
                    let snap = self.view.snap;
                    snap.opened.claim(page, parent, name, snap.meta.root)?;
                }
                Ok(Bucket { view: self.view, src: Src::Disk(self.view.snap.resolved(d)?) })
            }
            Some(Item::Bucket(src)) => Ok(Bucket { view: self.view, src }),
            Some(Item::Value(_)) => Err(Error::IncompatibleValue { found: "value", wanted: "bucket" }),
            None => Err(Error::BucketNotFound),
        }
    }

    /// This bucket's identity as the parent of a committed bucket (see
    /// [`crate::tree::opened`]); `None` for a bucket with no committed paged tree.
    fn parent(&self) -> Option<Parent> {
        match self.src {
            Src::Disk(d) => Some(match d.root {
                DiskRoot::Paged(id) => Parent::Page(id),
                DiskRoot::Inline(bytes) => Parent::Inline(bytes.as_ptr() as usize),
            }),
            Src::Write(w) => match w.origin {
                Some(Origin::Paged(id)) => Some(Parent::Page(id)),
                _ => None,
            },
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

    /// Whether a nested bucket `name` exists (`false` if `name` is missing or holds a value).
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a page on the way to `name` is damaged.
    pub fn has_bucket(&self, name: &[u8]) -> Result<bool> {
        Ok(matches!(self.view.get(self.src, name)?, Some(Item::Bucket(_))))
    }

    /// The bucket's sequence (the counter behind [`BucketMut::next_sequence`]); 0 in a new
    /// bucket.
    pub fn sequence(&self) -> u64 {
        match self.src {
            Src::Disk(d) => d.sequence,
            Src::Write(w) => w.sequence,
        }
    }

    /// A cursor over the bucket: a position that moves to the first or last item, seeks to a
    /// key, and steps forwards and backwards. For a plain walk over a range of keys,
    /// [`Bucket::range`] is simpler.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-cursor-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("cursor.db"), Options::default())?;
    /// db.update(|tx| {
    ///     let mut b = tx.create_bucket(b"words")?;
    ///     for w in ["apple", "banana", "cherry", "date"] {
    ///         b.put(w.as_bytes(), &[w.len() as u8])?;
    ///     }
    ///     b.create_bucket(b"box")?; // a nested bucket: its value is `None`
    ///     Ok::<_, Error>(())
    /// })?;
    /// db.view(|tx| {
    ///     let b = tx.bucket(b"words")?;
    ///     let mut c = b.cursor();
    ///     assert_eq!(c.first()?, Some((&b"apple"[..], Some(&[5u8][..]))));
    ///     assert_eq!(c.next()?.map(|(k, _)| k), Some(&b"banana"[..]));
    ///     assert_eq!(c.next()?, Some((&b"box"[..], None)));
    ///     // `seek` finds the first key at or after the one asked for.
    ///     assert_eq!(c.seek(b"c")?.map(|(k, _)| k), Some(&b"cherry"[..]));
    ///     assert_eq!(c.prev()?.map(|(k, _)| k), Some(&b"box"[..]));
    ///     assert_eq!(c.last()?.map(|(k, _)| k), Some(&b"date"[..]));
    ///     assert_eq!(c.next()?, None); // past the end
    ///     assert_eq!(c.seek(b"zebra")?, None);
    ///     Ok::<_, Error>(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.view, self.src)
    }

    /// Every item in key order (`None` values are nested buckets): [`Bucket::range`] over
    /// every key. The iterator yields `Result`s: a damaged page ends it with
    /// [`Error::Corrupted`].
    pub fn iter(&self) -> Range<'a> {
        self.range::<&[u8], _>(..)
    }

    /// The items whose keys fall in `range`, in key order; `.rev()` walks it backwards. Any
    /// range syntax works (`a..b`, `a..=b`, `a..`, `..`), with bounds of any type that is
    /// `AsRef<[u8]>`; keys compare bytewise.
    ///
    /// The iterator yields `Result`s: a damaged page ends it with [`Error::Corrupted`].
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-range-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("range.db"), Options::default())?;
    /// db.update(|tx| {
    ///     let mut b = tx.create_bucket(b"days")?;
    ///     for day in 1..=31u8 {
    ///         b.put(format!("2024-01-{day:02}").as_bytes(), &[day])?;
    ///     }
    ///     Ok::<_, Error>(())
    /// })?;
    /// db.view(|tx| {
    ///     let b = tx.bucket(b"days")?;
    ///     let week: Vec<u8> = b
    ///         .range("2024-01-08".."2024-01-15")
    ///         .map(|item| item.map(|(_, v)| v.unwrap()[0]))
    ///         .collect::<Result<_, Error>>()?;
    ///     assert_eq!(week, [8, 9, 10, 11, 12, 13, 14]);
    ///     // The last three days, newest first.
    ///     let last: Vec<&[u8]> =
    ///         b.range::<&str, _>(..).rev().take(3).map(|item| item.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    ///     assert_eq!(last, [&b"2024-01-31"[..], b"2024-01-30", b"2024-01-29"]);
    ///     Ok::<_, Error>(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'a> {
        Range::new(self.view, self.src, range)
    }

    /// Calls `f` for every item in key order (`None` values are nested buckets); stops at the
    /// first error, which it returns.
    ///
    /// # Errors
    /// The first error `f` returns; [`Error::Corrupted`] if a page of the bucket is damaged.
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

    /// Calls `f` with the name of every nested bucket, in key order; stops at the first error,
    /// which it returns.
    ///
    /// # Errors
    /// The first error `f` returns; [`Error::Corrupted`] if a page of the bucket is damaged.
    pub fn for_each_bucket<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(&'a [u8]) -> Result<()>,
    {
        self.for_each(|k, v| if v.is_none() { f(k) } else { Ok(()) })
    }

    /// Collects every item (useful in tests and small buckets).
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a page of the bucket is damaged.
    pub fn to_vec(&self) -> Result<Vec<KeyValue<'a>>> {
        self.iter().collect()
    }

    /// Page statistics of this bucket and everything nested in it (bbolt's `Bucket.Stats`), as
    /// committed: in a write transaction, changes not yet committed are not counted. It reads
    /// every page of the bucket and of the buckets nested in it.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a page is damaged.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-bucket-stats-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("stats.db"), Options::default())?;
    /// db.update(|tx| {
    ///     let mut b = tx.create_bucket(b"big")?;
    ///     for i in 0..2000u32 {
    ///         b.put(&i.to_be_bytes(), &[0; 100])?;
    ///     }
    ///     b.create_bucket(b"small")?.put(b"k", b"v") // small enough to be stored inline
    /// })?;
    /// let s = db.view(|tx| tx.bucket(b"big")?.stats())?;
    /// assert_eq!(s.key_n, 2000 + 1 + 1); // the values, the nested bucket's key, its one key
    /// assert_eq!((s.bucket_n, s.inline_bucket_n), (2, 1));
    /// assert!(s.leaf_page_n > 1 && s.depth >= 2);
    /// assert!(s.leaf_inuse <= s.leaf_alloc);
    /// # Ok::<(), Error>(())
    /// ```
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

    /// The value stored under `key` (see [`Bucket::get`]), changes of this transaction
    /// included.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way to the key is damaged.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.as_bucket().get(key)
    }

    /// Stores `value` under `key`, replacing any value.
    ///
    /// # Errors
    /// [`Error::KeyRequired`] for an empty key; [`Error::KeyTooLarge`] past
    /// [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE); [`Error::ValueTooLarge`] past
    /// [`MAX_VALUE_SIZE`](crate::MAX_VALUE_SIZE); [`Error::IncompatibleValue`] if `key` names a
    /// nested bucket; [`Error::Corrupted`] if a committed page on the way to the key is damaged.
    /// Nothing is changed when it fails.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.w.put(self.id, key, value)
    }

    /// Removes `key`; removing a missing key is not an error.
    ///
    /// # Errors
    /// [`Error::IncompatibleValue`] if `key` names a nested bucket (use
    /// [`BucketMut::delete_bucket`]); [`Error::Corrupted`] if a committed page on the way to the
    /// key is damaged.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.w.delete(self.id, key)
    }

    /// The nested bucket `name`, for writing.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`]; [`Error::IncompatibleValue`] if `name` holds a value;
    /// [`Error::Corrupted`] if a page on the way, or the bucket's header, is damaged.
    pub fn bucket_mut(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.child(self.id, name)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// A read view of the nested bucket `name` (see [`Bucket::bucket`]).
    ///
    /// # Errors
    /// As [`Bucket::bucket`]: [`Error::BucketNotFound`], [`Error::IncompatibleValue`],
    /// [`Error::Corrupted`].
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.as_bucket().bucket(name)
    }

    /// Creates the nested bucket `name` (an example is at [`Bucket::bucket`]).
    ///
    /// # Errors
    /// [`Error::BucketExists`]; [`Error::BucketNameRequired`] for an empty name;
    /// [`Error::KeyTooLarge`]; [`Error::IncompatibleValue`] if `name` holds a plain value;
    /// [`Error::NestingTooDeep`] past [`MAX_NESTING`](crate::MAX_NESTING) levels;
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.create_child(self.id, name, false)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// Creates the nested bucket `name` unless it exists, and returns it.
    ///
    /// # Errors
    /// As [`BucketMut::create_bucket`], except that an existing bucket is not an error.
    pub fn create_bucket_if_not_exists(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let id = self.w.create_child(self.id, name, true)?;
        Ok(BucketMut { w: self.w, id })
    }

    /// Deletes the nested bucket `name` and everything in it; its pages are freed at commit.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`]; [`Error::BucketNameRequired`] for an empty name;
    /// [`Error::IncompatibleValue`] if `name` holds a value; [`Error::Corrupted`] if a page of
    /// the bucket is damaged (its pages are listed to be freed).
    pub fn delete_bucket(&mut self, name: &[u8]) -> Result<()> {
        self.w.delete_child(self.id, name)
    }

    /// The current sequence, as this transaction has set it (see
    /// [`BucketMut::next_sequence`]).
    pub fn sequence(&self) -> u64 {
        self.w.arena[self.id].sequence
    }

    /// Sets the sequence (persisted at commit), for instance to move an ID counter past IDs
    /// assigned elsewhere.
    ///
    /// # Errors
    /// None in this version: a `BucketMut` exists only in a live write transaction, which is
    /// what bbolt's `SetSequence` checks. The `Result` keeps bbolt's signature.
    pub fn set_sequence(&mut self, value: u64) -> Result<()> {
        self.w.set_sequence(self.id, value)
    }

    /// Increments the sequence and returns the new value (bbolt's `NextSequence`; like bbolt it
    /// wraps from `u64::MAX` to 0). Every bucket has its own sequence, stored in its header and
    /// committed (or rolled back) with the transaction: a counter for IDs that needs no key of
    /// its own.
    ///
    /// # Errors
    /// None in this version, as [`BucketMut::set_sequence`].
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-sequence-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("sequence.db"), Options::default())?;
    /// let add = |name: &str| {
    ///     db.update(|tx| {
    ///         let mut users = tx.create_bucket_if_not_exists(b"users")?;
    ///         let id = users.next_sequence()?;
    ///         users.put(&id.to_be_bytes(), name.as_bytes())?;
    ///         Ok::<_, Error>(id)
    ///     })
    /// };
    /// assert_eq!(add("ada")?, 1);
    /// assert_eq!(add("bob")?, 2);
    /// // A rolled-back transaction gives its number back.
    /// let r: Result<(), Error> = db.update(|tx| {
    ///     assert_eq!(tx.bucket_mut(b"users")?.next_sequence()?, 3);
    ///     Err(Error::TxClosed) // any error rolls back
    /// });
    /// assert!(r.is_err());
    /// assert_eq!(add("cy")?, 3);
    /// assert_eq!(db.view(|tx| Ok::<_, Error>(tx.bucket(b"users")?.sequence()))?, 3);
    /// # Ok::<(), Error>(())
    /// ```
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

    /// A read cursor over this bucket, changes of this transaction included (see
    /// [`Bucket::cursor`]).
    pub fn cursor(&self) -> Cursor<'_> {
        self.as_bucket().cursor()
    }

    /// A cursor that can also delete the item under it (see [`CursorMut`] for an example).
    pub fn cursor_mut(&mut self) -> CursorMut<'_> {
        CursorMut::new(self.w, self.id)
    }

    /// Calls `f` for every item in key order, changes of this transaction included (see
    /// [`Bucket::for_each`]).
    ///
    /// # Errors
    /// The first error `f` returns; [`Error::Corrupted`] if a committed page is damaged.
    pub fn for_each<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&[u8], Option<&[u8]>) -> Result<()>,
    {
        self.as_bucket().for_each(f)
    }

    /// Calls `f` with the name of every nested bucket, in key order.
    ///
    /// # Errors
    /// The first error `f` returns; [`Error::Corrupted`] if a committed page is damaged.
    pub fn for_each_bucket<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        self.as_bucket().for_each_bucket(f)
    }
}
