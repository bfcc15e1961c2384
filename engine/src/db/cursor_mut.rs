//! A cursor in a write transaction that can delete the item under it.
//!
//! It remembers its position by key, so deleting the current item and then calling `next`
//! continues with the following key (bbolt's cursor skips one there: etcd-io/bbolt#611).

use std::ops::Bound;

use crate::commit::view::{BucketId, Item, Src};
use crate::commit::write::WriteTx;
use crate::db::cursor::KeyValue;
use crate::error::{Error, Result};

/// A cursor over a bucket of a write transaction, with `delete`.
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

    /// Moves to the first item.
    pub fn first(&mut self) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Unbounded, true)
    }
    /// Moves to the last item.
    pub fn last(&mut self) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Unbounded, false)
    }
    /// Moves to the first item whose key is `>= key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<KeyValue<'_>>> {
        self.go(Bound::Included(key), true)
    }
    /// Moves to the next item.
    #[allow(clippy::should_implement_trait)] // bbolt's name; a cursor also moves backwards
    pub fn next(&mut self) -> Result<Option<KeyValue<'_>>> {
        match (self.off_end, self.key.clone()) {
            (Some(true), _) => Ok(None),
            (Some(false), _) => self.go(Bound::Unbounded, true),
            (None, Some(k)) => self.go(Bound::Excluded(&k), true),
            (None, None) => Ok(None),
        }
    }
    /// Moves to the previous item.
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
    /// [`Error::IncompatibleValue`] on a bucket; [`Error::KeyRequired`] if the cursor is on no item.
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
