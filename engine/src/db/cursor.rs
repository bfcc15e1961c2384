//! Cursors and iterators over a bucket, in key order, both ways.
//!
//! A [`Cursor`] over a committed bucket in a read transaction walks pages directly and returns
//! slices of the map: no allocation per step. Over a bucket changed in a write transaction it
//! merges the pending changes with the committed tree, keeping a cursor on each between steps
//! in one direction (a seek or a change of direction positions both afresh). Every key and
//! value borrows from the transaction, so none can outlive it.
//!
//! Items are `(key, Option<value>)`; `None` marks a nested bucket, as bbolt's nil value does.

use std::ops::{Bound, RangeBounds};

use crate::commit::view::{root_page, Item, Src, View, Walk};
use crate::error::Result;
use crate::tree::cursor::DiskCursor;

/// A key and its value (`None` for a nested bucket).
pub type KeyValue<'a> = (&'a [u8], Option<&'a [u8]>);

fn kv<'a>((k, item): (&'a [u8], Item<'a>)) -> KeyValue<'a> {
    (k, item.value())
}

/// A movable position in a bucket, from [`Bucket::cursor`](crate::Bucket::cursor) (an example is
/// there), [`BucketMut::cursor`](crate::BucketMut::cursor) or [`crate::Tx::cursor`].
///
/// Every move returns the item it lands on, or `None` when there is none (an empty bucket, a
/// step past either end, a seek past the last key). After running off one end (a seek past the
/// last key included), a step in the other direction comes back to the item at that end; a
/// cursor not yet placed by `first`, `last` or `seek` returns `None` from `next` and `prev`.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    view: View<'a>,
    src: Src<'a>,
    disk: Option<DiskCursor<'a>>,
    key: Option<&'a [u8]>,
    /// After a step ran off an end (merged mode): `Some(true)` past the last item.
    off_end: Option<bool>,
    /// The merged walk's tree cursor, kept between steps in one direction.
    walk: Option<Walk<'a>>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(view: View<'a>, src: Src<'a>) -> Self {
        view.snap.counters.cursors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let disk = match src {
            Src::Disk(d) => Some(DiskCursor::over(view.snap, &d)),
            Src::Write(_) => None,
        };
        Cursor { view, src, disk, key: None, off_end: None, walk: None }
    }

    fn disk_item(&self, e: Option<crate::format::page::LeafElem<'a>>) -> Result<Option<KeyValue<'a>>> {
        let page = match self.src {
            Src::Disk(d) => root_page(d.root),
            Src::Write(_) => 0,
        };
        match e {
            None => Ok(None),
            Some(e) => Ok(Some(kv((e.key, self.view.item(e, page)?)))),
        }
    }

    /// A step in merged mode; `resume` when it continues the previous step's direction from
    /// the key that step returned.
    fn merged(&mut self, from: Bound<&[u8]>, forward: bool, resume: bool) -> Result<Option<KeyValue<'a>>> {
        let r = match self.src {
            Src::Write(w) => self.view.walk(w, &mut self.walk, from, forward, resume)?,
            Src::Disk(_) => self.view.step(self.src, from, forward)?,
        };
        match r {
            Some((k, _)) => {
                self.key = Some(k);
                self.off_end = None;
            }
            None => self.off_end = Some(forward),
        }
        Ok(r.map(kv))
    }

    /// Moves to the first item; `None` if the bucket is empty.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) if a page on the way is damaged.
    pub fn first(&mut self) -> Result<Option<KeyValue<'a>>> {
        match &mut self.disk {
            Some(c) => {
                let e = c.first()?;
                self.disk_item(e)
            }
            None => self.merged(Bound::Unbounded, true, false),
        }
    }

    /// Moves to the last item; `None` if the bucket is empty.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) if a page on the way is damaged.
    pub fn last(&mut self) -> Result<Option<KeyValue<'a>>> {
        match &mut self.disk {
            Some(c) => {
                let e = c.last()?;
                self.disk_item(e)
            }
            None => self.merged(Bound::Unbounded, false, false),
        }
    }

    /// Moves to the first item whose key is `>= key`; `None` if every key is smaller.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) if a page on the way is damaged.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<KeyValue<'a>>> {
        match &mut self.disk {
            Some(c) => {
                let e = c.seek(key)?;
                self.disk_item(e)
            }
            None => self.merged(Bound::Included(key), true, false),
        }
    }

    /// Moves to the next item; `None` past the end.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) if a page on the way is damaged.
    #[allow(clippy::should_implement_trait)] // bbolt's name; a cursor also moves backwards
    pub fn next(&mut self) -> Result<Option<KeyValue<'a>>> {
        match &mut self.disk {
            Some(c) => {
                let e = c.next()?;
                self.disk_item(e)
            }
            None => match (self.off_end, self.key) {
                (Some(true), _) => Ok(None),
                (Some(false), _) => self.merged(Bound::Unbounded, true, false),
                (None, Some(k)) => self.merged(Bound::Excluded(k), true, true),
                (None, None) => Ok(None),
            },
        }
    }

    /// Moves to the previous item; `None` before the start.
    ///
    /// # Errors
    /// [`Error::Corrupted`](crate::Error::Corrupted) if a page on the way is damaged.
    pub fn prev(&mut self) -> Result<Option<KeyValue<'a>>> {
        match &mut self.disk {
            Some(c) => {
                let e = c.prev()?;
                self.disk_item(e)
            }
            None => match (self.off_end, self.key) {
                (Some(false), _) => Ok(None),
                (Some(true), _) => self.merged(Bound::Unbounded, false, false),
                (None, Some(k)) => self.merged(Bound::Excluded(k), false, true),
                (None, None) => Ok(None),
            },
        }
    }
}

