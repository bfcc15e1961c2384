//! A walk of one bucket as a primary-key-ordered stream: the keys that start with a prefix,
//! the prefix cut off, within primary-key bounds, forwards or backwards.
//!
//! Over the record bucket (no prefix) it walks the primary keys, passing over the nested
//! buckets (the indexes). Over a non-unique index, with the prefix of one encoded value, it
//! walks that value's entries (`value ++ key`), which sort by primary key: this is what makes an
//! index equality a stream that merges cheaply. It drives a backend scan directly, so every
//! key it yields is borrowed from the transaction. A seek steps forward a few slots first (in a
//! merge of streams of similar density the target is usually a slot or two ahead), then
//! repositions the scan with one seek (a B+tree descent in the engine).

use std::ops::Bound;

use crate::backend::{self, Scan, Tree};

use crate::error::Result;
use crate::key::{successor, EncodedBounds};
use crate::record::Record;
use crate::scan::before_end;

use super::check::{bound_ref, Ctx};
use super::merge::{at_or_past, Phase};

/// Steps a [`Walk`] takes towards a seek target before it seeks with the scan. A step is a
/// move to the next slot of a leaf; a seek descends the tree from its root, which costs about
/// as much as this many steps on a 200,000-record bucket. Stepping that far first keeps a seek
/// within about twice the cheaper of the two whether the target is near (merging streams of
/// similar density, where it usually is a step or two away) or far.
const STEPS_BEFORE_SEEK: usize = 16;

/// The keys of a bucket that start with `prefix`, the prefix cut off, within `bounds` (see the
/// module docs). The backend's scans pass over child trees (a record tree's indexes).
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    pub(crate) bucket: Tree<'a>,
    pub(crate) prefix: Vec<u8>,
    pub(crate) bounds: EncodedBounds,
    /// The index whose entries this walks (`None`: the records).
    pub(crate) index: Option<&'static str>,
    /// The condition it stands for (`city = "Oslo"`), or what it walks (the records), for
    /// `explain`.
    pub(crate) text: String,
    reverse: bool,
    cursor: Option<Scan<'a>>,
    pub(crate) current: Option<&'a [u8]>,
    /// The value stored under `current` (for a walk of the records).
    value: Option<&'a [u8]>,
    phase: Phase,
    buf: Vec<u8>,
}

type Item<'a> = backend::Item<'a>;

impl<'a> Walk<'a> {
    pub(crate) fn new(
        bucket: Tree<'a>,
        prefix: Vec<u8>,
        bounds: EncodedBounds,
        index: Option<&'static str>,
        text: String,
        reverse: bool,
    ) -> Self {
        Walk {
            bucket,
            prefix,
            bounds,
            index,
            text,
            reverse,
            cursor: None,
            current: None,
            value: None,
            phase: Phase::Fresh,
            buf: Vec::new(),
        }
    }

    /// The bound the walk starts from and the one it moves towards.
    fn start_end(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let (lo, hi) = (bound_ref(&self.bounds.0), bound_ref(&self.bounds.1));
        if self.reverse {
            (hi, lo)
        } else {
            (lo, hi)
        }
    }

    /// `prefix ++ key` in the reusable buffer.
    fn full_key(&mut self, key: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(&self.prefix);
        self.buf.extend_from_slice(key);
    }

    /// Positions a new scan at the start bound.
    fn start(&mut self) -> Result<Option<&'a [u8]>> {
        let mut c = self.bucket.scan();
        let (start, _) = self.start_end();
        let item = match (start, self.reverse) {
            (Bound::Unbounded, false) if self.prefix.is_empty() => c.first(),
            (Bound::Unbounded, false) => c.seek(&self.prefix),
            (Bound::Unbounded, true) => match successor(&self.prefix) {
                Some(s) => c.seek_back(&s, false),
                None => c.last(),
            },
            (Bound::Included(k) | Bound::Excluded(k), reverse) => {
                let k = k.to_vec();
                self.full_key(&k);
                if reverse {
                    c.seek_back(&self.buf, true)
                } else {
                    c.seek(&self.buf)
                }
            }
        };
        self.cursor = Some(c);
        self.phase = Phase::Running;
        self.settle(item)
    }

    #[inline(always)]
    fn step(&mut self) -> Item<'a> {
        match &mut self.cursor {
            Some(c) if self.reverse => c.prev(),
            Some(c) => c.next(),
            None => Ok(None),
        }
    }

    /// Moves from the scan's item to the first one the walk yields.
    fn settle(&mut self, mut item: Item<'a>) -> Result<Option<&'a [u8]>> {
        loop {
            let Some((k, v)) = item? else { return Ok(self.finish()) };
            let Some(pk) = k.strip_prefix(self.prefix.as_slice()) else { return Ok(self.finish()) };
            let (start, end) = self.start_end();
            if !before_end(pk, end, self.reverse) {
                return Ok(self.finish());
            }
            // An exclusive start bound passes over its key.
            if before_end(pk, start, !self.reverse) {
                self.current = Some(pk);
                self.value = Some(v);
                return Ok(Some(pk));
            }
            item = self.step();
        }
    }

    fn finish(&mut self) -> Option<&'a [u8]> {
        self.phase = Phase::Done;
        self.current = None;
        self.value = None;
        self.cursor = None;
        None
    }

    /// A walk of the records has the value of its key at hand: it tells `cx`, so that
    /// decoding the record does not look it up again.
    pub(crate) fn share_value<T: Record>(&self, cx: &mut Ctx<'a, T>) {
        if let (None, Some(k), Some(v)) = (self.index, self.current, self.value) {
            cx.at_hand(k, v);
        }
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Option<&'a [u8]>> {
        match self.phase {
            Phase::Fresh => self.start(),
            Phase::Running => {
                let item = self.step();
                self.settle(item)
            }
            Phase::Done => Ok(None),
        }
    }

    pub(crate) fn seek(&mut self, target: Option<&'a [u8]>) -> Result<Option<&'a [u8]>> {
        if self.phase == Phase::Fresh {
            // A first seek within the bounds goes straight to its target.
            match target {
                Some(t) if before_end(t, self.start_end().0, !self.reverse) => {
                    self.cursor = Some(self.bucket.scan());
                    self.phase = Phase::Running;
                    return self.reposition(t);
                }
                _ => {
                    self.start()?;
                }
            }
        }
        let Some(target) = target else { return Ok(self.current) };
        for _ in 0..STEPS_BEFORE_SEEK {
            match self.current {
                None => return Ok(None),
                Some(cur) if at_or_past(cur, target, self.reverse) => return Ok(Some(cur)),
                Some(_) => {
                    self.next()?;
                }
            }
        }
        match self.current {
            None => return Ok(None),
            Some(cur) if at_or_past(cur, target, self.reverse) => return Ok(Some(cur)),
            Some(_) => {}
        }
        self.reposition(target)
    }

    /// Moves the scan to the first item at or past `target` with one seek (a B+tree descent in
    /// the engine).
    fn reposition(&mut self, target: &[u8]) -> Result<Option<&'a [u8]>> {
        self.full_key(target);
        let item = match &mut self.cursor {
            Some(c) if self.reverse => c.seek_back(&self.buf, true),
            Some(c) => c.seek(&self.buf),
            None => Ok(None),
        };
        self.settle(item)
    }
}
