//! Primary-key-ordered streams and their streaming merges.
//!
//! Every plan a combined query runs is a tree of [`Stream`]s, each yielding primary keys
//! (encoded, borrowed from the transaction: nothing is copied) in primary-key order, forwards
//! or backwards, and each able to *seek*: move to its first key at or past a target. Seeks
//! only ever move forwards in the walking direction.
//!
//! - [`Walk`]: the keys of a bucket under a prefix, within primary-key bounds. Over the record
//!   bucket (no prefix) it is a primary-key walk; over a non-unique index with the prefix of
//!   one encoded value it is that value's entries (`value ++ key`), which sort by primary key.
//!   A seek steps up to [`STEPS_BEFORE_SEEK`] times first (the target is often just ahead),
//!   then repositions the engine cursor with one B+tree seek.
//! - [`Sorted`]: keys known beforehand (a unique-index probe, a small range read and sorted).
//! - [`Union`]: a k-way merge of its children, each key once.
//! - [`Intersect`]: a leapfrog intersection: the lagging child seeks to the leader's key, until
//!   all agree; the keys it yields are the keys every child has, found without materialising
//!   any child. Residual [`Check`]s then run on each agreed key.

use std::cmp::Ordering;
use std::ops::Bound;

use rivet_engine::{Bucket, Cursor};

use crate::error::Result;
use crate::key::{successor, EncodedBounds};
use crate::record::Record;
use crate::scan::before_end;

use super::check::{bound_ref, Check, Ctx};

/// Steps a [`Walk`] takes towards a seek target before it seeks with the cursor. A step is a
/// move to the next slot of a leaf; a seek descends the tree from its root, which costs about
/// as much as this many steps on a 200,000-record bucket. Stepping that far first keeps a seek
/// within about twice the cheaper of the two whether the target is near (merging streams of
/// similar density, where it usually is a step or two away) or far.
const STEPS_BEFORE_SEEK: usize = 16;

/// Whether `a` is at or past `b` in the walking direction.
fn at_or_past(a: &[u8], b: &[u8], reverse: bool) -> bool {
    let ord = a.cmp(b);
    ord == Ordering::Equal || (ord == Ordering::Greater) != reverse
}

/// A primary-key-ordered stream (see the module docs).
#[derive(Debug)]
pub(crate) enum Stream<'a> {
    Walk(Box<Walk<'a>>),
    Sorted(Sorted<'a>),
    Union(Union<'a>),
    Intersect(Intersect<'a>),
}

impl<'a> Stream<'a> {
    /// The key the stream is on (`None` before the first step and after the last).
    pub(crate) fn current(&self) -> Option<&'a [u8]> {
        match self {
            Stream::Walk(s) => s.current,
            Stream::Sorted(s) => s.current(),
            Stream::Union(s) => s.current,
            Stream::Intersect(s) => s.current,
        }
    }

    /// Moves to the first key at or past `target` (the first key at all for `None`) and
    /// returns it; `None` when there is none.
    pub(crate) fn seek<T: Record>(
        &mut self,
        target: Option<&'a [u8]>,
        cx: &mut Ctx<'a, T>,
    ) -> Result<Option<&'a [u8]>> {
        match self {
            Stream::Walk(s) => {
                let k = s.seek(target)?;
                s.share_value(cx);
                Ok(k)
            }
            Stream::Sorted(s) => Ok(s.seek(target)),
            Stream::Union(s) => s.seek(target, cx),
            Stream::Intersect(s) => s.seek(target, cx),
        }
    }

    /// Moves past the current key (to the first key, before the first step).
    pub(crate) fn next<T: Record>(&mut self, cx: &mut Ctx<'a, T>) -> Result<Option<&'a [u8]>> {
        match self {
            Stream::Walk(s) => {
                let k = s.next()?;
                s.share_value(cx);
                Ok(k)
            }
            Stream::Sorted(s) => Ok(s.next()),
            Stream::Union(s) => s.next(cx),
            Stream::Intersect(s) => s.next(cx),
        }
    }
}

/// Where a stream is in its walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Running,
    Done,
}

/// The keys of a bucket that start with `prefix`, the prefix cut off, within `bounds` (see the
/// module docs). Nested buckets (a record bucket's indexes) are passed over.
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    pub(crate) bucket: Bucket<'a>,
    pub(crate) prefix: Vec<u8>,
    pub(crate) bounds: EncodedBounds,
    /// The index whose entries this walks (`None`: the records).
    pub(crate) index: Option<&'static str>,
    /// The condition it stands for (`city = "Oslo"`), or what it walks (the records), for
    /// `explain`.
    pub(crate) text: String,
    reverse: bool,
    cursor: Option<Cursor<'a>>,
    current: Option<&'a [u8]>,
    /// The value stored under `current` (for a walk of the records).
    value: Option<&'a [u8]>,
    phase: Phase,
    buf: Vec<u8>,
}

