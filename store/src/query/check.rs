//! Per-candidate checks, and the context a running query reads records through.
//!
//! A condition that cannot produce primary keys in order cheaply (a range or prefix of an index
//! whose entries are too many to sort, or an OR with such a branch) is evaluated on each
//! candidate key instead. Checks cost very different amounts, so each AND and OR evaluates its
//! cheapest children first and stops as soon as the answer is known:
//!
//! | check | how | decodes the record |
//! |---|---|---|
//! | primary key within bounds | two byte comparisons | no |
//! | among keys read beforehand (a unique-index probe, a small range) | binary search | no |
//! | equality on a non-unique index | point lookup of the entry `value ++ key` | no |
//! | range or prefix of an index | encode the record's index key, compare | yes |
//!
//! A record decoded for a check is kept (one slot) so that the query does not decode it again
//! when it turns out to be a result.

use std::ops::Bound;

use crate::backend::Tree;

use crate::error::{Error, Result};
use crate::evolve::Resolved;
use crate::key::EncodedBounds;
use crate::record::Record;
use crate::scan::before_end;
use crate::txn::describe_key;

/// Whether `k` lies within `bounds` (both sides).
pub(crate) fn in_bounds(k: &[u8], bounds: &EncodedBounds) -> bool {
    before_end(k, bound_ref(&bounds.0), true) && before_end(k, bound_ref(&bounds.1), false)
}

pub(crate) fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

/// Whether bounds select every key.
pub(crate) fn unbounded(bounds: &EncodedBounds) -> bool {
    matches!(bounds, (Bound::Unbounded, Bound::Unbounded))
}

