//! A cursor in a write transaction that can delete the item under it.
//!
//! It remembers its position by key, so deleting the current item and then calling `next`
//! continues with the following key (bbolt's cursor skips one there: etcd-io/bbolt#611).

use std::ops::Bound;

use crate::commit::view::{BucketId, Item, Src};
use crate::commit::write::WriteTx;
use crate::db::cursor::KeyValue;
use crate::error::{Error, Result};

/// A cursor over a bucket of a write transaction, with `delete`: from
/// [`BucketMut::cursor_mut`](crate::BucketMut::cursor_mut). It moves as a [`crate::Cursor`]
/// does, over the bucket as this transaction has changed it.
///
/// # Example
/// ```
/// # let dir = std::env::temp_dir().join(format!("rivet-doc-cursor-mut-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// use rivet_engine::{Error, Options, DB};
/// let db = DB::open(dir.join("cursor_mut.db"), Options::default())?;
/// db.update(|tx| {
///     let mut b = tx.create_bucket(b"sessions")?;
///     for (id, state) in [("s1", "live"), ("s2", "expired"), ("s3", "expired"), ("s4", "live")] {
///         b.put(id.as_bytes(), state.as_bytes())?;
///     }
///     // Delete the expired sessions in one walk: after a delete, `next` goes on with the
///     // key that followed the deleted one.
///     let mut c = b.cursor_mut();
///     let mut item = c.first()?.map(|(_, v)| v == Some(&b"expired"[..]));
///     while let Some(expired) = item {
///         if expired {
///             c.delete()?;
///         }
///         item = c.next()?.map(|(_, v)| v == Some(&b"expired"[..]));
///     }
///     // A read cursor in the same transaction sees the deletions.
///     assert_eq!(b.cursor().last()?.map(|(k, _)| k), Some(&b"s4"[..]));
///     Ok::<_, Error>(())
/// })?;
/// let left = db.view(|tx| {
///     tx.bucket(b"sessions")?.iter().map(|item| item.map(|(k, _)| k.to_vec())).collect::<Result<Vec<_>, _>>()
/// })?;
/// assert_eq!(left, [b"s1".to_vec(), b"s4".to_vec()]);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct CursorMut<'t> {
    w: &'t mut WriteTx,
    id: BucketId,
    key: Option<Vec<u8>>,
    /// After a step ran off an end: `Some(true)` past the last item, `Some(false)` before the first.
    off_end: Option<bool>,
}

impl<'t> CursorMut<'t> {
    pub(crate) fn new(w: &'t mut WriteTx, id: BucketId) -> Self {
        CursorMut { w, id, key: None, off_end: None }
    }

    fn go(&mut self, from: Bound<&[u8]>, forward: bool) -> Result<Option<KeyValue<'_>>> {
        let view = self.w.view();
        let src = Src::Write(&self.w.arena[self.id]);
        let r = view.step(src, from, forward)?;
        match r {
            Some((k, _)) => {
                self.key = Some(k.to_vec());
                self.off_end = None;
            }
            None => self.off_end = Some(forward),
        }
        Ok(r.map(|(k, item)| (k, item.value())))
    }

    /// Moves to the first item; `None` if the bucket is empty.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    pub fn first(&mut self) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Unbounded, true)
    }
    /// Moves to the last item; `None` if the bucket is empty.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    pub fn last(&mut self) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Unbounded, false)
    }
    /// Moves to the first item whose key is `>= key`; `None` if every key is smaller.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Included(key), true)
    }
    /// Moves to the next item (after [`CursorMut::delete`], the one after the deleted key);
    /// `None` past the end.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    #[allow(clippy::should_implement_trait)] // bbolt's name; a cursor also moves backwards
    pub fn next(&mut self) -> Result<Option<KeyValue<'_>>> {
        match (self.off_end, self.key.clone()) {
            (Some(true), _) => Ok(None),
            (Some(false), _) => self.go(Bound::Unbounded, true),
            (None, Some(k)) => self.go(Bound::Excluded(&k), true),
            (None, None) => Ok(None),
        }
    }
    /// Moves to the previous item (after [`CursorMut::delete`], the one before the deleted
    /// key); `None` before the start.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a committed page on the way is damaged.
    pub fn prev(&mut self) -> Result<Option<KeyValue<'_>>> {
        match (self.off_end, self.key.clone()) {
            (Some(false), _) => Ok(None),
            (Some(true), _) => self.go(Bound::Unbounded, false),
            (None, Some(k)) => self.go(Bound::Excluded(&k), false),
            (None, None) => Ok(None),
        }
    }

    /// Deletes the item under the cursor (a plain value; nested buckets are deleted with
    /// `delete_bucket`). The cursor stays at the deleted key, so `next` and `prev` continue
    /// from there.
    ///
    /// # Errors
    /// [`Error::IncompatibleValue`] on a nested bucket; [`Error::KeyRequired`] if the cursor is
    /// on no item (not placed yet, or past either end); [`Error::Corrupted`] if a committed
    /// page on the way is damaged.
    pub fn delete(&mut self) -> Result<()> {
        let Some(k) = self.key.clone().filter(|_| self.off_end.is_none()) else {
            return Err(Error::KeyRequired);
        };
        let view = self.w.view();
        if let Some(Item::Bucket(_)) = view.get(Src::Write(&self.w.arena[self.id]), &k)? {
            return Err(Error::IncompatibleValue { found: "bucket", wanted: "value" });
        }
        self.w.delete(self.id, &k)
    }
}