type Item<'a> = rivet_engine::Result<Option<(&'a [u8], Option<&'a [u8]>)>>;

impl<'a> Walk<'a> {
    pub(crate) fn new(
        bucket: Bucket<'a>,
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

    /// The last item at or before `key` (or strictly before it).
    fn seek_back(c: &mut Cursor<'a>, key: &[u8], inclusive: bool) -> Item<'a> {
        match c.seek(key)? {
            None => c.last(),
            Some((k, v)) if inclusive && k == key => Ok(Some((k, v))),
            Some(_) => c.prev(),
        }
    }

    /// Positions a new cursor at the start bound.
    fn start(&mut self) -> Result<Option<&'a [u8]>> {
        let mut c = self.bucket.cursor();
        let (start, _) = self.start_end();
        let item = match (start, self.reverse) {
            (Bound::Unbounded, false) if self.prefix.is_empty() => c.first(),
            (Bound::Unbounded, false) => c.seek(&self.prefix),
            (Bound::Unbounded, true) => match successor(&self.prefix) {
                Some(s) => Self::seek_back(&mut c, &s, false),
                None => c.last(),
            },
            (Bound::Included(k) | Bound::Excluded(k), reverse) => {
                let k = k.to_vec();
                self.full_key(&k);
                if reverse {
                    Self::seek_back(&mut c, &self.buf, true)
                } else {
                    c.seek(&self.buf)
                }
            }
        };
        self.cursor = Some(c);
        self.phase = Phase::Running;
        self.settle(item)
    }

    fn step(&mut self) -> Item<'a> {
        match &mut self.cursor {
            Some(c) if self.reverse => c.prev(),
            Some(c) => c.next(),
            None => Ok(None),
        }
    }

