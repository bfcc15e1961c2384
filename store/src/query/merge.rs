//! Primary-key-ordered streams and their streaming merges.
//!
//! Every plan a combined query runs is a tree of [`Stream`]s, each yielding primary keys
//! (encoded, borrowed from the transaction: nothing is copied) in primary-key order, forwards
//! or backwards, and each able to *seek*: move to its first key at or past a target. Seeks
//! only ever move forwards in the walking direction.
//!
//! - [`Walk`] (in `walk.rs`): the keys of a bucket under a prefix, within primary-key bounds:
//!   the records themselves, or the entries of one value of a non-unique index.
//! - [`Sorted`]: keys known beforehand (a unique-index probe, a small range read and sorted).
//! - [`Union`]: a k-way merge of its children, each key once.
//! - [`Intersect`]: a leapfrog intersection: the lagging child seeks to the leader's key, until
//!   all agree; the keys it yields are the keys every child has, found without materialising
//!   any child. Residual [`Check`]s then run on each agreed key.

use std::cmp::Ordering;

use crate::error::Result;
use crate::record::Record;

use super::check::{Check, Ctx};
use super::walk::Walk;

/// Whether `a` is at or past `b` in the walking direction.
pub(crate) fn at_or_past(a: &[u8], b: &[u8], reverse: bool) -> bool {
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
pub(crate) enum Phase {
    Fresh,
    Running,
    Done,
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