/// A double-ended iterator over the items of a bucket whose keys fall in a range.
///
/// Yields `Result`s: a damaged page ends the iteration with an error.
#[derive(Debug, Clone)]
pub struct Range<'a> {
    view: View<'a>,
    src: Src<'a>,
    front: Bound<&'a [u8]>,
    back: Bound<&'a [u8]>,
    front_cursor: Option<Cursor<'a>>,
    back_cursor: Option<Cursor<'a>>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    done: bool,
}

impl<'a> Range<'a> {
    pub(crate) fn new<K: AsRef<[u8]>, R: RangeBounds<K>>(view: View<'a>, src: Src<'a>, range: R) -> Self {
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Range {
            view,
            src,
            front: Bound::Unbounded,
            back: Bound::Unbounded,
            front_cursor: None,
            back_cursor: None,
            lo: own(range.start_bound()),
            hi: own(range.end_bound()),
            done: false,
        }
    }

    fn in_lo(&self, k: &[u8]) -> bool {
        match &self.lo {
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
            Bound::Unbounded => true,
        }
    }
    fn in_hi(&self, k: &[u8]) -> bool {
        match &self.hi {
            Bound::Included(h) => k <= h.as_slice(),
            Bound::Excluded(h) => k < h.as_slice(),
            Bound::Unbounded => true,
        }
    }
    /// Whether `k` was already yielded from the other end.
    fn crossed(&self, k: &[u8], forward: bool) -> bool {
        let other = if forward { self.back } else { self.front };
        match other {
            Bound::Unbounded => false,
            Bound::Included(o) | Bound::Excluded(o) => {
                if forward {
                    k >= o
                } else {
                    k <= o
                }
            }
        }
    }

    fn step(&mut self, forward: bool) -> Option<Result<KeyValue<'a>>> {
        if self.done {
            return None;
        }
        let r = if forward {
            match &mut self.front_cursor {
                Some(c) => c.next(),
                None => {
                    let mut c = Cursor::new(self.view, self.src);
                    let r = match &self.lo {
                        Bound::Unbounded => c.first(),
                        Bound::Included(l) => c.seek(l),
                        Bound::Excluded(l) => match c.seek(l) {
                            Ok(Some((k, _))) if k == l.as_slice() => c.next(),
                            other => other,
                        },
                    };
                    self.front_cursor = Some(c);
                    r
                }
            }
        } else {
            match &mut self.back_cursor {
                Some(c) => c.prev(),
                None => {
                    let mut c = Cursor::new(self.view, self.src);
                    let r = match &self.hi {
                        Bound::Unbounded => c.last(),
                        Bound::Included(h) | Bound::Excluded(h) => match c.seek(h) {
                            Ok(None) => c.last(),
                            Ok(Some((k, _))) if k == h.as_slice() && matches!(self.hi, Bound::Included(_)) => c.seek(h),
                            Ok(Some(_)) => c.prev(),
                            Err(e) => Err(e),
                        },
                    };
                    self.back_cursor = Some(c);
                    r
                }
            }
        };
        match r {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some((k, v))) => {
                let inside = if forward { self.in_hi(k) } else { self.in_lo(k) };
                if !inside || self.crossed(k, forward) {
                    self.done = true;
                    return None;
                }
                if forward {
                    self.front = Bound::Included(k);
                } else {
                    self.back = Bound::Included(k);
                }
                Some(Ok((k, v)))
            }
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Result<KeyValue<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}