    /// Moves from the cursor's item to the first one the walk yields.
    fn settle(&mut self, mut item: Item<'a>) -> Result<Option<&'a [u8]>> {
        loop {
            let Some((k, v)) = item? else { return Ok(self.finish()) };
            let Some(pk) = k.strip_prefix(self.prefix.as_slice()) else { return Ok(self.finish()) };
            let (start, end) = self.start_end();
            if !before_end(pk, end, self.reverse) {
                return Ok(self.finish());
            }
            // Nested buckets are not records; an exclusive start bound passes over its key.
            if v.is_some() && before_end(pk, start, !self.reverse) {
                self.current = Some(pk);
                self.value = v;
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
    fn share_value<T: Record>(&self, cx: &mut Ctx<'a, T>) {
        if let (None, Some(k), Some(v)) = (self.index, self.current, self.value) {
            cx.at_hand(k, v);
        }
    }

    fn next(&mut self) -> Result<Option<&'a [u8]>> {
        match self.phase {
            Phase::Fresh => self.start(),
            Phase::Running => {
                let item = self.step();
                self.settle(item)
            }
            Phase::Done => Ok(None),
        }
    }

    fn seek(&mut self, target: Option<&'a [u8]>) -> Result<Option<&'a [u8]>> {
        if self.phase == Phase::Fresh {
            self.start()?;
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
        self.full_key(target);
        let item = match &mut self.cursor {
            Some(c) if self.reverse => Self::seek_back(c, &self.buf, true),
            Some(c) => c.seek(&self.buf),
            None => Ok(None),
        };
        self.settle(item)
    }
}

/// Keys known before the walk: ascending, within the bounds, each once.
#[derive(Debug)]
pub(crate) struct Sorted<'a> {
    pub(crate) keys: Vec<&'a [u8]>,
    pub(crate) index: &'static str,
    /// What was read to find them, for `explain`.
    pub(crate) text: String,
    reverse: bool,
    /// How many keys have been passed (from the walk's starting end).
    passed: usize,
    phase: Phase,
}

impl<'a> Sorted<'a> {
    pub(crate) fn new(keys: Vec<&'a [u8]>, index: &'static str, text: String, reverse: bool) -> Self {
        Sorted { keys, index, text, reverse, passed: 0, phase: Phase::Fresh }
    }

    fn at(&self, passed: usize) -> Option<&'a [u8]> {
        let i = if self.reverse { self.keys.len().checked_sub(passed + 1)? } else { passed };
        self.keys.get(i).copied()
    }

    fn current(&self) -> Option<&'a [u8]> {
        if self.phase == Phase::Running {
            self.at(self.passed)
        } else {
            None
        }
    }

    fn next(&mut self) -> Option<&'a [u8]> {
        match self.phase {
            Phase::Fresh => self.phase = Phase::Running,
            Phase::Running => self.passed += 1,
            Phase::Done => return None,
        }
        self.settle()
    }

    fn settle(&mut self) -> Option<&'a [u8]> {
        let k = self.at(self.passed);
        if k.is_none() {
            self.phase = Phase::Done;
        }
        k
    }

    fn seek(&mut self, target: Option<&'a [u8]>) -> Option<&'a [u8]> {
        match self.phase {
            Phase::Done => return None,
            Phase::Fresh => self.phase = Phase::Running,
            Phase::Running => {}
        }
        if let Some(t) = target {
            let skip = if self.reverse {
                self.keys.len() - self.keys.partition_point(|k| *k <= t)
            } else {
                self.keys.partition_point(|k| *k < t)
            };
            self.passed = self.passed.max(skip);
        }
        self.settle()
    }
}

/// A k-way merge of primary-key-ordered streams, each key once.
#[derive(Debug)]
pub(crate) struct Union<'a> {
    pub(crate) streams: Vec<Stream<'a>>,
    reverse: bool,
    current: Option<&'a [u8]>,
    phase: Phase,
}

impl<'a> Union<'a> {
    pub(crate) fn new(streams: Vec<Stream<'a>>, reverse: bool) -> Self {
        Union { streams, reverse, current: None, phase: Phase::Fresh }
    }

    /// The first key among the children, in the walking direction.
    fn settle(&mut self) -> Option<&'a [u8]> {
        let reverse = self.reverse;
        let first =
            self.streams.iter().filter_map(Stream::current).reduce(
                |a, b| {
                    if at_or_past(b, a, reverse) {
                        a
                    } else {
                        b
                    }
                },
            );
        self.current = first;
        if first.is_none() {
            self.phase = Phase::Done;
        }
        first
    }

    fn seek<T: Record>(&mut self, target: Option<&'a [u8]>, cx: &mut Ctx<'a, T>) -> Result<Option<&'a [u8]>> {
        match (self.phase, self.current, target) {
            (Phase::Done, _, _) => return Ok(None),
            (Phase::Running, Some(cur), Some(t)) if at_or_past(cur, t, self.reverse) => return Ok(Some(cur)),
            (Phase::Running, Some(cur), None) => return Ok(Some(cur)),
            _ => {}
        }
        self.phase = Phase::Running;
        for s in &mut self.streams {
            s.seek(target, cx)?;
        }
        Ok(self.settle())
    }

    fn next<T: Record>(&mut self, cx: &mut Ctx<'a, T>) -> Result<Option<&'a [u8]>> {
        match self.phase {
            Phase::Fresh => return self.seek(None, cx),
            Phase::Done => return Ok(None),
            Phase::Running => {}
        }
        let cur = self.current;
        for s in &mut self.streams {
            if s.current().is_some() && s.current() == cur {
                s.next(cx)?;
            }
        }
        Ok(self.settle())
    }
}