/// A condition evaluated on one candidate primary key.
#[derive(Debug)]
pub(crate) enum Check<'a> {
    /// The key is within bounds.
    Bounds {
        bounds: EncodedBounds,
        text: String,
    },
    /// The key is one of these (sorted ascending).
    Member {
        keys: Vec<&'a [u8]>,
        text: String,
    },
    /// A non-unique index has the entry `value ++ key`.
    Entry {
        index: Tree<'a>,
        value: Vec<u8>,
        text: String,
    },
    /// The record's key in index `position` is within `bounds` (the record is decoded).
    Decoded {
        position: usize,
        bounds: EncodedBounds,
        text: String,
    },
    And(Vec<Check<'a>>),
    Or(Vec<Check<'a>>),
}

impl<'a> Check<'a> {
    /// Rough cost, to evaluate cheap checks first.
    pub(crate) fn cost(&self) -> u8 {
        match self {
            Check::Bounds { .. } => 0,
            Check::Member { .. } => 1,
            Check::Entry { .. } => 2,
            Check::Decoded { .. } => 3,
            Check::And(c) | Check::Or(c) => c.iter().map(Check::cost).max().unwrap_or(0),
        }
    }

    /// Whether evaluating it may decode the record.
    pub(crate) fn decodes(&self) -> bool {
        self.cost() >= 3
    }

    /// `all` of `checks` (AND) or any of them (OR), cheapest first.
    pub(crate) fn join(mut checks: Vec<Check<'a>>, all: bool) -> Check<'a> {
        checks.sort_by_key(Check::cost);
        if checks.len() == 1 {
            if let Some(only) = checks.pop() {
                return only;
            }
        }
        if all {
            Check::And(checks)
        } else {
            Check::Or(checks)
        }
    }

    /// Whether the record with primary key `pk` satisfies the check.
    pub(crate) fn holds<T: Record>(&self, pk: &'a [u8], cx: &mut Ctx<'a, T>) -> Result<bool> {
        Ok(match self {
            Check::Bounds { bounds, .. } => in_bounds(pk, bounds),
            Check::Member { keys, .. } => keys.binary_search(&pk).is_ok(),
            Check::Entry { index, value, .. } => {
                cx.buf.clear();
                cx.buf.extend_from_slice(value);
                cx.buf.extend_from_slice(pk);
                index.get(&cx.buf)?.is_some()
            }
            Check::Decoded { position, bounds, .. } => cx.index_key_within(pk, *position, bounds)?,
            Check::And(c) => {
                for check in c {
                    if !check.holds(pk, cx)? {
                        return Ok(false);
                    }
                }
                true
            }
            Check::Or(c) => {
                for check in c {
                    if check.holds(pk, cx)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }

    /// Writes the check as indented lines (for `explain`).
    pub(crate) fn describe(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        match self {
            Check::Bounds { text, .. } => out.push_str(&format!("{pad}{text}: compare the key\n")),
            Check::Member { keys, text } => {
                out.push_str(&format!("{pad}{text}: one of the {} keys read beforehand\n", keys.len()))
            }
            Check::Entry { text, .. } => out.push_str(&format!("{pad}{text}: look up the entry value ++ key\n")),
            Check::Decoded { text, .. } => {
                out.push_str(&format!("{pad}{text}: decode the record, compare its index key\n"))
            }
            Check::And(c) | Check::Or(c) => {
                let word = if matches!(self, Check::And(_)) { "all of" } else { "any of" };
                out.push_str(&format!("{pad}{word}:\n"));
                for check in c {
                    check.describe(depth + 1, out);
                }
            }
        }
    }
}

/// What a running query reads records through.
#[derive(Debug)]
pub(crate) struct Ctx<'a, T> {
    records: Tree<'a>,
    resolved: &'static Resolved,
    /// The indexes whose entries name the candidates (for [`Error::Inconsistent`]).
    sources: String,
    /// The last record decoded, by primary key.
    cached: Option<(&'a [u8], T)>,
    /// The stored value of a key a walk of the records is on (saves looking it up).
    hand: Option<(&'a [u8], &'a [u8])>,
    buf: Vec<u8>,
}

impl<'a, T: Record> Ctx<'a, T> {
    pub(crate) fn new(records: Tree<'a>, resolved: &'static Resolved, sources: String) -> Self {
        Ctx { records, resolved, sources, cached: None, hand: None, buf: Vec::new() }
    }

    /// Records that `value` is stored under `pk` (a walk of the records read both).
    pub(crate) fn at_hand(&mut self, pk: &'a [u8], value: &'a [u8]) {
        self.hand = Some((pk, value));
    }

    /// Decodes the record with primary key `pk` into the cache slot (unless it is there).
    fn load(&mut self, pk: &'a [u8]) -> Result<&T> {
        if !matches!(&self.cached, Some((k, _)) if *k == pk) {
            let value = match self.hand {
                Some((k, v)) if k == pk => Some(v),
                _ => self.records.get(pk)?,
            };
            let Some(value) = value else {
                return Err(Error::Inconsistent {
                    bucket: T::schema().bucket.into(),
                    index: self.sources.clone(),
                    reason: format!(
                        "an entry names the record with key {}, which does not exist",
                        describe_key::<T::Key>(pk)
                    ),
                });
            };
            self.cached = None;
            let record = self.resolved.decode::<T>(pk, value)?;
            self.cached = Some((pk, record));
        }
        match &self.cached {
            Some((_, r)) => Ok(r),
            None => unreachable_slot(),
        }
    }

    /// The record with primary key `pk`, decoded (or taken from the cache slot).
    pub(crate) fn record(&mut self, pk: &'a [u8]) -> Result<&T> {
        self.load(pk)
    }

    /// The record with primary key `pk`, moved out of the cache slot (decoded if needed).
    pub(crate) fn take(&mut self, pk: &'a [u8]) -> Result<T> {
        self.load(pk)?;
        match self.cached.take() {
            Some((_, r)) => Ok(r),
            None => unreachable_slot(),
        }
    }

    /// Whether the record's key in index `position` is within `bounds` (a record left out of a
    /// sparse index is not).
    fn index_key_within(&mut self, pk: &'a [u8], position: usize, bounds: &EncodedBounds) -> Result<bool> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let found = self.load(pk)?.encode_index(position, &mut buf);
        let within = found && in_bounds(&buf, bounds);
        self.buf = buf;
        Ok(within)
    }
}

/// The cache slot was just filled: reaching this is a bug, reported rather than panicking.
fn unreachable_slot<R>() -> Result<R> {
    Err(Error::Inconsistent {
        bucket: String::new(),
        index: String::new(),
        reason: "internal: the decoded record vanished from the query's cache".into(),
    })
}