/// A leapfrog intersection of primary-key-ordered streams, with residual checks on the keys
/// they agree on.
#[derive(Debug)]
pub(crate) struct Intersect<'a> {
    /// At least one.
    pub(crate) streams: Vec<Stream<'a>>,
    /// Checks on each key all streams have (AND).
    pub(crate) residual: Option<Check<'a>>,
    /// The primary-key conditions folded into the streams' bounds, for `explain`.
    pub(crate) keys: Vec<String>,
    current: Option<&'a [u8]>,
    phase: Phase,
    reverse: bool,
}

impl<'a> Intersect<'a> {
    pub(crate) fn new(streams: Vec<Stream<'a>>, residual: Option<Check<'a>>, keys: Vec<String>, reverse: bool) -> Self {
        Intersect { streams, residual, keys, current: None, phase: Phase::Fresh, reverse }
    }

    fn seek<T: Record>(&mut self, target: Option<&'a [u8]>, cx: &mut Ctx<'a, T>) -> Result<Option<&'a [u8]>> {
        match (self.phase, self.current, target) {
            (Phase::Done, _, _) => return Ok(None),
            (Phase::Running, Some(cur), Some(t)) if at_or_past(cur, t, self.reverse) => return Ok(Some(cur)),
            (Phase::Running, Some(cur), None) => return Ok(Some(cur)),
            _ => {}
        }
        self.phase = Phase::Running;
        let Some(lead) = self.streams.first_mut() else { return Ok(self.finish()) };
        match lead.seek(target, cx)? {
            Some(k) => self.align(k, 0, cx),
            None => Ok(self.finish()),
        }
    }

    fn next<T: Record>(&mut self, cx: &mut Ctx<'a, T>) -> Result<Option<&'a [u8]>> {
        match self.phase {
            Phase::Fresh => return self.seek(None, cx),
            Phase::Done => return Ok(None),
            Phase::Running => {}
        }
        let Some(lead) = self.streams.first_mut() else { return Ok(self.finish()) };
        match lead.next(cx)? {
            Some(k) => self.align(k, 0, cx),
            None => Ok(self.finish()),
        }
    }

    /// Leapfrog from `key`, which stream `lead` is on: each other stream in turn seeks to the
    /// current candidate; one that lands past it makes its key the new candidate. When every
    /// stream is on the candidate, the residual checks decide; if they refuse it, the walk
    /// steps past it and goes on.
    fn align<T: Record>(
        &mut self,
        mut key: &'a [u8],
        mut lead: usize,
        cx: &mut Ctx<'a, T>,
    ) -> Result<Option<&'a [u8]>> {
        let n = self.streams.len();
        loop {
            let mut agreed = 1;
            let mut j = lead;
            while agreed < n {
                j = (j + 1) % n;
                let Some(s) = self.streams.get_mut(j) else { return Ok(self.finish()) };
                match s.seek(Some(key), cx)? {
                    None => return Ok(self.finish()),
                    Some(k) if k == key => agreed += 1,
                    Some(k) => {
                        key = k;
                        agreed = 1;
                    }
                }
            }
            let accepted = match &self.residual {
                None => true,
                Some(check) => check.holds(key, cx)?,
            };
            if accepted {
                self.current = Some(key);
                return Ok(Some(key));
            }
            let Some(s) = self.streams.get_mut(j) else { return Ok(self.finish()) };
            match s.next(cx)? {
                None => return Ok(self.finish()),
                Some(k) => {
                    key = k;
                    lead = j;
                }
            }
        }
    }

    fn finish(&mut self) -> Option<&'a [u8]> {
        self.phase = Phase::Done;
        self.current = None;
        None
    }
}
